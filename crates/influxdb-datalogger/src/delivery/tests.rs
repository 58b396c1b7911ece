use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::thread::jitter_fraction;
use super::*;
use crate::entry::Batch;
use crate::error::{Error, ErrorKind, Result};
use crate::writer::DatabaseWriter;
use crate::writer::MemoryWriter;
use crate::{fields, tags, DataLogger, Field, Measurement, Timestamp};

fn batch_of(n: i64) -> Batch {
    let m = Measurement::builder("m")
        .field(Field::new("f"))
        .build()
        .unwrap();
    let logger = DataLogger::builder().close_on_drop(false).build();
    for i in 0..n {
        logger
            .log_at(&m, fields!("f" => i), tags!(), Timestamp::from_nanos(i))
            .unwrap();
    }
    logger.pending_batch()
}

/// Fails with a retriable error the first `failures` times.
struct Flaky {
    failures: u32,
    retriable: bool,
    seen: MemoryWriter,
}

impl DatabaseWriter for Flaky {
    fn write_data(&mut self, batch: &Batch) -> Result<()> {
        if self.failures > 0 {
            self.failures -= 1;
            return Err(
                Error::new(ErrorKind::Writer, "scripted failure").with_retriable(self.retriable)
            );
        }
        self.seen.write_data(batch)
    }
}

fn fast() -> DeliveryOptions {
    DeliveryOptions {
        max_points: 10,
        interval: Duration::from_millis(50),
        retry: RetryPolicy {
            initial_delay: Duration::from_millis(5),
            budget: Duration::from_secs(5),
            ..RetryPolicy::default()
        },
        flush_timeout: Duration::from_secs(5),
        ..DeliveryOptions::default()
    }
}

#[test]
fn many_small_batches_are_merged_into_full_chunks() {
    let seen = MemoryWriter::new();
    let mut background = BackgroundWriter::new(
        seen.clone(),
        DeliveryOptions {
            interval: Duration::from_secs(60),
            ..fast()
        },
    );
    for _ in 0..25 {
        background.write_data(&batch_of(1)).unwrap();
    }
    background.flush().unwrap();
    assert_eq!(seen.entries().len(), 25);
    assert_eq!(seen.batch_count(), 3, "10 + 10 + 5");
}

#[test]
fn delays_grow_to_the_cap() {
    let p = RetryPolicy::default();
    assert_eq!(
        (p.delay(1), p.delay(2), p.delay(4)),
        (
            Duration::from_millis(100),
            Duration::from_millis(200),
            Duration::from_millis(800)
        )
    );
    assert_eq!(p.delay(30), Duration::from_secs(10));
    let f = jitter_fraction();
    assert!((0.0..1.0).contains(&f));
}

#[test]
fn batches_are_sent_in_chunks_and_flush_waits_for_them() {
    let seen = MemoryWriter::new();
    let mut background = BackgroundWriter::new(seen.clone(), fast());
    background.write_data(&batch_of(25)).unwrap();
    background.write_data(&batch_of(3)).unwrap();
    background.flush().unwrap();
    assert_eq!(seen.entries().len(), 28);
    assert!(seen.batch_count() >= 3, "at most 10 points per request");
    let stats = background.stats();
    assert_eq!(
        (stats.handed_over, stats.delivered, stats.pending),
        (28, 28, 0)
    );
}

#[test]
fn data_goes_out_within_the_interval_without_a_flush() {
    let seen = MemoryWriter::new();
    let mut background = BackgroundWriter::new(seen.clone(), fast());
    background.write_data(&batch_of(2)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while seen.entries().len() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(seen.entries().len(), 2);
}

#[test]
fn new_data_does_not_cut_the_backoff_short() {
    let seen = MemoryWriter::new();
    let mut background = BackgroundWriter::new(
        Flaky {
            failures: u32::MAX,
            retriable: true,
            seen,
        },
        DeliveryOptions {
            interval: Duration::from_millis(1),
            retry: RetryPolicy {
                initial_delay: Duration::from_millis(100),
                jitter: 0.0,
                ..RetryPolicy::default()
            },
            ..fast()
        },
    );
    // A point every millisecond for 300 ms, as continuous write hands them over.
    for _ in 0..300 {
        background.write_data(&batch_of(1)).unwrap();
        std::thread::sleep(Duration::from_millis(1));
    }
    let retries = background.stats().retries;
    assert!(
        retries <= 5,
        "waits of 100, 200, 400 ms… (five fit in 3 s, for a slow machine); new data must \
         not wake a retry: {retries}"
    );
    // Its thread would retry forever: keep it off the list `flush_detached` waits for.
    std::mem::forget(background);
}

#[test]
fn retriable_failures_are_retried_and_nothing_is_sent_twice() {
    let seen = MemoryWriter::new();
    let mut background = BackgroundWriter::new(
        Flaky {
            failures: 3,
            retriable: true,
            seen: seen.clone(),
        },
        fast(),
    );
    background.write_data(&batch_of(5)).unwrap();
    background.flush().unwrap();
    assert_eq!(seen.entries().len(), 5);
    assert_eq!(background.stats().retries, 3);
}

#[test]
fn an_error_retrying_cannot_fix_keeps_the_data_and_flush_says_so() {
    let seen = MemoryWriter::new();
    let background = BackgroundWriter::new(
        Flaky {
            failures: 1,
            retriable: false,
            seen: seen.clone(),
        },
        fast(),
    );
    let mut background = background;
    background.write_data(&batch_of(4)).unwrap();
    let err = background
        .flush_within(Duration::from_secs(60))
        .unwrap_err();
    assert!(
        err.message()
            .contains("4 points not delivered (the last send failed)"),
        "a failure answers the flush; it does not wait out its timeout: {err}"
    );
    assert!(err.message().contains("scripted failure"), "{err}");
    assert_eq!(background.stats().pending, 4);
    // A flush asks for another try at once: the failure is over, so the data arrives.
    background.flush().unwrap();
    assert_eq!(seen.entries().len(), 4);
}

#[test]
fn a_dropped_writer_never_blocks_and_its_thread_delivers_the_rest() {
    let seen = MemoryWriter::new();
    let mut background = BackgroundWriter::new(
        Flaky {
            failures: 2,
            retriable: true,
            seen: seen.clone(),
        },
        fast(),
    );
    background.write_data(&batch_of(6)).unwrap();
    let started = Instant::now();
    drop(background);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "drop does not wait for the network"
    );
    flush_detached(Duration::from_secs(5)).unwrap();
    assert_eq!(seen.entries().len(), 6);
}

/// Records how many points each `write_data` call handed over.
#[derive(Clone, Default)]
struct Handovers(Arc<Mutex<Vec<usize>>>);

impl DatabaseWriter for Handovers {
    fn write_data(&mut self, batch: &Batch) -> Result<()> {
        self.0.lock().unwrap().push(batch.point_count());
        Ok(())
    }
}

/// Takes parts, as a background writer does, and records them.
struct PartTaker(Handovers);

impl DatabaseWriter for PartTaker {
    fn write_data(&mut self, batch: &Batch) -> Result<()> {
        self.0.write_data(batch)
    }
    fn takes_parts(&self) -> bool {
        true
    }
}

#[test]
fn a_large_write_goes_in_parts_to_writers_that_take_them_and_whole_to_the_others() {
    let m = Measurement::builder("m")
        .field(Field::new("f"))
        .build()
        .unwrap();
    let (parts, whole) = (Handovers::default(), Handovers::default());
    let seen = MemoryWriter::new();
    let logger = DataLogger::builder()
        .writer(PartTaker(parts.clone()))
        .writer(whole.clone())
        .writer(BackgroundWriter::new(seen.clone(), fast()))
        .build();
    for i in 0..120_001 {
        logger
            .log_at(&m, fields!("f" => i), tags!(), Timestamp::from_nanos(i))
            .unwrap();
    }
    logger.write_data().unwrap();
    assert_eq!(*parts.0.lock().unwrap(), vec![50_000, 50_000, 20_001]);
    assert_eq!(*whole.0.lock().unwrap(), vec![120_001]);
    logger.flush().unwrap();
    let entries = seen.entries();
    assert_eq!(entries.len(), 120_001);
    assert!(entries
        .iter()
        .enumerate()
        .all(|(i, e)| e.time == Timestamp::from_nanos(i as i64)));
    let stats = logger.stats();
    assert!(stats.writers.iter().all(|w| w.points_written == 120_001));
}

#[test]
fn a_logger_with_a_background_writer_returns_at_once_and_close_delivers() {
    let seen = MemoryWriter::new();
    let m = Measurement::builder("m")
        .field(Field::new("f"))
        .build()
        .unwrap();
    let logger = DataLogger::builder()
        .writer(BackgroundWriter::new(seen.clone(), fast()))
        .build();
    for i in 0..100 {
        logger.log(&m, fields!("f" => i), tags!()).unwrap();
    }
    logger.write_data().unwrap();
    logger.close().unwrap();
    assert_eq!(seen.entries().len(), 100);
}
