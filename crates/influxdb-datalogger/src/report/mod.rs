//! The HTML report: one self-contained file a person opens in a browser, from points read
//! from line protocol files or a server.
//!
//! Per measurement and numeric field, the report has a time chart with one line per series
//! (tag set) — hover for time, value and tags, drag to zoom, double-click to zoom out — a box
//! plot per series, and a summary table (count, min, mean, p50, p95, p99, max) computed by
//! [`summary`](crate::summary), so it matches the CLI's `stats` to the digit. Events (the
//! [`EVENTS_MEASUREMENT`](crate::EVENTS_MEASUREMENT)) are shaded bands with their text; the
//! change points [`regress::change_points`](crate::regress::change_points) finds are marked.
//!
//! The file fetches nothing: the chart library ([uPlot](https://github.com/leeoniya/uPlot),
//! MIT, pinned in `scripts/vendor-uplot.sh`) and the data are inlined. Charts are drawn from
//! a min/max-preserving downsample (M4: per pixel-wide bucket, the first, last, smallest and
//! largest point), so spikes stay visible, within a budget of points for the whole report;
//! the statistics use every value.
//!
//! ```
//! use influxdb_datalogger::report::Report;
//!
//! let mut report = Report::new("nightly");
//! report.add_line_protocol("cpu,host=a load=0.5 1700000000000000000\n", "cpu.lp", Default::default());
//! let html = report.render();
//! assert!(html.starts_with("<!DOCTYPE html>"));
//! ```

mod downsample;
mod gather;
mod html;

use std::collections::BTreeMap;
use std::path::Path;

use crate::entry::EVENTS_MEASUREMENT;
use crate::error::{Error, Result};
use crate::line_protocol::Lines;
use crate::value::{FieldValue, Precision};

pub use downsample::m4;
pub use gather::Selection;

/// How many points the charts of one report draw in all; each series gets a share.
pub const DRAWN_POINTS_BUDGET: usize = 160_000;
/// The most series one chart draws (those with the most points); the table lists them all.
pub const SERIES_PER_CHART: usize = 20;
/// Change points are looked for in the newest this-many values of a series.
pub const CHANGE_POINT_WINDOW: usize = 2_000;
/// Malformed lines named one by one in the report; more are counted.
const NAMED_ERRORS: usize = 20;

/// The values of one series of one field.
#[derive(Debug, Default, Clone)]
struct SeriesValues {
    /// The tags, sorted by key.
    tags: Vec<(String, String)>,
    /// (time in nanoseconds, value), in the order read.
    points: Vec<(i64, f64)>,
    /// Values that are not numbers (strings), counted as `stats` counts them.
    others: usize,
    /// The values of the counted tags ([`Selection::count_by`]) at the newest point, and its
    /// time.
    newest_counted: Option<(i64, String)>,
}

/// An event: a shaded band from `start` to `end` (nanoseconds).
#[derive(Debug, Clone, PartialEq)]
struct EventBand {
    start: i64,
    end: i64,
    text: String,
    tags: String,
}

/// A report being gathered; [`render`](Report::render) writes it.
#[derive(Debug, Default)]
pub struct Report {
    title: String,
    /// (measurement, field) → tag set (`k=v,…`) → values.
    fields: BTreeMap<(String, String), BTreeMap<String, SeriesValues>>,
    events: Vec<EventBand>,
    sources: Vec<String>,
    notes: Vec<String>,
    malformed_lines: usize,
    points: usize,
    /// The tags counted ([`Selection::count_by`]), for the tables' headers.
    counted: Vec<String>,
    /// (measurement, counted tag) → value → points ([`Selection::count_by`]).
    counts: BTreeMap<(String, String), BTreeMap<String, usize>>,
    /// Every measurement met, selected or not (to say what there is when a name is wrong).
    seen: std::collections::BTreeSet<String>,
}

impl Report {
    /// An empty report with `title`.
    pub fn new(title: impl Into<String>) -> Self {
        Report {
            title: title.into(),
            ..Report::default()
        }
    }

    /// Names where the data came from (a file, a server), shown at the top.
    pub fn add_source(&mut self, source: impl Into<String>) {
        self.sources.push(source.into());
    }

    /// A remark shown at the top (e.g. a measurement that was not found).
    pub fn note(&mut self, text: impl Into<String>) {
        self.notes.push(text.into());
    }

    /// Points added so far (events not included).
    pub fn points(&self) -> usize {
        self.points
    }

    /// Whether nothing was added: no point and no event.
    pub fn is_empty(&self) -> bool {
        self.points == 0 && self.events.is_empty()
    }

    /// The measurements added so far, sorted (events not included).
    pub fn measurements(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.fields.keys().map(|(m, _)| m.as_str()).collect();
        names.dedup();
        names
    }

    /// Adds one point: a row of `measurement` at `time` (nanoseconds). A point of the events
    /// measurement becomes an event band (its `text` and `time_end` or `duration` fields).
    pub fn add_point<'f>(
        &mut self,
        measurement: &str,
        tags: &[(impl AsRef<str>, impl AsRef<str>)],
        time: i64,
        fields: impl IntoIterator<Item = (&'f str, &'f FieldValue)>,
    ) {
        self.add_point_of_series(measurement, tags, time, fields);
    }

    /// [`add_point`](Self::add_point), returning the name of the point's series (its tags as
    /// `k=v,…`).
    fn add_point_of_series<'f>(
        &mut self,
        measurement: &str,
        tags: &[(impl AsRef<str>, impl AsRef<str>)],
        time: i64,
        fields: impl IntoIterator<Item = (&'f str, &'f FieldValue)>,
    ) -> String {
        let tag_text = crate::summary::tags_text(tags);
        if measurement == EVENTS_MEASUREMENT {
            self.add_event(tag_text.clone(), time, fields);
            return tag_text;
        }
        self.points += 1;
        for (field, value) in fields {
            let series = self
                .fields
                .entry((measurement.to_string(), field.to_string()))
                .or_default()
                .entry(tag_text.clone())
                .or_insert_with(|| {
                    let mut tags: Vec<(String, String)> = tags
                        .iter()
                        .map(|(k, v)| (k.as_ref().to_string(), v.as_ref().to_string()))
                        .collect();
                    tags.sort();
                    SeriesValues {
                        tags,
                        ..SeriesValues::default()
                    }
                });
            match value {
                FieldValue::Str(_) => series.others += 1,
                other => series
                    .points
                    .push((time, other.as_f64().unwrap_or(f64::NAN))),
            }
        }
        tag_text
    }

    fn add_event<'f>(
        &mut self,
        tags: String,
        start: i64,
        fields: impl IntoIterator<Item = (&'f str, &'f FieldValue)>,
    ) {
        let mut band = EventBand {
            start,
            end: start,
            text: String::new(),
            tags,
        };
        for (field, value) in fields {
            match (field, value) {
                ("text", FieldValue::Str(text)) => band.text = text.clone(),
                ("time_end", v) => {
                    if let Some(ms) = v.as_f64() {
                        band.end = (ms * 1e6) as i64;
                    }
                }
                ("duration", v) if band.end == start => {
                    if let Some(secs) = v.as_f64() {
                        band.end = start.saturating_add((secs * 1e9) as i64);
                    }
                }
                _ => {}
            }
        }
        band.end = band.end.max(band.start);
        self.events.push(band);
    }

    /// Adds every line of `text` (line protocol whose timestamps are in `precision`) read from
    /// `source`. Malformed lines are skipped and noted in the report with their source, line
    /// and column; lines without a timestamp are skipped and counted. Returns how many lines
    /// were skipped.
    pub fn add_line_protocol(&mut self, text: &str, source: &str, precision: Precision) -> usize {
        self.add_selected_lines(text, source, precision, &Selection::all())
    }

    /// [`add_line_protocol`](Self::add_line_protocol), keeping only the lines `selection` wants.
    fn add_selected_lines(
        &mut self,
        text: &str,
        source: &str,
        precision: Precision,
        selection: &Selection,
    ) -> usize {
        let mut skipped = 0;
        let mut untimed = 0;
        for item in Lines::new(text) {
            match item {
                Ok((_, line)) => {
                    let Some(time) = line.timestamp else {
                        untimed += 1;
                        continue;
                    };
                    let time = time.saturating_mul(precision.nanos_per_unit());
                    if !self.seen.contains(line.measurement.as_ref()) {
                        self.seen.insert(line.measurement.to_string());
                    }
                    if !selection.wants(&line.measurement, time) {
                        continue;
                    }
                    self.add_selected_point(
                        selection,
                        &line.measurement,
                        &line.tags,
                        time,
                        line.fields.iter().map(|(k, v)| (k.as_ref(), v)),
                    );
                }
                Err(e) => {
                    skipped += 1;
                    self.malformed_lines += 1;
                    if self.malformed_lines <= NAMED_ERRORS {
                        self.notes.push(format!(
                            "{source}:{}:{}: skipped a malformed line: {}",
                            e.line, e.column, e.message
                        ));
                    }
                }
            }
        }
        if untimed > 0 {
            self.notes.push(format!(
                "{source}: skipped {untimed} line(s) without a timestamp"
            ));
        }
        skipped + untimed
    }

    /// Malformed lines skipped so far.
    pub fn malformed_lines(&self) -> usize {
        self.malformed_lines
    }

    /// The report as one HTML document.
    pub fn render(&self) -> String {
        html::render(self)
    }

    /// Writes the report to `path`, whole or not at all: into a temporary file beside it,
    /// renamed over it, so that a failure never leaves an empty or half-written report.
    ///
    /// # Errors
    /// The file cannot be written (the error names it).
    pub fn write(&self, path: &Path) -> Result<()> {
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temporary = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let cannot =
            |e: std::io::Error| Error::io(format_args!("cannot write {}", path.display()), e);
        std::fs::write(&temporary, self.render()).map_err(cannot)?;
        std::fs::rename(&temporary, path).map_err(|e| {
            let _ = std::fs::remove_file(&temporary);
            cannot(e)
        })
    }
}

#[cfg(test)]
mod tests;
