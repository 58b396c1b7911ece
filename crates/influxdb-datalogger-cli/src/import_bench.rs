//! Benchmark results for `import`: criterion's estimates and pytest-benchmark's JSON, one point
//! per benchmark.

use std::path::Path;

use influxdb_datalogger::line_protocol::LineBuilder;
use influxdb_datalogger::{Precision, Result, Timestamp};
use serde_json::Value;

/// One imported point (a benchmark's numbers, a test case's duration) and what names it.
#[derive(Debug, Default)]
pub(crate) struct Point {
    pub(crate) tags: Vec<(String, String)>,
    pub(crate) fields: Vec<(String, f64)>,
    pub(crate) time: Option<Timestamp>,
}

impl Point {
    /// The point as line protocol in `measurement`, with `extra` tags (its own win).
    pub(crate) fn encode(
        &self,
        body: &mut Vec<u8>,
        measurement: &str,
        extra: &[(String, String)],
        default_time: Timestamp,
    ) -> Result<()> {
        let mut tags: Vec<(&str, &str)> = self
            .tags
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        for (key, value) in extra {
            if !tags.iter().any(|(k, _)| k == key) {
                tags.push((key, value));
            }
        }
        tags.sort_unstable();
        let mut line = LineBuilder::new(body, measurement)?;
        for (key, value) in tags {
            line = line.tag(key, value)?;
        }
        for (key, value) in &self.fields {
            line = line.field(key, *value)?;
        }
        line.finish(self.time.unwrap_or(default_time), Precision::Nanoseconds)
    }
}

fn read_json(path: &Path) -> std::result::Result<Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| {
        format!(
            "{}:{}:{}: {e} (file skipped)",
            path.display(),
            e.line(),
            e.column()
        )
    })
}

/// Every benchmark under `dir` (criterion's `target/criterion`, or a group's directory): its
/// `new/estimates.json` (nanoseconds) and `new/benchmark.json` (its names).
pub(crate) fn criterion(dir: &Path, points: &mut Vec<Point>) -> std::result::Result<(), String> {
    let mut estimates = Vec::new();
    find_estimates(dir, &mut estimates)
        .map_err(|e| format!("{}: cannot read: {e}", dir.display()))?;
    if estimates.is_empty() {
        return Err(format!(
            "{}: no criterion results (new/estimates.json) found",
            dir.display()
        ));
    }
    estimates.sort();
    let mut first_problem = None;
    for path in estimates {
        let read = || -> std::result::Result<Point, String> {
            let numbers = read_json(&path)?;
            let names = read_json(&path.with_file_name("benchmark.json"))?;
            let mut point = Point::default();
            for (tag, key) in [
                ("benchmark", "full_id"),
                ("group", "group_id"),
                ("function", "function_id"),
                ("value", "value_str"),
            ] {
                if let Some(text) = names[key].as_str() {
                    point.tags.push((tag.to_string(), text.to_string()));
                }
            }
            for statistic in ["mean", "median", "std_dev", "median_abs_dev", "slope"] {
                let estimate = &numbers[statistic];
                if let Some(value) = estimate["point_estimate"].as_f64() {
                    point.fields.push((format!("{statistic}_ns"), value));
                    for (bound, suffix) in [("lower_bound", "lower"), ("upper_bound", "upper")] {
                        if let Some(v) = estimate["confidence_interval"][bound].as_f64() {
                            point.fields.push((format!("{statistic}_{suffix}_ns"), v));
                        }
                    }
                }
            }
            if point.fields.is_empty() {
                return Err(format!("{}: no estimates in it", path.display()));
            }
            Ok(point)
        };
        match read() {
            Ok(point) => points.push(point),
            Err(problem) => {
                first_problem.get_or_insert(problem);
            }
        }
    }
    first_problem.map_or(Ok(()), Err)
}

fn find_estimates(dir: &Path, found: &mut Vec<std::path::PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            // `base` and `change` hold the previous run and the comparison: only `new` counts.
            if path.file_name().is_some_and(|n| n == "new") {
                let estimates = path.join("estimates.json");
                if estimates.is_file() {
                    found.push(estimates);
                }
            } else if path
                .file_name()
                .is_none_or(|n| n != "base" && n != "change" && n != "report")
            {
                find_estimates(&path, found)?;
            }
        }
    }
    Ok(())
}

/// pytest-benchmark's `--benchmark-json` file: every benchmark's statistics (seconds), its
/// names, and the machine and commit it ran on as tags.
pub(crate) fn pytest_benchmark(
    path: &Path,
    points: &mut Vec<Point>,
) -> std::result::Result<(), String> {
    let report = read_json(path)?;
    let benchmarks = report["benchmarks"].as_array().ok_or_else(|| {
        format!(
            "{}: no \"benchmarks\" array: not pytest-benchmark JSON",
            path.display()
        )
    })?;
    let time = report["datetime"]
        .as_str()
        .and_then(|t| t.parse::<Timestamp>().ok());
    let mut shared = Vec::new();
    for (tag, value) in [
        ("machine", &report["machine_info"]["node"]),
        ("cpu", &report["machine_info"]["cpu"]["brand_raw"]),
        ("python", &report["machine_info"]["python_version"]),
        ("git_commit", &report["commit_info"]["id"]),
        ("git_branch", &report["commit_info"]["branch"]),
    ] {
        if let Some(text) = value.as_str().filter(|t| !t.is_empty()) {
            shared.push((tag.to_string(), text.to_string()));
        }
    }
    if let Some(dirty) = report["commit_info"]["dirty"].as_bool() {
        shared.push(("git_dirty".to_string(), dirty.to_string()));
    }
    for benchmark in benchmarks {
        let mut point = Point {
            tags: shared.clone(),
            time,
            ..Point::default()
        };
        for (tag, key) in [
            ("name", "name"),
            ("benchmark", "fullname"),
            ("group", "group"),
        ] {
            if let Some(text) = benchmark[key].as_str() {
                point.tags.push((tag.to_string(), text.to_string()));
            }
        }
        for statistic in [
            "min",
            "max",
            "mean",
            "stddev",
            "median",
            "iqr",
            "q1",
            "q3",
            "ops",
            "rounds",
            "iterations",
        ] {
            if let Some(value) = benchmark["stats"][statistic].as_f64() {
                point.fields.push((statistic.to_string(), value));
            }
        }
        if point.fields.is_empty() {
            return Err(format!(
                "{}: benchmark {} has no stats",
                path.display(),
                benchmark["fullname"]
            ));
        }
        points.push(point);
    }
    Ok(())
}
