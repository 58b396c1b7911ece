//! Filling a [`Report`] from line protocol files or from a server.

use std::path::Path;

use super::Report;
use crate::entry::EVENTS_MEASUREMENT;
use crate::error::{Error, ErrorKind, Result};
use crate::value::Precision;

/// What to put in a report: which measurements (empty: all), from when.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Selection {
    /// Only these measurements (events are always included); empty: every one.
    pub measurements: Vec<String>,
    /// Only points at or after this time (nanoseconds since the epoch).
    pub since: Option<i64>,
    /// Group points into series by these tags only (empty: by all their tags), e.g. `test`
    /// for test runs whose points also carry a run id.
    pub group_by: Vec<String>,
    /// Tags whose values are counted per measurement and shown, per series, as of its newest
    /// point: `outcome` shows how many tests passed and failed, and how each did last.
    pub count_by: Vec<String>,
}

impl Selection {
    /// Every measurement, all time.
    pub fn all() -> Self {
        Selection::default()
    }

    /// The tags that name a point's series: its tags, or only the `group_by` ones (events
    /// keep theirs: they are shown, not grouped).
    pub(super) fn series_tags<K: AsRef<str>, V: AsRef<str>>(
        &self,
        measurement: &str,
        tags: &[(K, V)],
    ) -> Vec<(String, String)> {
        tags.iter()
            .filter(|(k, _)| {
                self.group_by.is_empty()
                    || measurement == EVENTS_MEASUREMENT
                    || self.group_by.iter().any(|g| g == k.as_ref())
            })
            .map(|(k, v)| (k.as_ref().to_string(), v.as_ref().to_string()))
            .collect()
    }

    pub(super) fn wants(&self, measurement: &str, time: i64) -> bool {
        self.since.is_none_or(|since| time >= since)
            && (measurement == EVENTS_MEASUREMENT
                || self.measurements.is_empty()
                || self.measurements.iter().any(|m| m == measurement))
    }
}

impl Report {
    /// Adds the points of line protocol files (timestamps in `precision`). A file that cannot
    /// be read is noted in the report and left out; it is an error only when no file could be
    /// read. Measurements asked for and not found are noted.
    ///
    /// # Errors
    /// No file could be read (the error names each), or a measurement asked for is in none.
    pub fn add_files(
        &mut self,
        paths: &[impl AsRef<Path>],
        precision: Precision,
        selection: &Selection,
    ) -> Result<()> {
        let mut unreadable = Vec::new();
        for path in paths {
            let path = path.as_ref();
            let text = match std::fs::read(path) {
                Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                Err(e) => {
                    let message = format!("cannot read {}: {e}", path.display());
                    self.note(message.clone());
                    unreadable.push(message);
                    continue;
                }
            };
            let source = path.display().to_string();
            self.add_source(source.clone());
            self.add_selected_lines(&text, &source, precision, selection);
        }
        if unreadable.len() == paths.len() && !paths.is_empty() {
            return Err(Error::new(ErrorKind::Io, unreadable.join("; ")));
        }
        self.check_found(selection, "the files")
    }

    /// Adds the points of the measurements `selection` names (every one, without names) and
    /// the events, read from `reader`'s database.
    ///
    /// # Errors
    /// The server cannot be reached or refuses a query; a measurement asked for is not there.
    #[cfg(feature = "http")]
    pub fn add_from_server(
        &mut self,
        reader: &crate::read::Reader,
        selection: &Selection,
    ) -> Result<()> {
        let available = reader.measurements()?;
        self.seen.extend(available.iter().cloned());
        let mut wanted: Vec<String> = if selection.measurements.is_empty() {
            if reader.api() == crate::read::ReadApi::VictoriaMetrics {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!(
                        "VictoriaMetrics stores a field f of measurement m as the metric m_f, which cannot be split back: name the measurements (--measurement); its metrics are {}",
                        crate::error::shorten(&available.join(", "))
                    ),
                ));
            }
            available.clone()
        } else {
            selection.measurements.clone()
        };
        if !wanted.iter().any(|m| m == EVENTS_MEASUREMENT) {
            wanted.push(EVENTS_MEASUREMENT.to_string());
        }
        self.add_source(reader.describe());
        for measurement in &wanted {
            let present = match reader.api() {
                crate::read::ReadApi::VictoriaMetrics => available
                    .iter()
                    .any(|name| name.starts_with(&format!("{measurement}_"))),
                _ => available.contains(measurement),
            };
            if !present {
                if measurement != EVENTS_MEASUREMENT {
                    self.note(format!(
                        "measurement {measurement:?} not found in {}",
                        reader.describe()
                    ));
                }
                continue;
            }
            self.seen.insert(measurement.clone());
            reader.read(measurement, selection.since, &mut |record| {
                self.add_selected_point(
                    selection,
                    &record.measurement,
                    &record.tags,
                    record.time,
                    record.fields.iter().map(|(k, v)| (k.as_str(), v)),
                );
            })?;
        }
        self.check_found(selection, &reader.describe())
    }

    /// Adds a point as `selection` groups it, counting its `count_by` tags.
    pub(super) fn add_selected_point<'f>(
        &mut self,
        selection: &Selection,
        measurement: &str,
        tags: &[(impl AsRef<str>, impl AsRef<str>)],
        time: i64,
        fields: impl IntoIterator<Item = (&'f str, &'f crate::value::FieldValue)> + Clone,
    ) {
        let series = selection.series_tags(measurement, tags);
        let tag_text = self.add_point_of_series(measurement, &series, time, fields.clone());
        if selection.count_by.is_empty() || measurement == EVENTS_MEASUREMENT {
            return;
        }
        if self.counted.is_empty() {
            self.counted = selection.count_by.clone();
        }
        let counted: Vec<String> = selection
            .count_by
            .iter()
            .filter_map(|key| {
                let (_, value) = tags.iter().find(|(k, _)| k.as_ref() == key)?;
                let value = value.as_ref().to_string();
                *self
                    .counts
                    .entry((measurement.to_string(), key.clone()))
                    .or_default()
                    .entry(value.clone())
                    .or_default() += 1;
                Some(value)
            })
            .collect();
        for (field, _) in fields {
            let key = (measurement.to_string(), field.to_string());
            if let Some(values) = self.fields.get_mut(&key).and_then(|s| s.get_mut(&tag_text)) {
                if values
                    .newest_counted
                    .as_ref()
                    .is_none_or(|(t, _)| *t <= time)
                {
                    values.newest_counted = Some((time, counted.join(", ")));
                }
            }
        }
    }

    /// An error when measurements were asked for and none of them has a point.
    fn check_found(&self, selection: &Selection, place: &str) -> Result<()> {
        let found = self.measurements();
        let seen: Vec<&str> = self
            .seen
            .iter()
            .map(String::as_str)
            .filter(|m| *m != EVENTS_MEASUREMENT)
            .collect();
        let missing: Vec<&String> = selection
            .measurements
            .iter()
            .filter(|m| !found.contains(&m.as_str()) && m.as_str() != EVENTS_MEASUREMENT)
            .collect();
        if !selection.measurements.is_empty() && missing.len() == selection.measurements.len() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "no points of measurement {} in {place}{}",
                    missing
                        .iter()
                        .map(|m| format!("{m:?}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    if seen.is_empty() {
                        String::new()
                    } else {
                        format!(" (there are: {})", seen.join(", "))
                    }
                ),
            ));
        }
        Ok(())
    }
}
