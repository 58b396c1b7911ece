//! Finding what dead processes left in a spool directory, replaying it, and listing it.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::format::{self, Found, Header, Kind, Scan, HEADER_LEN};
use super::{platform, Adopt};
use crate::entry::Event;
use crate::error::{Error, Result};
use crate::value::{Precision, Timestamp};

/// Damaged bytes found in a segment and moved aside.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Damage {
    /// The segment they were in.
    pub segment: PathBuf,
    /// Where they started.
    pub offset: u64,
    /// How many.
    pub len: u64,
    /// What was wrong.
    pub reason: String,
    /// Where they were copied to.
    pub moved_to: PathBuf,
}

/// What a logger replayed when it started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReplayReport {
    /// Dead processes whose segments were replayed.
    pub owners: usize,
    /// Segments replayed.
    pub segments: usize,
    /// Points replayed.
    pub points: u64,
    /// Events replayed.
    pub events: u64,
    /// Damaged parts, moved aside (each also listed in `damaged/REPORT.txt` in the directory).
    pub damaged: Vec<Damage>,
    /// Dead processes left alone because they wrote to another target.
    pub other_targets: usize,
}

impl ReplayReport {
    /// Adds what another replay did.
    pub fn absorb(&mut self, other: ReplayReport) {
        self.owners += other.owners;
        self.segments += other.segments;
        self.points += other.points;
        self.events += other.events;
        self.damaged.extend(other.damaged);
        self.other_targets += other.other_targets;
    }
}

/// A dead owner whose lock this process now holds.
#[derive(Debug)]
pub(crate) struct DeadOwner {
    name: String,
    lock_path: PathBuf,
    _lock: File,
    segments: Vec<PathBuf>,
}

/// The owners and their segment files in `dir`: owner name → segments by number.
fn owners_in(dir: &Path) -> Result<BTreeMap<String, BTreeMap<u64, PathBuf>>> {
    let entries = fs::read_dir(dir).map_err(|e| {
        Error::io(
            format_args!("cannot read spool directory {}", dir.display()),
            e,
        )
    })?;
    let mut owners: BTreeMap<String, BTreeMap<u64, PathBuf>> = BTreeMap::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(owner) = name.strip_suffix(".lock") {
            owners.entry(owner.to_string()).or_default();
        } else if let Some((owner, number)) = name
            .strip_suffix(".seg")
            .and_then(|stem| stem.rsplit_once('-'))
        {
            if let Ok(number) = number.parse::<u64>() {
                owners
                    .entry(owner.to_string())
                    .or_default()
                    .insert(number, entry.path());
            }
        }
    }
    Ok(owners)
}

/// Takes the lock of owner `name` if its process is gone: `None` while it lives (or when
/// another process took it first).
fn lock_if_dead(dir: &Path, name: &str) -> Option<(PathBuf, File)> {
    let path = dir.join(format!("{name}.lock"));
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .ok()?;
    file.try_lock().ok()?;
    // Another process may have finished this owner and deleted the lock file between our open
    // and our lock: then we hold a lock on a file nobody else can find.
    platform::is_same_file(&path, &file).then_some((path, file))
}

/// Takes over every owner in `dir` (but `own`) whose process is gone.
pub(crate) fn claim_dead_owners(dir: &Path, own: &str) -> Result<Vec<DeadOwner>> {
    let mut claimed = Vec::new();
    for (name, segments) in owners_in(dir)? {
        if name == own {
            continue;
        }
        if let Some((lock_path, lock)) = lock_if_dead(dir, &name) {
            // Listed again under the lock: the directory listing may predate the owner's end.
            let segments = owners_in(dir)?
                .remove(&name)
                .unwrap_or(segments)
                .into_values()
                .collect();
            claimed.push(DeadOwner {
                name,
                lock_path,
                _lock: lock,
                segments,
            });
        }
    }
    Ok(claimed)
}

/// What a replay hands to the logger.
#[derive(Debug)]
pub(crate) enum ReplayItem<'a> {
    /// A line of line protocol (with its newline), in the logger's precision.
    Point(Cow<'a, [u8]>),
    Event(Event),
    /// Everything of a segment was handed over: make it durable in the logger's own spool, as
    /// the segment is deleted next.
    SegmentDone,
}

/// Replays `owner`'s segments into `sink`, oldest first, deleting each after `sink` took it;
/// damaged bytes are moved to `damaged/` in the directory. Returns `false` (and touches
/// nothing) when `adopt` says the owner's target is not ours.
pub(crate) fn replay_owner(
    owner: DeadOwner,
    target: &str,
    adopt: Adopt,
    precision: Precision,
    report: &mut ReplayReport,
    mut sink: impl FnMut(ReplayItem<'_>) -> Result<()>,
) -> Result<bool> {
    let mut replayed_any = false;
    for path in &owner.segments {
        let bytes = match fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io(format_args!("cannot read {}", path.display()), e)),
        };
        let header = match Header::decode_salvaging(&bytes) {
            Ok((header, None)) => header,
            Ok((header, Some(reason))) => {
                report
                    .damaged
                    .push(move_aside(path, &bytes, 0, HEADER_LEN, &reason)?);
                header
            }
            Err(reason) => {
                report
                    .damaged
                    .push(move_aside(path, &bytes, 0, bytes.len(), &reason)?);
                let _ = fs::remove_file(path);
                continue;
            }
        };
        if adopt == Adopt::SameTarget && header.target != target {
            report.other_targets += 1;
            return Ok(false);
        }
        let mut scan = unacknowledged(&header, &bytes);
        loop {
            match scan.next_found() {
                Found::End => break,
                Found::Record(record) => match record.kind {
                    Kind::Point => {
                        let line = if header.precision == precision {
                            Cow::Borrowed(record.payload)
                        } else {
                            match crate::line_protocol::rescale_timestamp(
                                record.payload,
                                header.precision,
                                precision,
                            ) {
                                Some(line) => Cow::Owned(line),
                                None => {
                                    report.damaged.push(move_aside(
                                        path,
                                        &bytes,
                                        record.offset,
                                        record.payload.len() + format::RECORD_HEADER_LEN,
                                        "a point without a timestamp to convert",
                                    )?);
                                    continue;
                                }
                            }
                        };
                        report.points += 1;
                        sink(ReplayItem::Point(line))?;
                    }
                    Kind::Event => match format::decode_event(record.payload) {
                        Ok(event) => {
                            report.events += 1;
                            sink(ReplayItem::Event(event))?;
                        }
                        Err(reason) => report.damaged.push(move_aside(
                            path,
                            &bytes,
                            record.offset,
                            record.payload.len() + format::RECORD_HEADER_LEN,
                            &reason,
                        )?),
                    },
                },
                Found::Damage {
                    offset,
                    len,
                    reason,
                } => report
                    .damaged
                    .push(move_aside(path, &bytes, offset, len, &reason)?),
            }
        }
        sink(ReplayItem::SegmentDone)?;
        let _ = fs::remove_file(path);
        report.segments += 1;
        replayed_any = true;
    }
    remove_prepared(&owner);
    let _ = fs::remove_file(&owner.lock_path);
    if replayed_any {
        report.owners += 1;
    }
    Ok(true)
}

/// Deletes the segments a dead owner had prepared ahead and never used.
fn remove_prepared(owner: &DeadOwner) {
    let Some(dir) = owner.lock_path.parent() else {
        return;
    };
    let prefix = format!("{}-", owner.name);
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(&prefix) && name.ends_with(super::segment::PREPARED_SUFFIX) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// The records of a segment its owner had not had acknowledged.
fn unacknowledged<'a>(header: &Header, bytes: &'a [u8]) -> Scan<'a> {
    let start = usize::try_from(header.acked)
        .unwrap_or(HEADER_LEN)
        .clamp(HEADER_LEN, bytes.len());
    Scan::new(bytes, start)
}

/// Copies damaged bytes to `damaged/<segment>.<offset>.bin` and notes them in
/// `damaged/REPORT.txt`.
fn move_aside(
    segment: &Path,
    bytes: &[u8],
    offset: usize,
    len: usize,
    reason: &str,
) -> Result<Damage> {
    let dir = segment
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .join("damaged");
    fs::create_dir_all(&dir)
        .map_err(|e| Error::io(format_args!("cannot create {}", dir.display()), e))?;
    let file_name = segment
        .file_name()
        .map_or_else(|| "segment".into(), |n| n.to_string_lossy().into_owned());
    let moved_to = dir.join(format!("{file_name}.{offset}.bin"));
    let end = (offset + len).min(bytes.len());
    fs::write(&moved_to, &bytes[offset.min(end)..end])
        .map_err(|e| Error::io(format_args!("cannot write {}", moved_to.display()), e))?;
    let line = format!(
        "{} {file_name}: {len} bytes at offset {offset} moved to {}: {reason}\n",
        Timestamp::now().as_nanos(),
        moved_to.display()
    );
    let report = dir.join("REPORT.txt");
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(&report)
        .and_then(|mut f| f.write_all(line.as_bytes()))
        .map_err(|e| Error::io(format_args!("cannot write {}", report.display()), e))?;
    eprint!("influxdb-datalogger: damaged spool data: {line}");
    Ok(Damage {
        segment: segment.to_path_buf(),
        offset: offset as u64,
        len: len as u64,
        reason: reason.to_string(),
        moved_to,
    })
}

/// What one process left (or is keeping) in a spool directory.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OwnerSummary {
    /// The owner's name (`p<pid>-<random>`).
    pub owner: String,
    /// Whether its process still runs (holds its lock).
    pub alive: bool,
    /// Where its points were going (writer names; never a secret).
    pub target: String,
    /// Segment files.
    pub segments: usize,
    /// Points not yet acknowledged.
    pub points: u64,
    /// Events not yet acknowledged.
    pub events: u64,
    /// Bytes of those records.
    pub bytes: u64,
    /// When its oldest segment was started.
    pub oldest: Option<Timestamp>,
    /// Damaged ranges seen (not moved: listing changes nothing).
    pub damaged: usize,
}

/// Lists what every owner in `dir` has not had acknowledged yet. Reads only.
///
/// # Errors
/// The directory cannot be read.
pub fn inventory(dir: &Path) -> Result<Vec<OwnerSummary>> {
    let mut out = Vec::new();
    for (owner, segments) in owners_in(dir)? {
        let lock_path = dir.join(format!("{owner}.lock"));
        let alive = File::open(&lock_path).is_ok_and(|f| match f.try_lock_shared() {
            Ok(()) => {
                let _ = f.unlock();
                false
            }
            Err(_) => true,
        });
        let mut summary = OwnerSummary {
            owner,
            alive,
            target: String::new(),
            segments: segments.len(),
            points: 0,
            events: 0,
            bytes: 0,
            oldest: None,
            damaged: 0,
        };
        for path in segments.values() {
            let Ok(bytes) = fs::read(path) else { continue };
            let header = match Header::decode_salvaging(&bytes) {
                Ok((header, damage)) => {
                    summary.damaged += usize::from(damage.is_some());
                    header
                }
                Err(_) => {
                    summary.damaged += 1;
                    continue;
                }
            };
            if summary.target.is_empty() {
                summary.target = header.target.clone();
            }
            let created = Timestamp::from_nanos(header.created_ns);
            summary.oldest = Some(summary.oldest.map_or(created, |o| o.min(created)));
            let mut scan = unacknowledged(&header, &bytes);
            loop {
                match scan.next_found() {
                    Found::End => break,
                    Found::Record(r) => {
                        summary.bytes += r.payload.len() as u64;
                        match r.kind {
                            Kind::Point => summary.points += 1,
                            Kind::Event => summary.events += 1,
                        }
                    }
                    Found::Damage { .. } => summary.damaged += 1,
                }
            }
        }
        out.push(summary);
    }
    Ok(out)
}
