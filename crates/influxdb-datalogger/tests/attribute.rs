//! `#[influxdb_datalogger::test]` as a user's crate uses it: a fresh cargo project with two test
//! binaries (passing, failing, `should_panic` and `Result` tests) run by `cargo test` against
//! the real InfluxDB 1.6, and with the database down.
#![cfg(feature = "http")]

use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "support/servers.rs"]
mod servers;

#[path = "support/influx.rs"]
mod influx;

use influx::influx_query;

const FIRST: &str = r#"
#[influxdb_datalogger::test]
fn passes() {
    assert_eq!(1 + 1, 2);
}

#[influxdb_datalogger::test]
fn fails() {
    assert_eq!(1 + 1, 3, "on purpose");
}

#[influxdb_datalogger::test]
#[should_panic(expected = "boom")]
fn panics_as_expected() {
    panic!("boom");
}

#[influxdb_datalogger::test]
fn returns_an_error() -> Result<(), String> {
    Err("on purpose".into())
}

#[influxdb_datalogger::test]
#[ignore = "not run"]
fn ignored() {}
"#;

const SECOND: &str = r#"
use influxdb_datalogger::{fields, Field, Measurement, Tag};

#[influxdb_datalogger::test]
fn sleeps_a_little() {
    std::thread::sleep(std::time::Duration::from_millis(20));
}

#[influxdb_datalogger::test]
fn logs_its_own_point_with_its_tags() {
    let m = Measurement::builder("own_point")
        .field(Field::new("rows"))
        .tag(Tag::new("table"))
        .optional_tag(Tag::new("test"))
        .optional_tag(Tag::new("run_id"))
        .build()
        .unwrap();
    influxdb_datalogger::testing::log(&m, fields!("rows" => 42), &[("table", "users")]).unwrap();
}

#[influxdb_datalogger::test(tokio::test)]
async fn waits_in_a_runtime() {
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
}
"#;

/// A cargo project using the attribute, in a directory of its own; built in a target directory
/// kept between runs (a cargo running these tests holds the workspace's).
fn project(dir: &Path) -> PathBuf {
    let core = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::create_dir_all(dir.join("tests")).unwrap();
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"attribute-demo\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
             [workspace]\n\n[dev-dependencies]\ninfluxdb-datalogger = {{ path = {:?} }}\n\
             tokio = {{ version = \"1\", features = [\"macros\", \"rt\", \"time\"] }}\n\
             rstest = \"0.29\"\n",
            core.display().to_string()
        ),
    )
    .unwrap();
    std::fs::write(dir.join("src/lib.rs"), "").unwrap();
    std::fs::write(dir.join("tests/first.rs"), FIRST).unwrap();
    std::fs::write(dir.join("tests/second.rs"), SECOND).unwrap();
    // A git checkout, for the git run tags.
    for args in [
        &["init", "-q", "-b", "main"][..],
        &["add", "-A"],
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "commit",
            "-qm",
            "demo",
        ],
    ] {
        let done = Command::new("git")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            done.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&done.stderr)
        );
    }
    core.join("../../target/attribute-demo")
}

fn cargo_test(dir: &Path, target: &Path, env: &[(&str, &str)]) -> std::process::Output {
    cargo_test_with(dir, target, &[], env)
}

/// `cargo test` of the project in `dir`, with `args` (`--test NAME`) and `env`.
fn cargo_test_with(
    dir: &Path,
    target: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> std::process::Output {
    Command::new(env!("CARGO"))
        .args(["test", "--quiet", "--no-fail-fast"])
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .env_remove("RUSTFLAGS")
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

#[test]
#[ignore = "needs the real servers: make test-integration"]
fn a_cargo_test_run_records_every_test_once_with_its_outcome_and_one_run_id() {
    let servers = servers::Servers::start(false);
    let url = servers.influxdb();
    influx_query(&url, "", "CREATE DATABASE cargo", None);
    let dir = tempfile::tempdir().unwrap();
    let target = project(dir.path());
    let connection = format!("{url}?db=cargo");
    let run = cargo_test(
        dir.path(),
        &target,
        &[
            ("INFLUXDB_DATALOGGER_URL", &connection),
            ("INFLUXDB_DATALOGGER_TAG_SUITE", "demo"),
            ("INFLUXDB_DATALOGGER_SPOOL", "off"),
            ("INFLUXDB_DATALOGGER_RUN_TAGS_OFF", "git_branch"),
            ("GITHUB_RUN_ID", "4242"),
        ],
    );
    let output =
        String::from_utf8_lossy(&run.stdout).to_string() + &String::from_utf8_lossy(&run.stderr);
    assert!(
        !run.status.success(),
        "two tests fail on purpose:\n{output}"
    );
    assert!(
        output.contains("fails") && output.contains("returns_an_error"),
        "{output}"
    );

    let answer = influx_query(
        &url,
        "cargo",
        r#"SELECT "call", "outcome", "run_id", "suite", "module" FROM "cargo_test" GROUP BY "name""#,
        None,
    );
    let series = answer["results"][0]["series"]
        .as_array()
        .unwrap_or_else(|| panic!("{answer}\n{output}"));
    let mut found: Vec<(String, String, String)> = series
        .iter()
        .map(|s| {
            let row = &s["values"][0];
            assert_eq!(
                s["values"].as_array().unwrap().len(),
                1,
                "one point a test: {s}"
            );
            assert!(row[1].as_f64().unwrap() >= 0.0);
            assert_eq!(row[4], "demo");
            (
                s["tags"]["name"].as_str().unwrap().to_string(),
                row[2].as_str().unwrap().to_string(),
                row[3].as_str().unwrap().to_string(),
            )
        })
        .collect();
    found.sort();
    let names: Vec<(&str, &str)> = found
        .iter()
        .map(|(n, o, _)| (n.as_str(), o.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("fails", "failed"),
            ("logs_its_own_point_with_its_tags", "passed"),
            ("panics_as_expected", "passed"),
            ("passes", "passed"),
            ("returns_an_error", "failed"),
            ("sleeps_a_little", "passed"),
            ("waits_in_a_runtime", "passed"),
        ],
        "the ignored test is not run, so not recorded"
    );
    let run_ids: std::collections::BTreeSet<&str> =
        found.iter().map(|(_, _, r)| r.as_str()).collect();
    assert_eq!(
        run_ids.len(),
        1,
        "both binaries of one cargo test share the run id: {run_ids:?}"
    );
    let slept = influx_query(
        &url,
        "cargo",
        r#"SELECT "call" FROM "cargo_test" WHERE "name" = 'sleeps_a_little'"#,
        None,
    );
    assert!(
        slept["results"][0]["series"][0]["values"][0][1]
            .as_f64()
            .unwrap()
            >= 0.02
    );

    // The database down: the tests run as before, and their points wait in the spool.
    let down = cargo_test(
        dir.path(),
        &target,
        &[("INFLUXDB_DATALOGGER_URL", "http://127.0.0.1:9?db=cargo")],
    );
    let output = String::from_utf8_lossy(&down.stderr).to_string();
    assert_eq!(down.status.code(), run.status.code(), "{output}");
    let spool = target.join("influxdb-datalogger-spool");
    assert!(
        std::fs::read_dir(&spool).unwrap().any(|e| e
            .unwrap()
            .path()
            .extension()
            .is_some_and(|x| x == "seg")),
        "the points wait in {}",
        spool.display()
    );
}

const RESOURCES: &str = r#"
#[global_allocator]
static ALLOCATOR: influxdb_datalogger::testing::CountingAllocator =
    influxdb_datalogger::testing::CountingAllocator::new();

#[influxdb_datalogger::test]
fn holds_eight_megabytes() {
    let block = vec![1u8; 8 << 20];
    assert_eq!(std::hint::black_box(&block).len(), 8 << 20);
}

#[influxdb_datalogger::test]
fn spins() {
    let started = std::time::Instant::now();
    let mut x = 0u64;
    while started.elapsed() < std::time::Duration::from_millis(60) {
        x = std::hint::black_box(x.wrapping_add(1));
    }
}

#[influxdb_datalogger::test]
fn sleeps() {
    std::thread::sleep(std::time::Duration::from_millis(60));
}
"#;

const CASES: &str = r#"
use rstest::rstest;

#[influxdb_datalogger::test(rstest)]
#[case(1)]
#[case::big(1000)]
fn doubles(#[case] x: u32) {
    assert!(x * 2 > x);
}

#[influxdb_datalogger::test(rstest)]
fn grid(#[values(1, 2)] x: u32, #[values("a")] y: &str) {
    assert!(x > 0 && !y.is_empty());
}
"#;

/// Runs the test binary `name` of a fresh project, written from `source`, with the embedded
/// default sink (no URL) and `env`, into a measurement of its own; returns that measurement's
/// lines of the sink file (shared by every run of the project's target directory).
fn sink_lines_of(name: &str, source: &str, env: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let target = project(dir.path());
    std::fs::write(dir.path().join(format!("tests/{name}.rs")), source).unwrap();
    let measurement = format!("{name}_{}", std::process::id());
    let mut env = env.to_vec();
    env.extend([
        ("INFLUXDB_DATALOGGER_URL", ""),
        ("INFLUXDB_DATALOGGER_MEASUREMENT", measurement.as_str()),
    ]);
    let run = cargo_test_with(dir.path(), &target, &["--test", name], &env);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let file = std::fs::read_to_string(target.join("influxdb-datalogger.lp")).unwrap();
    file.lines()
        .filter(|line| line.split([',', ' ']).next() == Some(measurement.as_str()))
        .map(|line| format!("{line}\n"))
        .collect()
}

#[test]
#[ignore = "builds a cargo project: make test-integration"]
fn rstest_cases_are_points_of_their_own() {
    let file = sink_lines_of("cases", CASES, &[]);
    let mut found: Vec<(String, String, String)> = influxdb_line_protocol::parse_lines(&file)
        .flatten()
        .map(|line| {
            let tag = |key: &str| {
                line.tag_value(key)
                    .map(|v| v.to_string())
                    .unwrap_or_default()
            };
            (tag("test"), tag("name"), tag("param"))
        })
        .collect();
    found.sort();
    let expected: Vec<(String, String, String)> = [
        ("cases::doubles::case_1", "doubles", "case_1"),
        ("cases::doubles::case_2_big", "doubles", "case_2_big"),
        ("cases::grid::x_1_1::y_1___a__", "grid", "x_1_1::y_1___a__"),
        ("cases::grid::x_2_2::y_1___a__", "grid", "x_2_2::y_1___a__"),
    ]
    .iter()
    .map(|(t, n, p)| (t.to_string(), n.to_string(), p.to_string()))
    .collect();
    assert_eq!(found, expected);
}

#[test]
#[ignore = "builds a cargo project: make test-integration"]
fn resources_are_recorded_when_asked_for_cpu_time_and_with_the_counting_allocator_memory() {
    let file = sink_lines_of(
        "resources",
        RESOURCES,
        &[("INFLUXDB_DATALOGGER_RESOURCES", "1")],
    );
    let mut found = std::collections::BTreeMap::new();
    for line in influxdb_line_protocol::parse_lines(&file).flatten() {
        let number = |field: &str| match line.field_value(field) {
            Some(influxdb_line_protocol::FieldValue::F64(v)) => *v,
            Some(influxdb_line_protocol::FieldValue::U64(v)) => *v as f64,
            Some(influxdb_line_protocol::FieldValue::I64(v)) => *v as f64,
            other => panic!("{field}: {other:?}"),
        };
        assert!(
            line.tag_value("cpu").is_some_and(|c| c.len() > 3),
            "the cpu model tag"
        );
        let name = line.tag_value("name").unwrap().to_string();
        found.insert(
            name,
            [
                number("call"),
                number("cpu_time"),
                number("alloc_bytes"),
                number("peak_bytes"),
            ],
        );
    }
    let [_, _, allocated, peak] = found["holds_eight_megabytes"];
    assert!(allocated >= 8_388_608.0 && peak >= 8_388_608.0, "{found:?}");
    assert!(
        peak < 9_000_000.0,
        "the test's own peak, not the process's: {found:?}"
    );
    // How much CPU a spinning thread gets depends on the machine's load (these tests run
    // side by side): it is compared with the sleeping one's, which is near nothing whatever
    // the load, not with a number of milliseconds.
    let [spin_call, spin_cpu, _, _] = found["spins"];
    let [call, cpu, _, peak] = found["sleeps"];
    assert!(spin_cpu <= spin_call + 0.01, "{found:?}");
    assert!(
        spin_cpu > 10.0 * cpu.max(1e-4),
        "spinning is CPU time: {found:?}"
    );
    assert!(
        call >= 0.06 && cpu < 0.02,
        "sleeping is not CPU time: {found:?}"
    );
    assert!(peak < 100_000.0, "{found:?}");
}
