//! The `influxdb-datalogger` binary, run as a user would.

mod support;

use support::{cli, query, servers, text};

#[test]
fn demo_writes_valid_line_protocol_to_the_embedded_default_and_prints_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = cli(&["demo", "--rounds", "2"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);

    let file = text(&std::fs::read(dir.path().join("influxdb-datalogger.lp")).unwrap());
    let lines: Vec<_> = influxdb_line_protocol::parse_lines(&file)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        lines.len(),
        2 * 6 + 1 + 1,
        "12 sorts, 1 summary point, 1 event"
    );
    let sorts: Vec<_> = lines
        .iter()
        .filter(|l| l.series.measurement.as_str() == "demo_sort")
        .collect();
    assert_eq!(sorts.len(), 12);
    for line in &sorts {
        assert!(
            line.tag_value("host").is_some() && line.tag_value("outcome").unwrap().as_str() == "ok"
        );
        match line.field_value("duration") {
            Some(influxdb_line_protocol::FieldValue::F64(d)) => assert!(*d > 0.0),
            other => panic!("duration {other:?}"),
        }
        assert!(matches!(
            line.field_value("items"),
            Some(influxdb_line_protocol::FieldValue::I64(_))
        ));
    }
    assert!(lines
        .iter()
        .any(|l| l.series.measurement.as_str() == "events"));

    for line in file.lines() {
        assert!(stdout.contains(line), "printed what it logged: {line}");
    }
    assert!(stdout.contains("logged 13 points and 1 events, appended to influxdb-datalogger.lp"));
    assert!(stdout.contains("measurement  tags"));

    let again = cli(&["demo", "--rounds", "1"], dir.path());
    assert!(again.status.success());
    let appended = std::fs::read_to_string(dir.path().join("influxdb-datalogger.lp")).unwrap();
    assert_eq!(appended.lines().count(), 14 + 8, "a second run appends");
    // It ends with the report of the whole file, beside it.
    assert!(text(&again.stdout)
        .trim_end()
        .ends_with("the report of the whole file, to open in a browser: influxdb-datalogger.html"));
    let report = std::fs::read_to_string(dir.path().join("influxdb-datalogger.html")).unwrap();
    assert!(
        report.contains("<td>3</td>"),
        "three runs of each sort are in the table"
    );
}

#[test]
fn stats_prints_an_aligned_table_and_reports_malformed_lines() {
    let dir = tempfile::tempdir().unwrap();
    let data = "# comment\n\
                req,host=a ms=10i 1\n\
                req,host=a ms=30i 2\n\
                req,host=a ms=oops 3\n\
                req,host=b ms=5i 4\n\
                garbage\n";
    std::fs::write(dir.path().join("a.lp"), data).unwrap();
    std::fs::write(dir.path().join("b.lp"), "req,host=a ms=20i 5\n").unwrap();
    let out = cli(&["stats", "a.lp", "b.lp"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "measurement  tags    field  count    min   mean    p50    p95    p99    max\n\
         req          host=a  ms         3  10.00  20.00  20.00  30.00  30.00  30.00\n\
         req          host=b  ms         1  5.000  5.000  5.000  5.000  5.000  5.000\n"
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("a.lp:4:15: invalid float field value \"oops\" (line skipped)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("a.lp:6:8: expected a space before the fields (line skipped)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("4 points read, 2 malformed lines skipped"),
        "{stderr}"
    );
}

#[test]
fn stats_fails_clearly_on_a_missing_file_or_no_points() {
    let dir = tempfile::tempdir().unwrap();
    let out = cli(&["stats", "missing.lp"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("cannot read missing.lp"));
    std::fs::write(dir.path().join("empty.lp"), "# nothing\n").unwrap();
    let out = cli(&["stats", "empty.lp"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no points found"));
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(cli(&["frobnicate"], dir.path()).status.code(), Some(2));
    assert_eq!(cli(&["stats"], dir.path()).status.code(), Some(2));
    let help = cli(&["--help"], dir.path());
    assert!(help.status.success());
    assert!(text(&help.stdout).contains("demo"));
}

#[test]
#[ignore = "needs the real servers: make test-integration"]
fn push_sends_a_file_skipping_bad_lines_and_ping_checks_credentials() {
    let servers = servers::Servers::start(true);
    let url = servers.influxdb();
    query(&url, "CREATE DATABASE tests", "&u=admin&p=admin-password");
    let dir = tempfile::tempdir().unwrap();
    let mut file = String::from("# pushed\n");
    for i in 0..12_000i64 {
        file.push_str(&format!(
            "pushed,host=h{} value={i}i {}\n",
            i % 4,
            1_700_000_000_000 + i
        ));
    }
    file.push_str("not a line\n");
    std::fs::write(dir.path().join("points.lp"), &file).unwrap();
    let good = format!(
        "{}?db=tests",
        url.replace("http://", "http://admin:admin-password@")
    );
    let bad = format!("{}?db=tests", url.replace("http://", "http://admin:wrong@"));

    let ping = cli(&["ping", "--url", &good], dir.path());
    assert!(ping.status.success(), "{}", text(&ping.stderr));
    assert!(
        text(&ping.stdout).starts_with("ok: http://127.0.0.1:"),
        "{}",
        text(&ping.stdout)
    );
    assert!(
        text(&ping.stdout).contains("version 1.6"),
        "{}",
        text(&ping.stdout)
    );
    let refused = cli(&["ping", "--url", &bad], dir.path());
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).contains("refused the credentials"),
        "{}",
        text(&refused.stderr)
    );
    assert!(
        !text(&refused.stderr).contains("wrong"),
        "no secret in messages"
    );

    let push = cli(
        &[
            "push",
            "points.lp",
            "--url",
            &good,
            "--precision",
            "ms",
            "--batch-size",
            "5000",
        ],
        dir.path(),
    );
    assert_eq!(
        push.status.code(),
        Some(1),
        "a skipped line makes the push incomplete"
    );
    assert!(
        text(&push.stdout).contains("12000 lines delivered, 1 malformed lines skipped"),
        "{}",
        text(&push.stdout)
    );
    assert!(
        text(&push.stderr).contains("points.lp:12002:"),
        "{}",
        text(&push.stderr)
    );
    let counted = query(
        &url,
        "SELECT count(value) FROM pushed",
        "&u=admin&p=admin-password",
    );
    assert!(counted.contains("12000"), "{counted}");
    let first = query(
        &url,
        "SELECT value FROM pushed ORDER BY time LIMIT 1",
        "&u=admin&p=admin-password",
    );
    assert!(
        first.contains("2023-11-14T22:13:20Z"),
        "precision ms was used: {first}"
    );
}

/// A writer whose database is down, under the name the spool records as the target.
struct Down;

impl influxdb_datalogger::DatabaseWriter for Down {
    fn write_data(&mut self, _: &influxdb_datalogger::Batch) -> influxdb_datalogger::Result<()> {
        Err(influxdb_datalogger::Error::new(
            influxdb_datalogger::ErrorKind::Writer,
            "down",
        ))
    }
    fn name(&self) -> String {
        "a database that is down".into()
    }
}

/// A process that logged `n` points into a spool in `dir` and died before delivering them.
fn leave_in_spool(dir: &std::path::Path, n: i64) {
    use influxdb_datalogger::{fields, tags, DataLogger, Field, Measurement, SpoolOptions};
    let m = Measurement::builder("left")
        .field(Field::new("seq"))
        .build()
        .unwrap();
    let logger = DataLogger::builder()
        .writer(Down)
        .spool(SpoolOptions::new(dir))
        .close_on_drop(false)
        .build();
    for i in 0..n {
        logger
            .log_at(
                &m,
                fields!("seq" => i),
                tags!(),
                influxdb_datalogger::Timestamp::from_nanos(1_700_000_000_000_000_000 + i),
            )
            .unwrap();
    }
}

#[test]
fn spool_lists_what_dead_processes_left_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    leave_in_spool(&spool, 1_000);
    let before: Vec<_> = std::fs::read_dir(&spool).unwrap().collect();
    let out = cli(&["spool", "spool"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let header = stdout.lines().next().unwrap();
    assert!(
        header.starts_with("owner") && header.contains("points"),
        "{stdout}"
    );
    let row = stdout.lines().nth(1).unwrap();
    for cell in ["dead", " 1000 ", "a database that is down"] {
        assert!(row.contains(cell), "{cell:?} in {row:?}");
    }
    assert!(stdout.contains("1000 points of dead processes; deliver them with: influxdb-datalogger replay spool --url URL"));
    assert_eq!(std::fs::read_dir(&spool).unwrap().count(), before.len());

    std::fs::create_dir(dir.path().join("empty")).unwrap();
    let empty = cli(&["spool", "empty"], dir.path());
    assert!(text(&empty.stdout).contains("nothing pending in empty"));
    let missing = cli(
        &["replay", "nowhere", "--url", "http://127.0.0.1:9?db=x"],
        dir.path(),
    );
    assert_eq!(missing.status.code(), Some(1));
    assert!(text(&missing.stderr).contains("nowhere is not a spool directory"));
}

#[test]
#[ignore = "needs the real servers: make test-integration"]
fn replay_delivers_a_dead_process_spool_to_influxdb() {
    let servers = servers::Servers::start(false);
    let url = servers.influxdb();
    query(&url, "CREATE DATABASE tests", "");
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    leave_in_spool(&spool, 12_000);
    let out = cli(
        &["replay", "spool", "--url", &format!("{url}?db=tests")],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout)
            .contains("replayed 12000 points and 0 events from 1 segments of 1 dead processes"),
        "{}",
        text(&out.stdout)
    );
    let counted = query(&url, "SELECT count(seq), sum(seq) FROM left", "");
    assert!(
        counted.contains(&format!(",12000,{}]", 11_999 * 12_000 / 2)),
        "{counted}"
    );
    let after = cli(&["spool", "spool"], dir.path());
    assert!(
        text(&after.stdout).contains("nothing pending"),
        "{}",
        text(&after.stdout)
    );
}

#[test]
#[ignore = "needs the real servers: make test-integration"]
fn push_takes_windows_line_endings_and_a_byte_order_mark_and_counts_refused_lines() {
    let servers = servers::Servers::start(false);
    let url = servers.influxdb();
    query(&url, "CREATE DATABASE tests", "");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("windows.lp"),
        "\u{feff}win,host=a v=1 1700000000000000000\r\nwin,host=b v=2 1700000000000000001\r\n\
         win,host=c v=3 1700000000000000002\r\n",
    )
    .unwrap();
    let target = format!("{url}?db=tests");
    let push = cli(&["push", "windows.lp", "--url", &target], dir.path());
    assert!(push.status.success(), "{}", text(&push.stderr));
    assert!(
        text(&push.stdout).contains("3 lines delivered, 0 malformed lines skipped, 0 refused"),
        "{}",
        text(&push.stdout)
    );
    let stored = query(&url, "SELECT count(v) FROM win GROUP BY host", "");
    assert_eq!(stored.matches("\"count\"").count(), 3, "{stored}");
    let measurements = query(&url, "SHOW MEASUREMENTS", "");
    assert!(!measurements.contains("\\ufeff"), "{measurements}");

    // A type the database refuses: set aside, and not counted as delivered.
    std::fs::write(
        dir.path().join("conflict.lp"),
        "win,host=d v=\"text\" 1700000000000000003\r\nwin,host=e v=5 1700000000000000004\r\n",
    )
    .unwrap();
    let push = cli(&["push", "conflict.lp", "--url", &target], dir.path());
    assert_eq!(push.status.code(), Some(1), "{}", text(&push.stdout));
    assert!(
        text(&push.stdout).contains("1 lines delivered, 0 malformed lines skipped, 1 refused"),
        "{}",
        text(&push.stdout)
    );
}

#[test]
fn push_to_an_unreachable_server_says_why_it_retries_and_gives_up_at_its_timeout() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.lp"), "m v=1 1\n").unwrap();
    let started = std::time::Instant::now();
    let push = cli(
        &[
            "push",
            "p.lp",
            "--url",
            "http://127.0.0.1:9?db=x",
            "--timeout",
            "1.5",
        ],
        dir.path(),
    );
    let took = started.elapsed();
    assert_eq!(push.status.code(), Some(1));
    let stderr = text(&push.stderr);
    assert!(
        stderr.contains("retrying (up to ") && stderr.contains("Connection refused"),
        "{stderr}"
    );
    assert!(
        stderr.contains("not delivered") && !stderr.contains("µs"),
        "{stderr}"
    );
    assert!(
        took < std::time::Duration::from_secs(30),
        "the timeout was kept: {took:?}"
    );
}

#[test]
#[ignore = "needs the real servers: make test-integration"]
fn a_failed_replay_leaves_the_points_for_the_application_not_for_the_replay_target() {
    let servers = servers::Servers::start(false);
    let url = servers.influxdb();
    query(&url, "CREATE DATABASE tests", "");
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    leave_in_spool(&spool, 100);
    let out = cli(
        &[
            "replay",
            "spool",
            "--url",
            &format!("{url}?db=typo"),
            "--timeout",
            "5",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("read back 100 points")
            && text(&out.stdout).contains("100 not delivered, kept in the spool"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stderr).contains("does the database or bucket exist"),
        "{}",
        text(&out.stderr)
    );
    // Still labelled for the application's writer, so that its next logger delivers them.
    let listing = text(&cli(&["spool", "spool"], dir.path()).stdout);
    assert!(
        listing.contains("a database that is down") && !listing.contains("typo"),
        "{listing}"
    );
    let good = cli(
        &["replay", "spool", "--url", &format!("{url}?db=tests")],
        dir.path(),
    );
    assert!(good.status.success(), "{}", text(&good.stderr));
    let counted = query(&url, "SELECT count(seq) FROM left", "");
    assert!(counted.contains(",100]"), "{counted}");
}

#[test]
fn a_huge_or_binary_bad_line_is_reported_in_a_short_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = b"m v=1i 1\nm v=".to_vec();
    data.extend(std::iter::repeat_n(b'x', 10 << 20));
    data.extend_from_slice(b" 2\nm v=\x00\x01\x1b[31m\xff\xfe 3\n");
    std::fs::write(dir.path().join("bad.lp"), data).unwrap();
    let out = cli(&["stats", "bad.lp"], dir.path());
    let stderr = text(&out.stderr);
    assert!(stderr.len() < 2_000, "{} bytes on stderr", stderr.len());
    assert_eq!(stderr.matches("(line skipped)").count(), 2, "{stderr}");
    assert!(stderr.contains("bytes in all"), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}') && !stderr.contains('\0'),
        "control characters are escaped: {stderr:?}"
    );
}
