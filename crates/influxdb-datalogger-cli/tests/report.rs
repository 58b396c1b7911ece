//! `report` and `dashboard`: what a person sees of the data — from files, and from the real
//! InfluxDB 1.6 and VictoriaMetrics (in a real browser: `browser.rs`).

mod support;

use std::path::Path;
use std::process::Command;

use support::reports::{chart_data, history, test_runs};
use support::{cli, query, servers, text};

#[test]
fn a_report_of_files_matches_stats_and_notes_malformed_lines() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = history("build");
    data.push_str("build,host=a seconds=oops 1\n");
    std::fs::write(dir.path().join("h.lp"), data.replace('\n', "\r\n")).unwrap();
    let made = cli(&["report", "h.lp", "-o", "out/r.html"], dir.path());
    assert!(
        !made.status.success(),
        "a directory that is not there is an error"
    );
    assert!(
        text(&made.stderr).contains("out/r.html"),
        "{}",
        text(&made.stderr)
    );
    let made = cli(
        &["report", "h.lp", "-o", "r.html", "--title", "Nightly"],
        dir.path(),
    );
    assert!(made.status.success(), "{}", text(&made.stderr));
    assert!(
        text(&made.stdout).contains("wrote r.html (60 points of build)"),
        "{}",
        text(&made.stdout)
    );
    assert!(
        text(&made.stderr).contains("1 malformed lines skipped"),
        "{}",
        text(&made.stderr)
    );
    let html = std::fs::read_to_string(dir.path().join("r.html")).unwrap();
    assert!(html.contains("<title>Nightly</title>"));
    assert!(
        html.contains("h.lp:64:"),
        "file and line of the malformed line"
    );
    // The summary rows are those of `stats`, number for number.
    let stats = text(&cli(&["stats", "h.lp"], dir.path()).stdout);
    for line in stats.lines().filter(|l| l.contains("seconds")) {
        let cells: Vec<&str> = line.split_whitespace().collect();
        let row = format!(
            "<td class=\"tags\">{}</td>{}",
            cells[1],
            cells[3..]
                .iter()
                .map(|c| format!("<td>{c}</td>"))
                .collect::<String>()
        );
        assert!(html.contains(&row), "{row} not in the report");
    }
    let data = chart_data(&html);
    assert_eq!(data["events"].as_array().unwrap().len(), 3);
    let seconds = data["charts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["field"] == "seconds")
        .unwrap();
    assert_eq!(seconds["series"].as_array().unwrap().len(), 2);
    assert_eq!(
        seconds["changes"].as_array().unwrap().len(),
        1,
        "host a's step"
    );
    assert_eq!(seconds["changes"][0]["series"], 0);
}

#[test]
fn bad_input_is_one_clear_line_and_no_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("h.lp"), history("build")).unwrap();
    for (args, expected) in [
        (vec!["report", "missing.lp"], "cannot read missing.lp"),
        (
            vec!["report", "h.lp", "--measurement", "nope"],
            "no points of measurement \"nope\" in the files (there are: build)",
        ),
        (
            vec!["report", "--url", "http://127.0.0.1:9?db=tests"],
            "cannot read from",
        ),
        (vec!["report", "h.lp", "--since", "soon"], "--since"),
        (
            vec!["dashboard", "h.lp", "--measurement", "nope"],
            "no measurement \"nope\" (there are: build, events)",
        ),
        (
            vec!["dashboard", "h.lp", "--unit", "seconds"],
            "is not FIELD=UNIT",
        ),
        (
            vec!["dashboard", "h.lp", "--provisioning", "p"],
            "give it with --url",
        ),
    ] {
        let out = cli(&args, dir.path());
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
    }
    assert!(!dir.path().join("report.html").exists());
}

#[test]
fn a_dashboard_of_files_charts_each_numeric_field() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("h.lp"), history("build")).unwrap();
    let out = cli(
        &["dashboard", "h.lp", "--unit", "seconds=ms", "-o", "d.json"],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("1 panels for build"),
        "{}",
        text(&out.stdout)
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("d.json")).unwrap()).unwrap();
    assert_eq!(json["panels"][1]["fieldConfig"]["defaults"]["unit"], "ms");
    assert_eq!(json["annotations"]["list"][1]["name"], "events");
}

/// Runs every query of `dashboard` (panels, variables, annotations) on the server, with
/// Grafana's macros and variables substituted as Grafana does for "All"; returns how many
/// series each answered.
fn run_queries(url: &str, dashboard: &serde_json::Value, creds: &str) -> Vec<(String, usize)> {
    let mut queries: Vec<(String, String)> = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            assert_eq!(target["rawQuery"], true);
            queries.push((
                format!("panel {}", panel["title"]),
                target["query"].as_str().unwrap().into(),
            ));
        }
    }
    for variable in dashboard["templating"]["list"].as_array().unwrap() {
        queries.push((
            format!("variable {}", variable["name"]),
            variable["query"].as_str().unwrap().into(),
        ));
    }
    for annotation in dashboard["annotations"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .skip(1)
    {
        queries.push((
            "annotation".into(),
            annotation["target"]["query"].as_str().unwrap().into(),
        ));
    }
    let variables: Vec<String> = dashboard["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_string())
        .collect();
    queries
        .into_iter()
        .map(|(what, q)| {
            let mut q = q
                .replace("$timeFilter", "time > now() - 30d")
                .replace("$__interval", "1h");
            for v in &variables {
                q = q.replace(&format!("${v}"), ".*");
            }
            let unsubstituted = q
                .split('$')
                .skip(1)
                .any(|rest| rest.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_'));
            assert!(!unsubstituted, "{what}: unsubstituted {q}");
            let answer: serde_json::Value = serde_json::from_str(&query(url, &q, creds)).unwrap();
            let result = &answer["results"][0];
            assert!(result["error"].is_null(), "{what}: {q}: {answer}");
            (what, result["series"].as_array().map_or(0, Vec::len))
        })
        .collect()
}

#[test]
#[ignore = "needs influxd and victoria-metrics: make test-integration"]
fn reports_and_dashboards_read_back_from_influxdb_with_a_password_in_the_url() {
    let servers = servers::Servers::start(true);
    let influx = servers.influxdb();
    let creds = "&u=admin&p=admin-password";
    query(&influx, "CREATE DATABASE tests", creds);
    let url = format!(
        "{}?db=tests",
        influx.replace("http://", "http://admin:admin-password@")
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("h.lp"), history("build") + &test_runs()).unwrap();
    let pushed = cli(&["push", "h.lp", "--url", &url], dir.path());
    assert!(pushed.status.success(), "{}", text(&pushed.stderr));

    let made = cli(
        &["report", "--url", &url, "--since", "7d", "-o", "r.html"],
        dir.path(),
    );
    assert!(made.status.success(), "{}", text(&made.stderr));
    assert!(!text(&made.stdout).contains("admin-password"));
    let html = std::fs::read_to_string(dir.path().join("r.html")).unwrap();
    assert!(!html.contains("admin-password"), "no secret in the report");
    let from_files = std::fs::read_to_string({
        let out = cli(&["report", "h.lp", "-o", "f.html"], dir.path());
        assert!(out.status.success());
        dir.path().join("f.html")
    })
    .unwrap();
    // The same points give the same tables, whether read from the file or the server.
    let tables = |html: &str| -> Vec<String> {
        html.split("<tbody>")
            .skip(1)
            .map(|t| t[..t.find("</tbody>").unwrap()].to_string())
            .collect()
    };
    assert_eq!(tables(&html), tables(&from_files));
    let data = chart_data(&html);
    assert_eq!(data["events"].as_array().unwrap().len(), 6);
    let charted: Vec<&str> = data["charts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        charted,
        ["passed", "seconds", "call"],
        "strings have tables, not charts"
    );

    let out = cli(
        &[
            "dashboard",
            "--url",
            &url,
            "-o",
            "d.json",
            "--provisioning",
            "prov",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("d.json")).unwrap()).unwrap();
    for (what, series) in run_queries(&influx, &dashboard, creds) {
        assert!(series > 0, "{what} returned no data");
    }
    let datasource =
        std::fs::read_to_string(dir.path().join("prov/datasources/influxdb-datalogger.yaml"))
            .unwrap();
    assert!(
        datasource.contains(&format!("url: \"{influx}\""))
            && datasource.contains("user: \"admin\"")
    );
    assert!(!datasource.contains("admin-password"));

    let out = cli(
        &["dashboard", "--tests", "pytest", "-o", "t.json"],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let tests: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("t.json")).unwrap()).unwrap();
    let answered = run_queries(&influx, &tests, creds);
    assert_eq!(answered.len(), 8, "{answered:?}");
    for (what, series) in answered {
        assert!(series > 0, "{what} returned no data");
    }

    let missing = cli(
        &["report", "--url", &url, "--measurement", "nope"],
        dir.path(),
    );
    assert!(
        text(&missing.stderr).contains("no points of measurement \"nope\""),
        "{}",
        text(&missing.stderr)
    );
    let wrong = cli(
        &["report", "--url", &url.replace("admin-password", "wrong")],
        dir.path(),
    );
    let stderr = text(&wrong.stderr);
    assert!(
        stderr.contains("credentials were refused") && !stderr.contains("wrong"),
        "{stderr}"
    );
}

#[test]
#[ignore = "needs influxd and victoria-metrics: make test-integration"]
fn a_report_reads_victoria_metrics_through_its_export_api() {
    let servers = servers::Servers::start(false);
    let vm = servers.victoria_metrics();
    let url = format!("{vm}?db=tests");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("h.lp"), history("build")).unwrap();
    let pushed = cli(&["push", "h.lp", "--url", &url], dir.path());
    assert!(pushed.status.success(), "{}", text(&pushed.stderr));
    // VictoriaMetrics makes data searchable after a moment.
    let _ = Command::new("curl")
        .args(["-s", &format!("{vm}/internal/force_flush")])
        .output();
    let all = cli(&["report", "--url", &url], dir.path());
    assert!(
        text(&all.stderr).contains("--measurement"),
        "{}",
        text(&all.stderr)
    );
    // Until every point is searchable (a few seconds at most).
    let expected = "<td class=\"tags\">host=b,test=t1</td><td>30</td>";
    for _ in 0..40 {
        let made = cli(
            &[
                "report",
                "--url",
                &url,
                "--measurement",
                "build",
                "-o",
                "vm.html",
            ],
            dir.path(),
        );
        assert!(made.status.success(), "{}", text(&made.stderr));
        let html = std::fs::read_to_string(dir.path().join("vm.html")).unwrap();
        if html.matches("<td>30</td>").count() >= 4 && html.contains(expected) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    let from_files = cli(
        &["report", "h.lp", "--measurement", "build", "-o", "f.html"],
        dir.path(),
    );
    assert!(from_files.status.success());
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
    // VictoriaMetrics keeps numbers only (a string field reads back as zeros): compare the
    // numeric field's table.
    let seconds = |html: &str| -> String {
        let section = &html[html.find("<h3>seconds").unwrap()..];
        section[..section.find("</table>").unwrap()].to_string()
    };
    assert_eq!(seconds(&read("vm.html")), seconds(&read("f.html")));
    assert!(read("vm.html").contains("<td class=\"tags\">host=a,test=t1</td><td>30</td>"));
}

/// The commands of `docs/report.md` that need no server, run as written.
#[test]
fn the_documented_commands_run() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/report.md"))
            .unwrap();
    let dir = tempfile::tempdir().unwrap();
    assert!(cli(&["demo", "--rounds", "2"], dir.path()).status.success());
    let mut ran = 0;
    for block in doc.split("```sh\n").skip(1) {
        let block = &block[..block.find("```").unwrap()];
        for line in block
            .lines()
            .filter(|l| !l.contains("--url") && !l.trim().is_empty())
        {
            let command = line.split(" # ").next().unwrap().trim();
            let words = shell_words(command);
            assert_eq!(words[0], "influxdb-datalogger", "{line}");
            let args: Vec<&str> = words[1..].iter().map(String::as_str).collect();
            let out = cli(&args, dir.path());
            assert!(out.status.success(), "{command}: {}", text(&out.stderr));
            ran += 1;
        }
    }
    assert_eq!(ran, 5);
    for written in [
        "report.html",
        "sort.html",
        "dashboard.json",
        "demo.json",
        "tests.json",
    ] {
        assert!(dir.path().join(written).exists(), "{written}");
    }
}

/// `command` split as a shell splits words: spaces separate, quotes group.
fn shell_words(command: &str) -> Vec<String> {
    let (mut words, mut word, mut quote) = (Vec::new(), String::new(), None);
    for c in command.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '"' | '\'') => quote = Some(c),
            (None, ' ') => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            (None, c) => word.push(c),
        }
    }
    words.extend((!word.is_empty()).then_some(word));
    words
}
