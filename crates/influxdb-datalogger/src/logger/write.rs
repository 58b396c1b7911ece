//! Handing what is pending to the writers: post-processing, the write itself (in parts for a
//! large one), flushing and closing.

use std::sync::atomic::Ordering;

/// The wait given to a writer's `flush_at_exit` when the caller sets no limit: long enough to
/// leave each writer to its own (a background writer's flush timeout), short enough that a
/// writer adding it to an `Instant` cannot overflow.
const UNBOUNDED_WAIT: std::time::Duration = std::time::Duration::from_secs(365 * 24 * 3600);
use std::sync::Arc;

use super::pending::HandedOver;
use super::{lock, DataLogger, WriterSlot, WritingGuard};
use crate::entry::{Batch, DataEntry, Event};
use crate::error::{Error, ErrorKind, Result};
use crate::schema::Measurement;
use crate::spool::SpoolMark;
use crate::store::PointStore;

pub(super) type PostProcessFn = dyn Fn(&DataLogger, &Entries) -> Result<()> + Send + Sync;

pub(super) struct PostProcessor {
    pub(super) measurements: Vec<String>,
    pub(super) func: Arc<PostProcessFn>,
}

/// The pending entries of the measurements a post-processor registered for.
#[derive(Debug, Default)]
pub struct Entries {
    pub(super) by_measurement: Vec<(String, Vec<DataEntry>)>,
}

impl Entries {
    /// The entries of measurement `name` (empty when there are none).
    pub fn get(&self, name: &str) -> &[DataEntry] {
        self.by_measurement
            .iter()
            .find(|(m, _)| m == name)
            .map_or(&[], |(_, e)| e)
    }

    /// Every measurement with its entries, in the order the post-processor named them.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[DataEntry])> {
        self.by_measurement
            .iter()
            .map(|(m, e)| (m.as_str(), e.as_slice()))
    }
}

impl DataLogger {
    /// Registers a post-processor: before each write it receives the pending entries of
    /// `measurements` and may log derived points (an average, say), which are written too.
    pub fn add_post_processing(
        &self,
        measurements: &[&Measurement],
        func: impl Fn(&DataLogger, &Entries) -> Result<()> + Send + Sync + 'static,
    ) {
        lock(&self.post_processors).push(PostProcessor {
            measurements: measurements.iter().map(|m| m.name().to_string()).collect(),
            func: Arc::new(func),
        });
    }

    /// Hands everything pending to every writer.
    ///
    /// 1. Runs the post-processors, which may log derived points; if one fails, nothing is
    ///    written or discarded.
    /// 2. Gives the batch to each writer. A writer that fails keeps the batch and gets it again,
    ///    with newer data, at the next call; writers that succeeded get no duplicates.
    ///
    /// Returns the first writer's error, if any failed.
    ///
    /// # Errors
    /// A post-processor's error (nothing is written or discarded), or the first writer's error (see 2).
    pub fn write_data(&self) -> Result<()> {
        self.ensure_own_process()?;
        let Some(_writing) = WritingGuard::enter(self) else {
            // Called from inside this logger's own write (a post-processor or writer logging
            // with continuous write): what it logged is taken by the write in progress.
            return Ok(());
        };
        let mut writers = lock(&self.delivery);
        self.run_post_processors()
            .inspect_err(|e| self.note_error(e))?;
        let HandedOver {
            points,
            events,
            mark,
            released,
        } = lock(&self.pending)
            .take()
            .inspect_err(|e| self.note_error(e))?;
        // Deleted with the logger unlocked: unlinking a segment takes milliseconds.
        drop(released);
        // Assembled outside the lock: for a million points this takes tens of milliseconds,
        // during which other threads' `log` calls would otherwise wait.
        let parted = self.hand_over_in_parts(&mut writers, &points, &events, mark);
        let batch = match parted {
            Some(whole) => whole,
            None => points
                .to_batch(events, self.precision)
                .with_spool_mark(mark),
        };
        let mut points = points;
        if points.recycle() {
            lock(&self.pending).spare = Some(points);
        }
        if batch.is_empty() && writers.iter().all(|w| w.backlog.is_none()) {
            return Ok(());
        }
        let mut first_error: Option<Error> = None;
        let mut failed = 0;
        for slot in writers.iter_mut() {
            if std::mem::take(&mut slot.took_parts) {
                continue;
            }
            let refused_before = slot.writer.dead_lettered();
            let (result, points) = match slot.backlog.take() {
                None => (slot.writer.write_data(&batch), batch.point_count()),
                Some(mut backlog) => {
                    backlog.append(batch.clone());
                    let result = slot.writer.write_data(&backlog);
                    let points = backlog.point_count();
                    if result.is_err() {
                        slot.backlog = Some(backlog);
                    }
                    (result, points)
                }
            };
            match result {
                Ok(()) => {
                    // Lines the database refused for good went to the dead-letter file: not
                    // written. (A background writer's count is its delivered points.)
                    let refused = slot.writer.dead_lettered().saturating_sub(refused_before);
                    slot.points_written += (points as u64).saturating_sub(refused);
                    slot.last_error = None;
                    if let (Some(link), Some(mark)) = (&slot.acknowledge, mark) {
                        link.acknowledge(mark);
                    }
                }
                Err(e) => {
                    slot.failures += 1;
                    slot.last_error = Some(format!("{e:#}"));
                    if slot.backlog.is_none() {
                        slot.backlog = Some(batch.clone());
                    }
                    failed += 1;
                    if first_error.is_none() {
                        first_error = Some(e.context(format_args!(
                            "writer {} failed; its {points} points are kept and handed to it again at the next write",
                            slot.writer.name()
                        )));
                    }
                }
            }
        }
        match first_error {
            None => Ok(()),
            Some(e) => {
                let e = if failed > 1 {
                    e.context(format_args!("{failed} writers failed"))
                } else {
                    e
                };
                self.note_error(&e);
                Err(e)
            }
        }
    }

    /// For a large write, hands the points in parts to the writers that take parts (and have
    /// no backlog), each part as soon as it is assembled, so that a background writer starts
    /// sending while the rest is put together. Returns the whole batch for the other writers
    /// (put together once more, only if there are any; else an empty batch), or `None` when the
    /// write is not handed over in parts.
    pub(super) fn hand_over_in_parts(
        &self,
        writers: &mut [WriterSlot],
        points: &PointStore,
        events: &[Event],
        mark: Option<SpoolMark>,
    ) -> Option<Batch> {
        const PART_POINTS: usize = 50_000;
        let count = points.len();
        let takers: Vec<usize> = (0..writers.len())
            .filter(|&i| writers[i].backlog.is_none() && writers[i].writer.takes_parts())
            .collect();
        if count < 2 * PART_POINTS || takers.is_empty() {
            return None;
        }
        let mut parts = Vec::with_capacity(count.div_ceil(PART_POINTS));
        let mut failed: Vec<usize> = Vec::new();
        for start in (0..count).step_by(PART_POINTS) {
            let end = (start + PART_POINTS).min(count);
            let last = end == count;
            let part = points
                .range_to_batch(
                    start..end,
                    if last { events.to_vec() } else { Vec::new() },
                    self.precision,
                )
                .with_spool_mark(if last { mark } else { None });
            for &i in &takers {
                // A writer that takes parts only queues them; should it fail anyway, it gets
                // the whole write through the ordinary path (parts it took are sent twice,
                // and overwrite themselves).
                if !failed.contains(&i) && writers[i].writer.write_data(&part).is_err() {
                    failed.push(i);
                }
            }
            parts.push(part);
        }
        for &i in takers.iter().filter(|i| !failed.contains(i)) {
            writers[i].took_parts = true;
            writers[i].points_written += count as u64;
        }
        Some(if takers.len() - failed.len() < writers.len() {
            Batch::concat(parts)
        } else {
            Batch::new(self.precision)
        })
    }

    pub(super) fn run_post_processors(&self) -> Result<()> {
        let processors: Vec<(Vec<String>, Arc<PostProcessFn>)> = lock(&self.post_processors)
            .iter()
            .map(|p| (p.measurements.clone(), Arc::clone(&p.func)))
            .collect();
        for (measurements, func) in processors {
            let all = self.dataset();
            let by_measurement = measurements
                .into_iter()
                .map(|m| {
                    let entries = all.iter().filter(|e| e.measurement == m).cloned().collect();
                    (m, entries)
                })
                .collect();
            func(self, &Entries { by_measurement })
                .map_err(|e| e.context("post-processing failed"))?;
        }
        Ok(())
    }

    /// Writes what is pending and makes every writer flush what it wrote (a file writer syncs
    /// it to disk, a [`BackgroundWriter`](crate::BackgroundWriter) waits until the server
    /// acknowledged everything, up to its flush timeout).
    ///
    /// # Errors
    /// What [`write_data`](Self::write_data) returns, or a writer that could not flush (its data is
    /// kept; with a spool, the message says where).
    pub fn flush(&self) -> Result<()> {
        self.write_data().and(self.flush_writers(None))
    }

    /// [`flush`](DataLogger::flush), waiting at most `timeout` in all.
    ///
    /// # Errors
    /// As [`flush`](Self::flush).
    pub fn flush_within(&self, timeout: std::time::Duration) -> Result<()> {
        self.write_data()
            .and(self.flush_writers(Some(std::time::Instant::now() + timeout)))
    }

    /// Makes every writer flush what it was given, without handing it anything new.
    ///
    /// # Errors
    /// A writer that could not flush (its data is kept; with a spool, the message says where).
    pub fn flush_writers(&self, deadline: Option<std::time::Instant>) -> Result<()> {
        self.flush_writers_within(deadline, false)
    }

    /// What a process exit does: [`flush_writers`](Self::flush_writers) by `deadline`, each
    /// writer waited for at most its own flush timeout (as its `flush` would), and not at all
    /// once its server cannot be reached (the data stays in the spool, if there is one).
    ///
    /// # Errors
    /// As [`flush_writers`](Self::flush_writers).
    pub fn flush_writers_at_exit(&self, deadline: std::time::Instant) -> Result<()> {
        self.flush_writers_within(Some(deadline), true)
    }

    /// What closing does: [`flush_writers`](Self::flush_writers), but with a spool a writer
    /// whose server cannot be reached (connection refused, an unknown host) is not waited for:
    /// what it was not able to deliver is in the spool, for the next logger that opens it.
    ///
    /// # Errors
    /// As [`flush_writers`](Self::flush_writers); the message says where the points are.
    pub fn flush_writers_to_close(&self, deadline: Option<std::time::Instant>) -> Result<()> {
        let spooled = self.spool_dir().is_some();
        self.flush_writers_within(deadline, spooled)
    }

    pub(super) fn flush_writers_within(
        &self,
        deadline: Option<std::time::Instant>,
        at_exit: bool,
    ) -> Result<()> {
        self.ensure_own_process()?;
        let mut flushed = Ok(());
        for slot in lock(&self.delivery).iter_mut() {
            let result = match deadline {
                _ if at_exit => {
                    slot.writer
                        .flush_at_exit(deadline.map_or(UNBOUNDED_WAIT, |deadline| {
                            deadline.saturating_duration_since(std::time::Instant::now())
                        }))
                }
                Some(deadline) => slot
                    .writer
                    .flush_within(deadline.saturating_duration_since(std::time::Instant::now())),
                None => slot.writer.flush(),
            };
            if let Err(e) = result {
                if flushed.is_ok() {
                    flushed = Err(e.context(format_args!(
                        "writer {} could not flush",
                        slot.writer.name()
                    )));
                }
            }
        }
        if flushed.is_ok() {
            self.release_spool();
        }
        flushed.map_err(|e| match self.spool_dir() {
            Some(dir) => Error::new(
                e.kind(),
                format!(
                    "{e:#}; nothing is lost: the points are {}",
                    crate::spool::kept_in(&dir)
                ),
            ),
            None => e,
        })
    }

    /// The spool's directory, if the logger has a spool.
    pub(super) fn spool_dir(&self) -> Option<std::path::PathBuf> {
        lock(&self.pending)
            .spool
            .as_ref()
            .map(|s| s.shared().options().dir.clone())
    }

    /// [`flush`](DataLogger::flush)es — with a spool, not waiting for a server that cannot be
    /// reached (see [`flush_writers_to_close`](Self::flush_writers_to_close)) — and says whether
    /// anything the writers were given was refused by the database; dropping the logger does the
    /// same and says it on stderr.
    ///
    /// # Errors
    /// What `flush` returns; else, if the database refused points for good (they are in the
    /// dead-letter file, not in the database), a [`ErrorKind::Writer`] error counting them.
    pub fn close(&self) -> Result<()> {
        self.closed.store(true, Ordering::Relaxed);
        self.write_data().and(self.flush_writers_to_close(None))?;
        match self.refused_points() {
            0 => Ok(()),
            n => Err(Error::new(
                ErrorKind::Writer,
                format!(
                    "{n} points were refused by the database and set aside in the dead-letter file; the rest was delivered"
                ),
            )
            .with_retriable(false)),
        }
    }

    /// Lines the writers' databases refused for good (now in dead-letter files).
    pub(super) fn refused_points(&self) -> u64 {
        lock(&self.delivery)
            .iter()
            .map(|w| w.writer.dead_lettered())
            .sum()
    }

    /// Deletes the spool's segments if everything in them was acknowledged (after a flush: the
    /// logger may be done, and a segment is megabytes).
    pub(super) fn release_spool(&self) {
        let Some((released, shared)) = lock(&self.pending)
            .spool
            .as_mut()
            .map(|spool| (spool.release_if_acknowledged(), spool.shared.clone()))
        else {
            return;
        };
        // Deleted with the logger unlocked; and what the delivery thread took before, too: a
        // process that exits after the flush must not leave them to be replayed.
        drop(released);
        shared.wait_for_deletions();
    }
}
