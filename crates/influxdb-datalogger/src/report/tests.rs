//! The report's content: what it draws, what its tables say, what it refuses to fetch.

use super::*;
use crate::summary::{format_number, Summary};

/// The JSON the charts draw, parsed back out of the page.
fn chart_data(html: &str) -> serde_json::Value {
    let start = html.find("id=\"report-data\">").unwrap() + "id=\"report-data\">".len();
    let end = start + html[start..].find("</script>").unwrap();
    serde_json::from_str(&html[start..end].replace("<\\/", "</")).unwrap()
}

fn decoded_times(series: &serde_json::Value) -> Vec<i64> {
    let mut t = series["t0"].as_i64().unwrap();
    series["dt"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            t += d.as_i64().unwrap();
            t
        })
        .collect()
}

#[test]
fn the_tables_say_what_stats_says_for_every_series() {
    let mut text = String::new();
    for i in 0..1000 {
        let host = if i % 3 == 0 { "a" } else { "b" };
        text.push_str(&format!(
            "req,host={host},env=ci ms={}.25,code=200i,note=\"x\" {}\n",
            (i * 7919) % 1000,
            1_700_000_000_000_000_000i64 + i * 1_000_000_000
        ));
    }
    let mut report = Report::new("t");
    assert_eq!(
        report.add_line_protocol(&text, "req.lp", Precision::Nanoseconds),
        0
    );
    let html = report.render();
    for host in ["a", "b"] {
        let values: Vec<f64> = (0..1000i64)
            .filter(|i| (i % 3 == 0) == (host == "a"))
            .map(|i| ((i * 7919) % 1000) as f64 + 0.25)
            .collect();
        let n = Summary::of(&values, 0).numbers.unwrap();
        let row = format!(
            "<tr><td class=\"tags\">env=ci,host={host}</td><td>{}</td>{}",
            values.len(),
            [n.min, n.mean, n.p50, n.p95, n.p99, n.max]
                .map(|v| format!("<td>{}</td>", format_number(v)))
                .concat()
        );
        assert!(html.contains(&row), "{row}");
    }
    // A string field is counted, without statistics, and not charted.
    assert!(html.contains("<td>334</td><td>-</td>"));
    let data = chart_data(&html);
    let charted: Vec<&str> = data["charts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        charted,
        ["code", "ms"],
        "a string field has a table and no chart"
    );
    assert!(!html.contains("id=\"chart-2\""));
}

#[test]
fn charts_keep_the_spikes_of_a_million_points_within_the_budget() {
    let mut report = Report::new("big");
    let spike_at = 654_321;
    for i in 0..1_000_000i64 {
        let value = if i == spike_at { 1e6 } else { (i % 100) as f64 };
        report.add_point(
            "load",
            &[("host", "a")],
            i * 1_000_000,
            [("v", &FieldValue::Float(value))],
        );
    }
    let html = report.render();
    assert!(html.len() < 5 << 20, "{} bytes", html.len());
    let data = chart_data(&html);
    let series = &data["charts"][0]["series"][0];
    let values: Vec<f64> = series["v"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(values.len() <= DRAWN_POINTS_BUDGET, "{}", values.len());
    assert!(values.len() > 1000);
    assert!(values.contains(&1e6), "the spike is drawn");
    let times = decoded_times(series);
    assert_eq!(times.len(), values.len());
    assert_eq!(times[0], 0);
    assert_eq!(*times.last().unwrap(), 999_999 * 1_000, "microseconds");
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
    assert!(
        html.contains("<td>1000000</td>"),
        "the table counts every point"
    );
}

#[test]
fn events_become_bands_and_steps_become_change_points() {
    let mut report = Report::new("runs");
    let second = 1_000_000_000i64;
    for run in 0..40i64 {
        let value = if run < 25 { 1.0 } else { 1.3 } + (run % 3) as f64 * 0.01;
        report.add_point(
            "pytest",
            &[("test", "t1")],
            run * 60 * second,
            [("call", &FieldValue::Float(value))],
        );
    }
    let text = FieldValue::Str("pytest run 7".into());
    let end = FieldValue::Int(70 * 60 * 1000 + 5_000);
    report.add_point(
        EVENTS_MEASUREMENT,
        &[("run_id", "7")],
        70 * 60 * second,
        [("text", &text), ("time_end", &end)],
    );
    let data = chart_data(&report.render());
    assert_eq!(
        data["events"],
        serde_json::json!([{"s": 4_200_000_000i64, "e": 4_205_000_000i64, "text": "pytest run 7", "tags": "run_id=7"}])
    );
    let changes = data["charts"][0]["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0]["t"], 25 * 60 * 1_000_000i64);
    let percent: f64 = changes[0]["text"]
        .as_str()
        .unwrap()
        .trim_end_matches(" %")
        .parse()
        .unwrap();
    assert!((25.0..35.0).contains(&percent), "{changes:?}");
    assert_eq!(
        data["charts"].as_array().unwrap().len(),
        1,
        "events are not charted"
    );
}

#[test]
fn malformed_lines_are_named_with_file_line_and_column_and_counted() {
    let mut report = Report::new("t");
    let mut text = String::from("m v=1 1\nm v=oops 2\nm v=3\n");
    for i in 0..30 {
        text.push_str(&format!("bad line {i}\n"));
    }
    assert_eq!(
        report.add_line_protocol(&text, "in.lp", Precision::Nanoseconds),
        32
    );
    assert_eq!(report.malformed_lines(), 31);
    let html = report.render();
    assert!(html.contains("in.lp:2:"), "file and line named");
    assert!(html.contains("skipped 1 line(s) without a timestamp"));
    assert!(html.contains("31 malformed lines skipped in all"));
    assert_eq!(report.points(), 1);
}

#[test]
fn the_page_fetches_nothing_and_escapes_what_it_shows() {
    let mut report = Report::new("<script>alert(1)</script>");
    report.add_point(
        "m</script><b>",
        &[("k", "\"</script>")],
        1,
        [("f", &FieldValue::Float(1.0))],
    );
    let html = report.render();
    let data_start = html.find("id=\"report-data\">").unwrap();
    let data_end = data_start + html[data_start..].find("</script>").unwrap();
    let outside_data = format!("{}{}", &html[..data_start], &html[data_end..]);
    assert!(!outside_data.contains("<script>alert(1)"));
    assert!(!outside_data.contains("<b>"));
    // Every </script> is a real end of a script: the data cannot close its element early.
    let ends = html.matches("</script>").count();
    let starts = html.matches("<script").count();
    assert_eq!(ends, starts);
    for reference in ["src=", "href=\"http", "@import", "url(http", "//cdn"] {
        assert!(!html.contains(reference), "{reference} in the page");
    }
    assert!(html.contains("default-src 'none'"));
    let data = chart_data(&html);
    assert_eq!(data["charts"][0]["measurement"], "m</script><b>");
}

#[test]
fn files_that_cannot_be_read_are_noted_and_only_missing_measurements_fail() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.lp");
    std::fs::write(&good, "cpu v=1 1\nmem v=2 1\n").unwrap();
    let missing = dir.path().join("missing.lp");
    let mut report = Report::new("t");
    report
        .add_files(
            &[&good, &missing],
            Precision::Nanoseconds,
            &Selection::all(),
        )
        .unwrap();
    assert!(report.render().contains("cannot read"));
    let mut only = Selection::all();
    only.measurements = vec!["mem".into()];
    let mut report = Report::new("t");
    report
        .add_files(&[&good], Precision::Nanoseconds, &only)
        .unwrap();
    assert_eq!(report.measurements(), ["mem"]);
    only.measurements = vec!["disk".into()];
    let error = Report::new("t")
        .add_files(&[&good], Precision::Nanoseconds, &only)
        .unwrap_err();
    assert!(
        error.to_string().contains("\"disk\"") && error.to_string().contains("cpu, mem"),
        "{error}"
    );
    let error = Report::new("t")
        .add_files(&[&missing], Precision::Nanoseconds, &Selection::all())
        .unwrap_err();
    assert!(error.to_string().contains("missing.lp"), "{error}");
}

#[test]
fn writing_replaces_the_file_whole_or_leaves_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.html");
    let mut report = Report::new("t");
    report.add_point("m", &[("k", "v")], 1, [("f", &FieldValue::Int(1))]);
    report.write(&path).unwrap();
    assert!(std::fs::read_to_string(&path)
        .unwrap()
        .ends_with("</html>\n"));
    let error = report
        .write(&dir.path().join("no-such-dir").join("r.html"))
        .unwrap_err();
    assert!(error.to_string().contains("no-such-dir"), "{error}");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temporary file left"
    );
}

#[test]
fn counted_tags_are_counted_and_shown_as_of_each_series_newest_point() {
    let text = "t,test=a,outcome=passed,run=1 call=1 1\n\
                t,test=a,outcome=failed,run=2 call=2 2\n\
                t,test=b,outcome=passed,run=2 call=3 2\n\
                t,test=b,outcome=passed,run=1 call=4 1\n";
    let mut selection = Selection::all();
    selection.group_by = vec!["test".into()];
    selection.count_by = vec!["outcome".into()];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.lp");
    std::fs::write(&path, text).unwrap();
    let mut report = Report::new("t");
    report
        .add_files(&[&path], Precision::Nanoseconds, &selection)
        .unwrap();
    let html = report.render();
    assert!(html.contains("<p class=\"counts\">outcome: <span class=\"count\">3 passed</span> · <span class=\"count\">1 failed</span></p>"), "{html}");
    assert!(
        html.contains("<td class=\"tags\">test=a</td><td>2</td>"),
        "grouped by test only"
    );
    assert!(
        html.contains(
            "<td>2.000</td><td>2.000</td><td>+100.0 %</td><td class=\"counted\">failed</td>"
        ),
        "a's max, newest value, against its median, and newest outcome: {html}"
    );
    assert!(
        html.contains("<td class=\"counted\">passed</td>"),
        "b's newest (time 2), though read first"
    );
    assert!(html.contains("<th>outcome (newest)</th>"));
    let (b, a) = (
        html.find("test=b</td>").unwrap(),
        html.find("test=a</td>").unwrap(),
    );
    assert!(b < a, "slowest now first: b's newest is 3, a's 2");
}
