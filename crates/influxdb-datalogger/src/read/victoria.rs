//! VictoriaMetrics' native export, `/api/v1/export`: one JSON line per series, its values and
//! millisecond timestamps. Line protocol `m,tags f=v` is stored as the metric `m_f` with the
//! tags as labels, and the `db` of the write as a label of its own.

use std::collections::BTreeMap;

use super::{parse_error, FieldType, MeasurementSchema, Reader, Record};
use crate::error::Result;
use crate::influx::config::percent_encode;
use crate::value::FieldValue;

/// A point of a measurement: its tags and time.
type PointKey = (Vec<(String, String)>, i64);

/// Labels VictoriaMetrics adds that are not tags of ours.
const NOT_TAGS: [&str; 2] = ["__name__", "db"];

pub(super) fn metric_names(reader: &Reader) -> Result<Vec<String>> {
    let url = format!(
        "{}/api/v1/label/__name__/values?match[]={}",
        reader.config.url,
        percent_encode(&selector(reader, None))
    );
    let answer = json(reader, &url)?;
    Ok(answer["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect())
}

pub(super) fn schema(reader: &Reader, measurement: &str) -> Result<MeasurementSchema> {
    let prefix = format!("{measurement}_");
    let fields = metric_names(reader)?
        .into_iter()
        .filter_map(|name| Some((name.strip_prefix(&prefix)?.to_string(), FieldType::Number)))
        .filter(|(field, _)| !field.is_empty())
        .collect();
    let url = format!(
        "{}/api/v1/labels?match[]={}",
        reader.config.url,
        percent_encode(&selector(reader, Some(measurement)))
    );
    let tags = json(reader, &url)?["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str())
        .filter(|label| !NOT_TAGS.contains(label))
        .map(str::to_string)
        .collect();
    Ok(MeasurementSchema {
        name: measurement.to_string(),
        fields,
        tags,
    })
}

pub(super) fn read(
    reader: &Reader,
    measurement: &str,
    since: Option<i64>,
    each: &mut dyn FnMut(Record),
) -> Result<()> {
    let mut url = format!(
        "{}/api/v1/export?match[]={}",
        reader.config.url,
        percent_encode(&selector(reader, Some(measurement)))
    );
    if let Some(since) = since {
        url.push_str(&format!("&start={}", since.div_euclid(1_000_000_000)));
    }
    let response = reader.get(&url)?;
    let answer = reader.body(response, "an export")?;
    let prefix = format!("{measurement}_");
    // One metric per field: the fields of a point are gathered by their tags and time.
    let mut points: BTreeMap<PointKey, Vec<(String, FieldValue)>> = BTreeMap::new();
    super::json_lines(answer, "an export", &mut |series| {
        let metric = &series["metric"];
        let Some(field) = metric["__name__"]
            .as_str()
            .and_then(|name| name.strip_prefix(&prefix))
        else {
            return;
        };
        let mut tags = super::json_tags(metric, &NOT_TAGS);
        tags.sort();
        let values = series["values"].as_array().into_iter().flatten();
        let times = series["timestamps"].as_array().into_iter().flatten();
        for (value, time) in values.zip(times) {
            let (Some(value), Some(time)) = (value.as_f64(), time.as_i64()) else {
                continue;
            };
            points
                .entry((tags.clone(), time.saturating_mul(1_000_000)))
                .or_default()
                .push((field.to_string(), FieldValue::Float(value)));
        }
    })?;
    for ((tags, time), fields) in points {
        each(Record {
            measurement: measurement.to_string(),
            tags,
            time,
            fields,
        });
    }
    Ok(())
}

/// The series selector: the measurement's metrics (all, without one), in the configured
/// database.
fn selector(reader: &Reader, measurement: Option<&str>) -> String {
    let mut matchers = Vec::new();
    match measurement {
        Some(m) => matchers.push(format!("__name__=~\"{}_.+\"", regex_escape(m))),
        None => matchers.push("__name__=~\".+\"".to_string()),
    }
    let database = reader.database();
    if !database.is_empty() {
        matchers.push(format!("db=\"{}\"", string_escape(database)));
    }
    format!("{{{}}}", matchers.join(","))
}

fn json(reader: &Reader, url: &str) -> Result<serde_json::Value> {
    let response = reader.get(url)?;
    serde_json::from_reader(reader.body(response, "a label query")?)
        .map_err(|e| parse_error("a label query", e))
}

/// `text` as a regular expression that matches only itself, inside a quoted selector string.
pub(super) fn regex_escape(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push_str("\\\\");
        }
        if c == '"' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn string_escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}
