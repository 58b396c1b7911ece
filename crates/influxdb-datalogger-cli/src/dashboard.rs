//! `dashboard`: a Grafana dashboard from the measurements of line protocol files or a server,
//! or the ready dashboard for test runs; optionally with Grafana's provisioning files.

use std::io::Write;
use std::path::PathBuf;

use influxdb_datalogger::dashboard::{self, DashboardOptions, MeasurementSchema};
use influxdb_datalogger::read::Reader;
use influxdb_datalogger::{Error, ErrorKind, Result, EVENTS_MEASUREMENT};

use crate::remote::Sources;

/// What to build a dashboard of, and where to write it.
#[derive(Debug, clap::Args)]
pub struct Request {
    #[command(flatten)]
    pub sources: Sources,
    /// Only these measurements (repeat for more; default: all).
    #[arg(long = "measurement")]
    pub measurements: Vec<String>,
    /// Instead, the ready dashboard for the test runs in this measurement (`pytest`,
    /// `cargo_test`, `tests`): durations, slowest tests, outcomes, runs.
    #[arg(long = "tests", value_name = "MEASUREMENT")]
    pub tests: Option<String>,
    /// The dashboard's title.
    #[arg(long, default_value = "influxdb-datalogger")]
    pub title: String,
    /// The uid of the InfluxDB data source the queries use.
    #[arg(long = "datasource-uid", default_value = dashboard::DEFAULT_DATASOURCE_UID)]
    pub datasource_uid: String,
    /// A field's unit, over the guess from its name: `FIELD=UNIT` with Grafana's unit ids
    /// (`s`, `ms`, `bytes`, `percent`, …). Repeat for more.
    #[arg(long = "unit", value_name = "FIELD=UNIT")]
    pub units: Vec<String>,
    /// Also write Grafana provisioning files (data source for the `--url` server, dashboard
    /// provider, the dashboard) into this directory, to mount as /etc/grafana/provisioning.
    #[arg(long)]
    pub provisioning: Option<PathBuf>,
    /// The JSON file to write.
    #[arg(short = 'o', long = "output", default_value = "dashboard.json")]
    pub output: PathBuf,
}

/// Runs `dashboard`.
pub fn run(request: &Request, out: &mut dyn Write) -> Result<()> {
    request.sources.from_server()?;
    let mut options = DashboardOptions::default();
    options.title = request.title.clone();
    options.datasource_uid = request.datasource_uid.clone();
    for unit in &request.units {
        let (field, unit) = unit.split_once('=').ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!("--unit {unit:?} is not FIELD=UNIT (e.g. call=s)"),
            )
        })?;
        options.units.insert(field.to_string(), unit.to_string());
    }
    let json = match &request.tests {
        Some(measurement) => dashboard::test_runs(measurement, &options),
        None => {
            let schemas = select(request, schemas(request)?)?;
            let panels = dashboard::dashboard(&schemas, &options);
            let _ = writeln!(
                out,
                "{} panels for {}",
                panels["panels"]
                    .as_array()
                    .map_or(0, |p| p.iter().filter(|p| p["type"] != "row").count()),
                schemas
                    .iter()
                    .filter(|s| s.name != EVENTS_MEASUREMENT)
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            panels
        }
    };
    let text = serde_json::to_string_pretty(&json).expect("JSON values serialise");
    std::fs::write(&request.output, text + "\n").map_err(|e| {
        Error::new(
            ErrorKind::Io,
            format!("cannot write {}: {e}", request.output.display()),
        )
    })?;
    let _ = writeln!(out, "wrote {}", request.output.display());
    if let Some(dir) = &request.provisioning {
        if !request.sources.target.has_url() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "--provisioning writes a data source for the server: give it with --url",
            ));
        }
        let config = request.sources.target.config()?;
        let files = dashboard::provisioning(dir, &config, &options.datasource_uid, &[json])?;
        let _ = writeln!(
            out,
            "wrote {} and {} (mount {} as /etc/grafana/provisioning)",
            files.datasource.display(),
            files.provider.display(),
            dir.display()
        );
    }
    Ok(())
}

fn schemas(request: &Request) -> Result<Vec<MeasurementSchema>> {
    if request.sources.files.is_empty() {
        let reader = Reader::new(request.sources.target.config()?)?;
        let names = if request.measurements.is_empty() {
            reader.measurements()?
        } else {
            let mut names = request.measurements.clone();
            if reader
                .measurements()?
                .iter()
                .any(|m| m == EVENTS_MEASUREMENT)
            {
                names.push(EVENTS_MEASUREMENT.to_string());
            }
            names
        };
        return names.iter().map(|name| reader.schema(name)).collect();
    }
    let mut text = String::new();
    for path in &request.sources.files {
        let bytes = std::fs::read(path).map_err(|e| {
            Error::new(
                ErrorKind::Io,
                format!("cannot read {}: {e}", path.display()),
            )
        })?;
        text.push_str(&String::from_utf8_lossy(&bytes));
        text.push('\n');
    }
    Ok(dashboard::schemas_of_line_protocol(&text))
}

/// The schemas asked for (and the events); an error naming what is there when one is missing.
fn select(request: &Request, schemas: Vec<MeasurementSchema>) -> Result<Vec<MeasurementSchema>> {
    let missing: Vec<&String> = request
        .measurements
        .iter()
        .filter(|m| !schemas.iter().any(|s| &s.name == *m))
        .collect();
    if !missing.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "no measurement {} (there are: {})",
                missing
                    .iter()
                    .map(|m| format!("{m:?}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                schemas
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let selected: Vec<MeasurementSchema> = schemas
        .into_iter()
        .filter(|s| {
            request.measurements.is_empty()
                || s.name == EVENTS_MEASUREMENT
                || request.measurements.contains(&s.name)
        })
        .collect();
    if selected.iter().all(|s| s.name == EVENTS_MEASUREMENT) {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            "no measurement with points found: nothing to chart",
        ));
    }
    Ok(selected)
}
