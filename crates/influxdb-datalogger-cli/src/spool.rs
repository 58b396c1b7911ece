//! `replay` and `spool`: what dead processes left in a spool directory.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use influxdb_datalogger::{
    spool_inventory, DataLogger, DeliveryOptions, Error, ErrorKind, InfluxDBWriter, ReplayReport,
    Result, SpoolOptions, Timestamp,
};

use crate::remote::{Progress, Target};
use crate::stats::render;
use crate::{Status, FAILURE, SUCCESS};

/// Delivers what dead owners left in `dir` to `target`; fails if not everything was
/// acknowledged within `timeout` seconds (what was not stays in the spool).
pub fn replay(dir: &Path, target: &Target, timeout: f64, out: &mut dyn Write) -> Result<Status> {
    let timeout = Duration::try_from_secs_f64(timeout).map_err(|_| {
        Error::new(
            ErrorKind::InvalidArgument,
            format!("--timeout must be a number of seconds >= 0, not {timeout}"),
        )
    })?;
    if !dir.is_dir() {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("{} is not a spool directory", dir.display()),
        ));
    }
    let config = target.config()?;
    // One logger per target the dead processes wrote for, its spool labelled as theirs: what
    // it cannot deliver waits in the spool for the application's next logger.
    let mut targets: Vec<String> = spool_inventory(dir)?
        .into_iter()
        .filter(|owner| !owner.alive)
        .map(|owner| owner.target)
        .collect();
    targets.sort();
    targets.dedup();
    let deadline = Instant::now() + timeout;
    let mut replayed = ReplayReport::default();
    let mut undelivered = 0;
    let mut failure: Option<Error> = None;
    for label in targets {
        let mut options = DeliveryOptions::default();
        options.flush_timeout = timeout;
        let writer = InfluxDBWriter::new(config.clone())?.in_background(options);
        let logger = DataLogger::builder()
            .writer(writer)
            .spool(SpoolOptions::new(dir))
            .spool_target(label)
            .close_on_drop(false)
            .try_build()?;
        let report = logger.replay_report();
        let total = report.points + report.events;
        let progress = Progress::new(total);
        let flushed = loop {
            let awaiting = awaiting(&logger);
            let delivered = total.saturating_sub(awaiting);
            progress.show(delivered, delivered);
            let left = deadline.saturating_duration_since(Instant::now());
            let step = left.min(Duration::from_millis(100));
            match logger.flush_within(step) {
                Ok(()) => break Ok(()),
                Err(e) if left <= step || !e.is_retriable() => break Err(e),
                Err(_) => std::thread::sleep(step.saturating_sub(Duration::from_millis(1))),
            }
        };
        progress.clear();
        if let Err(e) = flushed {
            undelivered += awaiting(&logger);
            failure.get_or_insert(e);
        }
        replayed.absorb(report);
    }
    let _ = writeln!(
        out,
        "{} {} points and {} events from {} segments of {} dead processes{}{}",
        if undelivered == 0 {
            "replayed"
        } else {
            "read back"
        },
        replayed.points,
        replayed.events,
        replayed.segments,
        replayed.owners,
        match replayed.damaged.len() {
            0 => String::new(),
            n => format!(
                "; {n} damaged parts moved to {}",
                dir.join("damaged").display()
            ),
        },
        match undelivered {
            0 => String::new(),
            n => format!("; {n} not delivered, kept in the spool for the next logger or replay"),
        }
    );
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(if replayed.damaged.is_empty() {
        SUCCESS
    } else {
        FAILURE
    })
}

/// Points and events a logger's writers hold that the server has not acknowledged.
fn awaiting(logger: &DataLogger) -> u64 {
    logger
        .stats()
        .writers
        .iter()
        .map(|w| w.awaiting_delivery)
        .sum()
}

/// Prints what every owner in `dir` has not had acknowledged, as an aligned table.
pub fn list(dir: &Path, out: &mut dyn Write) -> Result<Status> {
    let owners = spool_inventory(dir)?;
    if owners.is_empty() {
        let _ = writeln!(out, "nothing pending in {}", dir.display());
        return Ok(SUCCESS);
    }
    let now = Timestamp::now().as_nanos();
    let mut rows = vec![[
        "owner", "state", "segments", "points", "events", "bytes", "age", "target",
    ]
    .map(String::from)
    .to_vec()];
    for o in &owners {
        rows.push(vec![
            o.owner.clone(),
            match (o.alive, o.damaged) {
                (true, _) => "alive".into(),
                (false, 0) => "dead".into(),
                (false, n) => format!("dead, {n} damaged"),
            },
            o.segments.to_string(),
            o.points.to_string(),
            o.events.to_string(),
            o.bytes.to_string(),
            o.oldest.map_or_else(
                || "-".into(),
                |t| format!("{:.0}s", (now - t.as_nanos()).max(0) as f64 / 1e9),
            ),
            o.target.clone(),
        ]);
    }
    let _ = write!(out, "{}", render(&rows, |column| (2..=6).contains(&column)));
    let dead: u64 = owners.iter().filter(|o| !o.alive).map(|o| o.points).sum();
    let _ = writeln!(
        out,
        "\n{dead} points of dead processes; deliver them with: influxdb-datalogger replay {} --url URL",
        dir.display()
    );
    Ok(SUCCESS)
}
