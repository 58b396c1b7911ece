//! A process killed while it logs loses nothing it logged: the next logger with the same spool
//! directory delivers every point, in order, once. The kill is the operating system's hardest
//! (SIGKILL on Unix, `TerminateProcess` on Windows): no destructor, no exit handler runs. Runs
//! wherever the crate's tests run, the Windows build under Wine included.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use influxdb_datalogger::{
    fields, tags, DataLogger, Field, FieldValue, Measurement, MemoryWriter, SpoolOptions, Tag,
    Timestamp,
};

const DIR_ENV: &str = "KILLED_TEST_SPOOL_DIR";
/// Points the child logs before it says so; it goes on logging until it is killed (or has
/// logged [`AT_MOST`], well within the spool's size, and waits to be).
const BEFORE_REPORT: i64 = 5_000;
const AT_MOST: i64 = 300_000;

fn measurement() -> Measurement {
    Measurement::builder("m")
        .field(Field::new("seq"))
        .tag(Tag::new("case"))
        .build()
        .unwrap()
}

/// Small segments, so that the kill may land while one is being filled, sealed or prepared.
fn spooled(dir: &Path, writer: MemoryWriter) -> DataLogger {
    let mut spool = SpoolOptions::new(dir);
    spool.segment_bytes = 64 << 10;
    DataLogger::builder().writer(writer).spool(spool).build()
}

/// The child: logs `seq` 0, 1, 2, … (at 1,000 + seq ns) into the spool without ever writing,
/// says after the first [`BEFORE_REPORT`] points, and goes on until it is killed.
#[test]
#[ignore = "run by a_killed_process_loses_nothing_it_logged, in a child process"]
fn child_logs_until_killed() {
    let dir = std::env::var_os(DIR_ENV).expect("the spool directory");
    let logger = spooled(Path::new(&dir), MemoryWriter::new());
    let m = measurement();
    for seq in 0..AT_MOST {
        logger
            .log_at(
                &m,
                fields!("seq" => seq),
                tags!("case" => "killed"),
                Timestamp::from_nanos(1_000 + seq),
            )
            .unwrap();
        if seq + 1 == BEFORE_REPORT {
            println!("logged {BEFORE_REPORT}");
        }
    }
    loop {
        std::thread::park();
    }
}

#[test]
fn a_killed_process_loses_nothing_it_logged() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_logs_until_killed",
            "--ignored",
            "--nocapture",
        ])
        .env(DIR_ENV, dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut said = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.starts_with("logged") {
        line.clear();
        assert_ne!(
            said.read_line(&mut line).unwrap(),
            0,
            "the child ended early"
        );
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let delivered = MemoryWriter::new();
    let next = spooled(dir.path(), delivered.clone());
    let report = next.replay_report();
    assert_eq!(report.owners, 1, "{report:?}");
    next.close().unwrap();
    let seqs: Vec<i64> = delivered
        .entries()
        .iter()
        .map(|e| match e.field("seq") {
            Some(FieldValue::Int(seq)) => *seq,
            other => panic!("{other:?}"),
        })
        .collect();
    assert!(
        seqs.len() as i64 >= BEFORE_REPORT,
        "{} of the {BEFORE_REPORT} points logged before the kill arrived",
        seqs.len()
    );
    assert!(
        seqs.iter().copied().eq(0..seqs.len() as i64),
        "every point once, in order"
    );
    assert_eq!(delivered.entries()[9].time, Timestamp::from_nanos(1_009));
    // A record the kill cut in half is set aside as damage, never delivered as a point.
    assert!(report.damaged.len() <= 1, "{:?}", report.damaged);
}
