//! What the spool needs from the operating system, in one place, for Linux, macOS and Windows.
//!
//! | need | Linux | macOS | Windows |
//! |---|---|---|---|
//! | blocks allocated up front ([`allocate`]) | `fallocate` | `F_PREALLOCATE` | `FileAllocationInfo` |
//! | pages faulted in before the logger writes them ([`prefault_for_writing`]) | `MADV_POPULATE_WRITE`, a quarter MiB at a time | a store into every page | a store into every page |
//! | the file a path names now is the one held ([`is_same_file`]) | device + inode | device + inode | volume serial + file index |
//! | an 8-byte write at an offset, the cursor untouched or unused ([`write_at`]) | `pwrite` | `pwrite` | `WriteFile` with an offset |
//! | the owner lock | `flock` (`File::try_lock`) | `flock` | `LockFileEx` |
//!
//! On all three a killed process loses nothing it appended: the records are in a shared file
//! mapping, which the kernel (Linux, macOS) or the cache manager (Windows) writes to the file
//! after the process is gone; and the lock is dropped by the kernel however the process ends.
//! Only power loss needs [`Fsync`](super::Fsync).
//!
//! Allocation goes through `fs4` (no `unsafe` here), file identity through `same-file`.

use std::fs::File;
use std::io;
use std::path::Path;

use memmap2::MmapMut;

/// Gives `file` `len` bytes with their blocks allocated. A mapped page whose block cannot be
/// allocated when it is first written (a full disk) kills the process (SIGBUS; an in-page error
/// on Windows); allocating up front turns that into an error when the segment is created. A
/// file system that cannot allocate ahead (some network ones) gets a sparse file of that size.
pub(super) fn allocate(file: &File, len: u64) -> io::Result<()> {
    match fs4::FileExt::allocate(file, len) {
        Ok(()) => {}
        Err(e) if allocation_unsupported(&e) => {}
        Err(e) => return Err(e),
    }
    // Windows reserves the blocks without moving the end of the file; the mapping needs it.
    if file.metadata()?.len() < len {
        file.set_len(len)?;
    }
    Ok(())
}

#[cfg(unix)]
fn allocation_unsupported(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EOPNOTSUPP | libc::EINVAL))
}

#[cfg(not(unix))]
fn allocation_unsupported(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::Unsupported
}

/// Faults every page of `map` in for writing, so that appending a record does not take the
/// page fault in which the file system reserves the page's block (see the `spool_ratio`
/// benchmark). Called on the thread that prepares segments, off the logging thread.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(super) fn prefault_for_writing(map: &mut MmapMut) {
    // A quarter MiB at a time: the kernel holds the process's address-space lock while it
    // populates, and over a whole segment any other thread's `mmap` (a logging thread's
    // growing buffer, say) waited for all of it.
    const STEP: usize = 256 << 10;
    let mut offset = 0;
    while offset < map.len() {
        let len = STEP.min(map.len() - offset);
        // Kernels before 5.14 do not know this advice: their pages fault in as they are written.
        if map
            .advise_range(memmap2::Advice::PopulateWrite, offset, len)
            .is_err()
        {
            return;
        }
        offset += len;
    }
}

/// Faults every page of `map` in for writing by storing a zero into it (the file is zero-filled
/// already): the same faults the logging thread would otherwise take, taken here. Costs one
/// fault per page on the preparing thread, and marks the pages dirty, which they become anyway
/// as records fill them.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(super) fn prefault_for_writing(map: &mut MmapMut) {
    const PAGE: usize = 4096;
    for offset in (0..map.len()).step_by(PAGE) {
        map[offset] = 0;
    }
}

/// Whether `path` names the file `held` is open on: false when it was deleted, or deleted and
/// made anew, since `held` was opened, and when either cannot be asked.
pub(super) fn is_same_file(path: &Path, held: &File) -> bool {
    let on_disk = same_file::Handle::from_path(path);
    let held = held.try_clone().and_then(same_file::Handle::from_file);
    matches!((on_disk, held), (Ok(a), Ok(b)) if a == b)
}

/// Writes all of `bytes` at `offset` of `file`.
#[cfg(unix)]
pub(super) fn write_at(file: &File, bytes: &[u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, bytes, offset)
}

/// Writes all of `bytes` at `offset` of `file`. Moves the file's cursor, which nothing in the
/// spool uses: segment files are written through their mapping.
#[cfg(windows)]
pub(super) fn write_at(file: &File, mut bytes: &[u8], mut offset: u64) -> io::Result<()> {
    while !bytes.is_empty() {
        match std::os::windows::fs::FileExt::seek_write(file, bytes, offset) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                bytes = &bytes[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocation_gives_the_file_its_length_and_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let file = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(dir.path().join("f"))
            .unwrap();
        allocate(&file, 1 << 20).unwrap();
        assert_eq!(file.metadata().unwrap().len(), 1 << 20);
        // Wine, which runs the Windows build of these tests, accepts the allocation without
        // reserving blocks; Windows itself reserves them.
        if cfg!(unix) {
            assert!(fs4::FileExt::allocated_size(&file).unwrap() >= 1 << 20);
        }
    }

    #[test]
    fn another_file_is_not_the_file_held() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("owner.lock");
        let held = File::create(&path).unwrap();
        assert!(is_same_file(&path, &held));
        let other = dir.path().join("other.lock");
        File::create(&other).unwrap();
        assert!(!is_same_file(&other, &held));
        assert!(!is_same_file(&dir.path().join("missing"), &held));
    }

    /// What `lock_if_dead` relies on: once the lock file it opened is deleted, no process can
    /// lock a file of that name that it would take for the held one.
    #[test]
    fn a_lock_file_deleted_while_held_cannot_be_taken_for_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("owner.lock");
        let held = File::create(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        match File::create(&path) {
            // Unix, and Windows with POSIX delete semantics: the name is free at once, and the
            // file made anew under it is another file.
            Ok(_anew) => {
                // Wine (which runs the Windows build of these tests) opens a file whose delete
                // is pending again, where Windows refuses: there, nothing here to check.
                if std::env::var_os("INFLUXDB_DATALOGGER_TESTS_UNDER_WINE").is_some() {
                    return;
                }
                assert!(!is_same_file(&path, &held), "made anew");
            }
            // Windows without them: the name stays until the last handle closes, and nobody
            // can open it meanwhile.
            #[cfg(windows)]
            Err(_) => assert!(File::open(&path).is_err()),
            #[cfg(not(windows))]
            Err(e) => panic!("cannot make {} anew: {e}", path.display()),
        }
    }

    #[test]
    fn a_write_at_an_offset_lands_there_and_is_seen_through_the_mapping() {
        let dir = tempfile::tempdir().unwrap();
        let file = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(dir.path().join("seg"))
            .unwrap();
        allocate(&file, 8192).unwrap();
        // SAFETY: a file this test created and alone uses.
        #[allow(unsafe_code)]
        let mut map = unsafe { MmapMut::map_mut(&file) }.unwrap();
        prefault_for_writing(&mut map);
        write_at(&file, &7u64.to_le_bytes(), 4096).unwrap();
        assert_eq!(map[4096..4104], 7u64.to_le_bytes());
        assert!(map[..4096].iter().all(|&b| b == 0));
    }
}
