//! `replay` and `spool`: what dead processes left in a spool directory.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use influxdb_datalogger::{
    spool_inventory, Adopt, DataLogger, DeliveryOptions, Error, ErrorKind, InfluxDBWriter, Result,
    SpoolOptions, Timestamp,
};

use crate::remote::{Progress, Target};
use crate::stats::render;

/// Delivers what dead owners left in `dir` to `target`; fails if not everything was
/// acknowledged within `timeout` seconds (what was not stays in the spool).
pub fn replay(dir: &Path, target: &Target, timeout: f64, out: &mut dyn Write) -> Result<ExitCode> {
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
    let writer = InfluxDBWriter::new(config)?.in_background(DeliveryOptions {
        flush_timeout: timeout,
        ..DeliveryOptions::default()
    });
    let logger = DataLogger::builder()
        .writer(writer)
        .spool(SpoolOptions {
            adopt: Adopt::All,
            ..SpoolOptions::new(dir)
        })
        .close_on_drop(false)
        .try_build()?;
    let replayed = logger.replay_report();
    let total = replayed.points + replayed.events;
    let progress = Progress::new(std::io::stderr().is_terminal(), total as usize);
    let deadline = Instant::now() + timeout;
    let flushed = loop {
        let awaiting: u64 = logger
            .stats()
            .writers
            .iter()
            .map(|w| w.awaiting_delivery)
            .sum();
        let delivered = total.saturating_sub(awaiting);
        progress.show(delivered as usize, delivered);
        if awaiting == 0 || Instant::now() >= deadline {
            break logger.flush_within(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    progress.clear();
    let _ = writeln!(
        out,
        "replayed {} points and {} events from {} segments of {} dead processes{}",
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
        }
    );
    flushed?;
    Ok(if replayed.damaged.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Prints what every owner in `dir` has not had acknowledged, as an aligned table.
pub fn list(dir: &Path, out: &mut dyn Write) -> Result<ExitCode> {
    let owners = spool_inventory(dir)?;
    if owners.is_empty() {
        let _ = writeln!(out, "nothing pending in {}", dir.display());
        return Ok(ExitCode::SUCCESS);
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
    Ok(ExitCode::SUCCESS)
}
