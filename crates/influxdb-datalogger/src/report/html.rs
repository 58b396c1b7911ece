//! Writing a [`Report`] as HTML: the page, the data the charts draw (JSON inlined), the box
//! plots (SVG drawn here) and the summary tables.

use std::fmt::Write as _;

use super::{m4, EventBand, Report, CHANGE_POINT_WINDOW, DRAWN_POINTS_BUDGET, SERIES_PER_CHART};
use crate::regress::{change_points, ChangePointOptions};
use crate::summary::{format_number, nearest_rank, NumberSummary, Summary};
use crate::value::Timestamp;

mod boxplot;
use boxplot::{box_plot, color};

const UPLOT_JS: &str = include_str!("assets/uPlot.iife.min.js");
const UPLOT_CSS: &str = include_str!("assets/uPlot.min.css");
const REPORT_JS: &str = include_str!("assets/report.js");
const REPORT_CSS: &str = include_str!("assets/report.css");
/// Events drawn at most; more are counted in a note.
const MAX_EVENTS: usize = 5_000;
/// Buckets per drawn series: enough for a wide screen; fewer (down to two: the first, last,
/// smallest and largest points) when there are so many series that the budget says so.
const MAX_BUCKETS: usize = 1_000;
const MIN_BUCKETS: usize = 2;

/// One series of a chart, ready to write.
struct Series<'a> {
    tags: &'a str,
    /// The tags that tell it from the chart's other series (all of them, alone).
    label: String,
    /// Points sorted by time.
    points: Vec<(i64, f64)>,
    summary: Summary,
    p25: f64,
    p75: f64,
    changes: Vec<Change>,
    /// The counted tags' values at its newest point (e.g. its newest outcome).
    newest_counted: Option<String>,
}

struct Change {
    time: i64,
    before: f64,
    after: f64,
    change: f64,
}

struct Chart<'a> {
    measurement: &'a str,
    field: &'a str,
    series: Vec<Series<'a>>,
    /// The tags every series of the chart has (left out of the labels).
    common: String,
    /// Indices into `series` of those drawn.
    drawn: Vec<usize>,
}

pub(super) fn render(report: &Report) -> String {
    let charts: Vec<Chart<'_>> = report
        .fields
        .iter()
        .map(|((measurement, field), by_tags)| {
            let mut series: Vec<Series<'_>> = by_tags
                .iter()
                .map(|(tags, values)| {
                    let mut series = prepare(tags, &values.points, values.others);
                    series.newest_counted = values.newest_counted.as_ref().map(|(_, v)| v.clone());
                    series
                })
                .collect();
            let common: Vec<&(String, String)> = match by_tags.values().next() {
                Some(first) if by_tags.len() > 1 => first
                    .tags
                    .iter()
                    .filter(|pair| by_tags.values().all(|s| s.tags.contains(pair)))
                    .collect(),
                _ => Vec::new(),
            };
            let own_tags: Vec<Vec<&(String, String)>> = by_tags
                .values()
                .map(|values| {
                    values
                        .tags
                        .iter()
                        .filter(|pair| !common.contains(pair))
                        .collect()
                })
                .collect();
            // Series told apart by one tag (e.g. `test`) are labelled by its value alone.
            let one_key = own_tags
                .first()
                .filter(|_| own_tags.len() > 1)
                .filter(|first| first.len() == 1)
                .map(|first| &first[0].0)
                .filter(|key| {
                    own_tags
                        .iter()
                        .all(|own| own.len() == 1 && &own[0].0 == *key)
                });
            for (series, own) in series.iter_mut().zip(&own_tags) {
                series.label = if own.is_empty() {
                    field.clone()
                } else if one_key.is_some() {
                    own[0].1.clone()
                } else {
                    crate::summary::tags_text(&own.iter().map(|(k, v)| (k, v)).collect::<Vec<_>>())
                };
            }
            let mut drawn: Vec<usize> = (0..series.len())
                .filter(|&i| !series[i].points.is_empty())
                .collect();
            drawn.sort_by_key(|&i| std::cmp::Reverse(series[i].points.len()));
            drawn.truncate(SERIES_PER_CHART);
            drawn.sort_unstable();
            Chart {
                measurement,
                field,
                common: crate::summary::tags_text(
                    &common.iter().map(|(k, v)| (k, v)).collect::<Vec<_>>(),
                ),
                series,
                drawn,
            }
        })
        .collect();
    let drawn_series: usize = charts.iter().map(|c| c.drawn.len()).sum();
    let buckets = (DRAWN_POINTS_BUDGET / (4 * drawn_series.max(1))).clamp(MIN_BUCKETS, MAX_BUCKETS);

    let mut out = String::with_capacity(1 << 20);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    // Nothing may be fetched: only inline scripts, styles and data: images.
    out.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:\">\n");
    let _ = writeln!(out, "<title>{}</title>", escape(&report.title));
    // Errors of any script, and anything the page tried to fetch, are collected for
    // report.js to show (and for a headless browser to find).
    out.push_str("<script>window.reportErrors=[];window.addEventListener('error',function(e){window.reportErrors.push(String(e.message))});document.addEventListener('securitypolicyviolation',function(e){window.reportErrors.push('blocked '+e.blockedURI)});</script>\n");
    let _ = writeln!(
        out,
        "<style>{UPLOT_CSS}\n{REPORT_CSS}</style>\n</head>\n<body>"
    );
    header(&mut out, report, &charts);
    out.push_str("<main>\n");
    let mut measurement = "";
    for (index, chart) in charts.iter().enumerate() {
        if chart.measurement != measurement {
            if !measurement.is_empty() {
                out.push_str("</section>\n");
            }
            measurement = chart.measurement;
            let _ = writeln!(
                out,
                "<section class=\"measurement\" id=\"m-{}\">\n<h2>{}</h2>",
                anchor(measurement),
                escape(measurement)
            );
            counts(&mut out, report, measurement);
        }
        chart_html(&mut out, index, chart, report);
    }
    if !measurement.is_empty() {
        out.push_str("</section>\n");
    }
    out.push_str("</main>\n<script type=\"application/json\" id=\"report-data\">");
    out.push_str(&data_json(report, &charts, buckets).replace("</", "<\\/"));
    out.push_str("</script>\n");
    let _ = writeln!(
        out,
        "<script>{UPLOT_JS}</script>\n<script>{REPORT_JS}</script>"
    );
    out.push_str("</body>\n</html>\n");
    out
}

/// Sorts a series, summarises it, and finds its change points.
fn prepare<'a>(tags: &'a str, points: &[(i64, f64)], others: usize) -> Series<'a> {
    let mut points: Vec<(i64, f64)> = points.iter().filter(|p| !p.1.is_nan()).copied().collect();
    points.sort_by_key(|p| p.0);
    let mut sorted: Vec<f64> = points.iter().map(|p| p.1).collect();
    sorted.sort_unstable_by(f64::total_cmp);
    let summary = Summary::of_sorted(&sorted, others);
    let (p25, p75) = (nearest_rank(&sorted, 25.0), nearest_rank(&sorted, 75.0));
    let window = &points[points.len().saturating_sub(CHANGE_POINT_WINDOW)..];
    let values: Vec<f64> = window.iter().map(|p| p.1).collect();
    let changes = change_points(&values, &ChangePointOptions::default())
        .into_iter()
        .map(|c| Change {
            time: window[c.index].0,
            before: c.before,
            after: c.after,
            change: c.change,
        })
        .collect();
    Series {
        tags,
        newest_counted: None,
        label: String::new(),
        points,
        summary,
        p25,
        p75,
        changes,
    }
}

fn header(out: &mut String, report: &Report, charts: &[Chart<'_>]) {
    let series: usize = charts.iter().map(|c| c.series.len()).sum();
    let _ = writeln!(out, "<header>\n<h1>{}</h1>", escape(&report.title));
    let _ = writeln!(
        out,
        "<p class=\"meta\">{} points · {} series of {} fields · {} events · written {} · times in UTC</p>",
        report.points,
        series,
        charts.len(),
        report.events.len(),
        escape(&Timestamp::now().to_string()[..19].replace('T', " ")),
    );
    if !report.sources.is_empty() {
        let sources: Vec<String> = report.sources.iter().map(|s| escape(s)).collect();
        let _ = writeln!(out, "<p class=\"meta\">from {}</p>", sources.join(", "));
    }
    let mut notes: Vec<String> = report.notes.iter().map(|n| escape(n)).collect();
    if report.malformed_lines > super::NAMED_ERRORS {
        notes.push(format!(
            "{} malformed lines skipped in all",
            report.malformed_lines
        ));
    }
    if report.events.len() > MAX_EVENTS {
        notes.push(format!(
            "{} events; the newest {MAX_EVENTS} are drawn",
            report.events.len()
        ));
    }
    if charts.is_empty() {
        notes.push("no numeric values to chart".to_string());
    }
    if !notes.is_empty() {
        out.push_str("<ul class=\"notes\">\n");
        for note in notes {
            let _ = writeln!(out, "<li>{note}</li>");
        }
        out.push_str("</ul>\n");
    }
    let mut measurements: Vec<&str> = charts.iter().map(|c| c.measurement).collect();
    measurements.dedup();
    if measurements.len() > 1 {
        out.push_str("<nav>");
        for m in measurements {
            let _ = write!(out, "<a href=\"#m-{}\">{}</a> ", anchor(m), escape(m));
        }
        out.push_str("</nav>\n");
    }
    out.push_str("</header>\n");
}

fn chart_html(out: &mut String, index: usize, chart: &Chart<'_>, report: &Report) {
    let _ = writeln!(
        out,
        "<div class=\"field\">\n<h3>{} <span class=\"unit\">{}</span></h3>",
        escape(chart.field),
        escape(chart.measurement)
    );
    if !chart.common.is_empty() {
        let _ = writeln!(
            out,
            "<p class=\"meta\">every series: {}</p>",
            escape(&chart.common)
        );
    }
    let hidden = chart.series.len() - chart.drawn.len();
    if hidden > 0 {
        let _ = writeln!(
            out,
            "<p class=\"meta\">{} series drawn (those with the most points); all {} are in the table</p>",
            chart.drawn.len(),
            chart.series.len()
        );
    }
    if !chart.drawn.is_empty() {
        let _ = writeln!(out, "<div class=\"chart\" id=\"chart-{index}\"></div>");
    }
    box_plot(out, chart);
    let counted = chart.series.iter().any(|s| s.newest_counted.is_some());
    out.push_str("<div class=\"table-wrap\"><table class=\"summary\">\n<thead><tr><th>series</th><th>count</th><th>min</th><th>mean</th><th>p50</th><th>p95</th><th>p99</th><th>max</th><th>newest</th><th>vs p50</th>");
    if counted {
        let _ = write!(
            out,
            "<th>{} (newest)</th>",
            escape(&report.counted.join(", "))
        );
    }
    out.push_str("<th>change points</th></tr></thead>\n<tbody>\n");
    // Test runs (counted outcomes) read best slowest first; other tables in tag order.
    let mut rows: Vec<&Series<'_>> = chart.series.iter().collect();
    if counted {
        let newest = |s: &Series<'_>| s.points.last().map_or(f64::NEG_INFINITY, |p| p.1);
        rows.sort_by(|a, b| newest(b).total_cmp(&newest(a)));
    }
    for series in rows {
        let _ = write!(
            out,
            "<tr><td class=\"tags\">{}</td><td>{}</td>",
            if series.tags.is_empty() {
                "(no tags)".to_string()
            } else {
                escape(series.tags)
            },
            series.summary.count
        );
        match &series.summary.numbers {
            Some(NumberSummary {
                min,
                mean,
                p50,
                p95,
                p99,
                max,
                ..
            }) => {
                for v in [min, mean, p50, p95, p99, max] {
                    let _ = write!(out, "<td>{}</td>", format_number(*v));
                }
            }
            None => out.push_str(&"<td>-</td>".repeat(6)),
        }
        match (series.points.last(), &series.summary.numbers) {
            (Some(&(_, newest)), Some(n)) => {
                let versus = if n.p50 != 0.0 {
                    format!("{:+.1} %", (newest / n.p50 - 1.0) * 100.0)
                } else {
                    "-".to_string()
                };
                let _ = write!(out, "<td>{}</td><td>{versus}</td>", format_number(newest));
            }
            _ => out.push_str("<td>-</td><td>-</td>"),
        }
        if counted {
            let newest = series.newest_counted.as_deref().unwrap_or("");
            let _ = write!(out, "<td class=\"counted\">{}</td>", escape(newest));
        }
        let changes: Vec<String> = series
            .changes
            .iter()
            .rev()
            .take(3)
            .map(|c| {
                format!(
                    "{:+.1} % at {} ({} → {})",
                    c.change * 100.0,
                    &Timestamp::from_nanos(c.time).to_string()[..19].replace('T', " "),
                    format_number(c.before),
                    format_number(c.after)
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "<td class=\"changes\">{}</td></tr>",
            escape(&changes.join("; "))
        );
    }
    out.push_str("</tbody>\n</table></div>\n</div>\n");
}

/// How many points had each value of the counted tags of `measurement`, most first.
fn counts(out: &mut String, report: &Report, measurement: &str) {
    for ((m, tag), values) in &report.counts {
        if m != measurement {
            continue;
        }
        let mut values: Vec<(&String, &usize)> = values.iter().collect();
        values.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
        let text: Vec<String> = values
            .iter()
            .map(|(value, n)| format!("<span class=\"count\">{n} {}</span>", escape(value)))
            .collect();
        let _ = writeln!(
            out,
            "<p class=\"counts\">{}: {}</p>",
            escape(tag),
            text.join(" · ")
        );
    }
}

/// What the charts draw: per chart, the downsampled series (times in microseconds, delta
/// encoded; values to six significant digits) and their change points; the events.
fn data_json(report: &Report, charts: &[Chart<'_>], buckets: usize) -> String {
    let micros = |nanos: i64| nanos.div_euclid(1_000);
    let charts: Vec<serde_json::Value> = charts
        .iter()
        .enumerate()
        // Fields with no number (strings) have a table and no chart.
        .filter(|(_, chart)| !chart.drawn.is_empty())
        .map(|(index, chart)| {
            let mut changes = Vec::new();
            let series: Vec<serde_json::Value> = chart
                .drawn
                .iter()
                .enumerate()
                .map(|(slot, &i)| {
                    let series = &chart.series[i];
                    let kept = m4(&series.points, buckets);
                    let mut deltas = Vec::with_capacity(kept.len());
                    let mut values = Vec::with_capacity(kept.len());
                    let mut previous = kept.first().map_or(0, |&k| micros(series.points[k].0));
                    let first = previous;
                    for &k in &kept {
                        let (time, value) = series.points[k];
                        deltas.push(micros(time) - previous);
                        previous = micros(time);
                        values.push(serde_json::Value::from(round6(value)));
                    }
                    for c in &series.changes {
                        changes.push(serde_json::json!({
                            "series": slot,
                            "t": micros(c.time),
                            "text": format!("{:+.1} %", c.change * 100.0),
                        }));
                    }
                    serde_json::json!({
                        "label": series.label,
                        "color": color(i),
                        "t0": first,
                        "dt": deltas,
                        "v": values,
                    })
                })
                .collect();
            // Values spanning decades (durations of tests of all sizes) on a log axis.
            let numbers = chart
                .drawn
                .iter()
                .filter_map(|&i| chart.series[i].summary.numbers.as_ref());
            let (low, high) = numbers.fold((f64::MAX, f64::MIN), |(l, h), n| {
                (l.min(n.min), h.max(n.max))
            });
            let log = low > 0.0 && high / low > 50.0;
            serde_json::json!({
                "id": index,
                "measurement": chart.measurement,
                "field": chart.field,
                "log": log,
                "series": series,
                "changes": changes,
            })
        })
        .collect();
    let mut events: Vec<&EventBand> = report.events.iter().collect();
    events.sort_by_key(|e| e.start);
    let events: Vec<serde_json::Value> = events[events.len().saturating_sub(MAX_EVENTS)..]
        .iter()
        .map(|e| {
            serde_json::json!({
                "s": micros(e.start),
                "e": micros(e.end),
                "text": e.text,
                "tags": e.tags,
            })
        })
        .collect();
    serde_json::json!({"charts": charts, "events": events}).to_string()
}

/// `v` to six significant digits, so that the JSON stays short.
fn round6(v: f64) -> f64 {
    if !v.is_finite() || v == 0.0 {
        return if v.is_finite() { 0.0 } else { v };
    }
    format!("{v:.5e}").parse().unwrap_or(v)
}

/// Text for HTML: `&`, `<`, `>` and quotes escaped.
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A measurement name as an element id: letters, digits, `-` and `_`; others as their code.
fn anchor(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c.to_string()
            } else {
                format!("x{:x}", u32::from(c))
            }
        })
        .collect()
}
