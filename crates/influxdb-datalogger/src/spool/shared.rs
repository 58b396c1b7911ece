//! What a spool's writer and its readers share: the segments not yet released, the
//! acknowledgements of each consumer, and reading records back.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::format::{self, Found, Kind, Scan, ACKED_AT, HEADER_LEN, RECORD_HEADER_LEN};
use super::{platform, SpoolOptions, ACKED_WRITE_EVERY};
use crate::entry::{Batch, SpoolMark};
use crate::error::{Error, Result};
use crate::stats::SpoolStats;
use crate::value::Precision;

#[derive(Debug)]
pub(crate) struct OwnSegment {
    pub(crate) path: PathBuf,
    /// For the offset rewritten in the header, and syncs.
    pub(crate) file: File,
    /// Where its data ends, once sealed.
    pub(crate) end: Option<u64>,
    pub(crate) capacity: u64,
    /// The sequence number of its first record.
    pub(crate) first_seq: u64,
    pub(crate) acked_written: u64,
}

/// The live state of a spool's segments: which exist, how far each consumer acknowledged,
/// what was dropped at the size cap, and what waits to be deleted.
#[derive(Debug)]
pub(crate) struct SpoolState {
    pub(crate) segments: BTreeMap<u64, OwnSegment>,
    /// Per writer, how far it acknowledged.
    pub(crate) acked: Vec<SpoolMark>,
    /// How far the logger handed records over (what counts as acknowledged without writers).
    pub(crate) taken: SpoolMark,
    /// Records up to here were dropped at the size cap.
    pub(crate) dropped_through: SpoolMark,
    pub(crate) dropped_points: u64,
    /// Where the writing side stands.
    pub(crate) written: SpoolMark,
    /// Segments released and not yet deleted (see [`SpoolShared::delete_released`]).
    pub(crate) doomed: Vec<PathBuf>,
}

impl SpoolState {
    pub(crate) fn min_acked(&self) -> SpoolMark {
        self.acked.iter().copied().min().unwrap_or(self.taken)
    }

    pub(crate) fn bytes(&self) -> u64 {
        self.segments
            .values()
            .map(|s| s.end.unwrap_or(s.capacity))
            .sum()
    }
}

/// What the writing side and the delivery threads share: the directory lock, the segments not
/// yet released, and how far each writer acknowledged.
#[derive(Debug)]
pub(crate) struct SpoolShared {
    pub(crate) options: SpoolOptions,
    pub(crate) owner: String,
    pub(crate) lock_path: PathBuf,
    pub(crate) lock: Option<File>,
    pub(crate) precision: Precision,
    pub(crate) target: String,
    pub(crate) state: Mutex<SpoolState>,
    /// Held by [`delete_released`](Self::delete_released) from taking the released files to
    /// having deleted them, so that [`wait_for_deletions`](Self::wait_for_deletions) can tell
    /// when no other thread is still unlinking.
    pub(crate) deleting: Mutex<()>,
}

impl SpoolShared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, SpoolState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn options(&self) -> &SpoolOptions {
        &self.options
    }

    pub(crate) fn target(&self) -> &str {
        &self.target
    }

    pub(crate) fn owner(&self) -> &str {
        &self.owner
    }

    /// Registers a writer; returns its number for [`acknowledge`](Self::acknowledge).
    pub(crate) fn add_consumer(&self) -> usize {
        let mut state = self.lock();
        let start = state.written;
        state.acked.push(start);
        state.acked.len() - 1
    }

    /// Writer `consumer` has everything up to `mark`; returns whether that released segments
    /// (for [`delete_released`](Self::delete_released)).
    pub(crate) fn acknowledge(&self, consumer: usize, mark: SpoolMark) -> bool {
        let mut state = self.lock();
        if let Some(acked) = state.acked.get_mut(consumer) {
            *acked = (*acked).max(mark);
        }
        self.release(&mut state);
        !state.doomed.is_empty()
    }

    /// Deletes the segment files [`release`](Self::release) gave up: outside the lock, and
    /// for the delivery thread after it reported progress (unlinking megabytes of page cache
    /// takes milliseconds).
    pub(crate) fn delete_released(&self) {
        let _deleting = self.deleting.lock().unwrap_or_else(PoisonError::into_inner);
        drop(self.take_released());
    }

    /// Returns once no thread is deleting released segments: after a flush, the delivery thread
    /// may have taken the last ones just before the flush saw its progress.
    pub(crate) fn wait_for_deletions(&self) {
        drop(self.deleting.lock().unwrap_or_else(PoisonError::into_inner));
    }

    /// The segment files [`release`](Self::release) gave up, to be deleted where the
    /// [`ReleasedFiles`] is dropped.
    pub(crate) fn take_released(&self) -> ReleasedFiles {
        ReleasedFiles(std::mem::take(&mut self.lock().doomed))
    }

    /// Gives up the segments every writer has acknowledged (to be deleted by
    /// [`delete_released`](Self::delete_released)), and notes in the header of the oldest
    /// remaining one how far it was acknowledged (so that a replay can skip that part).
    pub(crate) fn release(&self, state: &mut SpoolState) {
        let min = state.min_acked();
        while let Some(entry) = state.segments.first_entry() {
            let (number, segment) = (*entry.key(), entry.get());
            if number < min.segment || (number == min.segment && segment.end == Some(min.offset)) {
                let doomed = entry.remove().path;
                state.doomed.push(doomed);
            } else {
                break;
            }
        }
        if let Some(segment) = state.segments.get_mut(&min.segment) {
            // Written every 256 KiB, not at every acknowledgement (with continuous write, every
            // point): a syscall each time would cost more than the point. A replay after a
            // crash resends at most that much, which overwrites itself in the database.
            if min.offset >= segment.acked_written + ACKED_WRITE_EVERY {
                // An aligned 8-byte write into the page the mapping shares.
                if platform::write_at(&segment.file, &min.offset.to_le_bytes(), ACKED_AT as u64)
                    .is_ok()
                {
                    segment.acked_written = min.offset;
                }
            }
        }
    }

    /// The records from `from` up to `to` (at most `max_points` points or about `max_bytes`),
    /// read back from the segment files, and where the next read starts.
    pub(crate) fn read(
        &self,
        mut from: SpoolMark,
        to: SpoolMark,
        max_points: usize,
        max_bytes: usize,
    ) -> Result<SpoolRead> {
        loop {
            if from >= to {
                return Ok(SpoolRead::empty(self.precision, from));
            }
            let (path, limit) = {
                let state = self.lock();
                if from < state.dropped_through {
                    let next = state.dropped_through.min(to);
                    let mut read = SpoolRead::empty(self.precision, next);
                    read.dropped = next.seq.saturating_sub(from.seq);
                    return Ok(read);
                }
                let Some(segment) = state.segments.get(&from.segment) else {
                    // SpoolState: every writer, this one included, acknowledged all of it, so
                    // this reader stands at its end.
                    drop(state);
                    from = SpoolMark {
                        segment: from.segment + 1,
                        offset: HEADER_LEN as u64,
                        seq: from.seq,
                    };
                    continue;
                };
                let limit = if to.segment == from.segment {
                    to.offset
                } else {
                    segment.end.unwrap_or(to.offset)
                };
                (segment.path.clone(), limit)
            };
            if from.offset >= limit {
                from = SpoolMark {
                    segment: from.segment + 1,
                    offset: HEADER_LEN as u64,
                    seq: from.seq,
                };
                continue;
            }
            return self.read_range(&path, from, limit, max_points, max_bytes);
        }
    }

    pub(crate) fn read_range(
        &self,
        path: &Path,
        from: SpoolMark,
        limit: u64,
        max_points: usize,
        max_bytes: usize,
    ) -> Result<SpoolRead> {
        let cannot = |e| {
            Error::io(
                format_args!("cannot read spool segment {}", path.display()),
                e,
            )
        };
        let wanted = limit - from.offset;
        let window = wanted.min((max_bytes + (1 << 20)) as u64) as usize;
        // The window may end inside a record (the range goes on beyond it): such a record is
        // read next time, not taken for damage.
        let cut = (window as u64) < wanted;
        let mut bytes = vec![0u8; window];
        File::open(path)
            .and_then(|mut f| {
                f.seek(SeekFrom::Start(from.offset))?;
                f.read_exact(&mut bytes)
            })
            .map_err(cannot)?;
        let mut lines = Vec::with_capacity(window.min(max_bytes));
        let mut ends = Vec::new();
        let mut events = Vec::new();
        let mut scan = Scan::new(&bytes, 0);
        let mut records = 0u64;
        // Where the bytes taken so far end.
        let mut consumed = 0;
        while ends.len() < max_points && lines.len() < max_bytes {
            match scan.next_found() {
                Found::Record(record) => {
                    records += 1;
                    match record.kind {
                        Kind::Point => {
                            lines.extend_from_slice(record.payload);
                            ends.push(lines.len());
                        }
                        Kind::Event => {
                            if let Ok(event) = format::decode_event(record.payload) {
                                events.push(event);
                            }
                        }
                    }
                    consumed = scan.offset();
                }
                Found::End => break,
                Found::Damage { offset, len, .. } if cut && offset + len >= window => break,
                Found::Damage {
                    offset,
                    len,
                    reason,
                } => {
                    // This process's own segment, damaged on disk under it: skip the bytes.
                    eprintln!(
                        "influxdb-datalogger: spool segment {} is damaged at offset {}, {len} bytes skipped: {reason}",
                        path.display(),
                        from.offset + offset as u64
                    );
                    consumed = offset + len;
                }
            }
        }
        if consumed == 0 && cut {
            // One record larger than the window: read again with room for it.
            let len = u32::from_le_bytes(bytes[..4].try_into().expect("a window holds 4 bytes"));
            return self.read_range(path, from, limit, 1, RECORD_HEADER_LEN + len as usize);
        }
        let next = SpoolMark {
            segment: from.segment,
            offset: from.offset + consumed as u64,
            seq: from.seq + records,
        };
        Ok(SpoolRead {
            batch: Batch::from_parts(lines, ends, events, self.precision)
                .with_spool_mark(Some(next)),
            next,
            dropped: 0,
        })
    }

    /// The numbers so far, `records` having been appended.
    pub(crate) fn stats(&self, records: u64) -> SpoolStats {
        let state = self.lock();
        SpoolStats {
            dir: self.options.dir.clone(),
            records,
            unacknowledged: records.saturating_sub(state.min_acked().seq),
            bytes: state.bytes(),
            dropped_points: state.dropped_points,
        }
    }
}

/// Segment files every writer has acknowledged, deleted when this is dropped. Unlinking one
/// takes ~1.5–2 ms (megabytes of page cache), so it is dropped outside the logger's lock: in
/// `write_data` once the lock is released, or on the thread preparing the next segment. (A
/// crash before then replays them: points that overwrite themselves in the database, as with
/// the up to 256 KiB a replay may resend, see [`SpoolShared::release`].)
#[derive(Debug, Default)]
#[must_use = "dropping it deletes the files: do so outside the logger's lock"]
pub(crate) struct ReleasedFiles(pub(crate) Vec<PathBuf>);

impl Drop for ReleasedFiles {
    fn drop(&mut self) {
        for path in self.0.drain(..) {
            let _ = fs::remove_file(path);
        }
    }
}

impl Drop for SpoolShared {
    /// With every segment released, the lock file goes too; otherwise it stays (unlocked, as the
    /// process is done with it) for the next process to replay.
    fn drop(&mut self) {
        self.delete_released();
        let released = self.lock().segments.is_empty();
        if released {
            let _ = fs::remove_file(&self.lock_path);
        }
        drop(self.lock.take());
    }
}

/// What [`SpoolShared::read`] read.
#[derive(Debug)]
pub(crate) struct SpoolRead {
    pub(crate) batch: Batch,
    pub(crate) next: SpoolMark,
    /// Records skipped because they were dropped at the size cap.
    pub(crate) dropped: u64,
}

impl SpoolRead {
    pub(crate) fn empty(precision: Precision, next: SpoolMark) -> Self {
        SpoolRead {
            batch: Batch::new(precision).with_spool_mark(Some(next)),
            next,
            dropped: 0,
        }
    }
}

/// A writer's connection to its logger's spool: how it acknowledges what the database took,
/// and reads back what it did not keep in memory. Handed to writers by
/// [`DatabaseWriter::attach_spool`](crate::DatabaseWriter::attach_spool).
#[derive(Debug, Clone)]
#[doc(hidden)] // plumbing between a logger and its background writers
pub struct SpoolLink {
    pub(crate) shared: Arc<SpoolShared>,
    pub(crate) consumer: usize,
}

impl SpoolLink {
    /// This writer has everything up to `mark`; deletes what that released.
    pub(crate) fn acknowledge(&self, mark: SpoolMark) {
        if self.shared.acknowledge(self.consumer, mark) {
            self.shared.delete_released();
        }
    }

    /// [`acknowledge`](Self::acknowledge), leaving the deletion to a later
    /// [`delete_released`](Self::delete_released).
    pub(crate) fn acknowledge_deferred(&self, mark: SpoolMark) {
        let _ = self.shared.acknowledge(self.consumer, mark);
    }

    /// Deletes the segment files acknowledgements released.
    pub(crate) fn delete_released(&self) {
        self.shared.delete_released();
    }

    /// Where the writing side stands now.
    pub(crate) fn position(&self) -> SpoolMark {
        self.shared.lock().written
    }
}
