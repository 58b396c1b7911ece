//! `regressions`: where the series of a measurement changed level, from line protocol files or
//! from a server, as a table or JSON; optionally written back as events (Grafana annotations).

use std::collections::BTreeMap;
use std::io::Write;

use influxdb_datalogger::line_protocol::Lines;
use influxdb_datalogger::read::Reader;
use influxdb_datalogger::regress::{change_points, ChangePointOptions};
use influxdb_datalogger::{
    DataLogger, Error, ErrorKind, FieldValue, InfluxDBWriter, Result, Timestamp,
};

use crate::remote::Sources;
use crate::stats::{format_number, render};
use crate::{Status, FAILURE, SUCCESS};

/// What to look at and how to report it.
#[derive(Debug, clap::Args)]
pub struct Request {
    #[command(flatten)]
    pub sources: Sources,
    /// The measurement whose series to examine.
    #[arg(long)]
    pub measurement: String,
    /// Only this field (default: every numeric field).
    #[arg(long)]
    pub field: Option<String>,
    /// Group points into series by these tags only (default: by all their tags).
    #[arg(long = "group-by")]
    pub group_by: Vec<String>,
    /// Only points newer than this: seconds, or with a unit (`90d`, `12h`, `30m`).
    #[arg(long, default_value = "90d")]
    pub since: String,
    /// The unit of the files' timestamps: ns, us, ms or s.
    #[arg(long, default_value = "ns")]
    pub precision: influxdb_datalogger::Precision,
    /// Print a JSON array instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Write each change point back to the server as an event (a Grafana annotation).
    #[arg(long)]
    pub annotate: bool,
    /// Exit with 1 if a change point among the newest N values of a series is a slowdown (an
    /// increase) beyond `--threshold`.
    #[arg(long = "fail-newer-than")]
    pub fail_newer_than: Option<usize>,
    /// The increase, in percent, that `--fail-newer-than` counts as a slowdown.
    #[arg(long, default_value_t = 10.0)]
    pub threshold: f64,
}

/// One series: a field of a measurement under a set of tags.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct SeriesKey {
    field: String,
    tags: Vec<(String, String)>,
}

/// A change point found, with what locates it.
#[derive(Debug)]
struct Found {
    key: SeriesKey,
    time: i64,
    before: f64,
    after: f64,
    change: f64,
    p_value: f64,
    /// How many values of the series come at or after it.
    age: usize,
}

/// Runs `regressions`.
pub fn run(request: &Request, out: &mut dyn Write) -> Result<Status> {
    let oldest = crate::since_nanos(&request.since)?;
    let mut series: BTreeMap<SeriesKey, Vec<(i64, f64)>> = BTreeMap::new();
    if request.sources.from_server()? {
        read_server(request, oldest, &mut series)?;
    } else {
        if request.annotate {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "--annotate writes to a server: give --url instead of files",
            ));
        }
        read_files(request, oldest, &mut series)?;
    }
    if series.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "no numeric values of measurement {:?}{} newer than {} found",
                request.measurement,
                request
                    .field
                    .as_ref()
                    .map(|f| format!(", field {f:?},"))
                    .unwrap_or_default(),
                request.since
            ),
        ));
    }
    let mut found = Vec::new();
    for (key, mut points) in series {
        points.sort_by_key(|(time, _)| *time);
        let values: Vec<f64> = points.iter().map(|(_, v)| *v).collect();
        for point in change_points(&values, &ChangePointOptions::default()) {
            found.push(Found {
                key: key.clone(),
                time: points[point.index].0,
                before: point.before,
                after: point.after,
                change: point.change,
                p_value: point.p_value,
                age: values.len() - point.index,
            });
        }
    }
    found.sort_by(|a, b| b.time.cmp(&a.time).then_with(|| a.key.cmp(&b.key)));
    if request.json {
        let _ = writeln!(out, "{}", as_json(&request.measurement, &found));
    } else if found.is_empty() {
        let _ = writeln!(out, "no change points in {}", request.measurement);
    } else {
        let _ = write!(out, "{}", as_table(&found));
    }
    if request.annotate {
        annotate(request, &found)?;
    }
    let failing = request.fail_newer_than.is_some_and(|newest| {
        found
            .iter()
            .any(|f| f.age <= newest && f.change * 100.0 > request.threshold)
    });
    Ok(if failing { FAILURE } else { SUCCESS })
}

/// The series key of a point: the field, and its tags (or only the `group_by` ones).
fn key_of(request: &Request, field: &str, tags: &[(&str, &str)]) -> SeriesKey {
    let mut tags: Vec<(String, String)> = tags
        .iter()
        .filter(|(k, _)| request.group_by.is_empty() || request.group_by.iter().any(|g| g == k))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    tags.sort();
    SeriesKey {
        field: field.to_string(),
        tags,
    }
}

fn wanted_field(request: &Request, field: &str) -> bool {
    request
        .field
        .as_deref()
        .is_none_or(|wanted| wanted == field)
}

fn read_files(
    request: &Request,
    oldest: i64,
    series: &mut BTreeMap<SeriesKey, Vec<(i64, f64)>>,
) -> Result<()> {
    for path in &request.sources.files {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::new(
                ErrorKind::Io,
                format!("cannot read {}: {e}", path.display()),
            )
        })?;
        // Malformed lines are left out here; `stats` reports them.
        for (_, line) in Lines::new(&text).flatten() {
            if line.measurement != request.measurement.as_str() {
                continue;
            }
            let Some(time) = line
                .timestamp
                .map(|t| t.saturating_mul(request.precision.nanos_per_unit()))
                .filter(|t| *t >= oldest)
            else {
                continue;
            };
            let fields = line.fields.iter().map(|(k, v)| (k.as_ref(), v));
            add_values(request, series, &line.tags, time, fields);
        }
    }
    Ok(())
}

fn read_server(
    request: &Request,
    oldest: i64,
    series: &mut BTreeMap<SeriesKey, Vec<(i64, f64)>>,
) -> Result<()> {
    let reader = Reader::new(request.sources.target.config()?)?;
    reader.read(&request.measurement, Some(oldest), &mut |record| {
        let fields = record.fields.iter().map(|(k, v)| (k.as_str(), v));
        add_values(request, series, &record.tags, record.time, fields);
    })
}

/// Adds a point's wanted numeric fields (not booleans) to their series.
fn add_values<'f>(
    request: &Request,
    series: &mut BTreeMap<SeriesKey, Vec<(i64, f64)>>,
    tags: &[(impl AsRef<str>, impl AsRef<str>)],
    time: i64,
    fields: impl Iterator<Item = (&'f str, &'f FieldValue)>,
) {
    let tags: Vec<(&str, &str)> = tags.iter().map(|(k, v)| (k.as_ref(), v.as_ref())).collect();
    for (field, value) in fields {
        if matches!(value, FieldValue::Bool(_)) {
            continue;
        }
        if let (true, Some(value)) = (wanted_field(request, field), value.as_f64()) {
            series
                .entry(key_of(request, field, &tags))
                .or_default()
                .push((time, value));
        }
    }
}

fn tags_text(tags: &[(String, String)]) -> String {
    tags.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn as_table(found: &[Found]) -> String {
    let mut rows = vec![["time", "tags", "field", "before", "after", "change", "p"]
        .map(String::from)
        .to_vec()];
    for f in found {
        rows.push(vec![
            Timestamp::from_nanos(f.time).to_string(),
            tags_text(&f.key.tags),
            f.key.field.clone(),
            format_number(f.before),
            format_number(f.after),
            format!("{:+.1} %", f.change * 100.0),
            format!("{:.1e}", f.p_value),
        ]);
    }
    render(&rows, |column| column >= 3)
}

fn as_json(measurement: &str, found: &[Found]) -> String {
    let items: Vec<serde_json::Value> = found
        .iter()
        .map(|f| {
            let tags: serde_json::Map<String, serde_json::Value> = f
                .key
                .tags
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::from(v.as_str())))
                .collect();
            serde_json::json!({
                "measurement": measurement,
                "field": f.key.field,
                "tags": tags,
                "time": f.time,
                "before": f.before,
                "after": f.after,
                "change": f.change,
                "p_value": f.p_value,
            })
        })
        .collect();
    serde_json::Value::Array(items).to_string()
}

/// Each change point as an event on the server (the measurement Grafana's annotations read).
fn annotate(request: &Request, found: &[Found]) -> Result<()> {
    let writer = InfluxDBWriter::new(request.sources.target.config()?)?;
    let logger = DataLogger::builder().writer(writer).build();
    for f in found {
        let mut tags: Vec<(String, String)> = f.key.tags.clone();
        tags.push(("measurement".into(), request.measurement.clone()));
        tags.push(("field".into(), f.key.field.clone()));
        let at = Timestamp::from_nanos(f.time);
        logger.log_event(
            &format!(
                "change point: {} {:+.1} % ({} -> {})",
                request.measurement,
                f.change * 100.0,
                format_number(f.before),
                format_number(f.after)
            ),
            at,
            at,
            &tags,
        )?;
    }
    logger.close()
}
