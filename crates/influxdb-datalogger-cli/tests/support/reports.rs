//! The data the report tests draw, and how they read a report back.

/// The charts' data, parsed out of a report.
pub fn chart_data(html: &str) -> serde_json::Value {
    let start = html.find("id=\"report-data\">").unwrap() + "id=\"report-data\">".len();
    let end = start + html[start..].find("</script>").unwrap();
    serde_json::from_str(&html[start..end].replace("<\\/", "</")).unwrap()
}

/// Two series of `build,host=…,test=… seconds=…` an hour apart ending an hour ago, host `a`
/// 40 % slower from run 20 of 30, and an event per ten runs.
pub fn history(measurement: &str) -> String {
    let now = influxdb_datalogger::Timestamp::now().as_nanos();
    let hour = 3_600_000_000_000i64;
    let mut lines = String::new();
    for host in ["a", "b"] {
        for i in 0..30i64 {
            let level = if host == "a" && i >= 20 { 1.4 } else { 1.0 };
            let jitter = ((i * 37) % 7) as f64 * 0.004;
            let time = now - (31 - i) * hour;
            lines.push_str(&format!(
                "{measurement},host={host},test=t1 seconds={:.4},passed=true,note=\"n{i}\" {time}\n",
                level + jitter
            ));
        }
    }
    for run in 0..3i64 {
        let start = now - (31 - run * 10) * hour;
        let end_ms = (start + hour / 2) / 1_000_000;
        lines.push_str(&format!(
            "events,run_id=r{run} text=\"nightly {run}\",duration=1800,time_end={end_ms}i {start}\n"
        ));
    }
    lines
}

/// `pytest`-schema points: two tests over three runs on two branches, and a run event each.
pub fn test_runs() -> String {
    let now = influxdb_datalogger::Timestamp::now().as_nanos();
    let minute = 60_000_000_000i64;
    let mut lines = String::new();
    for run in 0..3i64 {
        let start = now - (10 - run) * minute;
        let branch = if run == 2 { "feature" } else { "main" };
        for (i, (test, outcome)) in [
            ("test_a", "passed"),
            ("test_b", if run == 1 { "failed" } else { "passed" }),
        ]
        .iter()
        .enumerate()
        {
            lines.push_str(&format!(
                "pytest,test={test},outcome={outcome},run_id=r{run},git_branch={branch},host=h call={} {}\n",
                0.1 * (i + 1) as f64 + run as f64 * 0.01,
                start + i as i64 * 1_000_000_000
            ));
        }
        lines.push_str(&format!(
            "events,run_id=r{run},git_branch={branch},host=h text=\"pytest run r{run}\",duration=2,time_end={}i {start}\n",
            (start + 2_000_000_000) / 1_000_000
        ));
    }
    lines
}
