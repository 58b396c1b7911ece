//! The `influxdb-datalogger` command line: `demo`, `stats`, `push`, `ping`, `replay`, `spool`,
//! `regressions`, `import`, `report`, `dashboard`.
//! A library too ([`run`] takes the arguments and the output streams), so that its tests can run
//! the commands in process.

pub mod dashboard;
pub mod demo;
pub mod import;
mod import_bench;
pub mod regressions;
pub mod remote;
pub mod report;
pub mod spool;
pub mod stats;

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

/// A process exit status: [`SUCCESS`], [`FAILURE`], or [`USAGE`] for a wrong command line.
pub type Status = u8;
/// The command did what it was asked.
pub const SUCCESS: Status = 0;
/// The command failed; it said why on the error stream.
pub const FAILURE: Status = 1;
/// The command line was wrong (clap's status for it).
pub const USAGE: Status = 2;

/// The file the library writes to when nothing else is configured.
pub const DEFAULT_SINK_FILE: &str = "influxdb-datalogger.lp";

#[derive(Debug, Parser)]
#[command(
    name = "influxdb-datalogger",
    version,
    about = "Record test measurements and deliver them to InfluxDB and Grafana"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a small measured workload through the library into a line protocol file, and print
    /// what it logged.
    Demo {
        /// The line protocol file to append to.
        #[arg(long, default_value = DEFAULT_SINK_FILE)]
        file: PathBuf,
        /// How many times to repeat the workload.
        #[arg(long, default_value_t = 3)]
        rounds: u32,
    },
    /// Print count, min, mean, p50, p95, p99 and max per measurement, tag set and field of line
    /// protocol files. Malformed lines are reported and skipped.
    Stats {
        /// Line protocol files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Send a line protocol file to a server, in batches, with retries and a progress bar.
    /// Malformed lines are reported and skipped; refused lines go to the dead-letter file.
    Push {
        /// The line protocol file.
        file: PathBuf,
        #[command(flatten)]
        target: remote::Target,
        /// The unit of the file's timestamps: ns, us, ms or s.
        #[arg(long, default_value = "ns")]
        precision: influxdb_datalogger::Precision,
        /// Lines per request.
        #[arg(long, default_value_t = 5000)]
        batch_size: usize,
        /// How long to wait, in seconds, for the server to take everything (retrying meanwhile).
        #[arg(long, default_value_t = 120.0)]
        timeout: f64,
    },
    /// Check that a server answers and takes the credentials and the database or bucket.
    Ping {
        #[command(flatten)]
        target: remote::Target,
    },
    /// Deliver what dead processes left in a spool directory (whatever target they wrote for)
    /// to the given server, with a progress bar. Segments of live processes are left alone.
    Replay {
        /// The spool directory.
        dir: PathBuf,
        #[command(flatten)]
        target: remote::Target,
        /// How long to wait, in seconds, for the server to acknowledge everything.
        #[arg(long, default_value_t = 120.0)]
        timeout: f64,
    },
    /// Find where the series of a measurement changed level (change points), from line protocol
    /// files or from a server: newest first, as a table or JSON; optionally written back as
    /// events for Grafana, or failing when the newest values got slower.
    Regressions(regressions::Request),
    /// Write an HTML report (charts, distributions, summary tables, events and change points)
    /// of line protocol files or of a server's measurements: one file that needs no network.
    Report(report::Request),
    /// Write a Grafana dashboard (raw InfluxQL queries, a variable per tag, events as
    /// annotations) for the measurements of line protocol files or a server, or the ready
    /// dashboard for test runs; optionally with Grafana's provisioning files.
    Dashboard(dashboard::Request),
    /// Import test and benchmark results other tools wrote (JUnit XML, criterion,
    /// pytest-benchmark) as points.
    #[command(subcommand)]
    Import(import::Import),
    /// List what each process has not had acknowledged in a spool directory: points, events,
    /// bytes, age and target. Changes nothing.
    Spool {
        /// The spool directory.
        dir: PathBuf,
    },
}

/// Runs the command line with `args` (the first being the program name), printing to
/// `out` and `err`.
pub fn run(
    args: impl IntoIterator<Item = OsString>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Status {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let target: &mut dyn Write = if e.use_stderr() { err } else { out };
            let _ = write!(target, "{}", e.render());
            return if e.use_stderr() { USAGE } else { SUCCESS };
        }
    };
    let result = match cli.command {
        Command::Demo { file, rounds } => run_demo(&file, rounds, out),
        Command::Stats { files } => run_stats(&files, out, err),
        Command::Push {
            file,
            target,
            precision,
            batch_size,
            timeout,
        } => seconds("--timeout", timeout)
            .and_then(|timeout| run_push(&file, &target, precision, batch_size, timeout, out, err)),
        Command::Ping { target } => remote::ping(&target, out)
            .map(|()| SUCCESS)
            .map_err(|e| format!("{e:#}")),
        Command::Replay {
            dir,
            target,
            timeout,
        } => spool::replay(&dir, &target, timeout, out).map_err(|e| format!("{e:#}")),
        Command::Spool { dir } => spool::list(&dir, out).map_err(|e| format!("{e:#}")),
        Command::Report(request) => report::run(&request, out, err)
            .map(|()| SUCCESS)
            .map_err(|e| format!("{e:#}")),
        Command::Dashboard(request) => dashboard::run(&request, out)
            .map(|()| SUCCESS)
            .map_err(|e| format!("{e:#}")),
        Command::Import(import) => import::run(&import, out, err).map_err(|e| format!("{e:#}")),
        Command::Regressions(request) => {
            regressions::run(&request, out).map_err(|e| format!("{e:#}"))
        }
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            let _ = writeln!(err, "influxdb-datalogger: {message}");
            FAILURE
        }
    }
}

/// Nanoseconds since the epoch of "now minus `text`" (`30d`, `12h`, seconds): what `--since`
/// means to `report` and `regressions`.
pub(crate) fn since_nanos(text: &str) -> influxdb_datalogger::Result<i64> {
    let age = influxdb_datalogger::parse_duration("--since", text)?;
    Ok(influxdb_datalogger::Timestamp::now()
        .as_nanos()
        .saturating_sub(i64::try_from(age.as_nanos()).unwrap_or(i64::MAX)))
}

/// A number of seconds from the command line.
fn seconds(flag: &str, value: f64) -> Result<std::time::Duration, String> {
    std::time::Duration::try_from_secs_f64(value)
        .map_err(|_| format!("{flag} must be a number of seconds >= 0, not {value}"))
}

fn run_demo(file: &std::path::Path, rounds: u32, out: &mut dyn Write) -> Result<Status, String> {
    let report = demo::run(file, rounds).map_err(|e| format!("{e:#}"))?;
    let mut collector = stats::Collector::default();
    collector.add_text(&report.line_protocol);
    let page = file.with_extension("html");
    let mut html = influxdb_datalogger::report::Report::new(format!("demo: {}", file.display()));
    html.add_files(
        &[file],
        influxdb_datalogger::Precision::Nanoseconds,
        &influxdb_datalogger::report::Selection::all(),
    )
    .and_then(|()| html.write(&page))
    .map_err(|e| format!("{e:#}"))?;
    let _ = write!(
        out,
        "{}\nlogged {} points and {} events, appended to {}\n\n{}\nsummarise the whole file with: influxdb-datalogger stats {}\nthe report of the whole file, to open in a browser: {}\n",
        report.line_protocol.trim_end(),
        report.points,
        report.events,
        file.display(),
        collector.table(),
        file.display(),
        page.display()
    );
    Ok(SUCCESS)
}

fn run_push(
    file: &std::path::Path,
    target: &remote::Target,
    precision: influxdb_datalogger::Precision,
    batch_size: usize,
    timeout: std::time::Duration,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<Status, String> {
    let report = remote::push(file, target, precision, batch_size, timeout, err)
        .map_err(|e| format!("{e:#}"))?;
    let _ = writeln!(
        out,
        "{} lines delivered, {} malformed lines skipped, {} refused by the server (see the dead-letter file)",
        report.delivered, report.skipped, report.dead_lettered
    );
    Ok(if report.skipped == 0 && report.dead_lettered == 0 {
        SUCCESS
    } else {
        FAILURE
    })
}

fn run_stats(
    files: &[PathBuf],
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<Status, String> {
    let mut collector = stats::Collector::default();
    let mut skipped = 0;
    for path in files {
        let bytes =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let text = String::from_utf8_lossy(&bytes);
        for e in collector.add_text(&text) {
            skipped += 1;
            report_skipped_line(err, path, &e);
        }
    }
    if collector.lines == 0 {
        let _ = writeln!(err, "no points found in {} file(s)", files.len());
        return Ok(FAILURE);
    }
    let _ = write!(out, "{}", collector.table());
    if skipped > 0 {
        let _ = writeln!(
            err,
            "{} points read, {skipped} malformed lines skipped",
            collector.lines
        );
    }
    Ok(SUCCESS)
}

/// Reports a malformed input line as `FILE:LINE:COLUMN: message (line skipped)`, the form
/// editors and CI logs link to.
pub(crate) fn report_skipped_line(
    err: &mut dyn Write,
    path: &Path,
    e: &influxdb_datalogger::line_protocol::LineError,
) {
    let _ = writeln!(
        err,
        "{}:{}:{}: {} (line skipped)",
        path.display(),
        e.line,
        e.column,
        e.message
    );
}
