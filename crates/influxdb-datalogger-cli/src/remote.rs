//! `push` and `ping`: the command line's way to a server.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use influxdb_datalogger::line_protocol::Lines;
use influxdb_datalogger::{
    BackgroundWriter, Batch, DatabaseWriter, DeliveryOptions, InfluxConfig, InfluxDBWriter,
    Precision, Result,
};

/// Where to: a connection string or the environment, with flags on top.
#[derive(Debug, clap::Args)]
pub struct Target {
    /// Connection string, e.g. `http://user:pass@127.0.0.1:8086?db=tests` (see the README);
    /// without it, the environment variables of InfluxDB's clients (INFLUX_HOST, …).
    #[arg(long)]
    url: Option<String>,
    /// v1 and v3: the database.
    #[arg(long)]
    database: Option<String>,
    /// v2: the bucket.
    #[arg(long)]
    bucket: Option<String>,
    /// v2: the organisation.
    #[arg(long)]
    org: Option<String>,
    /// The write API: v1, v2 or v3 (default: from what is given).
    #[arg(long)]
    api: Option<String>,
    /// v1: the user name (the password comes from the connection string or INFLUX_PASSWORD).
    #[arg(long)]
    username: Option<String>,
}

impl Target {
    /// Whether a connection string was given on the command line.
    pub fn has_url(&self) -> bool {
        self.url.is_some()
    }

    /// The configuration: the connection string (or the environment), then the flags.
    pub fn config(&self) -> Result<InfluxConfig> {
        let mut config = match &self.url {
            Some(url) => InfluxConfig::parse_conn_str(url)?,
            None => {
                InfluxConfig::read_vars(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))?
            }
        };
        for (key, value) in [
            ("database", &self.database),
            ("bucket", &self.bucket),
            ("org", &self.org),
            ("api", &self.api),
            ("username", &self.username),
        ] {
            if let Some(value) = value {
                config.set(key, value)?;
            }
        }
        config.validate()?;
        Ok(config)
    }
}

/// Where points are read from: line protocol files, or a server.
#[derive(Debug, clap::Args)]
pub struct Sources {
    /// Line protocol files to read (or give `--url` to read from a server).
    pub files: Vec<std::path::PathBuf>,
    #[command(flatten)]
    pub target: Target,
}

impl Sources {
    /// Whether to read from the server (no files given).
    ///
    /// # Errors
    /// Both files and `--url` were given.
    pub fn from_server(&self) -> Result<bool> {
        if !self.files.is_empty() && self.target.has_url() {
            return Err(influxdb_datalogger::Error::new(
                influxdb_datalogger::ErrorKind::InvalidArgument,
                "give line protocol files or --url, not both",
            ));
        }
        Ok(self.files.is_empty())
    }
}

/// Checks a server and its credentials.
pub fn ping(target: &Target, out: &mut dyn Write) -> Result<()> {
    let config = target.config()?;
    let writer = InfluxDBWriter::new(config.clone())?;
    let started = Instant::now();
    let version = writer.ping()?;
    let _ = writeln!(
        out,
        "ok: {} answered in {:.1} ms{}",
        config.describe(),
        started.elapsed().as_secs_f64() * 1e3,
        version
            .map(|v| format!(" (version {v})"))
            .unwrap_or_default()
    );
    Ok(())
}

/// What a push did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PushReport {
    /// Lines sent and acknowledged.
    pub delivered: u64,
    /// Malformed lines skipped.
    pub skipped: u64,
    /// Lines the server refused, now in the dead-letter file.
    pub dead_lettered: u64,
}

/// Sends a line protocol file, in batches, with a progress bar on a terminal.
pub fn push(
    path: &Path,
    target: &Target,
    precision: Precision,
    batch_size: usize,
    timeout: Duration,
    err: &mut dyn Write,
) -> Result<PushReport> {
    let bytes = std::fs::read(path).map_err(|e| {
        influxdb_datalogger::Error::new(
            influxdb_datalogger::ErrorKind::Io,
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    let text = String::from_utf8_lossy(&bytes);
    let config = target.config()?;
    let mut options = DeliveryOptions::default();
    options.max_points = batch_size.max(1);
    options.flush_timeout = timeout;
    let mut writer = InfluxDBWriter::new(config)?.in_background(options);
    let total = bytes.len() as u64;
    let progress = Progress::new(total);
    let mut report = PushReport::default();
    let mut lines = Lines::new(&text);
    let mut chunk: Vec<&[u8]> = Vec::with_capacity(batch_size);
    while let Some(item) = lines.next() {
        match item {
            Ok(_) => chunk.push(text[lines.span()].as_bytes()),
            Err(e) => {
                report.skipped += 1;
                progress.suspend(|| crate::report_skipped_line(err, path, &e));
            }
        }
        if chunk.len() >= batch_size {
            writer.write_data(&Batch::from_lines(chunk.drain(..), precision)?)?;
            progress.show(lines.span().end as u64, writer.stats().delivered);
        }
    }
    writer.write_data(&Batch::from_lines(chunk.drain(..), precision)?)?;
    let flushed = wait_delivered(&writer, timeout, &progress, total, err);
    let stats = writer.stats();
    progress.show(total, stats.delivered);
    progress.clear();
    report.delivered = stats.delivered;
    report.dead_lettered = DatabaseWriter::dead_lettered(&writer);
    flushed.map(|()| report)
}

/// Waits until `writer` delivered everything, at most `timeout`, saying on `err` why it is
/// retrying whenever the reason changes; stops early once a send failed for good.
fn wait_delivered(
    writer: &BackgroundWriter,
    timeout: Duration,
    progress: &Progress,
    total: u64,
    err: &mut dyn Write,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    let mut said: Option<String> = None;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let step = left.min(Duration::from_millis(500));
        let started = Instant::now();
        let error = match writer.flush_within(step) {
            Ok(()) => return Ok(()),
            Err(e) if left <= step || !e.is_retriable() => return Err(e),
            Err(e) => e,
        };
        let stats = writer.stats();
        progress.show(total, stats.delivered);
        let reason = stats.last_error.unwrap_or_else(|| format!("{error:#}"));
        if said.as_deref() != Some(reason.as_str()) {
            progress
                .suspend(|| {
                    writeln!(
                        err,
                        "retrying (up to {} more): {reason}",
                        influxdb_datalogger::human_duration(left)
                    )
                })
                .ok();
            said = Some(reason);
        }
        // An unreachable server ends the wait at once: pace the loop.
        std::thread::sleep(step.saturating_sub(started.elapsed()));
    }
}

/// A one-line progress bar on stderr, drawn only on a terminal (indicatif hides it otherwise
/// and limits how often it is redrawn).
pub(crate) struct Progress {
    bar: indicatif::ProgressBar,
    started: Instant,
}

impl Progress {
    /// A bar for `total` units of work (bytes read, points replayed).
    pub(crate) fn new(total: u64) -> Self {
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(total.max(1)),
            indicatif::ProgressDrawTarget::stderr(),
        );
        let style = indicatif::ProgressStyle::with_template("[{bar:30}] {percent:>3}%  {msg}")
            .expect("a valid template")
            .progress_chars("#> ");
        bar.set_style(style);
        Progress {
            bar,
            started: Instant::now(),
        }
    }

    /// `done` units of work done, and `delivered` lines delivered so far.
    pub(crate) fn show(&self, done: u64, delivered: u64) {
        let rate = delivered as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
        self.bar.set_position(done);
        self.bar
            .set_message(format!("{delivered} lines delivered  {rate:.0} lines/s"));
    }

    /// Runs `say` (which writes a message) with the bar off the screen.
    pub(crate) fn suspend<R>(&self, say: impl FnOnce() -> R) -> R {
        self.bar.suspend(say)
    }

    /// Takes the bar off the screen for good.
    pub(crate) fn clear(&self) {
        self.bar.finish_and_clear();
    }
}
