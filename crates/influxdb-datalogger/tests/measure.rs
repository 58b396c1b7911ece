//! Timing code: `measure`, `measure_block`, timers and futures, with their outcomes.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use influxdb_datalogger::{fields, tags, ErrorKind, Field, FieldValue, Measurement, Tag};

#[path = "support/schemas.rs"]
mod schemas;
use schemas::*;

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
