//! The segment being written: a preallocated file mapped into memory, so that appending a
//! record is a copy into memory and a killed process leaves every record it appended in the
//! page cache, from where the kernel writes it to the file.
//!
//! Touching a page of a fresh file mapping for the first time costs a page fault in which the
//! file system reserves the block (on ext4 several microseconds: over 200 ns per logged point).
//! So segments are prepared ahead, on a thread of their own, with every page faulted in for
//! writing, under a `.next` name; the writer renames the prepared one when it needs it.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use memmap2::MmapMut;

use super::format::{self, Header, Kind, HEADER_LEN, RECORD_HEADER_LEN};
use super::platform;
use crate::error::{Error, Result};

#[derive(Debug)]
pub(crate) struct ActiveSegment {
    pub(crate) number: u64,
    pub(crate) path: PathBuf,
    pub(crate) file: File,
    map: MmapMut,
    /// Where the next record goes.
    len: usize,
    /// Records appended.
    pub(crate) records: u64,
}

impl ActiveSegment {
    /// Creates the segment file (`capacity` bytes, zero-filled, its pages faulted in for
    /// writing) and writes its header.
    pub(crate) fn create(path: &Path, header: &Header, capacity: usize) -> Result<Self> {
        let cannot = |e| {
            Error::io(
                format_args!("cannot create spool segment {}", path.display()),
                e,
            )
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(cannot)?;
        platform::allocate(&file, capacity as u64).map_err(cannot)?;
        // SAFETY: the file was just created by this process (`create_new`) and is named after
        // the owner whose lock this process holds; no other process writes to or truncates a
        // segment of a live owner, so the mapping's memory is not changed behind our back.
        #[allow(unsafe_code)]
        let mut map = unsafe { MmapMut::map_mut(&file) }.map_err(cannot)?;
        platform::prefault_for_writing(&mut map);
        map[..HEADER_LEN].copy_from_slice(&header.encode());
        Ok(ActiveSegment {
            number: header.number,
            path: path.to_path_buf(),
            file,
            map,
            len: HEADER_LEN,
            records: 0,
        })
    }

    /// Creates the segment under a temporary name (`path` + `.next`), to be
    /// [`activate`](Self::activate)d when the writer needs it.
    pub(crate) fn prepare(path: &Path, header: &Header, capacity: usize) -> Result<Self> {
        let mut segment = ActiveSegment::create(&prepared_path(path), header, capacity)?;
        segment.path = path.to_path_buf();
        Ok(segment)
    }

    /// Gives a prepared segment its real name, under which a replay finds it.
    pub(crate) fn activate(self) -> Result<Self> {
        std::fs::rename(prepared_path(&self.path), &self.path)
            .map_err(|e| Error::io(format_args!("cannot rename to {}", self.path.display()), e))?;
        Ok(self)
    }

    /// Deletes a prepared segment that was not needed.
    pub(crate) fn discard_prepared(self) {
        let _ = std::fs::remove_file(prepared_path(&self.path));
    }

    /// The segment's capacity.
    pub(crate) fn capacity(&self) -> usize {
        self.map.len()
    }

    /// Whether a record with a payload of `payload_len` bytes fits.
    #[inline]
    pub(crate) fn fits(&self, payload_len: usize) -> bool {
        self.len + RECORD_HEADER_LEN + payload_len <= self.map.len()
    }

    /// Appends a record made of `parts`; the caller checked that it [`fits`](Self::fits).
    #[inline]
    pub(crate) fn append(&mut self, kind: Kind, parts: &[&[u8]]) {
        self.len += format::frame_into(&mut self.map[self.len..], kind, parts);
        self.records += 1;
    }

    /// Where the next record goes.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Writes what was appended to the disk.
    pub(crate) fn sync(&self) -> Result<()> {
        self.map
            .flush()
            .map_err(|e| Error::io(format_args!("cannot sync {}", self.path.display()), e))
    }
}

/// Where a segment is prepared before it is needed.
pub(crate) fn prepared_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(PREPARED_SUFFIX);
    PathBuf::from(name)
}

/// The suffix of a prepared segment's file name.
pub(crate) const PREPARED_SUFFIX: &str = ".next";
