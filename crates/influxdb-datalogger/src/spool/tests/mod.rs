//! The spool through a logger: what is written, released, replayed, spilled, refused.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use std::fs;

use super::*;
use crate::delivery::{BackgroundWriter, DeliveryOptions, RetryPolicy};
use crate::entry::Batch;
use crate::error::{Error, ErrorKind, Result};
use crate::value::Precision;
use crate::writer::{DatabaseWriter, MemoryWriter};
use crate::{fields, tags, DataLogger, Field, Measurement, Tag};

mod replay;

fn measurement() -> Measurement {
    Measurement::builder("m")
        .field(Field::new("seq"))
        .tag(Tag::new("case"))
        .build()
        .unwrap()
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The segment files in `dir` once they number `expected`, or after five seconds, whatever
/// they are then: released segments may be deleted by the thread preparing the next segment,
/// and on Windows a name lingers while another handle of the file closes.
fn segments_settling_at(dir: &Path, expected: usize) -> Vec<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let segments: Vec<String> = files_in(dir)
            .into_iter()
            .filter(|f| f.ends_with(".seg"))
            .collect();
        if segments.len() == expected || std::time::Instant::now() > deadline {
            return segments;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

fn small(dir: &Path) -> SpoolOptions {
    SpoolOptions {
        segment_bytes: 64 << 10,
        max_bytes: 64 << 20,
        ..SpoolOptions::new(dir)
    }
}

/// A writer under the name "Target" that can be told to fail, as a database that is down.
#[derive(Clone)]
struct Switchable {
    up: Arc<AtomicBool>,
    seen: MemoryWriter,
}

impl Switchable {
    fn new(up: bool) -> Self {
        Switchable {
            up: Arc::new(AtomicBool::new(up)),
            seen: MemoryWriter::new(),
        }
    }
}

impl DatabaseWriter for Switchable {
    fn write_data(&mut self, batch: &Batch) -> Result<()> {
        if !self.up.load(Ordering::SeqCst) {
            return Err(Error::new(ErrorKind::Writer, "the database is down"));
        }
        self.seen.write_data(batch)
    }
    fn name(&self) -> String {
        "Target".into()
    }
}

/// A logger spooling in `dir` for `target`.
fn spooled(dir: &Path, target: &Switchable) -> DataLogger {
    DataLogger::builder()
        .writer(target.clone())
        .spool(small(dir))
        .build()
}

/// A logger spooling in `dir`, delivering to `target` through a background writer that keeps
/// at most 16 KiB in memory once a send failed.
fn in_background(dir: &Path, target: &Switchable, continuous_write: bool) -> DataLogger {
    DataLogger::builder()
        .writer(BackgroundWriter::new(target.clone(), fast_delivery()))
        .continuous_write(continuous_write)
        .spool(SpoolOptions {
            memory_bytes: 16 << 10,
            ..small(dir)
        })
        .build()
}

fn seqs(entries: &[crate::DataEntry]) -> Vec<i64> {
    entries
        .iter()
        .map(|e| match e.field("seq") {
            Some(crate::FieldValue::Int(i)) => *i,
            other => panic!("{other:?}"),
        })
        .collect()
}

fn fast_delivery() -> DeliveryOptions {
    DeliveryOptions {
        max_points: 100,
        interval: Duration::from_millis(20),
        retry: RetryPolicy {
            initial_delay: Duration::from_millis(2),
            max_delay: Duration::from_millis(20),
            budget: Duration::from_millis(50),
            ..RetryPolicy::default()
        },
        flush_timeout: Duration::from_secs(10),
        ..DeliveryOptions::default()
    }
}

#[test]
fn delivered_points_are_released_and_a_clean_close_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let target = Switchable::new(true);
    let logger = DataLogger::builder()
        .writer(target.clone())
        .spool(small(dir.path()))
        .build();
    let m = measurement();
    for i in 0..3_000 {
        logger
            .log(&m, fields!("seq" => i), tags!("case" => "a"))
            .unwrap();
    }
    let stats = logger.stats().spool.unwrap();
    assert_eq!(stats.records, 3_000);
    assert_eq!(stats.unacknowledged, 3_000);
    assert!(
        files_in(dir.path())
            .iter()
            .filter(|f| f.ends_with(".seg"))
            .count()
            >= 2,
        "3,000 points fill more than one 64 KiB segment: {:?}",
        files_in(dir.path())
    );
    logger.write_data().unwrap();
    let stats = logger.stats().spool.unwrap();
    assert_eq!(stats.unacknowledged, 0);
    assert_eq!(
        segments_settling_at(dir.path(), 1).len(),
        1,
        "sealed, acknowledged segments are deleted; the active one stays"
    );
    drop(logger);
    assert_eq!(files_in(dir.path()), Vec::<String>::new());
    assert_eq!(seqs(&target.seen.entries()), (0..3_000).collect::<Vec<_>>());
}

#[test]
fn a_full_spool_refuses_points_and_keeps_what_it_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let m = measurement();
    let target = Switchable::new(false);
    let logger = DataLogger::builder()
        .writer(target.clone())
        .spool(SpoolOptions {
            max_bytes: 128 << 10,
            ..small(dir.path())
        })
        .build();
    let mut accepted = 0;
    let error = loop {
        match logger.log(&m, fields!("seq" => accepted), tags!("case" => "a")) {
            Ok(()) => accepted += 1,
            Err(e) => break e,
        }
        assert!(accepted < 100_000, "the cap was never reached");
    };
    assert_eq!(error.kind(), ErrorKind::SpoolFull);
    assert!(error.to_string().contains("is full"), "{error}");
    assert!(error
        .to_string()
        .contains(&dir.path().display().to_string()));
    let _ = logger.write_data();
    target.up.store(true, Ordering::SeqCst);
    logger.write_data().unwrap();
    assert_eq!(target.seen.entries().len(), accepted as usize);
    logger
        .log(&m, fields!("seq" => -1), tags!("case" => "a"))
        .unwrap();
}

#[test]
fn at_the_cap_drop_oldest_counts_what_it_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let m = measurement();
    let down = Switchable::new(false);
    let logger = DataLogger::builder()
        .writer(down)
        .spool(SpoolOptions {
            max_bytes: 128 << 10,
            on_full: OnFull::DropOldest,
            ..small(dir.path())
        })
        .build();
    for i in 0..10_000 {
        logger
            .log(&m, fields!("seq" => i), tags!("case" => "a"))
            .unwrap();
    }
    let stats = logger.stats().spool.unwrap();
    assert!(stats.dropped_points > 5_000, "{stats:?}");
    assert!(stats.bytes <= 128 << 10, "{stats:?}");
    assert_eq!(stats.records, 10_000);
}

#[test]
fn a_background_writer_keeps_bounded_memory_and_reads_the_rest_back_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let m = measurement();
    let target = Switchable::new(false);
    let logger = in_background(dir.path(), &target, true);
    logger
        .log(&m, fields!("seq" => 0), tags!("case" => "a"))
        .unwrap();
    // The first send fails: from then on, what exceeds memory_bytes waits in the spool.
    assert!(logger.flush_within(Duration::from_millis(100)).is_err());
    for i in 1..5_000 {
        logger
            .log(&m, fields!("seq" => i), tags!("case" => "a"))
            .unwrap();
    }
    let writer = logger.stats().writers[0].clone();
    assert_eq!(writer.awaiting_delivery, 5_000);
    assert!(
        writer.spilled > 4_000 && writer.spilled < 5_000,
        "16 KiB hold a few hundred points; the rest wait in the spool: {writer:?}"
    );
    target.up.store(true, Ordering::SeqCst);
    logger.flush().unwrap();
    assert_eq!(
        seqs(&target.seen.entries()),
        (0..5_000).collect::<Vec<_>>(),
        "every point once, in order"
    );
    assert_eq!(logger.stats().spool.unwrap().unacknowledged, 0);
}

#[test]
fn connection_strings_and_their_errors() {
    let o = SpoolOptions::parse(
        "/tmp/s?max_bytes=2GiB&segment_bytes=16MiB&fsync=100ms&on_full=drop-oldest&adopt=all",
    )
    .unwrap();
    assert_eq!(o.dir, Path::new("/tmp/s"));
    assert_eq!((o.max_bytes, o.segment_bytes), (2 << 30, 16 << 20));
    assert_eq!(o.fsync, Fsync::Every(Duration::from_millis(100)));
    assert_eq!((o.on_full, o.adopt), (OnFull::DropOldest, Adopt::All));
    assert_eq!(
        SpoolOptions::parse("d?fsync=batch").unwrap().fsync,
        Fsync::PerBatch
    );
    for (bad, says) in [
        ("", "names no directory"),
        ("d?max_bytes=lots", "\"lots\""),
        ("d?fsync=sometimes", "\"sometimes\""),
        ("d?on_full=panic", "\"panic\""),
        ("d?colour=blue", "\"colour\""),
        ("d?segment_bytes=1KiB", "minimum"),
        ("d?max_bytes=8MiB", "two segments"),
    ] {
        let e = SpoolOptions::parse(bad).unwrap_err();
        assert!(e.to_string().contains(says), "{bad}: {e}");
    }
}

#[test]
fn fsync_modes_still_deliver() {
    for fsync in [Fsync::PerBatch, Fsync::Every(Duration::from_millis(5))] {
        let dir = tempfile::tempdir().unwrap();
        let target = Switchable::new(true);
        let logger = DataLogger::builder()
            .writer(target.clone())
            .spool(SpoolOptions {
                fsync,
                ..small(dir.path())
            })
            .build();
        for i in 0..100 {
            logger
                .log(&measurement(), fields!("seq" => i), tags!("case" => "a"))
                .unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
        logger.close().unwrap();
        assert_eq!(target.seen.entries().len(), 100);
    }
}

#[test]
fn a_burst_to_a_healthy_database_stays_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let m = measurement();
    let target = Switchable::new(true);
    let logger = in_background(dir.path(), &target, false);
    for i in 0..2_000 {
        logger
            .log(&m, fields!("seq" => i), tags!("case" => "a"))
            .unwrap();
    }
    logger.write_data().unwrap();
    assert_eq!(
        logger.stats().writers[0].spilled,
        0,
        "~60 KB over memory_bytes, but no send failed: reading it back would only slow delivery"
    );
    logger.flush().unwrap();
    assert_eq!(target.seen.entries().len(), 2_000);
}

#[test]
fn a_write_handed_over_in_parts_is_acknowledged_and_released() {
    let dir = tempfile::tempdir().unwrap();
    let m = measurement();
    let target = Switchable::new(true);
    let logger = in_background(dir.path(), &target, false);
    for i in 0..120_001 {
        logger
            .log(&m, fields!("seq" => i), tags!("case" => "a"))
            .unwrap();
    }
    logger.flush().unwrap();
    assert_eq!(
        seqs(&target.seen.entries()),
        (0..120_001).collect::<Vec<_>>()
    );
    assert_eq!(logger.stats().spool.unwrap().unacknowledged, 0);
    assert!(
        !files_in(dir.path()).iter().any(|f| f.contains(".seg")),
        "released: {:?}",
        files_in(dir.path())
    );
}

#[test]
fn a_segment_is_released_only_when_every_writer_has_it() {
    let dir = tempfile::tempdir().unwrap();
    let m = measurement();
    let (up, down) = (Switchable::new(true), Switchable::new(false));
    let logger = DataLogger::builder()
        .writer(up.clone())
        .writer(BackgroundWriter::new(down.clone(), fast_delivery()))
        .spool(small(dir.path()))
        .build();
    for i in 0..3_000 {
        logger
            .log(&m, fields!("seq" => i), tags!("case" => "a"))
            .unwrap();
    }
    logger.write_data().unwrap();
    assert_eq!(up.seen.entries().len(), 3_000);
    assert!(logger.flush_within(Duration::from_millis(200)).is_err());
    assert_eq!(
        logger.stats().spool.unwrap().unacknowledged,
        3_000,
        "one writer has them all, the other none"
    );
    down.up.store(true, Ordering::SeqCst);
    logger.flush().unwrap();
    assert_eq!(logger.stats().spool.unwrap().unacknowledged, 0);
    assert_eq!(seqs(&down.seen.entries()), (0..3_000).collect::<Vec<_>>());
}

#[test]
fn threads_logging_at_once_spool_every_point() {
    let dir = tempfile::tempdir().unwrap();
    let m = measurement();
    let down = Switchable::new(false);
    let logger = spooled(dir.path(), &down);
    std::thread::scope(|s| {
        for t in 0..4 {
            let (logger, m) = (&logger, &m);
            s.spawn(move || {
                for i in 0..2_500 {
                    logger
                        .log(m, fields!("seq" => t * 10_000 + i), tags!("case" => "a"))
                        .unwrap();
                }
            });
        }
    });
    assert_eq!(logger.stats().spool.unwrap().records, 10_000);
    drop(logger);
    let up = Switchable::new(true);
    let replayer = spooled(dir.path(), &up);
    replayer.close().unwrap();
    let mut got = seqs(&up.seen.entries());
    got.sort_unstable();
    let mut expected: Vec<i64> = (0..4)
        .flat_map(|t| (0..2_500).map(move |i| t * 10_000 + i))
        .collect();
    expected.sort_unstable();
    assert_eq!(got, expected);
}

#[test]
fn reading_back_across_window_ends_takes_every_record_once_even_one_larger_than_a_window() {
    let dir = tempfile::tempdir().unwrap();
    let mut writer = SpoolWriter::open(
        SpoolOptions {
            segment_bytes: 8 << 20,
            max_bytes: 64 << 20,
            ..SpoolOptions::new(dir.path())
        },
        Precision::Nanoseconds,
        "t".into(),
    )
    .unwrap();
    let start = writer.mark();
    // Records of 100 KB and one of 1.5 MB: windows (max_bytes + 1 MiB) end inside them.
    let lines: Vec<Vec<u8>> = (0..40usize)
        .map(|i| {
            let size = if i == 17 { 1_500_000 } else { 100_000 };
            let mut line = format!("m s=\"{i:02}").into_bytes();
            line.resize(size, b'x');
            line.extend_from_slice(b"\" 1\n");
            line
        })
        .collect();
    for line in &lines {
        writer.append(Kind::Point, &[line]).unwrap();
    }
    let (end, _released) = writer.hand_over().unwrap();
    let mut from = start;
    let mut read = Vec::new();
    while from < end {
        let got = writer.shared().read(from, end, 1_000, 1).unwrap();
        assert!(got.next > from, "progress");
        read.extend(got.batch.lines().map(<[u8]>::to_vec));
        from = got.next;
    }
    assert_eq!(read.len(), 40);
    assert!(read == lines, "every record once, in order");
}

#[test]
fn released_segments_are_deleted_where_the_caller_lets_go_of_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut writer =
        SpoolWriter::open(small(dir.path()), Precision::Nanoseconds, "t".into()).unwrap();
    for i in 0..6_000 {
        let line = format!("m,case=a seq={i}i {}\n", 1_000 + i);
        writer.append(Kind::Point, &[line.as_bytes()]).unwrap();
    }
    let segments = || -> Vec<String> {
        files_in(dir.path())
            .into_iter()
            .filter(|f| f.ends_with(".seg"))
            .collect()
    };
    let before = segments();
    assert!(before.len() >= 3, "several 64 KiB segments: {before:?}");

    // Without writers of its own, handing over acknowledges: every sealed segment is released,
    // but deleting them (milliseconds each) is left to whoever drops what `hand_over` returned:
    // the logger does so once its lock is released.
    let (_, released) = writer.hand_over().unwrap();
    assert_eq!(
        segments(),
        before,
        "nothing deleted under the caller's lock"
    );
    drop(released);
    assert_eq!(
        segments_settling_at(dir.path(), 1),
        before[before.len() - 1..],
        "only the active one is left"
    );
}

#[test]
fn with_continuous_write_filled_segments_are_deleted_as_the_next_ones_are_prepared() {
    let dir = tempfile::tempdir().unwrap();
    let target = Switchable::new(true);
    let logger = DataLogger::builder()
        .writer(target.clone())
        .continuous_write(true)
        .spool(small(dir.path()))
        .build();
    let m = measurement();
    let segments = || {
        files_in(dir.path())
            .into_iter()
            .filter(|f| f.ends_with(".seg"))
            .count()
    };
    let mut most = 0;
    for i in 0..6_000 {
        logger
            .log(&m, fields!("seq" => i), tags!("case" => "a"))
            .unwrap();
        most = most.max(segments());
    }
    // Each filled segment was acknowledged when it was sealed; the thread preparing the next
    // one deletes it, and the rotation after joins that thread: never more than the active
    // segment and the one being deleted.
    assert!(most <= 2, "at most 2 segments at a time, saw {most}");
    let active = files_in(dir.path())
        .into_iter()
        .find(|f| f.ends_with(".seg"))
        .unwrap();
    assert!(
        !active.ends_with("-00000000.seg") && !active.ends_with("-00000001.seg"),
        "6,000 points filled several 64 KiB segments: {active}"
    );
    assert_eq!(logger.stats().spool.unwrap().unacknowledged, 0);
    drop(logger);
    assert_eq!(files_in(dir.path()), Vec::<String>::new());
    assert_eq!(seqs(&target.seen.entries()), (0..6_000).collect::<Vec<_>>());
}

#[test]
fn a_spool_directory_it_creates_keeps_itself_out_of_version_control() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("spool");
    let target = Switchable::new(true);
    let logger = spooled(&dir, &target);
    logger
        .log(&measurement(), fields!("seq" => 1), tags!("case" => "a"))
        .unwrap();
    let ignore = fs::read_to_string(dir.join(".gitignore")).unwrap();
    assert!(ignore.lines().any(|l| l == "*"), "{ignore}");
    drop(logger);
    assert_eq!(files_in(&dir), [".gitignore"]);
    // Nothing else reads it as a segment or an owner.
    assert!(crate::spool_inventory(&dir).unwrap().is_empty());
    let again = spooled(&dir, &target);
    assert_eq!(again.replay_report().segments, 0);
    assert_eq!(target.seen.entries().len(), 1);
}
