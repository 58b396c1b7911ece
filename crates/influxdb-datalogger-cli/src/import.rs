//! `import`: test results other tools wrote, as points of the test schema (one point per test:
//! the `call` duration, and the test's tags), to a server or a line protocol file.

use std::io::Write;
use std::path::{Path, PathBuf};

use influxdb_datalogger::{
    Batch, DatabaseWriter, Error, ErrorKind, InfluxDBWriter, LineProtocolFileWriter, Precision,
    Result, Timestamp,
};
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use crate::import_bench::Point;
use crate::remote::Target;
use crate::{Status, FAILURE, SUCCESS};

/// What to import.
#[derive(Debug, clap::Subcommand)]
pub enum Import {
    /// JUnit XML, as cargo-nextest, pytest `--junitxml`, Maven Surefire, gotestsum and Jest write
    /// it: one point per test case.
    Junit(Options),
    /// Criterion's results (`target/criterion` or any directory under it): one point per
    /// benchmark, from its `new/estimates.json` and `new/benchmark.json`.
    Criterion(Options),
    /// pytest-benchmark's `--benchmark-json` files: one point per benchmark.
    PytestBenchmark(Options),
}

/// Where the points go, and the tags they get.
#[derive(Debug, clap::Args)]
pub struct Options {
    /// The files to import.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub target: Target,
    /// Append to this line protocol file instead of sending to a server (without `--url`, the
    /// default is `influxdb-datalogger.lp`).
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// The measurement of the points (default: `tests` for test results, `benchmarks` for
    /// benchmark results).
    #[arg(long)]
    pub measurement: Option<String>,
    /// A tag for every point, `key=value` (repeatable).
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// The run id tag (default: one made from the time of the import).
    #[arg(long = "run-id")]
    pub run_id: Option<String>,
    /// The time of the points of a file that does not say when it ran (default: now).
    #[arg(long)]
    pub time: Option<String>,
}

/// Properties longer than this are not made tags (a tag value is indexed; a log is not one).
const MAX_TAG_LEN: usize = 64;

/// A test suite being read: what its cases inherit.
#[derive(Debug)]
struct Suite {
    name: String,
    time: Option<Timestamp>,
    host: String,
    properties: Vec<(String, String)>,
}

/// One test case read from a report.
#[derive(Debug, Default)]
struct Case {
    suite: String,
    class: String,
    name: String,
    seconds: f64,
    outcome: &'static str,
    time: Option<Timestamp>,
    host: String,
    properties: Vec<(String, String)>,
}

/// Runs `import`.
pub fn run(import: &Import, out: &mut dyn Write, err: &mut dyn Write) -> Result<Status> {
    let options = match import {
        Import::Junit(o) | Import::Criterion(o) | Import::PytestBenchmark(o) => o,
    };
    let default_time = match &options.time {
        Some(text) => text.parse::<Timestamp>()?,
        None => Timestamp::now(),
    };
    let run_id = options
        .run_id
        .clone()
        .unwrap_or_else(|| format!("import-{}", default_time.as_nanos()));
    let mut tags = vec![("run_id".to_string(), run_id.clone())];
    for pair in &options.tags {
        match pair.split_once('=') {
            Some((key, value)) if !key.trim().is_empty() => {
                tags.push((key.trim().to_string(), value.trim().to_string()));
            }
            _ => {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!("--tag takes key=value, not {pair:?}"),
                ))
            }
        }
    }
    let measurement = options.measurement.clone().unwrap_or_else(|| {
        match import {
            Import::Junit(_) => "tests",
            _ => "benchmarks",
        }
        .to_string()
    });
    let mut body = Vec::new();
    let mut problems = 0;
    let summary = match import {
        Import::Junit(_) => {
            let mut counts = [0usize; 4];
            for path in &options.files {
                let (cases, problem) = read_junit(path)?;
                if let Some(problem) = problem {
                    problems += 1;
                    let _ = writeln!(err, "{problem}");
                }
                for case in cases {
                    counts[OUTCOMES
                        .iter()
                        .position(|o| *o == case.outcome)
                        .unwrap_or(0)] += 1;
                    point(&case, &tags).encode(&mut body, &measurement, &[], default_time)?;
                }
            }
            format!(
                "{} test cases from {} files ({} passed, {} failed, {} errors, {} skipped)",
                counts.iter().sum::<usize>(),
                options.files.len(),
                counts[0],
                counts[1],
                counts[2],
                counts[3],
            )
        }
        Import::Criterion(_) | Import::PytestBenchmark(_) => {
            let mut points = Vec::new();
            for path in &options.files {
                let read = match import {
                    Import::Criterion(_) => crate::import_bench::criterion(path, &mut points),
                    _ => crate::import_bench::pytest_benchmark(path, &mut points),
                };
                if let Err(problem) = read {
                    problems += 1;
                    let _ = writeln!(err, "{problem}");
                }
            }
            for point in &points {
                point.encode(&mut body, &measurement, &tags, default_time)?;
            }
            format!(
                "{} benchmarks from {} paths",
                points.len(),
                options.files.len()
            )
        }
    };
    let target = deliver(options, &body, err, &mut problems)?;
    let _ = writeln!(out, "imported {summary} into {target}, run {run_id}");
    Ok(if problems > 0 { FAILURE } else { SUCCESS })
}

/// Sends `body` (line protocol) to the server of `--url`, or appends it to the file; says where.
fn deliver(
    options: &Options,
    body: &[u8],
    err: &mut dyn Write,
    problems: &mut usize,
) -> Result<String> {
    let batch = Batch::from_lines(
        body.split_inclusive(|&b| b == b'\n'),
        Precision::Nanoseconds,
    )?;
    if options.target.has_url() {
        let mut writer = InfluxDBWriter::new(options.target.config()?)?;
        writer.write_data(&batch)?;
        let refused = writer.dead_lettered();
        if refused > 0 {
            let _ = writeln!(
                err,
                "influxdb-datalogger: the server refused {refused} points (see the dead-letter file)"
            );
            *problems += 1;
        }
        return Ok(writer.config().describe());
    }
    let path = options
        .file
        .clone()
        .unwrap_or_else(|| PathBuf::from(crate::DEFAULT_SINK_FILE));
    LineProtocolFileWriter::new(&path).write_data(&batch)?;
    Ok(path.display().to_string())
}

const OUTCOMES: [&str; 4] = ["passed", "failed", "error", "skipped"];

/// A test case as a point: the schema's tags, then the case's properties and `extra` tags that
/// are short enough and not already there.
fn point(case: &Case, extra: &[(String, String)]) -> Point {
    let test = if case.class.is_empty() {
        case.name.clone()
    } else {
        format!("{}::{}", case.class, case.name)
    };
    let mut tags: Vec<(String, String)> = [
        ("suite", case.suite.as_str()),
        ("class", &case.class),
        ("name", &case.name),
        ("test", &test),
        ("outcome", case.outcome),
        ("host", &case.host),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .to_vec();
    for (key, value) in case.properties.iter().chain(extra) {
        if value.len() <= MAX_TAG_LEN
            && key.len() <= MAX_TAG_LEN
            && !tags.iter().any(|(k, _)| k == key)
        {
            tags.push((key.clone(), value.clone()));
        }
    }
    Point {
        tags,
        fields: vec![("call".to_string(), case.seconds)],
        time: case.time,
    }
}

/// The test cases of a JUnit XML file, and what was wrong with it (with where), if anything: the
/// cases read before a problem are kept.
fn read_junit(path: &Path) -> Result<(Vec<Case>, Option<String>)> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::new(
            ErrorKind::Io,
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    let mut reader = Reader::from_str(&text);
    let mut cases = Vec::new();
    // The enclosing suites, and the case being read.
    let mut suites: Vec<Suite> = Vec::new();
    let mut case: Option<Case> = None;
    loop {
        let event = match reader.read_event() {
            Ok(event) => event,
            Err(e) => {
                let at = usize::try_from(reader.error_position()).unwrap_or(0);
                return Ok((
                    cases,
                    Some(position_problem(path, &text, at, &e.to_string())),
                ));
            }
        };
        let problem = |what: String| {
            let at = usize::try_from(reader.buffer_position()).unwrap_or(0);
            position_problem(path, &text, at, &what)
        };
        let (element, empty) = match &event {
            Event::Start(e) => (Some(e), false),
            Event::Empty(e) => (Some(e), true),
            Event::End(e) => {
                match e.local_name().as_ref() {
                    "testsuite" => {
                        suites.pop();
                    }
                    "testcase" => cases.extend(case.take()),
                    _ => {}
                }
                (None, false)
            }
            Event::Eof => break,
            _ => (None, false),
        };
        let Some(e) = element else {
            continue;
        };
        match e.local_name().as_ref() {
            "testsuite" => {
                let time = match attribute(e, "timestamp") {
                    Some(text) => match text.parse::<Timestamp>() {
                        Ok(t) => Some(t),
                        Err(err) => return Ok((cases, Some(problem(format!("{err:#}"))))),
                    },
                    None => suites.last().and_then(|s| s.time),
                };
                if !empty {
                    suites.push(Suite {
                        name: attribute(e, "name").unwrap_or_default(),
                        time,
                        host: attribute(e, "hostname")
                            .or_else(|| suites.last().map(|s| s.host.clone()))
                            .unwrap_or_default(),
                        properties: suites
                            .last()
                            .map(|s| s.properties.clone())
                            .unwrap_or_default(),
                    });
                }
            }
            "testcase" => {
                let seconds = match attribute(e, "time") {
                    None => 0.0,
                    Some(t) => match t.trim().replace(',', "").parse::<f64>() {
                        Ok(s) if s.is_finite() && s >= 0.0 => s,
                        _ => {
                            let what = format!("testcase time {t:?} is not a number of seconds");
                            return Ok((cases, Some(problem(what))));
                        }
                    },
                };
                let suite = suites.last();
                let new = Case {
                    suite: suite.map(|s| s.name.clone()).unwrap_or_default(),
                    class: attribute(e, "classname").unwrap_or_default(),
                    name: attribute(e, "name").unwrap_or_default(),
                    seconds,
                    outcome: "passed",
                    time: suite.and_then(|s| s.time),
                    host: suite.map(|s| s.host.clone()).unwrap_or_default(),
                    properties: suite.map(|s| s.properties.clone()).unwrap_or_default(),
                };
                if empty {
                    cases.push(new);
                } else {
                    case = Some(new);
                }
            }
            "failure" | "error" | "skipped" => {
                let outcome = match e.local_name().as_ref() {
                    "failure" => "failed",
                    "error" => "error",
                    _ => "skipped",
                };
                if let Some(case) = case.as_mut() {
                    // A failure wins over a skip noted with it.
                    if case.outcome == "passed" || outcome != "skipped" {
                        case.outcome = outcome;
                    }
                }
            }
            "property" => {
                if let (Some(name), Some(value)) = (attribute(e, "name"), attribute(e, "value")) {
                    match (case.as_mut(), suites.last_mut()) {
                        (Some(case), _) => case.properties.push((name, value)),
                        (None, Some(suite)) => suite.properties.push((name, value)),
                        (None, None) => {}
                    }
                }
            }
            _ => {}
        }
    }
    if !suites.is_empty() || case.is_some() {
        let at = text.len();
        return Ok((
            cases,
            Some(position_problem(
                path,
                &text,
                at,
                "the file ends inside an element",
            )),
        ));
    }
    Ok((cases, None))
}

fn attribute(element: &BytesStart<'_>, name: &str) -> Option<String> {
    element
        .try_get_attribute(name)
        .ok()
        .flatten()
        .and_then(|a| {
            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .ok()
                .map(|v| v.into_owned())
        })
}

/// `file:line:column: what (the rest of the file skipped)`.
fn position_problem(path: &Path, text: &str, at: usize, what: &str) -> String {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    format!(
        "{}:{line}:{column}: {what} (the rest of the file skipped)",
        path.display()
    )
}
