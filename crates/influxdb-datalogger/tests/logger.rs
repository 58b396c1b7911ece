//! Behaviour of the DataLogger: logging, validation, post-processing, writers that fail,
//! continuous write, events and threads.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use influxdb_datalogger::{
    fields, tags, Batch, DataLogger, DatabaseWriter, Error, ErrorKind, Field, FieldValue,
    LineProtocolFileWriter, Measurement, MemoryWriter, Precision, Result, Tag, Timestamp,
};

#[path = "support/schemas.rs"]
mod schemas;
use schemas::*;

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
