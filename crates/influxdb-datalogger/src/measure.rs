//! Timing code: [`Timer`] (closures and futures) and [`BlockGuard`] (scopes).
//!
//! Durations come from the monotonic clock, so an NTP step during a test does not bend them;
//! points and events are stamped with the wall clock.
//!
//! One rule for how timed code ended: it counts as a success only when it is known to have
//! succeeded (a closure or future returned, `try_run` got `Ok`, a guard was
//! [`finish`](BlockGuard::finish)ed). With an [outcome tag](Timer::outcome_tag) every ending is
//! logged, tagged `ok`, `error` (an `Err`, [`fail`](BlockGuard::fail), or a guard dropped
//! unfinished — an early `?` return, say) or `panic`. Without one, a duration is logged only
//! for code that did not panic or return `Err`, so that a crash's duration never passes for a
//! measurement (as in the Python package's `measure`); a guard dropped unfinished (the
//! `let _timing = …` idiom) is still logged.

use std::fmt;
use std::time::{Duration, Instant};

use smallvec::SmallVec;

use crate::error::{Error, ErrorKind, Result};
use crate::line_protocol::{self as lp, Part};
use crate::logger::DataLogger;
use crate::schema::{FieldInput, Measurement, TagInput};
use crate::value::{FieldValue, Timestamp};

/// How timed code ended, for the optional outcome tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
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
    /// An explicit "no value" is kept as an empty value, which the schema treats alike.
    fn new<T: TagInput>(tags: &[T]) -> Self {
        let mut text = String::with_capacity(
            tags.iter()
                .map(|t| t.key().len() + t.value().map_or(0, str::len))
                .sum(),
        );
        let mut ends = SmallVec::with_capacity(tags.len());
        for tag in tags {
            text.push_str(tag.key());
            let key_end = text.len();
            text.push_str(tag.value().unwrap_or_default());
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
/// let parsed: Result<i32, Box<dyn std::error::Error>> = logger
///     .timer(&step, "seconds")
///     .tags(tags!("name" => "parse"))
///     .outcome_tag("outcome")
///     .event(tags!("kind" => "parse"))
///     .try_run(|| Ok("x".parse::<i32>()?));
/// assert!(parsed.is_err());
/// logger.write_data()?;
/// assert_eq!(memory.entries()[0].tag("outcome"), Some("error"));
/// assert_eq!(memory.events().len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "a Timer does nothing until it is started or run"]
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

    /// Tags for the logged point (anything `log` takes as tags).
    pub fn tags<T: TagInput>(mut self, tags: &[T]) -> Self {
        self.tags = OwnedTags::new(tags);
        self
    }

    /// Other fields to log with the duration (a byte count, say), as `log` takes them; one
    /// without a value is left out.
    pub fn fields<F: FieldInput>(mut self, fields: &[F]) -> Self {
        self.fields = fields
            .iter()
            .filter_map(|f| Some((f.key().to_string(), f.value()?.clone())))
            .collect();
        self
    }

    /// Also record an event spanning the timed code, with these tags.
    pub fn event<T: TagInput>(mut self, tags: &[T]) -> Self {
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

    /// Starts timing; the returned guard logs when [finished](BlockGuard::finish) or dropped
    /// (see the [module rules](crate::measure) for the outcome).
    ///
    /// # Errors
    /// The arguments do not fit the measurement (an unknown field or tag, a value line protocol
    /// cannot carry); nothing is timed then.
    pub fn start(self) -> Result<BlockGuard<'a>> {
        self.check()?;
        Ok(BlockGuard {
            timer: self,
            started_at: Timestamp::now(),
            started: Instant::now(),
            outcome: None,
            done: false,
        })
    }

    /// Runs `f`, logs its duration, returns its value. If `f` panics, the panic goes on, logged
    /// with outcome `panic` if there is an outcome tag (and not at all otherwise).
    ///
    /// # Errors
    /// The arguments were wrong, and `f` did not run.
    pub fn run<R>(self, f: impl FnOnce() -> R) -> Result<R> {
        refuse_deferred_work::<R>()?;
        let guard = self.start()?;
        let value = f();
        let _ = guard.finish();
        Ok(value)
    }

    /// Like [`run`](Timer::run) for code that returns a `Result`: an `Err` is logged with
    /// outcome `error` if there is an outcome tag (and not at all otherwise), and returned.
    ///
    /// # Errors
    /// `f`'s error; or, converted into `E`, the error that kept `f` from running (wrong
    /// arguments).
    pub fn try_run<T, E: From<Error>>(self, f: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        let guard = self.start()?;
        let value = f();
        let _ = guard.finish_with(&value);
        value
    }

    /// Awaits `future` and logs how long it took until it was ready (not only until it was
    /// created, as `run(|| async { … })` would): the time includes waits for other tasks.
    /// The guard crosses `.await`, so this works on any executor.
    ///
    /// # Errors
    /// The arguments were wrong, and `future` was not awaited.
    pub async fn run_future<F: std::future::IntoFuture>(self, future: F) -> Result<F::Output> {
        let guard = self.start()?;
        let value = future.await;
        let _ = guard.finish();
        Ok(value)
    }
}

/// Refuses, before anything runs, code whose result is work still to be done — a future (an
/// `async` block or function) or a closure: timing the call would time only its creation
/// (`run(|| async { … })` logs microseconds for a long request). Rust cannot say "not a
/// future" in a bound, so this goes by the type's name, as the compiler spells it; it catches
/// `async` blocks and functions, closures and the standard library's futures.
fn refuse_deferred_work<R>() -> Result<()> {
    let name = std::any::type_name::<R>();
    let deferred = name.ends_with("{{closure}}")
        || name.contains("::future::")
        || name.contains("dyn core::future")
        || name.contains("Future<");
    if !deferred {
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::InvalidArgument,
        format!(
            "the measured code returns {name}, work still to be done: timing the call would time only its creation; \
             for a future use measure_future(…).await (or Timer::run_future)"
        ),
    ))
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
    /// Set by `fail`/`set_outcome`; else decided by how the guard ends.
    outcome: Option<Outcome>,
    done: bool,
}

impl BlockGuard<'_> {
    /// Marks the block as failed (outcome `error`).
    pub fn fail(&mut self) {
        self.outcome = Some(Outcome::Error);
    }

    /// Sets the outcome.
    pub fn set_outcome(&mut self, outcome: Outcome) {
        self.outcome = Some(outcome);
    }

    /// Time since the block started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Ends the block now as a success (unless marked otherwise) and logs it, returning its
    /// duration.
    ///
    /// # Errors
    /// What kept the point or its event from being logged.
    pub fn finish(mut self) -> Result<Duration> {
        let outcome = self.outcome.unwrap_or(Outcome::Ok);
        self.record(outcome)
    }

    /// Ends the block with the outcome `result` tells (`Ok` → `ok`, `Err` → `error`) and logs
    /// it, returning its duration.
    ///
    /// # Errors
    /// What kept the point or its event from being logged.
    pub fn finish_with<T, E>(mut self, result: &Result<T, E>) -> Result<Duration> {
        let outcome = match result {
            Ok(_) => self.outcome.unwrap_or(Outcome::Ok),
            Err(_) => Outcome::Error,
        };
        self.record(outcome)
    }

    fn record(&mut self, outcome: Outcome) -> Result<Duration> {
        self.done = true;
        let elapsed = self.started.elapsed();
        let t = &self.timer;
        if t.outcome_tag.is_none() && outcome != Outcome::Ok {
            // No tag to say it failed: not a measurement.
            return Ok(elapsed);
        }
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
            tags.push((tag, outcome.as_str()));
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
        let outcome = if std::thread::panicking() {
            Outcome::Panic
        } else if self.timer.outcome_tag.is_some() {
            // Not finished: maybe an early `?` return. Only a finished block is known to
            // have succeeded.
            self.outcome.unwrap_or(Outcome::Error)
        } else {
            // The `let _timing = …` idiom: the scope ended.
            self.outcome.unwrap_or(Outcome::Ok)
        };
        // log() has already counted the error and kept its message for stats().
        let _ = self.record(outcome);
    }
}

/// Timing on the logger itself: closures, futures and blocks.
impl DataLogger {
    /// Times `f`, logs its duration in seconds to `field`, and returns what `f` returned. If `f`
    /// panics, nothing is logged and the panic goes on (see [`crate::measure`] for the rules;
    /// for `Result`s use [`try_measure`](Self::try_measure), for futures
    /// [`measure_future`](Self::measure_future); for events and an outcome tag,
    /// [`timer`](Self::timer)).
    ///
    /// # Errors
    /// The arguments do not fit the measurement; `f` did not run.
    pub fn measure<R, T: TagInput>(
        &self,
        measurement: &Measurement,
        field: &str,
        tags: &[T],
        f: impl FnOnce() -> R,
    ) -> Result<R> {
        self.timer(measurement, field).tags(tags).run(f)
    }

    /// [`measure`](Self::measure) for code that returns a `Result`: the duration of an `Err` is
    /// not logged, and `f`'s error is returned as it is (an error of this crate, for wrong
    /// arguments, is converted into `E`).
    ///
    /// ```
    /// # use influxdb_datalogger::{tags, DataLogger, Field, Measurement, MemoryWriter};
    /// # let m = Measurement::builder("parse").field(Field::new("seconds")).build()?;
    /// # let memory = MemoryWriter::new();
    /// # let logger = DataLogger::builder().writer(memory.clone()).build();
    /// type AnyError = Box<dyn std::error::Error>;
    /// let n = logger.try_measure(&m, "seconds", tags!(), || Ok::<_, AnyError>("42".parse::<u32>()?))?;
    /// let bad = logger.try_measure(&m, "seconds", tags!(), || Ok::<_, AnyError>("x".parse::<u32>()?));
    /// assert_eq!(n, 42);
    /// assert!(bad.is_err());
    /// logger.write_data()?;
    /// assert_eq!(memory.entries().len(), 1, "the failed parse is not a measurement");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// `f`'s error, or the arguments' (converted) when they do not fit the measurement.
    pub fn try_measure<R, E: From<Error>, T: TagInput>(
        &self,
        measurement: &Measurement,
        field: &str,
        tags: &[T],
        f: impl FnOnce() -> std::result::Result<R, E>,
    ) -> std::result::Result<R, E> {
        self.timer(measurement, field).tags(tags).try_run(f)
    }

    /// Awaits `future` and logs how long it took to be ready (`measure(|| async { … })` would
    /// time only the creation of the future).
    ///
    /// # Errors
    /// The arguments do not fit the measurement; `future` was not awaited.
    pub fn measure_future<'a, F: std::future::IntoFuture + 'a, T: TagInput>(
        &'a self,
        measurement: &'a Measurement,
        field: &'a str,
        tags: &[T],
        future: F,
    ) -> impl std::future::Future<Output = Result<F::Output>> + 'a {
        // The tags are copied now: the future does not borrow the caller's `tags!`.
        self.timer(measurement, field).tags(tags).run_future(future)
    }

    /// Starts timing a block: the returned guard logs the duration when dropped.
    ///
    /// # Errors
    /// The arguments do not fit the measurement (an unknown field or tag, a bad value).
    pub fn measure_block<'a, T: TagInput>(
        &'a self,
        measurement: &'a Measurement,
        field: &'a str,
        tags: &[T],
    ) -> Result<crate::measure::BlockGuard<'a>> {
        self.timer(measurement, field).tags(tags).start()
    }

    /// A configurable timer for `field` of `measurement`.
    pub fn timer<'a>(&'a self, measurement: &'a Measurement, field: &'a str) -> Timer<'a> {
        Timer::new(self, measurement, field)
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
        assert_eq!(OwnedTags::new::<(&str, &str)>(&[]).iter().count(), 0);
    }
}
