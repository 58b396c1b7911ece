//! What writers receive: batches of encoded points and events, and the owned views of them
//! ([`DataEntry`], [`Event`]) that are built only when someone asks.

use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, ErrorKind, Result};
use crate::line_protocol::{self as lp, LineBuilder};
use crate::value::{FieldValue, Precision, Timestamp};

/// The measurement that events are written to as line protocol.
pub const EVENTS_MEASUREMENT: &str = "events";

/// One logged point, as owned data.
///
/// Fields and tags keep an explicit `None` where a point was logged with "no value" (such a
/// point cannot be written until the value is there).
#[derive(Debug, Clone, PartialEq)]
pub struct DataEntry {
    /// The measurement's name.
    pub measurement: String,
    /// Tag names and values.
    pub tags: Vec<(String, Option<String>)>,
    /// Field names and values.
    pub fields: Vec<(String, Option<FieldValue>)>,
    /// When the point was logged (or the time it was given).
    pub time: Timestamp,
}

impl DataEntry {
    /// The value of field `name`, if it has one.
    pub fn field(&self, name: &str) -> Option<&FieldValue> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.as_ref())
    }

    /// The value of tag `name`, if it has one.
    pub fn tag(&self, name: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.as_deref())
    }

    pub(crate) fn from_line(line: lp::ParsedLine<'_>, precision: Precision) -> Self {
        DataEntry {
            measurement: line.measurement.into_owned(),
            tags: line
                .tags
                .into_iter()
                .map(|(k, v)| (k.into_owned(), Some(v.into_owned())))
                .collect(),
            fields: line
                .fields
                .into_iter()
                .map(|(k, v)| (k.into_owned(), Some(v)))
                .collect(),
            time: Timestamp::from_nanos(
                line.timestamp
                    .unwrap_or(0)
                    .saturating_mul(precision.nanos_per_unit()),
            ),
        }
    }
}

/// A span of time worth marking on a dashboard: Grafana shows it as an annotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The measurement the event belongs to; the annotation's text.
    pub measurement: String,
    /// When it started.
    pub start: Timestamp,
    /// When it stopped.
    pub stop: Timestamp,
    /// Tags, in the order given.
    pub tags: Vec<(String, String)>,
}

impl Event {
    /// Checks the event: tags that line protocol can carry, and a stop not before the start.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidArgument`] when `stop` is before `start`; an invalid name or tag value.
    pub fn new(
        measurement: impl Into<String>,
        start: Timestamp,
        stop: Timestamp,
        tags: Vec<(String, String)>,
    ) -> Result<Self> {
        let measurement = measurement.into();
        if stop < start {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "event {measurement:?} stops ({} ns) before it starts ({} ns)",
                    stop.as_nanos(),
                    start.as_nanos()
                ),
            ));
        }
        let event = Event {
            measurement,
            start,
            stop,
            tags,
        };
        // Encoding checks every tag and the text once, at logging time.
        event.encode(&mut Vec::new(), Precision::Nanoseconds)?;
        Ok(event)
    }

    /// How long the event lasted.
    pub fn duration(&self) -> Duration {
        Duration::from_nanos(self.stop.as_nanos().abs_diff(self.start.as_nanos()))
    }

    /// Appends the event as a line of the [`EVENTS_MEASUREMENT`] measurement: timestamped at its
    /// start, tagged with its tags, with fields `text` (the measurement), `duration` (seconds)
    /// and `time_end` (epoch milliseconds, the unit Grafana's annotation "time end" column takes).
    ///
    /// # Errors
    /// A name or tag line protocol cannot carry (events are checked when logged, so not for those).
    pub fn encode(&self, out: &mut Vec<u8>, precision: Precision) -> Result<()> {
        let mut tags: Vec<&(String, String)> = self.tags.iter().collect();
        tags.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        let in_event = |e: Error| e.context(format_args!("event {:?}", self.measurement));
        let mut line = LineBuilder::new(out, EVENTS_MEASUREMENT)?;
        for (key, value) in tags {
            line = line.tag(key, value).map_err(in_event)?;
        }
        line.field("text", self.measurement.as_str())
            .and_then(|l| l.field("duration", self.duration().as_secs_f64()))
            .and_then(|l| l.field("time_end", self.stop.in_precision(Precision::Milliseconds)))
            .and_then(|l| l.finish(self.start, precision))
            .map_err(in_event)
    }
}

/// Points (already encoded as line protocol) and events, handed to writers together.
///
/// The encoded points are shared, not copied: cloning a batch (handing it to a background
/// writer) and [`split`](Batch::split)ting it into chunks make windows onto the same bytes.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    bytes: Arc<Vec<u8>>,
    /// Where each line of `bytes` ends (after its newline), so that points can be counted and
    /// split without parsing: string fields may hold newlines.
    ends: Arc<Vec<usize>>,
    /// This batch's lines are `first .. first + count` of `ends`; its bytes start at `start`.
    first: usize,
    count: usize,
    start: usize,
    events: Vec<Event>,
    precision: Precision,
    /// Where the spool stood after this batch's last record, for a logger with a spool.
    spool_mark: Option<SpoolMark>,
}

impl PartialEq for Batch {
    fn eq(&self, other: &Self) -> bool {
        self.precision == other.precision
            && self.events == other.events
            && self.line_protocol() == other.line_protocol()
            && self.lines().eq(other.lines())
    }
}

impl Batch {
    /// An empty batch whose timestamps are in `precision`.
    pub fn new(precision: Precision) -> Self {
        Batch {
            precision,
            ..Batch::default()
        }
    }

    /// The end of line `i` of this batch in `bytes`.
    fn end_of(&self, i: usize) -> usize {
        self.ends[self.first + i]
    }

    /// The points as line protocol, one line each, every line ending in a newline.
    pub fn line_protocol(&self) -> &[u8] {
        match self.count {
            0 => &[],
            n => &self.bytes[self.start..self.end_of(n - 1)],
        }
    }

    /// The precision of the timestamps in [`line_protocol`](Batch::line_protocol).
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// How many points the batch holds.
    pub fn point_count(&self) -> usize {
        self.count
    }

    /// The events.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// Whether the batch holds neither points nor events.
    pub fn is_empty(&self) -> bool {
        self.count == 0 && self.events.is_empty()
    }

    /// Each point's line, with its newline.
    pub fn lines(&self) -> impl ExactSizeIterator<Item = &[u8]> {
        (0..self.count).map(|i| {
            let start = if i == 0 {
                self.start
            } else {
                self.end_of(i - 1)
            };
            &self.bytes[start..self.end_of(i)]
        })
    }

    /// The points as owned entries, in logging order. Built on demand by parsing the encoded
    /// lines, which the encoder guarantees parse back to the same values.
    ///
    /// # Panics
    /// Never for a batch made by this crate: every line was checked when it was made.
    pub fn entries(&self) -> Vec<DataEntry> {
        self.lines()
            .map(|line| {
                let text =
                    std::str::from_utf8(&line[..line.len() - 1]).expect("encoder writes UTF-8");
                let parsed = lp::parse_line(text).expect("encoder writes lines that parse back");
                DataEntry::from_line(parsed, self.precision)
            })
            .collect()
    }

    /// The points as entries, grouped by measurement (in the order each first appears), each
    /// group in logging order: what `DataLogger::dataset` shows.
    pub fn entries_by_measurement(&self) -> Vec<DataEntry> {
        let entries = self.entries();
        let mut order: Vec<&str> = Vec::new();
        for e in &entries {
            if !order.contains(&e.measurement.as_str()) {
                order.push(&e.measurement);
            }
        }
        let rank: Vec<usize> = entries
            .iter()
            .map(|e| order.iter().position(|m| *m == e.measurement).unwrap_or(0))
            .collect();
        let mut ranked: Vec<(usize, DataEntry)> = rank.into_iter().zip(entries).collect();
        // Stable: each group keeps logging order.
        ranked.sort_by_key(|(rank, _)| *rank);
        ranked.into_iter().map(|(_, e)| e).collect()
    }

    /// The events as line protocol (see [`Event::encode`]).
    ///
    /// # Panics
    /// Never: events are checked when they are made.
    pub fn events_line_protocol(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for event in &self.events {
            event
                .encode(&mut out, self.precision)
                .expect("events are checked when logged");
        }
        out
    }

    /// A batch of line protocol lines, one point each (a newline is added where one is
    /// missing), with timestamps in `precision`; for sending lines that were encoded elsewhere,
    /// e.g. read from a file.
    ///
    /// # Errors
    /// [`ErrorKind::Parse`] naming the line (its 1-based position) when one is not UTF-8, does
    /// not parse, or holds more or less than one point.
    ///
    /// ```
    /// use influxdb_datalogger::{Batch, Precision};
    ///
    /// let batch = Batch::from_lines([&b"cpu,host=a load=0.5 1"[..], b"cpu,host=b load=0.7 2\n"], Precision::Nanoseconds)?;
    /// assert_eq!(batch.point_count(), 2);
    /// assert!(Batch::from_lines([&b"cpu load=1 1\ncpu load=2 2"[..]], Precision::Nanoseconds).is_err());
    /// # Ok::<(), influxdb_datalogger::Error>(())
    /// ```
    pub fn from_lines<'a>(
        lines: impl IntoIterator<Item = &'a [u8]>,
        precision: Precision,
    ) -> Result<Self> {
        let mut text = Vec::new();
        let mut ends = Vec::new();
        for (n, line) in lines.into_iter().enumerate() {
            Self::check_one_point(line).map_err(|problem| {
                Error::new(
                    ErrorKind::Parse,
                    format!(
                        "line {} of the batch {problem}: {}",
                        n + 1,
                        crate::error::quote(&String::from_utf8_lossy(line))
                    ),
                )
            })?;
            text.extend_from_slice(line);
            if !line.ends_with(b"\n") {
                text.push(b'\n');
            }
            ends.push(text.len());
        }
        Ok(Batch::from_parts(text, ends, Vec::new(), precision))
    }

    /// Why `line` is not exactly one point of line protocol, if it is not.
    fn check_one_point(line: &[u8]) -> std::result::Result<(), String> {
        let text = std::str::from_utf8(line).map_err(|_| "is not UTF-8".to_string())?;
        let mut lines = lp::Lines::new(text);
        match lines.next() {
            None => Err("holds no point".into()),
            Some(Err(e)) => Err(format!("does not parse ({})", e.message)),
            Some(Ok(_)) if lines.next().is_some() => Err("holds more than one point".into()),
            Some(Ok(_)) => Ok(()),
        }
    }

    /// A batch from encoded lines (`ends[i]` is where line `i` ends, after its newline).
    pub(crate) fn from_parts(
        bytes: Vec<u8>,
        ends: Vec<usize>,
        events: Vec<Event>,
        precision: Precision,
    ) -> Self {
        let count = ends.len();
        Batch {
            bytes: Arc::new(bytes),
            ends: Arc::new(ends),
            first: 0,
            count,
            start: 0,
            events,
            precision,
            spool_mark: None,
        }
    }

    /// Where the spool stood after this batch's last record, if the logger has a spool.
    pub(crate) fn spool_mark(&self) -> Option<SpoolMark> {
        self.spool_mark
    }

    pub(crate) fn with_spool_mark(mut self, mark: Option<SpoolMark>) -> Self {
        self.spool_mark = mark;
        self
    }

    /// Moves everything of `other` to the end of this batch.
    pub(crate) fn append(&mut self, other: Batch) {
        if self.is_empty() {
            *self = other;
            return;
        }
        *self = Batch::concat(vec![std::mem::take(self), other]);
    }

    /// One batch of all of `parts`, in order, built with a single copy of their bytes.
    pub(crate) fn concat(parts: Vec<Batch>) -> Batch {
        let Some(precision) = parts.first().map(|p| p.precision) else {
            return Batch::default();
        };
        debug_assert!(parts.iter().all(|p| p.precision == precision));
        let mut bytes = Vec::with_capacity(parts.iter().map(|p| p.line_protocol().len()).sum());
        let mut ends = Vec::with_capacity(parts.iter().map(Batch::point_count).sum());
        let mut events = Vec::new();
        let mut mark = None;
        for part in parts {
            mark = part.spool_mark.or(mark);
            let offset = bytes.len();
            bytes.extend_from_slice(part.line_protocol());
            let base = part.start;
            ends.extend((0..part.count).map(|i| part.end_of(i) - base + offset));
            events.extend(part.events);
        }
        Batch::from_parts(bytes, ends, events, precision).with_spool_mark(mark)
    }

    /// The batch's points and events, split into batches of at most `max_points` points each
    /// (events go with the first). The parts share this batch's bytes.
    pub fn split(&self, max_points: usize) -> Vec<Batch> {
        let max_points = max_points.max(1);
        let mut out = Vec::new();
        let mut done = 0;
        while done < self.count || (out.is_empty() && !self.events.is_empty()) {
            let count = max_points.min(self.count - done);
            out.push(Batch {
                bytes: Arc::clone(&self.bytes),
                ends: Arc::clone(&self.ends),
                first: self.first + done,
                count,
                start: if done == 0 {
                    self.start
                } else {
                    self.end_of(done - 1)
                },
                events: if out.is_empty() {
                    self.events.clone()
                } else {
                    Vec::new()
                },
                precision: self.precision,
                spool_mark: None,
            });
            done += count;
        }
        if let Some(last) = out.last_mut() {
            last.spool_mark = self.spool_mark;
        }
        out
    }
}

/// A position in a process's spool: after `seq` records, at `offset` of segment `segment`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
#[doc(hidden)] // plumbing: where a batch ends in the spool
pub struct SpoolMark {
    pub(crate) segment: u64,
    pub(crate) offset: u64,
    pub(crate) seq: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch_of(lines: &[&str]) -> Batch {
        let mut text = Vec::new();
        let mut ends = Vec::new();
        for l in lines {
            text.extend_from_slice(l.as_bytes());
            ends.push(text.len());
        }
        Batch::from_parts(text, ends, Vec::new(), Precision::Nanoseconds)
    }

    #[test]
    fn entries_parse_back_with_types_and_multiline_strings() {
        let b = batch_of(&["m,t=a f=1.5,s=\"x\ny\" 10\n", "m f=2i 20\n"]);
        let entries = b.entries();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].tag("t"), Some("a"));
        assert_eq!(entries[0].field("s"), Some(&FieldValue::Str("x\ny".into())));
        assert_eq!(entries[1].field("f"), Some(&FieldValue::Int(2)));
        assert_eq!(entries[1].time, Timestamp::from_nanos(20));
    }

    #[test]
    fn split_parts_share_the_bytes_and_split_again() {
        let b = batch_of(&[
            "a f=1i 1\n",
            "b s=\"x\ny\" 2\n",
            "c f=3i 3\n",
            "d f=4i 4\n",
            "e f=5i 5\n",
        ]);
        let parts = b.split(2);
        assert_eq!(
            parts.iter().map(Batch::point_count).collect::<Vec<_>>(),
            vec![2, 2, 1]
        );
        assert!(
            parts.iter().all(|p| Arc::ptr_eq(&p.bytes, &b.bytes)),
            "no copy"
        );
        assert_eq!(parts[0].line_protocol(), b"a f=1i 1\nb s=\"x\ny\" 2\n");
        assert_eq!(
            parts[1].lines().collect::<Vec<_>>(),
            vec![&b"c f=3i 3\n"[..], &b"d f=4i 4\n"[..]]
        );
        let again = parts[1].split(1);
        assert_eq!(again[1].line_protocol(), b"d f=4i 4\n");
        assert_eq!(parts[2].entries()[0].measurement, "e");
        let mut joined = parts[1].clone();
        joined.append(parts[2].clone());
        assert_eq!(joined.line_protocol(), b"c f=3i 3\nd f=4i 4\ne f=5i 5\n");
        assert_eq!(joined.point_count(), 3);
        assert!(Batch::new(Precision::Seconds).split(10).is_empty());
    }

    #[test]
    fn append_and_split_keep_line_boundaries() {
        let mut a = batch_of(&["m f=1i 1\n"]);
        a.append(batch_of(&["m f=2i 2\n", "m f=3i 3\n"]));
        assert_eq!(a.point_count(), 3);
        let parts = a.split(2);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].line_protocol(), b"m f=1i 1\nm f=2i 2\n");
        assert_eq!(parts[1].line_protocol(), b"m f=3i 3\n");
        assert_eq!(
            parts[1].lines().collect::<Vec<_>>(),
            vec![b"m f=3i 3\n".as_slice()]
        );
    }

    #[test]
    fn events_encode_as_annotation_points() {
        let e = Event::new(
            "deploy",
            Timestamp::from_nanos(1_000_000_000),
            Timestamp::from_nanos(3_500_000_000),
            vec![("zone".into(), "b".into()), ("host".into(), "a".into())],
        )
        .unwrap();
        let mut out = Vec::new();
        e.encode(&mut out, Precision::Nanoseconds).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "events,host=a,zone=b text=\"deploy\",duration=2.5,time_end=3500i 1000000000\n"
        );
    }

    #[test]
    fn events_refuse_bad_tags_and_reversed_times() {
        let t = Timestamp::from_nanos;
        let err = Event::new("e", t(2), t(1), vec![]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        let err = Event::new("e", t(1), t(2), vec![("k".into(), "a\nb".into())]).unwrap_err();
        assert!(err.message().starts_with("event \"e\": tag \"k\""), "{err}");
    }
}
