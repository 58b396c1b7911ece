//! `report`: the HTML report of line protocol files or of what a server holds.

use std::io::Write;
use std::path::PathBuf;

use influxdb_datalogger::read::Reader;
use influxdb_datalogger::report::{Report, Selection};
use influxdb_datalogger::{Error, ErrorKind, Result};

use crate::remote::Sources;

/// What to report on and where to write it.
#[derive(Debug, clap::Args)]
pub struct Request {
    #[command(flatten)]
    pub sources: Sources,
    /// Only these measurements (repeat for more; default: all). Events are always included.
    #[arg(long = "measurement")]
    pub measurements: Vec<String>,
    /// Only points newer than this: seconds, or with a unit (`30d`, `12h`). Default: all of
    /// the files; 30d from a server.
    #[arg(long)]
    pub since: Option<String>,
    /// Group points into series by these tags only (default: by all their tags); e.g.
    /// `--group-by test` for test runs whose points also carry a run id.
    #[arg(long = "group-by")]
    pub group_by: Vec<String>,
    /// Count the values of this tag per measurement, and show each series' newest value (e.g.
    /// `--count-by outcome` for test runs). Repeat for more.
    #[arg(long = "count-by")]
    pub count_by: Vec<String>,
    /// The unit of the files' timestamps: ns, us, ms or s.
    #[arg(long, default_value = "ns")]
    pub precision: influxdb_datalogger::Precision,
    /// The report's title (default: what it was made from).
    #[arg(long)]
    pub title: Option<String>,
    /// The HTML file to write.
    #[arg(short = 'o', long = "output", default_value = "report.html")]
    pub output: PathBuf,
}

/// Runs `report`: gathers, writes the file, and prints its path and what it holds.
pub fn run(request: &Request, out: &mut dyn Write, err: &mut dyn Write) -> Result<()> {
    request.sources.from_server()?;
    let since = match (&request.since, request.sources.files.is_empty()) {
        (Some(text), _) => Some(text.as_str()),
        (None, true) => Some("30d"),
        (None, false) => None,
    };
    let selection = {
        let mut selection = Selection::all();
        selection.measurements = request.measurements.clone();
        selection.group_by = request.group_by.clone();
        selection.count_by = request.count_by.clone();
        selection.since = since.map(crate::since_nanos).transpose()?;
        selection
    };
    let title = request.title.clone().unwrap_or_else(|| {
        if request.sources.files.is_empty() {
            "influxdb-datalogger report".to_string()
        } else {
            request
                .sources
                .files
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        }
    });
    let mut report = Report::new(title);
    if request.sources.files.is_empty() {
        let reader = Reader::new(request.sources.target.config()?)?;
        report.add_from_server(&reader, &selection)?;
    } else {
        report.add_files(&request.sources.files, request.precision, &selection)?;
    }
    if report.malformed_lines() > 0 {
        let _ = writeln!(
            err,
            "{} malformed lines skipped (listed in the report)",
            report.malformed_lines()
        );
    }
    if report.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "nothing to report: no points{}",
                since
                    .map(|s| format!(" newer than {s}"))
                    .unwrap_or_default()
            ),
        ));
    }
    report.write(&request.output)?;
    let measurements = report.measurements();
    let named = if measurements.len() <= 5 {
        measurements.join(", ")
    } else {
        format!("{} measurements", measurements.len())
    };
    let _ = writeln!(
        out,
        "wrote {} ({} points of {named})",
        request.output.display(),
        report.points(),
    );
    Ok(())
}
