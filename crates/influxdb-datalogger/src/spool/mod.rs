//! The spool: every point a logger accepts is appended to a segment file before it is sent, and
//! released only after every writer acknowledged it; a later logger with the same spool
//! directory delivers what a dead process left behind.
//!
//! A directory holds the segments of any number of processes ("owners"). An owner holds an
//! exclusive lock on its lock file `<owner>.lock` for as long as it lives, and writes only its
//! own segments `<owner>-<number>.seg`; the kernel drops the lock when the process dies, however
//! it dies. Another process that can take the lock knows the owner is gone and replays its
//! segments — and since it holds the lock while doing so, no third process replays them too.
//! Segments are memory-mapped, so appending costs a copy and a checksum, and a
//! killed process leaves its records in the page cache. [`Fsync`] covers power loss.

mod crc;
mod format;
mod replay;
mod segment;

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use crate::entry::Batch;
use crate::error::{Error, ErrorKind, Result};
use crate::value::{Precision, Timestamp};

pub(crate) use format::{encode_event as event_payload, series_key_len, Kind};
use format::{Found, Header, Scan, ACKED_AT, HEADER_LEN, RECORD_HEADER_LEN};
pub(crate) use replay::{claim_dead_owners, replay_owner, ReplayItem};
pub use replay::{inventory, Damage, OwnerSummary, ReplayReport};
use segment::ActiveSegment;

/// The environment variable that configures the spool, as a connection string (see
/// [`SpoolOptions::parse`]); `off` turns it off.
pub const SPOOL_ENV: &str = "INFLUXDB_DATALOGGER_SPOOL";

/// How far acknowledgements must advance before the header notes them (see `release`).
const ACKED_WRITE_EVERY: u64 = 256 << 10;

/// The spool directory used when none is given: under the working directory.
pub const DEFAULT_SPOOL_DIR: &str = ".influxdb-datalogger-spool";

/// When the spool asks the operating system to put what it wrote on the disk.
///
/// A killed process loses nothing in any mode: its records are in the page cache, which the
/// kernel writes out. Only a power loss or a kernel crash can lose what was not synced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fsync {
    /// Never explicitly (the kernel writes dirty pages within about 30 s). No cost to `log`.
    Never,
    /// At every `write_data` (with continuous write: every point) — milliseconds each.
    PerBatch,
    /// From a thread of the spool's own, this often; `log` does not wait for it.
    Every(Duration),
}

/// What `log` does when the spool reached [`SpoolOptions::max_bytes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OnFull {
    /// Refuse the point with an error (of kind [`ErrorKind::SpoolFull`]); nothing accepted is
    /// lost.
    Refuse,
    /// Delete the oldest unacknowledged segment and count its points in
    /// [`SpoolStats::dropped_points`].
    DropOldest,
}

/// Whose leftovers a logger replays when it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Adopt {
    /// Only those of processes that wrote to the same writers (by their names, which hold the
    /// URL and database but never a secret), so that nothing reaches a database it was not
    /// meant for.
    SameTarget,
    /// Every dead process's, whatever its target (`influxdb-datalogger replay`).
    All,
}

/// How a logger spools; see the module documentation.
///
/// ```
/// use influxdb_datalogger::{Fsync, SpoolOptions};
///
/// let options = SpoolOptions::parse("spool-dir?max_bytes=2GiB&fsync=100ms")?;
/// assert_eq!(options.max_bytes, 2 << 30);
/// assert_eq!(options.fsync, Fsync::Every(std::time::Duration::from_millis(100)));
/// let mut by_hand = SpoolOptions::new("spool-dir");
/// by_hand.max_bytes = 2 << 30;
/// # Ok::<(), influxdb_datalogger::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SpoolOptions {
    /// The directory; shared by any number of processes.
    pub dir: PathBuf,
    /// The size of a segment file.
    pub segment_bytes: u64,
    /// The most unacknowledged bytes this process keeps on disk.
    pub max_bytes: u64,
    /// What happens at `max_bytes`.
    pub on_full: OnFull,
    /// When to sync to disk.
    pub fsync: Fsync,
    /// Whose leftovers to replay at start.
    pub adopt: Adopt,
    /// How many bytes of points a background writer keeps in memory while the database does
    /// not keep up; beyond that it reads them back from the spool when their turn comes.
    pub memory_bytes: u64,
}

impl SpoolOptions {
    /// Defaults in `dir`: 8 MiB segments, at most 1 GiB, refuse when full, no explicit sync.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        SpoolOptions {
            dir: dir.into(),
            segment_bytes: 8 << 20,
            max_bytes: 1 << 30,
            on_full: OnFull::Refuse,
            fsync: Fsync::Never,
            adopt: Adopt::SameTarget,
            memory_bytes: 16 << 20,
        }
    }

    /// Parses a connection string: a directory, optionally followed by settings, e.g.
    /// `/var/spool/tests?max_bytes=2GiB&segment_bytes=16MiB&fsync=100ms&on_full=drop-oldest`.
    /// `fsync` is `never`, `batch` or a duration (`100ms`, `1s`); `on_full` is `refuse` or
    /// `drop-oldest`; sizes take `KiB`, `MiB`, `GiB` (or none).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidArgument`]: an unknown setting, a value it cannot take, sizes that do not fit
    /// together.
    pub fn parse(text: &str) -> Result<Self> {
        let (dir, query) = text.split_once('?').unwrap_or((text, ""));
        if dir.is_empty() {
            return Err(invalid(format!(
                "spool connection string {text:?} names no directory"
            )));
        }
        let mut options = SpoolOptions::new(dir);
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| invalid(format!("spool setting {pair:?} has no value")))?;
            match key {
                "max_bytes" => options.max_bytes = parse_size(key, value)?,
                "segment_bytes" => options.segment_bytes = parse_size(key, value)?,
                "memory_bytes" => options.memory_bytes = parse_size(key, value)?,
                "fsync" => {
                    options.fsync = match value {
                        "never" => Fsync::Never,
                        "batch" => Fsync::PerBatch,
                        other => Fsync::Every(parse_duration(other).ok_or_else(|| {
                            invalid(format!(
                                "spool fsync {other:?} is neither never, batch nor a duration like 100ms"
                            ))
                        })?),
                    }
                }
                "on_full" => {
                    options.on_full = match value {
                        "refuse" => OnFull::Refuse,
                        "drop-oldest" | "drop_oldest" => OnFull::DropOldest,
                        other => {
                            return Err(invalid(format!(
                                "spool on_full {other:?} is neither refuse nor drop-oldest"
                            )))
                        }
                    }
                }
                "adopt" => {
                    options.adopt = match value {
                        "same-target" | "same_target" => Adopt::SameTarget,
                        "all" => Adopt::All,
                        other => {
                            return Err(invalid(format!(
                                "spool adopt {other:?} is neither same-target nor all"
                            )))
                        }
                    }
                }
                other => return Err(invalid(format!("unknown spool setting {other:?}"))),
            }
        }
        options.check()?;
        Ok(options)
    }

    /// What the environment says ([`SPOOL_ENV`]).
    ///
    /// # Errors
    /// The variable is set to something [`parse`](Self::parse) refuses.
    pub fn from_env() -> Result<SpoolFromEnv> {
        match std::env::var(SPOOL_ENV) {
            Err(_) => Ok(SpoolFromEnv::Unset),
            Ok(v) if v.trim().eq_ignore_ascii_case("off") => Ok(SpoolFromEnv::Off),
            Ok(v) => SpoolOptions::parse(v.trim()).map(SpoolFromEnv::On),
        }
    }

    /// Checks that the sizes fit together.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidArgument`] naming the sizes that do not fit.
    pub fn check(&self) -> Result<()> {
        if self.segment_bytes < 64 << 10 {
            return Err(invalid(format!(
                "spool segment_bytes {} is below the minimum of 64 KiB",
                self.segment_bytes
            )));
        }
        if self.max_bytes < 2 * self.segment_bytes {
            return Err(invalid(format!(
                "spool max_bytes {} must hold at least two segments of {} bytes",
                self.max_bytes, self.segment_bytes
            )));
        }
        Ok(())
    }
}

/// What [`SPOOL_ENV`] says: nothing, no spool, or a spool with these options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpoolFromEnv {
    /// The variable is not set: the caller's default applies.
    Unset,
    /// `off`: no spool.
    Off,
    /// A spool.
    On(SpoolOptions),
}

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::InvalidArgument, message)
}

fn parse_size(key: &str, value: &str) -> Result<u64> {
    let v = value.trim();
    let (digits, unit) = v.split_at(v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len()));
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" | "K" | "k" => 1 << 10,
        "MiB" | "M" => 1 << 20,
        "GiB" | "G" => 1 << 30,
        _ => 0,
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(factor))
        .filter(|&n| n > 0)
        .ok_or_else(|| invalid(format!("spool {key} {value:?} is not a size like 512MiB")))
}

fn parse_duration(value: &str) -> Option<Duration> {
    let (number, unit) = value.split_at(value.find(|c: char| c.is_ascii_alphabetic())?);
    let n: f64 = number
        .parse()
        .ok()
        .filter(|n: &f64| *n > 0.0 && n.is_finite())?;
    Some(Duration::from_secs_f64(match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" | "min" => n * 60.0,
        _ => return None,
    }))
}

/// A position in a process's spool: after `seq` records, at `offset` of segment `segment`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
#[doc(hidden)] // plumbing: where a batch ends in the spool
pub struct SpoolMark {
    segment: u64,
    offset: u64,
    seq: u64,
}

/// The spool's numbers, as reported by [`DataLogger::stats`](crate::DataLogger::stats).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SpoolStats {
    /// The directory.
    pub dir: PathBuf,
    /// Records (points and events) appended by this process.
    pub records: u64,
    /// Records not yet acknowledged by every writer.
    pub unacknowledged: u64,
    /// Bytes of this process's segments on disk.
    pub bytes: u64,
    /// Points deleted at the size cap ([`OnFull::DropOldest`]).
    pub dropped_points: u64,
}

#[derive(Debug)]
struct OwnSegment {
    path: PathBuf,
    /// For the offset rewritten in the header, and syncs.
    file: File,
    /// Where its data ends, once sealed.
    end: Option<u64>,
    capacity: u64,
    /// The sequence number of its first record.
    first_seq: u64,
    acked_written: u64,
}

#[derive(Debug)]
struct Released {
    segments: BTreeMap<u64, OwnSegment>,
    /// Per writer, how far it acknowledged.
    acked: Vec<SpoolMark>,
    /// How far the logger handed records over (what counts as acknowledged without writers).
    taken: SpoolMark,
    /// Records up to here were dropped at the size cap.
    dropped_through: SpoolMark,
    dropped_points: u64,
    /// Where the writing side stands.
    written: SpoolMark,
    /// Segments released and not yet deleted (see [`SpoolShared::delete_released`]).
    doomed: Vec<PathBuf>,
}

impl Released {
    fn min_acked(&self) -> SpoolMark {
        self.acked.iter().copied().min().unwrap_or(self.taken)
    }

    fn bytes(&self) -> u64 {
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
    options: SpoolOptions,
    owner: String,
    lock_path: PathBuf,
    lock: Option<File>,
    precision: Precision,
    target: String,
    state: Mutex<Released>,
}

impl SpoolShared {
    fn lock(&self) -> MutexGuard<'_, Released> {
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
        drop(self.take_released());
    }

    /// The segment files [`release`](Self::release) gave up, to be deleted where the
    /// [`ReleasedFiles`] is dropped.
    fn take_released(&self) -> ReleasedFiles {
        ReleasedFiles(std::mem::take(&mut self.lock().doomed))
    }

    /// Gives up the segments every writer has acknowledged (to be deleted by
    /// [`delete_released`](Self::delete_released)), and notes in the header of the oldest
    /// remaining one how far it was acknowledged (so that a replay can skip that part).
    fn release(&self, state: &mut Released) {
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
                if segment
                    .file
                    .write_at(&min.offset.to_le_bytes(), ACKED_AT as u64)
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
                    // Released: every writer, this one included, acknowledged all of it, so
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

    fn read_range(
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
            .and_then(|f| f.read_exact_at(&mut bytes, from.offset))
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
    fn stats(&self, records: u64) -> SpoolStats {
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
pub(crate) struct ReleasedFiles(Vec<PathBuf>);

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
    fn empty(precision: Precision, next: SpoolMark) -> Self {
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

/// The writing side, kept under the logger's lock: appends records to the active segment.
#[derive(Debug)]
pub(crate) struct SpoolWriter {
    shared: Arc<SpoolShared>,
    active: Option<ActiveSegment>,
    /// The next segment, being prepared.
    next: Option<std::thread::JoinHandle<Result<ActiveSegment>>>,
    next_number: u64,
    seq: u64,
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
            state: Mutex::new(Released {
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
    fn seal_and_release(&mut self) -> (Option<ActiveSegment>, ReleasedFiles) {
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

    fn discard_prepared(&mut self) {
        if let Some(Ok(Ok(unused))) = self.next.take().map(std::thread::JoinHandle::join) {
            unused.discard_prepared();
        }
    }

    /// Writes what was appended to the disk.
    pub(crate) fn sync(&self) -> Result<()> {
        self.active.as_ref().map_or(Ok(()), ActiveSegment::sync)
    }

    fn segment_path(&self, number: u64) -> PathBuf {
        self.shared
            .options
            .dir
            .join(format!("{}-{number:08}.seg", self.shared.owner))
    }

    fn header(&self, number: u64) -> Header {
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
    fn prepare(&mut self, number: u64, retired: Option<ActiveSegment>, released: ReleasedFiles) {
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
    fn rotate(&mut self, payload_len: usize) -> Result<()> {
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

/// Deletes the oldest sealed segments until a new one of `capacity` bytes fits.
fn drop_oldest(state: &mut Released, capacity: u64, max_bytes: u64) {
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
        let _ = fs::remove_file(&segment.path);
    }
}

/// Syncs the active segment every `period`, for as long as the spool exists.
fn start_syncing(spool: Weak<SpoolShared>, period: Duration) {
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
fn nonce() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    hasher.write_i64(Timestamp::now().as_nanos());
    hasher.finish()
}

#[cfg(test)]
mod tests;
