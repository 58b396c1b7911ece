//! The dashboards' shape: what Grafana needs to show them, and what users need to edit them.

use super::*;
use crate::influx::{InfluxConfig, Secret};

fn demo_schemas() -> Vec<MeasurementSchema> {
    schemas_of_line_protocol(
        "sort,algorithm=stable,size=10 duration=0.5,items=10i,ok=true,note=\"x\" 1\n\
         sort,algorithm=unstable,host=h duration=0.4,items=10i 2\n\
         events,host=h text=\"run\",duration=1,time_end=3i 1\n\
         bad line\n",
    )
}

#[test]
fn schemas_come_from_the_lines_with_field_types_and_every_tag_key() {
    let schemas = demo_schemas();
    assert_eq!(schemas.len(), 2);
    let sort = &schemas[1];
    assert_eq!(sort.name, "sort");
    assert_eq!(sort.tags, ["algorithm", "host", "size"]);
    assert_eq!(
        sort.fields,
        vec![
            ("duration".to_string(), FieldType::Number),
            ("items".to_string(), FieldType::Number),
            ("note".to_string(), FieldType::Str),
            ("ok".to_string(), FieldType::Bool),
        ]
    );
}

#[test]
fn one_raw_influxql_panel_per_numeric_field_filtered_by_a_variable_per_tag() {
    let json = dashboard(&demo_schemas(), &DashboardOptions::default());
    let panels = json["panels"].as_array().unwrap();
    let charts: Vec<&Value> = panels
        .iter()
        .filter(|p| p["type"] == "timeseries")
        .collect();
    assert_eq!(
        charts.len(),
        2,
        "duration and items; not the string, the bool or the events"
    );
    let target = &charts[0]["targets"][0];
    assert_eq!(target["rawQuery"], true);
    assert_eq!(
        target["query"],
        "SELECT mean(\"duration\") FROM \"sort\" WHERE (\"algorithm\" =~ /^$algorithm$/) AND (\"host\" =~ /^$host$/) AND (\"size\" =~ /^$size$/) AND $timeFilter GROUP BY time($__interval), \"algorithm\", \"host\", \"size\" fill(none)"
    );
    assert_eq!(charts[0]["fieldConfig"]["defaults"]["unit"], "s");
    assert_eq!(charts[1]["fieldConfig"]["defaults"]["unit"], "short");
    assert_eq!(charts[0]["datasource"]["uid"], DEFAULT_DATASOURCE_UID);
    let names: Vec<&str> = json["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["algorithm", "host", "size"]);
    let ids: Vec<u64> = panels.iter().map(|p| p["id"].as_u64().unwrap()).collect();
    let mut unique = ids.clone();
    unique.dedup();
    assert_eq!(ids, unique, "panel ids are unique");
    assert_eq!(json["schemaVersion"], SCHEMA_VERSION);
}

#[test]
fn events_are_an_annotation_with_text_tags_and_end_mapped() {
    let json = dashboard(&demo_schemas(), &DashboardOptions::default());
    let annotation = &json["annotations"]["list"][1];
    assert_eq!(
        annotation["target"]["query"],
        "SELECT \"text\", \"time_end\", \"host\" FROM \"events\" WHERE $timeFilter"
    );
    assert_eq!(annotation["mappings"]["timeEnd"]["value"], "time_end");
    assert_eq!(annotation["mappings"]["text"]["value"], "text");
    assert_eq!(annotation["mappings"]["tags"]["value"], "host");
    let without_events = dashboard(&demo_schemas()[1..], &DashboardOptions::default());
    assert_eq!(
        without_events["annotations"]["list"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn units_are_guessed_from_names_and_can_be_given() {
    for (field, unit) in [
        ("duration", "s"),
        ("call", "s"),
        ("compile_s", "s"),
        ("wall_seconds", "s"),
        ("latency_ms", "ms"),
        ("parse_us", "µs"),
        ("tick_ns", "ns"),
        ("bytes", "bytes"),
        ("heap_bytes", "bytes"),
        ("rss", "bytes"),
        ("peak_memory", "bytes"),
        ("cpu_percent", "percent"),
        ("items", "short"),
        ("status", "short"),
    ] {
        assert_eq!(guess_unit(field), unit, "{field}");
    }
    let mut options = DashboardOptions::default();
    options.units.insert("items".into(), "ops".into());
    let json = dashboard(&demo_schemas(), &options);
    assert_eq!(json["panels"][2]["fieldConfig"]["defaults"]["unit"], "ops");
}

#[test]
fn names_are_quoted_and_variables_are_identifiers() {
    let schemas = schemas_of_line_protocol("my\\ m,cpu\\ id=1,2nd=x \"q\"=1 1\n");
    let json = dashboard(&schemas, &DashboardOptions::default());
    let query = json["panels"][1]["targets"][0]["query"].as_str().unwrap();
    assert!(query.contains("FROM \"my m\""), "{query}");
    assert!(query.contains("mean(\"\\\"q\\\"\")"), "{query}");
    assert!(query.contains("(\"cpu id\" =~ /^$cpu_id$/)"), "{query}");
    assert!(query.contains("(\"2nd\" =~ /^$_2nd$/)"), "{query}");
    assert_eq!(uid("Nightly: CI / main"), "nightly--ci---main");
    assert_eq!(uid("///"), "influxdb-datalogger");
}

#[test]
fn the_test_runs_dashboard_has_its_panels_variables_and_runs() {
    let json = test_runs("pytest", &DashboardOptions::default());
    let titles: Vec<&str> = json["panels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles,
        [
            "call duration per test",
            "slowest tests (longest call)",
            "outcomes",
            "runs"
        ]
    );
    let variables: Vec<(&str, &str)> = json["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["name"].as_str().unwrap(), v["query"].as_str().unwrap()))
        .collect();
    assert_eq!(
        variables[0],
        (
            "branch",
            "SHOW TAG VALUES FROM \"pytest\" WITH KEY = \"git_branch\""
        )
    );
    assert_eq!(variables.len(), 3);
    let runs = &json["annotations"]["list"][1];
    assert!(runs["target"]["query"]
        .as_str()
        .unwrap()
        .contains("\"run_id\" =~ /.+/"));
    for panel in json["panels"].as_array().unwrap() {
        let query = panel["targets"][0]["query"].as_str().unwrap();
        assert!(
            query.contains("(\"test\" =~ /^$test$/)") && query.contains("$timeFilter"),
            "{query}"
        );
    }
}

#[test]
fn provisioning_binds_the_data_source_by_uid_and_writes_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = InfluxConfig::new("http://127.0.0.1:8086");
    config.database = Some("tests".into());
    config.username = Some("grafana".into());
    config.password = Some(Secret::new("hunter2-secret"));
    let json = dashboard(&demo_schemas(), &DashboardOptions::default());
    let files = provisioning(dir.path(), &config, DEFAULT_DATASOURCE_UID, &[json]).unwrap();
    let datasource = std::fs::read_to_string(&files.datasource).unwrap();
    for expected in [
        "uid: \"influxdb-datalogger\"",
        "type: influxdb",
        "url: \"http://127.0.0.1:8086\"",
        "dbName: \"tests\"",
        "user: \"grafana\"",
        "password: $INFLUX_PASSWORD",
    ] {
        assert!(datasource.contains(expected), "{expected} in\n{datasource}");
    }
    let provider = std::fs::read_to_string(&files.provider).unwrap();
    assert!(provider.contains("path: /etc/grafana/provisioning/dashboards/influxdb-datalogger"));
    assert_eq!(
        files.dashboards,
        [dir.path()
            .join("dashboards/influxdb-datalogger/influxdb-datalogger.json")]
    );
    for entry in walk(dir.path()) {
        let text = std::fs::read_to_string(&entry).unwrap();
        assert!(!text.contains("hunter2"), "{}", entry.display());
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
