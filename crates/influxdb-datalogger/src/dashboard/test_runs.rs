//! The ready dashboard for test runs (the pytest plugin's measurement, the Rust attribute's,
//! imported JUnit): see the test schema in `docs/test-schema.md`.

use serde_json::{json, Value};

use super::{
    events_annotation, finish, quote_identifier, tag_filter, target, time_series, variable,
    DashboardOptions,
};

/// The variables: (name, tag key).
const VARIABLES: [(&str, &str); 3] = [("branch", "git_branch"), ("host", "host"), ("test", "test")];

/// A dashboard of the test runs in `measurement`: the call duration of each test over time,
/// the slowest tests, outcomes over time and per run, and each run (the plugin's event) as a
/// shaded range; variables for branch, host and test.
pub fn test_runs(measurement: &str, options: &DashboardOptions) -> Value {
    let from = quote_identifier(measurement);
    let filters: String = VARIABLES
        .iter()
        .map(|(name, tag)| tag_filter(tag, name))
        .collect();
    let run_filters: String = VARIABLES[..2]
        .iter()
        .map(|(name, tag)| format!(" AND {}", tag_filter(tag, name).trim_end_matches(" AND ")))
        .collect();
    let templating: Vec<Value> = VARIABLES
        .iter()
        .map(|(name, tag)| {
            variable(
                options,
                name,
                tag,
                &format!(
                    "SHOW TAG VALUES FROM {from} WITH KEY = {}",
                    quote_identifier(tag)
                ),
            )
        })
        .collect();
    let durations = time_series(
        options,
        1,
        "call duration per test",
        "s",
        json!({"h": 10, "w": 24, "x": 0, "y": 0}),
        vec![target(
            "A",
            &format!(
                "SELECT mean(\"call\") FROM {from} WHERE {filters}$timeFilter GROUP BY time($__interval), \"test\" fill(none)"
            ),
            "$tag_test",
            "time_series",
        )],
    );
    let slowest = json!({
        "type": "table",
        "id": 2,
        "title": "slowest tests (longest call)",
        "datasource": options.datasource(),
        "gridPos": {"h": 10, "w": 12, "x": 0, "y": 10},
        "fieldConfig": {"defaults": {"unit": "s"}, "overrides": []},
        "options": {"showHeader": true, "sortBy": [{"displayName": "call", "desc": true}]},
        "targets": [target(
            "A",
            &format!(
                "SELECT top(\"slowest\", \"test\", 20) AS \"call\" FROM (SELECT max(\"call\") AS \"slowest\" FROM {from} WHERE {filters}$timeFilter GROUP BY \"test\")"
            ),
            "",
            "table",
        )],
    });
    let mut outcomes = time_series(
        options,
        3,
        "outcomes",
        "short",
        json!({"h": 10, "w": 12, "x": 12, "y": 10}),
        vec![target(
            "A",
            &format!(
                "SELECT count(\"call\") FROM {from} WHERE {filters}$timeFilter GROUP BY time($__interval), \"outcome\" fill(none)"
            ),
            "$tag_outcome",
            "time_series",
        )],
    );
    outcomes["fieldConfig"]["defaults"]["custom"] = json!({"drawStyle": "bars", "fillOpacity": 80, "stacking": {"mode": "normal", "group": "A"}});
    let runs = json!({
        "type": "table",
        "id": 4,
        "title": "runs",
        "datasource": options.datasource(),
        "gridPos": {"h": 10, "w": 24, "x": 0, "y": 20},
        "fieldConfig": {"defaults": {}, "overrides": []},
        "options": {"showHeader": true},
        "targets": [target(
            "A",
            &format!(
                "SELECT count(\"call\") AS \"tests\", sum(\"call\") AS \"seconds\" FROM {from} WHERE {filters}$timeFilter GROUP BY \"run_id\", \"outcome\""
            ),
            "",
            "table",
        )],
    });
    let mut dashboard = finish(
        options,
        vec![durations, slowest, outcomes, runs],
        templating,
        None,
    );
    let tags: Vec<String> = ["run_id", "git_branch", "host"].map(String::from).to_vec();
    let annotation = events_annotation(
        options,
        &tags,
        &format!(" AND \"run_id\" =~ /.+/{run_filters}"),
    );
    if let Some(list) = dashboard["annotations"]["list"].as_array_mut() {
        list.push(annotation);
    }
    dashboard
}
