//! Replay of what dead loggers left: order, timestamps, owners alive or of other targets,
//! damage, another precision, the inventory.

use std::fs;
use std::path::Path;

use super::super::format::{Found, Scan, HEADER_LEN, RECORD_HEADER_LEN};
use super::*;

/// The path of the first segment file in `dir`.
fn first_segment(dir: &Path) -> std::path::PathBuf {
    dir.join(
        files_in(dir)
            .into_iter()
            .find(|f| f.ends_with(".seg"))
            .unwrap(),
    )
}

/// A process whose database was down logged `seq` 0..n (at 1,000 + seq ns) and died.
fn logged_then_died(dir: &Path, n: i64) {
    let logger = spooled(dir, &Switchable::new(false));
    for i in 0..n {
        logger
            .log_at(
                &measurement(),
                fields!("seq" => i),
                tags!("case" => "a"),
                crate::Timestamp::from_nanos(1_000 + i),
            )
            .unwrap();
    }
    logger.close().unwrap_err();
}

#[test]
fn what_a_dead_logger_left_is_replayed_first_with_its_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let m = measurement();
    logged_then_died(dir.path(), 2_500);
    let down = Switchable::new(false);
    let first = spooled(dir.path(), &down);
    first
        .log_event(
            "deploy",
            crate::Timestamp::from_nanos(5),
            crate::Timestamp::from_nanos(9),
            tags!("k" => "v"),
        )
        .unwrap();
    assert!(first.write_data().is_err(), "the database is down");
    drop(first);
    let lock = files_in(dir.path())
        .into_iter()
        .find(|f| f.ends_with(".lock"))
        .unwrap();
    // A killed process may leave the segment it had prepared ahead.
    let prepared = format!("{}-00000099.seg.next", lock.trim_end_matches(".lock"));
    fs::write(dir.path().join(prepared), [0u8; 16]).unwrap();

    let up = Switchable::new(true);
    let second = spooled(dir.path(), &up);
    let report = second.replay_report();
    // One owner: the second process took over what the first left, and died with it.
    assert_eq!((report.owners, report.points, report.events), (1, 2_500, 1));
    assert!(report.damaged.is_empty());
    second
        .log(&m, fields!("seq" => 99_999), tags!("case" => "b"))
        .unwrap();
    second.close().unwrap();
    let entries = up.seen.entries();
    assert_eq!(entries.len(), 2_501);
    assert_eq!(
        seqs(&entries[..2_500]),
        (0..2_500).collect::<Vec<_>>(),
        "in order, before new points"
    );
    assert_eq!(entries[7].time, crate::Timestamp::from_nanos(1_007));
    assert_eq!(up.seen.events()[0].tags, vec![("k".into(), "v".into())]);
    drop(second);
    assert_eq!(files_in(dir.path()), Vec::<String>::new());
    assert!(down.seen.entries().is_empty());
}

#[test]
fn a_live_owner_is_not_replayed_and_another_target_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let m = measurement();
    let alive = DataLogger::builder()
        .writer(Switchable::new(false))
        .spool(small(dir.path()))
        .build();
    alive
        .log(&m, fields!("seq" => 1), tags!("case" => "a"))
        .unwrap();
    let elsewhere = MemoryWriter::new();
    let other = DataLogger::builder()
        .writer(elsewhere.clone())
        .spool(small(dir.path()))
        .build();
    assert_eq!(other.replay_report().points, 0, "its owner is alive");
    drop(alive);
    let third = DataLogger::builder()
        .writer(elsewhere.clone())
        .spool(small(dir.path()))
        .build();
    assert_eq!(third.replay_report().other_targets, 1);
    assert!(
        elsewhere.entries().is_empty(),
        "a MemoryWriter is not Target"
    );
    let all = DataLogger::builder()
        .writer(elsewhere.clone())
        .spool(SpoolOptions {
            adopt: Adopt::All,
            ..small(dir.path())
        })
        .build();
    assert_eq!(all.replay_report().points, 1);
    all.close().unwrap();
    assert_eq!(elsewhere.entries().len(), 1);
}

#[test]
fn damaged_records_are_moved_aside_and_every_intact_one_is_replayed() {
    let dir = tempfile::tempdir().unwrap();
    logged_then_died(dir.path(), 100);
    let segment = first_segment(dir.path());
    let mut bytes = fs::read(&segment).unwrap();
    let records = {
        let mut scan = Scan::new(&bytes, HEADER_LEN);
        let mut offsets = Vec::new();
        while let Found::Record(r) = scan.next_found() {
            offsets.push(r.offset);
        }
        offsets
    };
    assert_eq!(records.len(), 100);
    // Flip a byte inside record 10's payload, and cut the file inside record 99.
    bytes[records[10] + RECORD_HEADER_LEN + 3] ^= 0x20;
    bytes.truncate(records[99] + 7);
    fs::write(&segment, &bytes).unwrap();

    let up = Switchable::new(true);
    let second = spooled(dir.path(), &up);
    let report = second.replay_report();
    assert_eq!(report.points, 98);
    assert_eq!(report.damaged.len(), 2, "{:?}", report.damaged);
    assert!(report.damaged[0].reason.contains("checksum"));
    assert!(report.damaged[1].reason.contains("cut short"));
    second.close().unwrap();
    let mut expected: Vec<i64> = (0..99).collect();
    expected.remove(10);
    assert_eq!(seqs(&up.seen.entries()), expected);
    let aside = files_in(&dir.path().join("damaged"));
    assert_eq!(aside.len(), 3, "two ranges and the report: {aside:?}");
    let report_text = fs::read_to_string(dir.path().join("damaged/REPORT.txt")).unwrap();
    assert_eq!(report_text.lines().count(), 2);
}

#[test]
fn a_damaged_segment_header_loses_no_record() {
    let dir = tempfile::tempdir().unwrap();
    logged_then_died(dir.path(), 50);
    let segment = first_segment(dir.path());
    let mut bytes = fs::read(&segment).unwrap();
    bytes[8] ^= 0x04; // the format version
    fs::write(&segment, &bytes).unwrap();

    let up = Switchable::new(true);
    let second = spooled(dir.path(), &up);
    let report = second.replay_report();
    assert_eq!(report.points, 50, "every record has its own checksum");
    assert_eq!(report.damaged.len(), 1, "{:?}", report.damaged);
    assert!(
        report.damaged[0].reason.contains("read one by one"),
        "{:?}",
        report.damaged
    );
    second.close().unwrap();
    assert_eq!(seqs(&up.seen.entries()), (0..50).collect::<Vec<_>>());
}

#[test]
fn a_segment_with_another_precision_is_replayed_in_this_one() {
    let dir = tempfile::tempdir().unwrap();
    let m = measurement();
    let first = DataLogger::builder()
        .writer(Switchable::new(false))
        .precision(Precision::Nanoseconds)
        .spool(small(dir.path()))
        .build();
    first
        .log_at(
            &m,
            fields!("seq" => 1),
            tags!("case" => "a"),
            crate::Timestamp::from_nanos(1_500_000_000),
        )
        .unwrap();
    drop(first);
    let up = Switchable::new(true);
    let second = DataLogger::builder()
        .writer(up.clone())
        .precision(Precision::Milliseconds)
        .spool(small(dir.path()))
        .build();
    second.close().unwrap();
    assert_eq!(
        up.seen.entries()[0].time,
        crate::Timestamp::from_nanos(1_500_000_000)
    );
}

#[test]
fn the_inventory_lists_what_each_owner_left() {
    let dir = tempfile::tempdir().unwrap();
    let logger = spooled(dir.path(), &Switchable::new(false));
    for i in 0..10 {
        logger
            .log(&measurement(), fields!("seq" => i), tags!("case" => "a"))
            .unwrap();
    }
    let live = inventory(dir.path()).unwrap();
    assert_eq!(live.len(), 1);
    assert!(live[0].alive);
    assert_eq!((live[0].points, live[0].target.as_str()), (10, "Target"));
    drop(logger);
    let dead = inventory(dir.path()).unwrap();
    assert!(!dead[0].alive);
    assert_eq!(dead[0].points, 10);
}

#[test]
fn a_replay_can_wait_for_the_first_write() {
    let dir = tempfile::tempdir().unwrap();
    logged_then_died(dir.path(), 10);
    let up = Switchable::new(true);
    let logger = DataLogger::builder()
        .writer(up.clone())
        .spool(small(dir.path()))
        .hand_over_replay(false)
        .build();
    assert_eq!(logger.replay_report().points, 10);
    assert!(
        up.seen.entries().is_empty(),
        "nothing handed over while building"
    );
    assert_eq!(logger.stats().pending_points, 10);
    logger.write_data().unwrap();
    assert_eq!(seqs(&up.seen.entries()), (0..10).collect::<Vec<_>>());
}
