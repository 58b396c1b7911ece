//! [`SpoolWriter`]: appends records, rotates segments (prepared ahead on a thread of its own),
//! drops the oldest at the size cap, and syncs.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use super::format::{Header, Kind, HEADER_LEN, RECORD_HEADER_LEN};
use super::segment::ActiveSegment;
use super::shared::{OwnSegment, ReleasedFiles, SpoolShared, SpoolState};
use super::{Fsync, OnFull, SpoolMark, SpoolOptions, SpoolStats};
use crate::error::{Error, ErrorKind, Result};
use crate::value::{Precision, Timestamp};

/// The writing side, kept under the logger's lock: appends records to the active segment.
#[derive(Debug)]
pub(crate) struct SpoolWriter {
    pub(crate) shared: Arc<SpoolShared>,
    pub(crate) active: Option<ActiveSegment>,
    /// The next segment, being prepared.
    pub(crate) next: Option<std::thread::JoinHandle<Result<ActiveSegment>>>,
    pub(crate) next_number: u64,
    pub(crate) seq: u64,
}

impl SpoolWriter {
    /// Opens a spool in `options.dir` for a new owner (this logger), holding its lock.
    pub(crate) fn open(
        options: SpoolOptions,
        precision: Precision,
        target: String,
    ) -> Result<Self> {
        options.check()?;
        // Absolute, so that a later change of the working directory moves nothing.
        let mut options = options;
        options.dir = std::path::absolute(&options.dir).map_err(|e| {
            Error::io(
                format_args!("cannot resolve spool directory {}", options.dir.display()),
                e,
            )
        })?;
        let dir = options.dir.clone();
        let created = !dir.exists();
        fs::create_dir_all(&dir).map_err(|e| {
            Error::io(
                format_args!("cannot create spool directory {}", dir.display()),
                e,
            )
        })?;
        if created {
            // Megabytes of segments, often in a working copy: not for version control. Best
            // effort: the spool works without it.
            let _ = fs::write(
                dir.join(".gitignore"),
                "# influxdb-datalogger's spool: points not yet delivered\n*\n",
            );
        }
        let owner = format!("p{}-{:016x}", std::process::id(), nonce());
        let lock_path = dir.join(format!("{owner}.lock"));
        let lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&lock_path)
            .map_err(|e| Error::io(format_args!("cannot create {}", lock_path.display()), e))?;
        lock.try_lock().map_err(|e| {
            Error::new(
                ErrorKind::Io,
                format!("cannot lock {}: {e}", lock_path.display()),
            )
        })?;
        let fsync = options.fsync;
        let shared = Arc::new(SpoolShared {
            options,
            owner,
            lock_path,
            lock: Some(lock),
            precision,
            target,
            state: Mutex::new(SpoolState {
                segments: BTreeMap::new(),
                acked: Vec::new(),
                taken: SpoolMark::default(),
                dropped_through: SpoolMark::default(),
                dropped_points: 0,
                written: SpoolMark {
                    segment: 0,
                    offset: HEADER_LEN as u64,
                    seq: 0,
                },
                doomed: Vec::new(),
            }),
            deleting: Mutex::new(()),
        });
        {
            let mut state = shared.lock();
            state.taken = state.written;
        }
        if let Fsync::Every(period) = fsync {
            start_syncing(Arc::downgrade(&shared), period);
        }
        Ok(SpoolWriter {
            shared,
            active: None,
            next: None,
            next_number: 0,
            seq: 0,
        })
    }

    pub(crate) fn shared(&self) -> &Arc<SpoolShared> {
        &self.shared
    }

    /// The spool's numbers.
    pub(crate) fn stats(&self) -> SpoolStats {
        self.shared.stats(self.seq)
    }

    /// Appends a record made of `parts`, concatenated.
    #[inline]
    pub(crate) fn append(&mut self, kind: Kind, parts: &[&[u8]]) -> Result<()> {
        let len = parts.iter().map(|p| p.len()).sum();
        match &mut self.active {
            Some(active) if active.fits(len) => active.append(kind, parts),
            _ => {
                self.rotate(len)?;
                self.active
                    .as_mut()
                    .expect("rotate opened a segment")
                    .append(kind, parts);
            }
        }
        self.seq += 1;
        Ok(())
    }

    /// Where the spool stands: after the last record appended.
    pub(crate) fn mark(&self) -> SpoolMark {
        match &self.active {
            Some(active) => SpoolMark {
                segment: active.number,
                offset: active.len() as u64,
                seq: self.seq,
            },
            None => SpoolMark {
                segment: self.next_number,
                offset: HEADER_LEN as u64,
                seq: self.seq,
            },
        }
    }

    /// Records that everything up to the current mark was handed to the writers, syncing it to
    /// disk first under [`Fsync::PerBatch`]; returns the mark, and the segments that released
    /// (without writers of its own, handing over counts as acknowledging).
    pub(crate) fn hand_over(&mut self) -> Result<(SpoolMark, ReleasedFiles)> {
        let mark = self.mark();
        if self.shared.options.fsync == Fsync::PerBatch {
            if let Some(active) = &self.active {
                active.sync()?;
            }
        }
        let mut state = self.shared.lock();
        state.written = mark;
        state.taken = state.taken.max(mark);
        if !state.acked.is_empty() {
            return Ok((mark, ReleasedFiles::default()));
        }
        self.shared.release(&mut state);
        drop(state);
        Ok((mark, self.shared.take_released()))
    }

    /// When every writer acknowledged everything appended: seals the active segment, so that
    /// it is deleted now rather than when the logger is dropped (a later append opens a new one).
    pub(crate) fn release_if_acknowledged(&mut self) -> ReleasedFiles {
        if self.shared.lock().min_acked() < self.mark() {
            return ReleasedFiles::default();
        }
        let (sealed, released) = self.seal_and_release();
        drop(sealed);
        // The logger may be done: do not leave a prepared segment behind (the process may
        // exit without dropping it).
        self.discard_prepared();
        released
    }

    /// Seals the active segment (the next append opens another) and releases what every writer
    /// has acknowledged. Returns the sealed segment (its mapping is unmapped where the caller
    /// drops it) and the released files (deleted where the caller drops them).
    pub(crate) fn seal_and_release(&mut self) -> (Option<ActiveSegment>, ReleasedFiles) {
        let mark = self.mark();
        let mut state = self.shared.lock();
        state.written = mark;
        let sealed = self.active.take();
        if let Some(active) = &sealed {
            if let Some(segment) = state.segments.get_mut(&active.number) {
                segment.end = Some(active.len() as u64);
            }
        }
        self.shared.release(&mut state);
        drop(state);
        (sealed, self.shared.take_released())
    }

    pub(crate) fn discard_prepared(&mut self) {
        if let Some(Ok(Ok(unused))) = self.next.take().map(std::thread::JoinHandle::join) {
            unused.discard_prepared();
        }
    }

    /// Writes what was appended to the disk.
    pub(crate) fn sync(&self) -> Result<()> {
        self.active.as_ref().map_or(Ok(()), ActiveSegment::sync)
    }

    pub(crate) fn segment_path(&self, number: u64) -> PathBuf {
        self.shared
            .options
            .dir
            .join(format!("{}-{number:08}.seg", self.shared.owner))
    }

    pub(crate) fn header(&self, number: u64) -> Header {
        Header {
            precision: self.shared.precision,
            created_ns: Timestamp::now().as_nanos(),
            number,
            acked: HEADER_LEN as u64,
            pid: std::process::id(),
            target: self.shared.target.clone(),
        }
    }

    /// Prepares segment `number` on a thread of its own (see [`segment`]), which first drops
    /// `retired`, the segment just sealed, and `released`, the files that sealing released:
    /// unmapping 8 MiB takes ~1.2 ms and unlinking a segment ~1.5–2 ms, which the logging
    /// thread (holding the logger's lock) would otherwise spend in the `log()` that rotates.
    pub(crate) fn prepare(
        &mut self,
        number: u64,
        retired: Option<ActiveSegment>,
        released: ReleasedFiles,
    ) {
        let (path, header) = (self.segment_path(number), self.header(number));
        let capacity = self.shared.options.segment_bytes as usize;
        self.next = std::thread::Builder::new()
            .name("datalogger-spool-prepare".into())
            .spawn(move || {
                drop(retired);
                drop(released);
                ActiveSegment::prepare(&path, &header, capacity)
            })
            .ok();
    }

    /// Seals the active segment and opens the next, making room under the size cap first.
    #[cold]
    pub(crate) fn rotate(&mut self, payload_len: usize) -> Result<()> {
        let (mut retired, mut released) = (None, ReleasedFiles::default());
        if let Some(active) = &self.active {
            if self.shared.options.fsync != Fsync::Never {
                active.sync()?;
            }
            (retired, released) = self.seal_and_release();
        }
        let options = &self.shared.options;
        let capacity = options
            .segment_bytes
            .max((HEADER_LEN + RECORD_HEADER_LEN + payload_len) as u64);
        {
            let mut state = self.shared.lock();
            let used = state.bytes();
            if used + capacity > options.max_bytes {
                match options.on_full {
                    OnFull::Refuse => {
                        return Err(Error::new(
                            ErrorKind::SpoolFull,
                            format!(
                                "the spool in {} is full: {used} bytes the database has not acknowledged yet, and max_bytes is {}; the point was not logged (raise max_bytes, or choose on_full=drop-oldest)",
                                options.dir.display(),
                                options.max_bytes
                            ),
                        ));
                    }
                    OnFull::DropOldest => drop_oldest(&mut state, capacity, options.max_bytes),
                }
            }
            // Dropped segments are deleted with the released ones, by the preparing thread
            // (not here, under the lock: an unlink takes milliseconds).
            released.0.extend(std::mem::take(&mut state.doomed));
        }
        let number = self.next_number;
        let prepared = self.next.take().and_then(|thread| thread.join().ok());
        let active = match prepared {
            Some(Ok(segment)) if segment.capacity() as u64 >= capacity => segment.activate()?,
            other => {
                if let Some(Ok(unfit)) = other {
                    unfit.discard_prepared();
                }
                ActiveSegment::create(
                    &self.segment_path(number),
                    &self.header(number),
                    capacity as usize,
                )?
            }
        };
        let path = active.path.clone();
        self.prepare(number + 1, retired, released);
        let file = active
            .file
            .try_clone()
            .map_err(|e| Error::io(format_args!("cannot reopen {}", path.display()), e))?;
        self.shared.lock().segments.insert(
            number,
            OwnSegment {
                path,
                file,
                end: None,
                capacity,
                first_seq: self.seq,
                acked_written: HEADER_LEN as u64,
            },
        );
        self.next_number += 1;
        self.active = Some(active);
        Ok(())
    }
}

impl Drop for SpoolWriter {
    /// Seals the active segment, so that it is released (deleted) once acknowledged, and
    /// deletes the one prepared ahead.
    fn drop(&mut self) {
        self.discard_prepared();
        let (sealed, released) = self.seal_and_release();
        drop(sealed);
        drop(released);
    }
}

/// Gives up the oldest sealed segments until a new one of `capacity` bytes fits (their files
/// are deleted with the released ones, outside the lock).
pub(super) fn drop_oldest(state: &mut SpoolState, capacity: u64, max_bytes: u64) {
    while state.bytes() + capacity > max_bytes {
        let Some((&number, segment)) = state.segments.iter().find(|(_, s)| s.end.is_some()) else {
            return;
        };
        let next_seq = state
            .segments
            .range(number + 1..)
            .next()
            .map_or(state.written.seq, |(_, s)| s.first_seq);
        state.dropped_points += next_seq - segment.first_seq;
        state.dropped_through = state.dropped_through.max(SpoolMark {
            segment: number + 1,
            offset: HEADER_LEN as u64,
            seq: next_seq,
        });
        for acked in &mut state.acked {
            *acked = (*acked).max(state.dropped_through);
        }
        let segment = state.segments.remove(&number).expect("found above");
        state.doomed.push(segment.path);
    }
}

/// Syncs the active segment every `period`, for as long as the spool exists.
pub(super) fn start_syncing(spool: Weak<SpoolShared>, period: Duration) {
    let _ = std::thread::Builder::new()
        .name("datalogger-spool-sync".into())
        .spawn(move || loop {
            std::thread::sleep(period);
            let Some(spool) = spool.upgrade() else { return };
            let files: Vec<File> = spool
                .lock()
                .segments
                .values()
                .filter(|s| s.end.is_none())
                .filter_map(|s| s.file.try_clone().ok())
                .collect();
            drop(spool);
            for file in files {
                let _ = file.sync_data();
            }
        });
}

/// A number that differs between processes and between loggers of one process.
pub(super) fn nonce() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    hasher.write_i64(Timestamp::now().as_nanos());
    hasher.finish()
}
