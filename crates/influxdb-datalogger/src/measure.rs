//! Timing code: [`Timer`] (closures) and [`BlockGuard`] (scopes).
//!
//! Durations come from the monotonic clock, so an NTP step during a test does not bend them;
//! points and events are stamped with the wall clock.

use std::fmt;
use std::time::{Duration, Instant};

use smallvec::SmallVec;

use crate::error::{Error, ErrorKind, Result};
use crate::line_protocol::{self as lp, Part};
use crate::logger::DataLogger;
use crate::schema::Measurement;
use crate::value::{FieldValue, Timestamp};

/// How timed code ended, for the optional outcome tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It returned normally (or `Ok`).
    Ok,
    /// It returned `Err`, or the block was marked failed.
    Error,
    /// It panicked.
    Panic,
}

impl Outcome {
    /// `ok`, `error` or `panic`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::Panic => "panic",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Tags copied out of the caller's slice, so that a guard may outlive the `tags!` temporary:
/// all names and values in one buffer — one allocation, not two per tag.
#[derive(Default, Clone)]
struct OwnedTags {
    text: String,
    /// Per tag, where its name ends and where its value ends in `text`.
    ends: SmallVec<[(u32, u32); 4]>,
}

impl OwnedTags {
    fn new(tags: &[(&str, &str)]) -> Self {
        let mut text = String::with_capacity(tags.iter().map(|(k, v)| k.len() + v.len()).sum());
        let mut ends = SmallVec::with_capacity(tags.len());
        for (key, value) in tags {
            text.push_str(key);
            let key_end = text.len();
            text.push_str(value);
            // Tag names and values are far below 4 GiB (values are capped at 64 KiB).
            ends.push((key_end as u32, text.len() as u32));
        }
        OwnedTags { text, ends }
    }

    fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        let mut start = 0;
        self.ends.iter().map(move |&(key_end, value_end)| {
            let (key_end, value_end) = (key_end as usize, value_end as usize);
            let tag = (&self.text[start..key_end], &self.text[key_end..value_end]);
            start = value_end;
            tag
        })
    }

    fn as_pairs(&self) -> SmallVec<[(&str, &str); 8]> {
        self.iter().collect()
    }
}

impl fmt::Debug for OwnedTags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Times code and logs its duration, in seconds, to one field of a measurement.
///
/// Everything that can be checked is checked before the code runs, so that a typo in a tag
/// name fails at once rather than after a long test step.
///
/// ```
/// use influxdb_datalogger::{tags, DataLogger, Field, Measurement, MemoryWriter, Tag};
///
/// let step = Measurement::builder("step")
///     .field(Field::new("seconds"))
///     .tag(Tag::new("name"))
///     .optional_tag(Tag::new("outcome"))
///     .build()?;
/// let memory = MemoryWriter::new();
/// let logger = DataLogger::builder().writer(memory.clone()).build();
///
/// let parsed: Result<i32, std::num::ParseIntError> = logger
///     .timer(&step, "seconds")
///     .tags(tags!("name" => "parse"))
///     .outcome_tag("outcome")
///     .event(tags!("kind" => "parse"))
///     .try_run(|| "x".parse::<i32>())?;
/// assert!(parsed.is_err());
/// logger.write_data()?;
/// assert_eq!(memory.entries()[0].tag("outcome"), Some("error"));
/// assert_eq!(memory.events().len(), 1);
/// # Ok::<(), influxdb_datalogger::Error>(())
/// ```
#[derive(Clone)]
pub struct Timer<'a> {
    logger: &'a DataLogger,
    measurement: &'a Measurement,
    field: &'a str,
    tags: OwnedTags,
    fields: Vec<(String, FieldValue)>,
    event_tags: Option<OwnedTags>,
    outcome_tag: Option<String>,
}

impl fmt::Debug for Timer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timer")
            .field("measurement", &self.measurement.name())
            .field("field", &self.field)
            .field("tags", &self.tags)
            .field("event_tags", &self.event_tags)
            .field("outcome_tag", &self.outcome_tag)
            .finish()
    }
}

impl<'a> Timer<'a> {
    pub(crate) fn new(
        logger: &'a DataLogger,
        measurement: &'a Measurement,
        field: &'a str,
    ) -> Self {
        Timer {
            logger,
            measurement,
            field,
            tags: OwnedTags::default(),
            fields: Vec::new(),
            event_tags: None,
            outcome_tag: None,
        }
    }

    /// Tags for the logged point.
    pub fn tags(mut self, tags: &[(&str, &str)]) -> Self {
        self.tags = OwnedTags::new(tags);
        self
    }

    /// Other fields to log with the duration (a byte count, say).
    pub fn fields(mut self, fields: &[(&str, FieldValue)]) -> Self {
        self.fields = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        self
    }

    /// Also record an event spanning the timed code, with these tags.
    pub fn event(mut self, tags: &[(&str, &str)]) -> Self {
        self.event_tags = Some(OwnedTags::new(tags));
        self
    }

    /// Put the [`Outcome`] (`ok`, `error`, `panic`) into this tag of the measurement.
    pub fn outcome_tag(mut self, tag: &str) -> Self {
        self.outcome_tag = Some(tag.to_string());
        self
    }

    fn check(&self) -> Result<()> {
        let m = self.measurement;
        if !m.has_field(self.field) {
            return Err(m.unknown_field(self.field));
        }
        for (key, value) in &self.fields {
            if !m.has_field(key) {
                return Err(m.unknown_field(key));
            }
            lp::write_field_value(&mut Vec::new(), value).map_err(|p| {
                lp::value_error(
                    format_args!("measurement {:?}, field {key:?}", m.name()),
                    value,
                    &p,
                )
            })?;
        }
        if let Some(tag) = &self.outcome_tag {
            if !m.has_tag(tag) {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!(
                        "measurement {:?} has no tag {tag:?} to carry the outcome",
                        m.name()
                    ),
                ));
            }
        }
        for (key, value) in self.tags.iter() {
            if !m.has_tag(key) {
                return Err(m.unknown_tag(key));
            }
            if !value.is_empty() {
                lp::check(value, Part::TagValue).map_err(|p| {
                    lp::value_error(
                        format_args!("measurement {:?}, tag {key:?}", m.name()),
                        &value,
                        &p,
                    )
                })?;
            }
        }
        for (key, value) in self.event_tags.iter().flat_map(OwnedTags::iter) {
            lp::check_tag(key, value)
                .map_err(|e| e.context(format_args!("event {:?}", m.name())))?;
        }
        Ok(())
    }

    /// Starts timing; the returned guard logs when dropped or [finished](BlockGuard::finish).
    pub fn start(self) -> Result<BlockGuard<'a>> {
        self.check()?;
        Ok(BlockGuard {
            timer: self,
            started_at: Timestamp::now(),
            started: Instant::now(),
            outcome: Outcome::Ok,
            done: false,
        })
    }

    /// Runs `f`, logs its duration (also if it panics, with outcome `panic`), returns its value.
    /// An error means the arguments were wrong and `f` did not run.
    pub fn run<R>(self, f: impl FnOnce() -> R) -> Result<R> {
        let guard = self.start()?;
        let value = f();
        drop(guard);
        Ok(value)
    }

    /// Like [`run`](Timer::run) for code that returns a `Result`: an `Err` is logged with
    /// outcome `error` and handed back inside the `Ok`.
    pub fn try_run<T, E>(self, f: impl FnOnce() -> Result<T, E>) -> Result<Result<T, E>> {
        let mut guard = self.start()?;
        let value = f();
        if value.is_err() {
            guard.fail();
        }
        drop(guard);
        Ok(value)
    }
}

/// Logs the time from its creation to its end (drop or [`finish`](BlockGuard::finish)).
///
/// If the thread is panicking when the guard drops, the outcome is `panic`. Errors while
/// logging at drop cannot be returned; they are counted in [`DataLogger::stats`].
#[must_use = "the block is timed until the guard is dropped; bind it with `let _guard = …`"]
#[derive(Debug)]
pub struct BlockGuard<'a> {
    timer: Timer<'a>,
    started_at: Timestamp,
    started: Instant,
    outcome: Outcome,
    done: bool,
}

impl BlockGuard<'_> {
    /// Marks the block as failed (outcome `error`).
    pub fn fail(&mut self) {
        self.outcome = Outcome::Error;
    }

    /// Sets the outcome.
    pub fn set_outcome(&mut self, outcome: Outcome) {
        self.outcome = outcome;
    }

    /// Time since the block started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Ends the block now and logs it, returning its duration or the error that kept it from
    /// being logged.
    pub fn finish(mut self) -> Result<Duration> {
        self.record()
    }

    fn record(&mut self) -> Result<Duration> {
        self.done = true;
        let elapsed = self.started.elapsed();
        let t = &self.timer;
        // The point is logged even if the event is refused: one error must not cost both.
        let event = match &t.event_tags {
            Some(event_tags) => {
                let stop = self.started_at.saturating_add(elapsed);
                t.logger.log_event(
                    t.measurement.name(),
                    self.started_at,
                    stop,
                    &event_tags.as_pairs(),
                )
            }
            None => Ok(()),
        };
        let mut tags = t.tags.as_pairs();
        if let Some(tag) = &t.outcome_tag {
            tags.push((tag, self.outcome.as_str()));
        }
        let mut fields: SmallVec<[(&str, FieldValue); 4]> = t
            .fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        fields.push((t.field, FieldValue::Float(elapsed.as_secs_f64())));
        let point = t.logger.log(t.measurement, &fields, &tags);
        point.and(event).map(|()| elapsed)
    }
}

impl Drop for BlockGuard<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        if std::thread::panicking() {
            self.outcome = Outcome::Panic;
        }
        // log() has already counted the error and kept its message for stats().
        let _ = self.record();
    }
}

#[cfg(test)]
mod tests {
    use super::OwnedTags;

    #[test]
    fn owned_tags_give_back_every_name_and_value_in_order() {
        let given = [
            ("host", "ci-runner-07"),
            ("empty", ""),
            ("", "no name"),
            ("città", "zürich ☃"),
        ];
        let owned = OwnedTags::new(&given);
        assert_eq!(owned.iter().collect::<Vec<_>>(), given);
        assert_eq!(owned.as_pairs().as_slice(), given);
        assert_eq!(
            format!("{owned:?}"),
            r#"[("host", "ci-runner-07"), ("empty", ""), ("", "no name"), ("città", "zürich ☃")]"#
        );
        assert_eq!(OwnedTags::new(&[]).iter().count(), 0);
    }
}
