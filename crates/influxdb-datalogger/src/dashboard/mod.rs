//! Grafana dashboards generated from what the data holds: one panel per numeric field of each
//! measurement, grouped by its tags, with a template variable per tag key and the events as
//! shaded annotations; and a ready dashboard for test runs ([`test_runs`]).
//!
//! Every query is raw InfluxQL (`"rawQuery": true`), as Grafana's InfluxDB data source stores
//! a query typed in its editor, so that users can read and edit it; the data source is named
//! by a fixed uid ([`DEFAULT_DATASOURCE_UID`], overridable) that the provisioning files of
//! [`provisioning`] give the data source they create, so that the dashboard binds by itself.
//!
//! ```
//! use influxdb_datalogger::dashboard::{self, DashboardOptions};
//!
//! let schemas = dashboard::schemas_of_line_protocol("cpu,host=a load=0.5,duration_s=2 1\n");
//! let json = dashboard::dashboard(&schemas, &DashboardOptions::default());
//! assert_eq!(json["panels"].as_array().unwrap().len(), 3); // a row and two panels
//! ```

mod provisioning;
mod test_runs;

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::entry::EVENTS_MEASUREMENT;
use crate::line_protocol::Lines;
use crate::value::FieldValue;

pub use provisioning::{provisioning, ProvisionedFiles};
pub use test_runs::test_runs;

/// The uid of the InfluxDB data source the dashboards query, and that [`provisioning`]
/// gives the data source it writes.
pub const DEFAULT_DATASOURCE_UID: &str = "influxdb-datalogger";
/// The Grafana dashboard schema version the JSON follows.
pub const SCHEMA_VERSION: u64 = 39;

/// A field's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldType {
    /// Float, integer or unsigned: what a chart can draw.
    Number,
    /// A boolean.
    Bool,
    /// A string.
    Str,
}

/// What a measurement holds: its fields and tag keys.
#[derive(Debug, Clone, PartialEq)]
pub struct MeasurementSchema {
    /// The measurement.
    pub name: String,
    /// Its fields, sorted by name.
    pub fields: Vec<(String, FieldType)>,
    /// Its tag keys, sorted.
    pub tags: Vec<String>,
}

/// How a dashboard is made.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DashboardOptions {
    /// The title (and, made safe, the uid).
    pub title: String,
    /// The uid of the InfluxDB data source.
    pub datasource_uid: String,
    /// Units by field name (Grafana's unit ids: `s`, `ms`, `bytes`, `percent`, …), over the
    /// guesses of [`guess_unit`].
    pub units: BTreeMap<String, String>,
    /// The time range shown when the dashboard opens (Grafana's `now-7d` form).
    pub from: String,
}

impl Default for DashboardOptions {
    fn default() -> Self {
        DashboardOptions {
            title: "influxdb-datalogger".to_string(),
            datasource_uid: DEFAULT_DATASOURCE_UID.to_string(),
            units: BTreeMap::new(),
            from: "now-7d".to_string(),
        }
    }
}

impl DashboardOptions {
    fn unit(&self, field: &str) -> String {
        self.units
            .get(field)
            .cloned()
            .unwrap_or_else(|| guess_unit(field).to_string())
    }

    fn datasource(&self) -> Value {
        json!({"type": "influxdb", "uid": self.datasource_uid})
    }
}

/// Grafana's unit for a field, from its name: durations (`duration`, `call`, `elapsed`,
/// `*_s`, `*_seconds`, `*_ms`, `*_us`, `*_ns`) in their unit, sizes (`bytes`, `*_bytes`,
/// `rss`, `*memory*`) in bytes, `*_percent`/`*_pct` in percent; otherwise plain numbers.
pub fn guess_unit(field: &str) -> &'static str {
    let name = field.to_ascii_lowercase();
    let ends = |suffix: &str| name == suffix.trim_start_matches('_') || name.ends_with(suffix);
    if ends("_ms") || ends("_millis") || ends("_milliseconds") {
        "ms"
    } else if ends("_us") || ends("_micros") || ends("_microseconds") {
        "µs"
    } else if ends("_ns") || ends("_nanos") || ends("_nanoseconds") {
        "ns"
    } else if ends("_s")
        || ends("_secs")
        || ends("_seconds")
        || [
            "duration", "call", "setup", "teardown", "elapsed", "latency",
        ]
        .iter()
        .any(|w| name == *w || name.ends_with(&format!("_{w}")))
    {
        "s"
    } else if ends("_bytes") || name == "bytes" || name == "rss" || name.contains("memory") {
        "bytes"
    } else if ends("_percent") || ends("_pct") {
        "percent"
    } else {
        "short"
    }
}

/// The measurements, fields (with their types) and tag keys of line protocol `text`; lines
/// that cannot be parsed are left out.
pub fn schemas_of_line_protocol(text: &str) -> Vec<MeasurementSchema> {
    let mut found: BTreeMap<String, (BTreeMap<String, FieldType>, Vec<String>)> = BTreeMap::new();
    for (_, line) in Lines::new(text).flatten() {
        let (fields, tags) = found.entry(line.measurement.to_string()).or_default();
        for (name, value) in &line.fields {
            let kind = match value {
                FieldValue::Str(_) => FieldType::Str,
                FieldValue::Bool(_) => FieldType::Bool,
                _ => FieldType::Number,
            };
            fields.entry(name.to_string()).or_insert(kind);
        }
        for (key, _) in &line.tags {
            if !tags.iter().any(|t| t == key) {
                tags.push(key.to_string());
            }
        }
    }
    found
        .into_iter()
        .map(|(name, (fields, mut tags))| {
            tags.sort();
            MeasurementSchema {
                name,
                fields: fields.into_iter().collect(),
                tags,
            }
        })
        .collect()
}

/// The dashboard of `schemas`: per measurement a row, and per numeric field a time series
/// panel of its mean per interval, one line per tag set, filtered by the tag variables; the
/// events measurement becomes the annotations.
pub fn dashboard(schemas: &[MeasurementSchema], options: &DashboardOptions) -> Value {
    let charted: Vec<&MeasurementSchema> = schemas
        .iter()
        .filter(|s| s.name != EVENTS_MEASUREMENT)
        .collect();
    let mut variables: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for schema in &charted {
        for tag in &schema.tags {
            variables.entry(tag.clone()).or_default().push(&schema.name);
        }
    }
    let templating: Vec<Value> = variables
        .iter()
        .map(|(tag, measurements)| {
            let from = measurements
                .iter()
                .map(|m| quote_identifier(m))
                .collect::<Vec<_>>()
                .join(", ");
            variable(
                options,
                &variable_name(tag),
                tag,
                &format!(
                    "SHOW TAG VALUES FROM {from} WITH KEY = {}",
                    quote_identifier(tag)
                ),
            )
        })
        .collect();
    let mut panels = Vec::new();
    let mut y = 0;
    let mut id = 1;
    for schema in &charted {
        panels.push(json!({
            "type": "row", "id": id, "title": schema.name, "collapsed": false,
            "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}, "panels": [],
        }));
        id += 1;
        y += 1;
        let numeric = schema
            .fields
            .iter()
            .filter(|(_, kind)| *kind == FieldType::Number);
        for (index, (field, _)) in numeric.enumerate() {
            let group_by: String = schema
                .tags
                .iter()
                .map(|t| format!(", {}", quote_identifier(t)))
                .collect();
            let query = format!(
                "SELECT mean({}) FROM {} WHERE {}$timeFilter GROUP BY time($__interval){group_by} fill(none)",
                quote_identifier(field),
                quote_identifier(&schema.name),
                tag_filters(&schema.tags),
            );
            let alias = if schema.tags.is_empty() {
                field.clone()
            } else {
                schema
                    .tags
                    .iter()
                    .map(|t| format!("$tag_{}", variable_name(t)))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            let x = if index % 2 == 0 { 0 } else { 12 };
            panels.push(time_series(
                options,
                id,
                &format!("{} · {field}", schema.name),
                &options.unit(field),
                json!({"h": 8, "w": 12, "x": x, "y": y + (index / 2) * 8}),
                vec![target("A", &query, &alias, "time_series")],
            ));
            id += 1;
        }
        let count = schema
            .fields
            .iter()
            .filter(|(_, kind)| *kind == FieldType::Number)
            .count();
        y += count.div_ceil(2) * 8;
    }
    let events = schemas.iter().find(|s| s.name == EVENTS_MEASUREMENT);
    finish(
        options,
        panels,
        templating,
        events.map(|s| s.tags.as_slice()),
    )
}

/// The dashboard around `panels`: time range, variables, the events annotation.
fn finish(
    options: &DashboardOptions,
    panels: Vec<Value>,
    templating: Vec<Value>,
    event_tags: Option<&[String]>,
) -> Value {
    let mut annotations = vec![json!({
        "builtIn": 1,
        "datasource": {"type": "grafana", "uid": "-- Grafana --"},
        "enable": true, "hide": true, "iconColor": "rgba(0, 211, 255, 1)",
        "name": "Annotations & Alerts", "type": "dashboard",
    })];
    if let Some(tags) = event_tags {
        annotations.push(events_annotation(options, tags, ""));
    }
    json!({
        "uid": uid(&options.title),
        "title": options.title,
        "tags": ["influxdb-datalogger"],
        "timezone": "browser",
        "editable": true,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "refresh": "",
        "time": {"from": options.from, "to": "now"},
        "templating": {"list": templating},
        "annotations": {"list": annotations},
        "panels": panels,
    })
}

/// Events as shaded ranges: the `events` measurement's start (its time), end (`time_end`,
/// epoch milliseconds), text and tags. `filter` narrows it (`AND …`, or empty).
fn events_annotation(options: &DashboardOptions, tags: &[String], filter: &str) -> Value {
    let tag_columns: Vec<String> = tags.iter().map(|t| quote_identifier(t)).collect();
    let mut columns = vec!["\"text\"".to_string(), "\"time_end\"".to_string()];
    columns.extend(tag_columns);
    let query = format!(
        "SELECT {} FROM {} WHERE $timeFilter{filter}",
        columns.join(", "),
        quote_identifier(EVENTS_MEASUREMENT)
    );
    json!({
        "name": "events",
        "datasource": options.datasource(),
        "enable": true,
        "iconColor": "rgba(255, 170, 0, 0.35)",
        // Grafana 10+: the query as a target, and which columns are text, tags and end.
        "target": {"refId": "Anno", "rawQuery": true, "query": query, "resultFormat": "table"},
        "mappings": {
            "text": {"source": "field", "value": "text"},
            "timeEnd": {"source": "field", "value": "time_end"},
            "tags": {"source": "field", "value": tags.join(",")},
        },
        // Older Grafana reads these.
        "query": query,
        "textColumn": "text",
        "timeEndColumn": "time_end",
        "tagsColumn": tags.join(","),
    })
}

fn time_series(
    options: &DashboardOptions,
    id: usize,
    title: &str,
    unit: &str,
    grid: Value,
    targets: Vec<Value>,
) -> Value {
    json!({
        "type": "timeseries",
        "id": id,
        "title": title,
        "datasource": options.datasource(),
        "gridPos": grid,
        "fieldConfig": {
            "defaults": {
                "unit": unit,
                "custom": {"drawStyle": "line", "lineWidth": 1, "showPoints": "auto", "spanNulls": true},
            },
            "overrides": [],
        },
        "options": {
            "legend": {"displayMode": "table", "placement": "bottom", "calcs": ["mean", "max", "lastNotNull"], "showLegend": true},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
        "targets": targets,
    })
}

fn target(ref_id: &str, query: &str, alias: &str, format: &str) -> Value {
    json!({
        "refId": ref_id,
        "rawQuery": true,
        "query": query,
        "alias": alias,
        "resultFormat": format,
    })
}

/// A query variable over the values of `tag`: several or all may be chosen.
fn variable(options: &DashboardOptions, name: &str, label: &str, query: &str) -> Value {
    json!({
        "type": "query",
        "name": name,
        "label": label,
        "datasource": options.datasource(),
        "query": query,
        "definition": query,
        "refresh": 2,
        "includeAll": true,
        "multi": true,
        "allValue": ".*",
        "sort": 1,
        "current": {"selected": true, "text": ["All"], "value": ["$__all"]},
        "options": [],
    })
}

/// `("tag" =~ /^$tag$/) AND …` for each tag key, ready to go before `$timeFilter`.
fn tag_filters(tags: &[String]) -> String {
    tags.iter()
        .map(|t| {
            format!(
                "({} =~ /^${}$/) AND ",
                quote_identifier(t),
                variable_name(t)
            )
        })
        .collect()
}

/// `("tag" =~ /^$variable$/) AND ` for a tag filtered by a variable of another name.
fn tag_filter(tag: &str, variable: &str) -> String {
    format!("({} =~ /^${variable}$/) AND ", quote_identifier(tag))
}

/// A Grafana variable name for a tag key: letters, digits and `_`.
pub fn variable_name(tag: &str) -> String {
    let name: String = tag
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if name.starts_with(|c: char| c.is_ascii_digit()) || name.is_empty() {
        format!("_{name}")
    } else {
        name
    }
}

/// A dashboard uid from its title: at most 40 characters of letters, digits, `-` and `_`.
fn uid(title: &str) -> String {
    let uid: String = title
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(40)
        .collect();
    if uid.trim_matches('-').is_empty() {
        "influxdb-datalogger".to_string()
    } else {
        uid
    }
}

/// An InfluxQL (or SQL) identifier, double-quoted with its quotes and backslashes escaped:
/// for the dashboards' queries and the reader's.
pub(crate) fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests;
