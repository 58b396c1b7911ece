//! The `influxdb-datalogger` binary, run as a user would.

use std::process::{Command, Output};

fn cli(args: &[&str], dir: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_influxdb-datalogger"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

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

#[path = "../../influxdb-datalogger/tests/support/servers.rs"]
mod servers;

/// `curl`s an InfluxQL query to the database `tests`.
fn query(url: &str, q: &str, creds: &str) -> String {
    let out = Command::new("curl")
        .args([
            "-s",
            "-XPOST",
            &format!("{url}/query?db=tests{creds}"),
            "--data-urlencode",
            &format!("q={q}"),
        ])
        .output()
        .unwrap();
    text(&out.stdout)
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

/// A history of `test_duration` for hosts `a` (30 % slower from run 40 of 60) and `b` (steady),
/// one run an hour, ending an hour ago, with 3 % noise (deterministic).
fn history_lines() -> Vec<String> {
    let now = influxdb_datalogger::Timestamp::now().as_nanos();
    let mut state = 7u64;
    let mut noise = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        ((state >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 0.06
    };
    let mut lines = Vec::new();
    for host in ["a", "b"] {
        for i in 0..60i64 {
            let level = if host == "a" && i >= 40 { 1.3 } else { 1.0 };
            let time = now - (61 - i) * 3_600_000_000_000;
            lines.push(format!(
                "test_duration,host={host},test=t1 call={:.6},ok=true {time}",
                level * (1.0 + noise())
            ));
        }
    }
    lines
}

#[test]
fn regressions_finds_the_step_in_a_file_and_reports_it_as_a_table_or_json() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("history.lp"), history_lines().join("\r\n")).unwrap();
    let table = cli(
        &[
            "regressions",
            "history.lp",
            "--measurement",
            "test_duration",
        ],
        dir.path(),
    );
    assert!(table.status.success(), "{}", text(&table.stderr));
    let stdout = text(&table.stdout);
    let rows: Vec<&str> = stdout.lines().collect();
    assert_eq!(rows.len(), 2, "{stdout}");
    assert!(
        rows[0].starts_with("time") && rows[1].contains("host=a,test=t1"),
        "{stdout}"
    );
    assert!(
        rows[1].contains("call") && rows[1].contains("+3"),
        "{stdout}"
    );

    let json = cli(
        &[
            "regressions",
            "history.lp",
            "--measurement",
            "test_duration",
            "--json",
            "--fail-newer-than",
            "25",
        ],
        dir.path(),
    );
    assert_eq!(
        json.status.code(),
        Some(1),
        "a slowdown among the newest 25 runs"
    );
    let found: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let point = &found[0];
    assert_eq!(found.as_array().unwrap().len(), 1, "{found}");
    assert_eq!(point["measurement"], "test_duration");
    assert_eq!(point["field"], "call");
    assert_eq!(
        point["tags"],
        serde_json::json!({"host": "a", "test": "t1"})
    );
    assert!(
        (point["change"].as_f64().unwrap() - 0.3).abs() < 0.05,
        "{point}"
    );
    assert!(point["time"].as_i64().unwrap() > 0);
    // The step is 20 runs old: not among the newest 10.
    let older = cli(
        &[
            "regressions",
            "history.lp",
            "--measurement",
            "test_duration",
            "--fail-newer-than",
            "10",
        ],
        dir.path(),
    );
    assert_eq!(older.status.code(), Some(0));
    // Grouped by test only, both hosts make one series of 120 points, two an hour.
    let grouped = cli(
        &[
            "regressions",
            "history.lp",
            "--measurement",
            "test_duration",
            "--group-by",
            "test",
            "--since",
            "10h",
        ],
        dir.path(),
    );
    assert!(
        text(&grouped.stdout).contains("no change points"),
        "{}",
        text(&grouped.stdout)
    );
    let wrong = cli(
        &[
            "regressions",
            "history.lp",
            "--measurement",
            "m",
            "--since",
            "5y",
        ],
        dir.path(),
    );
    assert_eq!(wrong.status.code(), Some(1));
    assert!(text(&wrong.stderr).contains("--since: \"5y\" is not a duration"));
    let annotate_files = cli(
        &[
            "regressions",
            "history.lp",
            "--measurement",
            "m",
            "--annotate",
        ],
        dir.path(),
    );
    assert!(text(&annotate_files.stderr).contains("--annotate writes to a server"));
}

#[test]
#[ignore = "needs the real servers: make test-integration"]
fn regressions_reads_a_real_influxdb_and_annotates_the_change_points() {
    let servers = servers::Servers::start(false);
    let url = servers.influxdb();
    query(&url, "CREATE DATABASE tests", "");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("history.lp"), history_lines().join("\n")).unwrap();
    let target = format!("{url}?db=tests");
    let push = cli(&["push", "history.lp", "--url", &target], dir.path());
    assert!(push.status.success(), "{}", text(&push.stderr));
    let found = cli(
        &[
            "regressions",
            "--url",
            &target,
            "--measurement",
            "test_duration",
            "--field",
            "call",
            "--json",
            "--annotate",
        ],
        dir.path(),
    );
    assert!(found.status.success(), "{}", text(&found.stderr));
    let found: serde_json::Value = serde_json::from_slice(&found.stdout).unwrap();
    assert_eq!(found.as_array().unwrap().len(), 1, "{found}");
    assert_eq!(
        found[0]["tags"],
        serde_json::json!({"host": "a", "test": "t1"})
    );
    // The change point is an event now, where Grafana's annotations look.
    let events = query(&url, "SELECT * FROM events", "");
    assert!(
        events.contains("change point: test_duration +3"),
        "{events}"
    );
}

/// JUnit XML in cargo-nextest's shape (a `testsuites` root, one `testsuite` per binary, a
/// `timestamp` with a zone, failures with their output), written for this test after nextest's
/// documented format; a real pytest report is imported by the Python tests.
const NEXTEST_JUNIT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="nextest-run" tests="3" failures="1" errors="0" uuid="0b7a" timestamp="2026-12-03T10:00:00.000+01:00" time="0.5">
  <testsuite name="mycrate::integration" tests="3" disabled="0" errors="0" failures="1" timestamp="2026-12-03T10:00:00.000+01:00" hostname="ci-7">
    <properties><property name="profile" value="ci"/></properties>
    <testcase name="sums" classname="mycrate::integration" timestamp="2026-12-03T10:00:00.100+01:00" time="0.012"/>
    <testcase name="divides &amp; rounds" classname="mycrate::integration" time="0.250">
      <failure type="test failure">thread 'divides' panicked</failure>
      <system-out>captured</system-out>
    </testcase>
    <testcase name="slow" classname="mycrate::integration" time="0.000"><skipped/></testcase>
  </testsuite>
</testsuites>
"#;

#[test]
fn import_junit_writes_one_point_per_test_case_and_reports_broken_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("nextest.xml"), NEXTEST_JUNIT).unwrap();
    std::fs::write(dir.path().join("cut.xml"), &NEXTEST_JUNIT[..620]).unwrap();
    let out = cli(
        &[
            "import",
            "junit",
            "nextest.xml",
            "--file",
            "tests.lp",
            "--tag",
            "team=core",
            "--run-id",
            "r1",
            "--measurement",
            "cargo_test",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(
        "imported 3 test cases from 1 files (1 passed, 1 failed, 0 errors, 1 skipped) into tests.lp, run r1"
    ));
    let file = std::fs::read_to_string(dir.path().join("tests.lp")).unwrap();
    let lines: Vec<_> = influxdb_line_protocol::parse_lines(&file)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(lines.len(), 3);
    let tag = |line: &influxdb_line_protocol::ParsedLine<'_>, key: &str| {
        line.tag_value(key).map(|v| v.to_string())
    };
    let failed = &lines[1];
    assert_eq!(failed.series.measurement.to_string(), "cargo_test");
    assert_eq!(tag(failed, "name").as_deref(), Some("divides & rounds"));
    assert_eq!(
        tag(failed, "test").as_deref(),
        Some("mycrate::integration::divides & rounds")
    );
    assert_eq!(tag(failed, "outcome").as_deref(), Some("failed"));
    assert_eq!(tag(failed, "profile").as_deref(), Some("ci"));
    assert_eq!(tag(failed, "team").as_deref(), Some("core"));
    assert_eq!(tag(failed, "host").as_deref(), Some("ci-7"));
    assert_eq!(tag(&lines[2], "outcome").as_deref(), Some("skipped"));
    // 10:00 at +01:00 is 09:00 UTC.
    assert_eq!(failed.timestamp, Some(1_796_288_400_000_000_000));

    let broken = cli(
        &[
            "import",
            "junit",
            "cut.xml",
            "nextest.xml",
            "--file",
            "more.lp",
        ],
        dir.path(),
    );
    assert_eq!(broken.status.code(), Some(1));
    let stderr = text(&broken.stderr);
    assert!(stderr.starts_with("cut.xml:"), "{stderr}");
    assert!(
        stderr.contains("(the rest of the file skipped)"),
        "{stderr}"
    );
    assert!(
        text(&broken.stdout).contains("imported 4 test cases from 2 files"),
        "{}",
        text(&broken.stdout)
    );
}

#[test]
fn import_criterion_reads_the_latest_estimates_of_each_benchmark() {
    let dir = tempfile::tempdir().unwrap();
    let results = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/criterion");
    let out = cli(
        &[
            "import",
            "criterion",
            results,
            "--file",
            "bench.lp",
            "--run-id",
            "c1",
            "--time",
            "2026-12-03T09:00:00Z",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("imported 1 benchmarks from 1 paths into bench.lp, run c1"));
    let file = std::fs::read_to_string(dir.path().join("bench.lp")).unwrap();
    let lines: Vec<_> = influxdb_line_protocol::parse_lines(&file)
        .collect::<Result<_, _>>()
        .unwrap();
    let [line] = &lines[..] else { panic!("{file}") };
    assert_eq!(line.series.measurement.to_string(), "benchmarks");
    assert_eq!(
        line.tag_value("benchmark")
            .map(|v| v.to_string())
            .as_deref(),
        Some("datalogger/log (2 tags, 2 fields, now)")
    );
    assert_eq!(
        line.tag_value("group").map(|v| v.to_string()).as_deref(),
        Some("datalogger")
    );
    let field = |name: &str| {
        line.field_set
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    };
    let mean: f64 = field("mean_ns").unwrap().parse().unwrap();
    let (lower, upper): (f64, f64) = (
        field("mean_lower_ns").unwrap().parse().unwrap(),
        field("mean_upper_ns").unwrap().parse().unwrap(),
    );
    assert!(lower <= mean && mean <= upper && mean > 0.0);
    assert!(field("median_ns").is_some() && field("std_dev_ns").is_some());
    assert_eq!(line.timestamp, Some(1_796_288_400_000_000_000));
    let empty = cli(&["import", "criterion", ".", "--file", "x.lp"], dir.path());
    assert_eq!(empty.status.code(), Some(1));
    assert!(text(&empty.stderr).contains("no criterion results (new/estimates.json) found"));
}
