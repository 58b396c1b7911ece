//! `regressions` and `import`: what the command line reads of test results — change points of a
//! history, JUnit, criterion — from files and the real InfluxDB 1.6.

mod support;

use support::{cli, query, servers, text};

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
