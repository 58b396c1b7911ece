//! Behaviour of the DataLogger: logging, validation, post-processing, writers that fail,
//! continuous write, timing, events and threads.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use influxdb_datalogger::{
    fields, tags, Batch, DataLogger, DatabaseWriter, Error, ErrorKind, Field, FieldValue,
    JsonLinesFileWriter, LineProtocolFileWriter, Measurement, MemoryWriter, Precision, Result, Tag,
    Timestamp,
};

fn time_taken() -> Measurement {
    Measurement::builder("time-taken")
        .field(Field::new("duration"))
        .tag(Tag::new("identifier"))
        .optional_tag(Tag::new("outcome"))
        .build()
        .unwrap()
}

fn throughput() -> Measurement {
    Measurement::builder("throughput")
        .field(Field::new("mbps"))
        .field(Field::new("samples").with_default(1))
        .tag(Tag::new("link"))
        .build()
        .unwrap()
}

fn logger_with_memory() -> (DataLogger, MemoryWriter) {
    let memory = MemoryWriter::new();
    (DataLogger::builder().writer(memory.clone()).build(), memory)
}

fn continuous_logger_with_memory() -> (DataLogger, MemoryWriter) {
    let memory = MemoryWriter::new();
    let logger = DataLogger::builder()
        .writer(memory.clone())
        .continuous_write(true)
        .build();
    (logger, memory)
}

/// Fails the first `failures` writes, then records like a MemoryWriter.
#[derive(Clone)]
struct FlakyWriter {
    failures_left: Arc<AtomicUsize>,
    seen: MemoryWriter,
}

impl FlakyWriter {
    fn failing(times: usize) -> Self {
        FlakyWriter {
            failures_left: Arc::new(AtomicUsize::new(times)),
            seen: MemoryWriter::new(),
        }
    }
}

impl DatabaseWriter for FlakyWriter {
    fn write_data(&mut self, batch: &Batch) -> Result<()> {
        if self.failures_left.load(Ordering::SeqCst) > 0 {
            self.failures_left.fetch_sub(1, Ordering::SeqCst);
            return Err(Error::new(ErrorKind::Writer, "database unavailable"));
        }
        self.seen.write_data(batch)
    }
}

fn durations(entries: &[influxdb_datalogger::DataEntry]) -> Vec<f64> {
    entries
        .iter()
        .map(|e| e.field("duration").and_then(FieldValue::as_f64).unwrap())
        .collect()
}

#[test]
fn dataset_is_grouped_by_measurement_in_order_of_first_appearance() {
    let (logger, _) = logger_with_memory();
    let (tt, tp) = (time_taken(), throughput());
    logger
        .log(&tt, fields!("duration" => 1.0), tags!("identifier" => "a"))
        .unwrap();
    logger
        .log(&tp, fields!("mbps" => 10.0), tags!("link" => "x"))
        .unwrap();
    logger
        .log(&tt, fields!("duration" => 2.0), tags!("identifier" => "b"))
        .unwrap();
    let dataset = logger.dataset();
    let order: Vec<_> = dataset
        .iter()
        .map(|e| {
            (
                e.measurement.as_str(),
                e.field("duration").or(e.field("mbps")).cloned(),
            )
        })
        .collect();
    assert_eq!(
        order,
        vec![
            ("time-taken", Some(FieldValue::Float(1.0))),
            ("time-taken", Some(FieldValue::Float(2.0))),
            ("throughput", Some(FieldValue::Float(10.0))),
        ]
    );
    assert_eq!(
        dataset[2].field("samples"),
        Some(&FieldValue::Int(1)),
        "default filled in"
    );
    assert_eq!(logger.last_data_entry().unwrap().measurement, "throughput");
}

#[test]
fn refused_log_calls_store_nothing_and_keep_earlier_points() {
    let (logger, memory) = logger_with_memory();
    let tt = time_taken();
    logger
        .log(
            &tt,
            fields!("duration" => 1.0),
            tags!("identifier" => "kept"),
        )
        .unwrap();

    let unknown = logger
        .log(&tt, fields!("duraton" => 2.0), tags!("identifier" => "x"))
        .unwrap_err();
    assert_eq!(unknown.kind(), ErrorKind::UnknownField);
    assert!(unknown.message().contains("\"duraton\""));
    let bad_value = logger
        .log(
            &tt,
            fields!("duration" => f64::NAN),
            tags!("identifier" => "x"),
        )
        .unwrap_err();
    assert_eq!(bad_value.kind(), ErrorKind::InvalidValue);
    let bad_tag = logger
        .log(
            &tt,
            fields!("duration" => 1.0),
            tags!("identifier" => "a\nb"),
        )
        .unwrap_err();
    assert!(bad_tag.message().contains(r#""a\nb""#), "{bad_tag}");

    assert_eq!(logger.dataset().len(), 1);
    let stats = logger.stats();
    assert_eq!((stats.points_logged, stats.log_errors), (1, 3));
    assert!(stats.last_error.unwrap().contains("a\\nb"));
    logger.write_data().unwrap();
    assert_eq!(memory.entries()[0].tag("identifier"), Some("kept"));
}

#[test]
fn an_incomplete_point_is_refused_at_log_and_blocks_nothing_else() {
    let (logger, memory) = logger_with_memory();
    let tt = time_taken();
    logger
        .log(
            &tt,
            fields!("duration" => 1.0),
            tags!("identifier" => "complete"),
        )
        .unwrap();
    let err = logger
        .log(&tt, fields!(), tags!("identifier" => "no-duration"))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::IncompletePoint);
    assert_eq!(
        err.message(),
        "measurement \"time-taken\": field \"duration\" has no value; the point was not logged"
    );
    let err = logger
        .log(&tt, fields!("duration" => 3.0), tags!())
        .unwrap_err();
    assert!(err.message().contains("tag \"identifier\""), "{err}");
    logger
        .log(
            &tt,
            fields!("duration" => 2.0),
            tags!("identifier" => "later"),
        )
        .unwrap();

    let stats = logger.stats();
    assert_eq!((stats.points_logged, stats.log_errors), (2, 2));
    assert_eq!(logger.dataset().len(), 2, "only complete points are kept");
    logger.write_data().unwrap();
    let written: Vec<_> = memory
        .entries()
        .iter()
        .map(|e| e.tag("identifier").unwrap().to_string())
        .collect();
    assert_eq!(written, ["complete", "later"]);
}

#[test]
fn an_incomplete_point_with_continuous_write_does_not_stop_later_ones() {
    let (logger, memory) = continuous_logger_with_memory();
    let tt = time_taken();
    for i in 0..3 {
        let id = i.to_string();
        logger
            .log(&tt, fields!(), tags!("identifier" => id.as_str()))
            .unwrap_err();
        logger
            .log(
                &tt,
                fields!("duration" => 1.0),
                tags!("identifier" => id.as_str()),
            )
            .unwrap();
    }
    assert_eq!(memory.entries().len(), 3);
}

#[test]
fn explicit_no_value_overrides_a_default_and_is_refused() {
    let (logger, _) = logger_with_memory();
    let tp = throughput();
    let err = logger
        .log(
            &tp,
            &[("mbps", Some(FieldValue::Float(1.0))), ("samples", None)],
            tags!("link" => "l"),
        )
        .unwrap_err();
    assert!(err.message().contains("field \"samples\""), "{err}");
    logger.write_data().unwrap();
}

#[test]
fn optional_tags_may_stay_empty() {
    let (logger, memory) = logger_with_memory();
    logger
        .log(
            &time_taken(),
            fields!("duration" => 1.0),
            tags!("identifier" => "a"),
        )
        .unwrap();
    logger.write_data().unwrap();
    assert_eq!(memory.entries()[0].tag("outcome"), None);
}

#[test]
fn write_data_purges_so_the_next_write_has_no_duplicates() {
    let (logger, memory) = logger_with_memory();
    let tt = time_taken();
    logger
        .log(&tt, fields!("duration" => 1.0), tags!("identifier" => "a"))
        .unwrap();
    logger.write_data().unwrap();
    assert!(logger.dataset().is_empty());
    logger.write_data().unwrap();
    logger
        .log(&tt, fields!("duration" => 2.0), tags!("identifier" => "b"))
        .unwrap();
    logger.write_data().unwrap();
    assert_eq!(durations(&memory.entries()), vec![1.0, 2.0]);
    assert_eq!(memory.batch_count(), 2, "an empty write calls no writer");
}

#[test]
fn a_failing_writer_gets_its_data_again_and_the_others_no_duplicates() {
    let good = MemoryWriter::new();
    let flaky = FlakyWriter::failing(1);
    let logger = DataLogger::builder()
        .writer(good.clone())
        .writer(flaky.clone())
        .build();
    let tt = time_taken();

    logger
        .log(
            &tt,
            fields!("duration" => 1.0),
            tags!("identifier" => "first"),
        )
        .unwrap();
    let err = logger.write_data().unwrap_err();
    assert!(
        err.message()
            .contains("FlakyWriter failed; its 1 points are kept"),
        "{err}"
    );
    assert!(err.message().contains("database unavailable"));
    assert!(err.is_retriable());
    let stats = logger.stats();
    assert_eq!(stats.writers[1].backlog_points, 1);
    assert_eq!(stats.writers[1].failures, 1);

    logger
        .log(
            &tt,
            fields!("duration" => 2.0),
            tags!("identifier" => "second"),
        )
        .unwrap();
    logger.write_data().unwrap();

    assert_eq!(durations(&good.entries()), vec![1.0, 2.0]);
    assert_eq!(durations(&flaky.seen.entries()), vec![1.0, 2.0]);
    assert_eq!(
        flaky.seen.batch_count(),
        1,
        "the backlog and the new data arrive together"
    );
    let stats = logger.stats();
    assert_eq!(stats.writers[1].backlog_points, 0);
    assert_eq!(stats.writers[1].points_written, 2);
}

#[test]
fn post_processors_see_their_measurements_and_may_log_derived_points() {
    let (logger, memory) = logger_with_memory();
    let tt = time_taken();
    let average = Measurement::builder("average")
        .field(Field::new("duration"))
        .build()
        .unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    {
        let (average, seen) = (average.clone(), Arc::clone(&seen));
        logger.add_post_processing(&[&tt], move |logger, entries| {
            let values = durations(entries.get("time-taken"));
            seen.lock().unwrap().push(
                entries
                    .iter()
                    .map(|(m, e)| (m.to_string(), e.len()))
                    .collect::<Vec<_>>(),
            );
            let mean = values.iter().sum::<f64>() / values.len() as f64;
            logger.log(&average, fields!("duration" => mean), tags!())
        });
    }
    logger
        .log(&tt, fields!("duration" => 1.0), tags!("identifier" => "a"))
        .unwrap();
    logger
        .log(&tt, fields!("duration" => 3.0), tags!("identifier" => "b"))
        .unwrap();
    logger
        .log(&throughput(), fields!("mbps" => 9.0), tags!("link" => "l"))
        .unwrap();
    logger.write_data().unwrap();

    assert_eq!(
        *seen.lock().unwrap(),
        vec![vec![("time-taken".to_string(), 2)]]
    );
    let written = memory.entries();
    let avg = written.iter().find(|e| e.measurement == "average").unwrap();
    assert_eq!(avg.field("duration"), Some(&FieldValue::Float(2.0)));
    assert_eq!(written.len(), 4);
    assert!(logger.dataset().is_empty());
}

#[test]
fn a_post_processor_that_logs_an_incomplete_point_fails_the_write_and_keeps_the_data() {
    let (logger, memory) = logger_with_memory();
    let tt = time_taken();
    let tt2 = tt.clone();
    logger.add_post_processing(&[&tt], move |logger, _| {
        logger.log(&tt2, fields!(), tags!("identifier" => "derived"))
    });
    logger
        .log(&tt, fields!("duration" => 1.0), tags!("identifier" => "a"))
        .unwrap();
    let err = logger.write_data().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::IncompletePoint);
    assert_eq!(memory.batch_count(), 0);
    assert_eq!(logger.dataset().len(), 1, "the original point is kept");
    assert!(err.message().contains("post-processing failed"), "{err}");
}

#[test]
fn a_failing_post_processor_writes_nothing() {
    let (logger, memory) = logger_with_memory();
    let tt = time_taken();
    logger.add_post_processing(&[&tt], |_, _| {
        Err(Error::new(ErrorKind::InvalidArgument, "no baseline"))
    });
    logger
        .log(&tt, fields!("duration" => 1.0), tags!("identifier" => "a"))
        .unwrap();
    let err = logger.write_data().unwrap_err();
    assert_eq!(err.message(), "post-processing failed: no baseline");
    assert_eq!(memory.batch_count(), 0);
    assert_eq!(logger.dataset().len(), 1);
}

#[test]
fn continuous_write_delivers_every_point_without_write_data() {
    let (logger, memory) = continuous_logger_with_memory();
    let tt = time_taken();
    for i in 0..5 {
        logger
            .log(
                &tt,
                fields!("duration" => f64::from(i)),
                tags!("identifier" => "c"),
            )
            .unwrap();
        assert_eq!(memory.entries().len(), i as usize + 1);
    }
    assert!(logger.dataset().is_empty());
}

#[test]
fn continuous_write_with_a_logging_post_processor_does_not_deadlock() {
    let (logger, memory) = continuous_logger_with_memory();
    let tt = time_taken();
    let sum = Measurement::builder("sum")
        .field(Field::new("total"))
        .build()
        .unwrap();
    logger.add_post_processing(&[&tt], move |logger, entries| {
        logger.log(
            &sum,
            fields!("total" => durations(entries.get("time-taken")).iter().sum::<f64>()),
            tags!(),
        )
    });
    logger
        .log(&tt, fields!("duration" => 2.0), tags!("identifier" => "c"))
        .unwrap();
    let written: Vec<_> = memory
        .entries()
        .into_iter()
        .map(|e| e.measurement)
        .collect();
    assert_eq!(written, vec!["time-taken", "sum"]);
}

#[test]
fn measure_returns_the_value_and_logs_a_monotonic_duration() {
    let (logger, memory) = logger_with_memory();
    let tt = time_taken();
    let value = logger
        .measure(&tt, "duration", tags!("identifier" => "sleep"), || {
            std::thread::sleep(Duration::from_millis(20));
            "done"
        })
        .unwrap();
    assert_eq!(value, "done");
    logger.write_data().unwrap();
    let d = durations(&memory.entries())[0];
    assert!((0.02..5.0).contains(&d), "duration {d}");
}

#[test]
fn measure_checks_its_arguments_before_running_the_code() {
    let (logger, _) = logger_with_memory();
    let tt = time_taken();
    let ran = AtomicUsize::new(0);
    let run = || {
        ran.fetch_add(1, Ordering::SeqCst);
    };
    assert_eq!(
        logger
            .measure(&tt, "nope", tags!(), run)
            .unwrap_err()
            .kind(),
        ErrorKind::UnknownField
    );
    assert_eq!(
        logger
            .measure(&tt, "duration", tags!("nope" => "x"), run)
            .unwrap_err()
            .kind(),
        ErrorKind::UnknownTag
    );
    let err = logger
        .timer(&tt, "duration")
        .outcome_tag("result")
        .run(run)
        .unwrap_err();
    assert_eq!(
        err.message(),
        "measurement \"time-taken\" has no tag \"result\" to carry the outcome"
    );
    let err = logger
        .timer(&tt, "duration")
        .event(tags!("k" => "bad\\"))
        .run(run)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidValue);
    assert_eq!(ran.load(Ordering::SeqCst), 0);
}

#[test]
fn failures_and_panics_are_logged_with_their_outcome() {
    let (logger, memory) = logger_with_memory();
    let tt = time_taken();
    let result: std::result::Result<(), Box<dyn std::error::Error>> = logger
        .timer(&tt, "duration")
        .tags(tags!("identifier" => "err"))
        .outcome_tag("outcome")
        .try_run(|| Err("bad".into()));
    assert_eq!(result.unwrap_err().to_string(), "bad");
    logger
        .timer(&tt, "duration")
        .tags(tags!("identifier" => "ok"))
        .outcome_tag("outcome")
        .run(|| ())
        .unwrap();
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        logger
            .timer(&tt, "duration")
            .tags(tags!("identifier" => "boom"))
            .outcome_tag("outcome")
            .run(|| panic!("boom"))
    }));
    assert!(panicked.is_err(), "the panic propagates");
    {
        let mut guard = logger
            .timer(&tt, "duration")
            .tags(tags!("identifier" => "block"))
            .outcome_tag("outcome")
            .start()
            .unwrap();
        guard.fail();
    }
    // An early `?` return drops the guard unfinished: not known to have succeeded.
    let step = || -> std::result::Result<(), std::num::ParseIntError> {
        let _guard = logger
            .timer(&tt, "duration")
            .tags(tags!("identifier" => "early return"))
            .outcome_tag("outcome")
            .start()
            .unwrap();
        "x".parse::<i32>()?;
        Ok(())
    };
    assert!(step().is_err());
    let finished = logger
        .timer(&tt, "duration")
        .tags(tags!("identifier" => "finished"))
        .outcome_tag("outcome")
        .start()
        .unwrap();
    finished.finish_with(&Ok::<(), ()>(())).unwrap();
    logger.write_data().unwrap();
    let outcomes: Vec<_> = memory
        .entries()
        .iter()
        .map(|e| {
            (
                e.tag("identifier").unwrap().to_string(),
                e.tag("outcome").unwrap().to_string(),
            )
        })
        .collect();
    let expected = [
        ("err", "error"),
        ("ok", "ok"),
        ("boom", "panic"),
        ("block", "error"),
        ("early return", "error"),
        ("finished", "ok"),
    ];
    assert_eq!(
        outcomes,
        expected.map(|(a, b)| (a.to_string(), b.to_string()))
    );
}

#[test]
fn measure_block_logs_when_the_guard_drops_and_records_events() {
    let (logger, memory) = logger_with_memory();
    let tt = time_taken();
    {
        let _block = logger
            .timer(&tt, "duration")
            .tags(tags!("identifier" => "first"))
            .event(tags!("hostname" => "h"))
            .start()
            .unwrap();
        std::thread::sleep(Duration::from_millis(5));
    }
    let finished = logger
        .measure_block(&tt, "duration", tags!("identifier" => "second"))
        .unwrap()
        .finish()
        .unwrap();
    assert!(finished < Duration::from_secs(5));
    assert_eq!(logger.events().len(), 1);
    let event = logger.last_event().unwrap();
    assert_eq!(event.measurement, "time-taken");
    assert_eq!(event.tags, vec![("hostname".to_string(), "h".to_string())]);
    assert!(event.duration() >= Duration::from_millis(5));
    logger.write_data().unwrap();
    assert_eq!(memory.entries().len(), 2);
    assert_eq!(memory.events().len(), 1);
    assert!(
        logger.events().is_empty(),
        "events are purged with the points"
    );
}

#[test]
fn log_event_refuses_an_event_that_ends_before_it_starts() {
    let (logger, _) = logger_with_memory();
    let err = logger
        .log_event(
            "deploy",
            Timestamp::from_nanos(10),
            Timestamp::from_nanos(5),
            tags!(),
        )
        .unwrap_err();
    assert!(
        err.message()
            .contains("stops (5 ns) before it starts (10 ns)"),
        "{err}"
    );
    assert!(logger.events().is_empty());
}

#[test]
fn timestamps_are_wall_clock_at_logging_or_as_given_in_the_chosen_precision() {
    let memory = MemoryWriter::new();
    let logger = DataLogger::builder()
        .writer(memory.clone())
        .precision(Precision::Milliseconds)
        .build();
    let tt = time_taken();
    let before = Timestamp::now();
    logger
        .log(
            &tt,
            fields!("duration" => 1.0),
            tags!("identifier" => "now"),
        )
        .unwrap();
    let after = Timestamp::now();
    logger
        .log_at(
            &tt,
            fields!("duration" => 1.0),
            tags!("identifier" => "past"),
            Timestamp::from_nanos(-1_234_567_890),
        )
        .unwrap();
    logger.write_data().unwrap();
    let entries = memory.entries();
    let ms = |t: Timestamp| t.in_precision(Precision::Milliseconds) * 1_000_000;
    assert!((ms(before)..=ms(after)).contains(&entries[0].time.as_nanos()));
    assert_eq!(entries[1].time.as_nanos(), -1_235_000_000);
    assert!(String::from_utf8(memory.line_protocol())
        .unwrap()
        .ends_with(" -1235\n"));
}

#[test]
fn eight_threads_logging_at_once_lose_and_duplicate_nothing() {
    let (logger, memory) = logger_with_memory();
    let m = Measurement::builder("parallel")
        .field(Field::new("seq"))
        .tag(Tag::new("thread"))
        .build()
        .unwrap();
    const PER_THREAD: i64 = 5_000;
    std::thread::scope(|s| {
        for t in 0..8 {
            let (logger, m) = (&logger, &m);
            s.spawn(move || {
                let thread = t.to_string();
                for i in 0..PER_THREAD {
                    logger
                        .log(m, fields!("seq" => i), tags!("thread" => thread))
                        .unwrap();
                    if i % 1000 == 0 {
                        logger.write_data().unwrap();
                    }
                }
            });
        }
    });
    logger.write_data().unwrap();
    let mut seen: Vec<(String, i64)> = memory
        .entries()
        .into_iter()
        .map(|e| {
            (
                e.tag("thread").unwrap().to_string(),
                match e.field("seq") {
                    Some(FieldValue::Int(i)) => *i,
                    other => panic!("{other:?}"),
                },
            )
        })
        .collect();
    seen.sort();
    let expected: Vec<(String, i64)> = (0..8)
        .flat_map(|t| (0..PER_THREAD).map(move |i| (t.to_string(), i)))
        .collect();
    let mut expected = expected;
    expected.sort();
    assert_eq!(seen, expected);
}

#[test]
fn dropping_the_logger_writes_what_is_pending_unless_told_not_to() {
    let dir = tempfile::tempdir().unwrap();
    let kept = dir.path().join("kept.lp");
    let skipped = dir.path().join("skipped.lp");
    let tt = time_taken();
    {
        let logger = DataLogger::builder()
            .writer(LineProtocolFileWriter::new(&kept))
            .build();
        logger
            .log(&tt, fields!("duration" => 1.0), tags!("identifier" => "a"))
            .unwrap();
    }
    {
        let logger = DataLogger::builder()
            .writer(LineProtocolFileWriter::new(&skipped))
            .close_on_drop(false)
            .build();
        logger
            .log(&tt, fields!("duration" => 1.0), tags!("identifier" => "a"))
            .unwrap();
    }
    assert!(std::fs::read_to_string(&kept)
        .unwrap()
        .starts_with("time-taken,identifier=a duration=1.0 "));
    assert!(!skipped.exists());
}

#[test]
fn line_protocol_file_writer_appends_points_and_events() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/dir/points.lp");
    let logger = DataLogger::builder()
        .writer(LineProtocolFileWriter::new(&path))
        .build();
    let tt = time_taken();
    logger
        .log_at(
            &tt,
            fields!("duration" => 1.5),
            tags!("identifier" => "a b"),
            Timestamp::from_nanos(10),
        )
        .unwrap();
    logger
        .log_event(
            "time-taken",
            Timestamp::from_nanos(1_000_000),
            Timestamp::from_nanos(3_000_000),
            tags!("host" => "h"),
        )
        .unwrap();
    logger.write_data().unwrap();
    logger
        .log_at(
            &tt,
            fields!("duration" => 2.0),
            tags!("identifier" => "c"),
            Timestamp::from_nanos(20),
        )
        .unwrap();
    logger.close().unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "time-taken,identifier=a\\ b duration=1.5 10\n\
         events,host=h text=\"time-taken\",duration=0.002,time_end=3i 1000000\n\
         time-taken,identifier=c duration=2.0 20\n"
    );
}

#[test]
fn json_lines_writer_writes_one_object_per_point_and_event() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("points.jsonl");
    let logger = DataLogger::builder()
        .writer(JsonLinesFileWriter::new(&path))
        .build();
    let m = Measurement::builder("m")
        .fields([
            Field::new("f"),
            Field::new("i"),
            Field::new("u"),
            Field::new("b"),
            Field::new("s"),
        ])
        .tag(Tag::new("t"))
        .build()
        .unwrap();
    logger
        .log_at(
            &m,
            fields!("f" => 0.5, "i" => -1, "u" => u64::MAX, "b" => true, "s" => "q\"\n"),
            tags!("t" => "v"),
            Timestamp::from_nanos(5),
        )
        .unwrap();
    logger
        .log_event(
            "m",
            Timestamp::from_nanos(1),
            Timestamp::from_nanos(2),
            tags!("k" => "v"),
        )
        .unwrap();
    logger.close().unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "{\"measurement\":\"m\",\"tags\":{\"t\":\"v\"},\"fields\":{\"f\":0.5,\"i\":-1,\"u\":18446744073709551615,\"b\":true,\"s\":\"q\\\"\\n\"},\"time\":5}\n\
         {\"event\":\"m\",\"start\":1,\"stop\":2,\"tags\":{\"k\":\"v\"}}\n"
    );
}

#[test]
fn an_unwritable_file_is_an_io_error_and_the_data_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, "").unwrap();
    let logger = DataLogger::builder()
        .writer(LineProtocolFileWriter::new(blocker.join("x.lp")))
        .close_on_drop(false)
        .build();
    logger
        .log(
            &time_taken(),
            fields!("duration" => 1.0),
            tags!("identifier" => "a"),
        )
        .unwrap();
    let err = logger.write_data().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
    assert!(err.message().contains("not-a-dir"), "{err}");
    assert_eq!(logger.stats().writers[0].backlog_points, 1);
}

#[test]
fn a_timer_logs_extra_fields_with_the_duration_and_checks_them_first() {
    let (logger, memory) = logger_with_memory();
    let m = Measurement::builder("copy")
        .field(Field::new("duration"))
        .field(Field::new("bytes"))
        .build()
        .unwrap();
    logger
        .timer(&m, "duration")
        .fields(fields!("bytes" => 4096))
        .run(|| ())
        .unwrap();
    let err = logger
        .timer(&m, "duration")
        .fields(fields!("bytes" => f64::NAN))
        .run(|| ())
        .unwrap_err();
    assert!(err.message().contains("field \"bytes\""), "{err}");
    let err = logger
        .timer(&m, "duration")
        .fields(fields!("bits" => 1))
        .run(|| ())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnknownField);
    logger.write_data().unwrap();
    let entries = memory.entries();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].field("bytes"), Some(&FieldValue::Int(4096)));
    assert!(entries[0].field("duration").is_some());
}

#[test]
fn a_tag_function_that_logs_does_not_deadlock() {
    let memory = MemoryWriter::new();
    let logger = Arc::new(DataLogger::builder().writer(memory.clone()).build());
    let inner = Measurement::builder("inner")
        .field(Field::new("f"))
        .build()
        .unwrap();
    let weak = Arc::downgrade(&logger);
    let outer = Measurement::builder("outer")
        .field(Field::new("f"))
        .tag(Tag::new("host").with_func(move || {
            if let Some(logger) = weak.upgrade() {
                logger.log(&inner, fields!("f" => 1), tags!()).unwrap();
            }
            "h"
        }))
        .build()
        .unwrap();
    logger.log(&outer, fields!("f" => 2), tags!()).unwrap();
    logger.write_data().unwrap();
    let mut names: Vec<_> = memory
        .entries()
        .into_iter()
        .map(|e| e.measurement)
        .collect();
    names.sort();
    assert_eq!(names, vec!["inner", "outer"]);
}

#[test]
fn hundreds_of_repeated_keys_are_refused_as_a_few_are() {
    // More given entries than the fast path's slots can number: refused like a short list, in
    // `log` as in `Measurement::encode`, and nothing is stored.
    let (logger, memory) = logger_with_memory();
    let m = time_taken();
    let values: Vec<String> = (0..300).map(|i| format!("v{i}")).collect();
    let tags: Vec<(&str, &str)> = values.iter().map(|v| ("identifier", v.as_str())).collect();
    let durations: Vec<(&str, FieldValue)> = (0..300)
        .map(|i| ("duration", FieldValue::Float(f64::from(i))))
        .collect();
    let time = Timestamp::from_nanos(7);
    let err = logger.log_at(&m, &durations, &tags, time).unwrap_err();
    assert!(err.message().contains("given twice"), "{err}");
    logger.write_data().unwrap();
    assert!(memory.line_protocol().is_empty());
    let mut encoded = Vec::new();
    let err = m
        .encode(
            &mut encoded,
            &durations,
            &tags,
            time,
            Precision::Nanoseconds,
        )
        .unwrap_err();
    assert!(err.message().contains("given twice"), "{err}");
    assert!(encoded.is_empty());
}

#[test]
fn a_batch_from_lines_takes_only_whole_single_points() {
    use influxdb_datalogger::Batch;
    let ok = Batch::from_lines(
        [&b"m,t=a v=1i 1"[..], b"m v=\"two\nlines\" 2\n"],
        Precision::Nanoseconds,
    )
    .unwrap();
    assert_eq!(ok.point_count(), 2);
    assert_eq!(
        ok.entries().len(),
        2,
        "a string with a newline is one point"
    );
    for (bad, problem) in [
        (&b"\xff\xfe garbage"[..], "line 2 of the batch is not UTF-8"),
        (
            b"m v=1 1\nm v=2 2",
            "line 2 of the batch holds more than one point",
        ),
        (b"no fields here", "line 2 of the batch does not parse"),
        (b"# a comment", "line 2 of the batch holds no point"),
    ] {
        let err = Batch::from_lines([&b"m v=1 1"[..], bad], Precision::Nanoseconds).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Parse);
        assert!(err.message().starts_with(problem), "{err}");
    }
}

#[test]
fn without_an_outcome_tag_failures_and_panics_are_not_measurements() {
    let (logger, memory) = logger_with_memory();
    let tt = time_taken();
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        logger.measure(&tt, "duration", tags!("identifier" => "boom"), || {
            panic!("boom")
        })
    }));
    assert!(panicked.is_err(), "the panic propagates");
    let failed: std::result::Result<(), Box<dyn std::error::Error>> =
        logger.try_measure(&tt, "duration", tags!("identifier" => "err"), || {
            Err("bad".into())
        });
    assert!(failed.is_err());
    let ok: std::result::Result<i32, Box<dyn std::error::Error>> =
        logger.try_measure(&tt, "duration", tags!("identifier" => "ok"), || Ok(7));
    assert_eq!(ok.unwrap(), 7);
    {
        let _timing = logger
            .measure_block(&tt, "duration", tags!("identifier" => "scope"))
            .unwrap();
    }
    logger.write_data().unwrap();
    let logged: Vec<_> = memory
        .entries()
        .iter()
        .map(|e| e.tag("identifier").unwrap().to_string())
        .collect();
    assert_eq!(logged, ["ok", "scope"]);
}

#[test]
fn a_future_is_timed_until_it_is_ready() {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll, Waker};

    /// Ready after `left` polls, sleeping 10 ms before each.
    struct Slow {
        left: u32,
    }
    impl Future for Slow {
        type Output = &'static str;
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<&'static str> {
            std::thread::sleep(Duration::from_millis(10));
            if self.left == 0 {
                return Poll::Ready("done");
            }
            self.left -= 1;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }

    let (logger, memory) = logger_with_memory();
    let tt = time_taken();
    let mut measured = std::pin::pin!(logger.measure_future(
        &tt,
        "duration",
        tags!("identifier" => "future"),
        Slow { left: 4 }
    ));
    let mut cx = Context::from_waker(Waker::noop());
    let value = loop {
        if let Poll::Ready(value) = measured.as_mut().poll(&mut cx) {
            break value.unwrap();
        }
    };
    assert_eq!(value, "done");
    logger.write_data().unwrap();
    let d = durations(&memory.entries())[0];
    assert!(d >= 0.05, "the five polls took at least 50 ms, not {d}");
}

#[test]
fn two_measurements_are_equal_only_with_the_same_schema() {
    let a = Measurement::builder("m")
        .field(Field::new("f"))
        .build()
        .unwrap();
    let same = Measurement::builder("m")
        .field(Field::new("f"))
        .build()
        .unwrap();
    let other_field = Measurement::builder("m")
        .field(Field::new("g"))
        .build()
        .unwrap();
    let other_tag = Measurement::builder("m")
        .field(Field::new("f"))
        .tag(Tag::new("t"))
        .build()
        .unwrap();
    let with_func = Measurement::builder("m")
        .field(Field::new("f").with_func(|| 1.0))
        .build()
        .unwrap();
    assert_eq!(a, same);
    assert_eq!(a, a.clone());
    assert_ne!(a, other_field);
    assert_ne!(a, other_tag);
    assert_ne!(
        with_func,
        Measurement::builder("m")
            .field(Field::new("f").with_func(|| 1.0))
            .build()
            .unwrap()
    );
    assert_eq!(with_func, with_func.clone());
}

#[test]
fn timing_takes_the_tags_log_takes_and_fields_take_everyday_values() {
    let (logger, memory) = logger_with_memory();
    let tt = time_taken();
    let owned = String::from("owned");
    let with_option: &[(&str, Option<&str>)] = &[("identifier", Some(owned.as_str()))];
    logger.measure(&tt, "duration", with_option, || ()).unwrap();
    let id = Tag::new("identifier");
    logger
        .timer(&tt, "duration")
        .tags(&[(&id, "by tag")])
        .run(|| ())
        .unwrap();
    let tp = throughput();
    let elapsed = Duration::from_millis(1500);
    logger
        .log(
            &tp,
            fields!("mbps" => elapsed, "samples" => elapsed.as_millis()),
            tags!("link" => &owned),
        )
        .unwrap();
    logger.write_data().unwrap();
    let entries = memory.entries();
    let ids: Vec<_> = entries.iter().filter_map(|e| e.tag("identifier")).collect();
    assert_eq!(ids, ["owned", "by tag"]);
    assert_eq!(entries[2].field("mbps"), Some(&FieldValue::Float(1.5)));
    assert_eq!(entries[2].field("samples"), Some(&FieldValue::Int(1500)));
}

#[test]
fn an_optional_value_left_out_takes_the_default_and_is_refused_without_one() {
    let (logger, memory) = logger_with_memory();
    let tp = throughput(); // "samples" has a default; "mbps" has none
    let none: Option<i64> = None;
    logger
        .log(
            &tp,
            fields!("mbps" => Some(2.5), "samples" => none),
            tags!("link" => "l"),
        )
        .unwrap();
    let no_mbps: Option<f64> = None;
    let err = logger
        .log(
            &tp,
            fields!("mbps" => no_mbps, "samples" => 3),
            tags!("link" => "l"),
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::IncompletePoint);
    logger.write_data().unwrap();
    let entries = memory.entries();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].field("mbps"), Some(&FieldValue::Float(2.5)));
    assert!(entries[0].field("samples").is_some(), "the default applied");
}

#[test]
fn measuring_the_creation_of_a_future_is_refused_before_it_runs() {
    let (logger, memory) = logger_with_memory();
    let tt = time_taken();
    let ran = AtomicUsize::new(0);
    let err = logger
        .measure(&tt, "duration", tags!("identifier" => "a"), || {
            ran.fetch_add(1, Ordering::SeqCst);
            async { 42 }
        })
        .map(drop)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.message().contains("measure_future"), "{err}");
    assert_eq!(ran.load(Ordering::SeqCst), 0, "nothing ran");
    let boxed = logger.measure(&tt, "duration", tags!("identifier" => "b"), || {
        Box::pin(async {}) as std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>
    });
    assert!(boxed.is_err());
    let ready = logger.measure(&tt, "duration", tags!("identifier" => "c"), || {
        std::future::ready(1)
    });
    assert!(ready.is_err());
    // Values are fine, including ones whose names mention neither.
    let value = logger
        .measure(&tt, "duration", tags!("identifier" => "d"), || vec![1, 2])
        .unwrap();
    assert_eq!(value, [1, 2]);
    logger.write_data().unwrap();
    assert_eq!(memory.entries().len(), 1);
}
