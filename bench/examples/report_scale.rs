//! The HTML report at scale: 1,000,000 points of line protocol → report, timed (parse and
//! render), and the file's size; in two shapes (10 series of 100,000 points, 1,000 series of
//! 1,000). Also writes, for `bench/report_bench.py` to time in chromium, the same downsampled
//! lines as plain SVG polylines (the alternative to a canvas chart library), and every point as
//! SVG (what drawing without downsampling would cost).
//!
//! `cargo run --release --example report_scale -- OUT_DIR`

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use influxdb_datalogger::line_protocol::Lines;
use influxdb_datalogger::report::{m4, Report};
use influxdb_datalogger::Precision;

fn main() {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "target/report-bench".into()),
    );
    std::fs::create_dir_all(&out).unwrap();
    println!("| shape | parse + render | of which render | report size | SVG (same points) | SVG (every point) |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (name, series, per_series) in [
        ("10x100k", 10usize, 100_000usize),
        ("1000x1000", 1000, 1000),
    ] {
        let text = line_protocol(series, per_series);
        // Best of 3, each from the text (parsing is part of what a user waits for).
        let mut best = (f64::MAX, f64::MAX);
        let mut html = String::new();
        for _ in 0..3 {
            let started = Instant::now();
            let mut report = Report::new(format!("{name}: 1,000,000 points"));
            report.add_line_protocol(&text, "bench", Precision::Nanoseconds);
            let parsed = started.elapsed().as_secs_f64();
            html = report.render();
            let total = started.elapsed().as_secs_f64();
            best = (best.0.min(total), best.1.min(total - parsed));
        }
        std::fs::write(out.join(format!("{name}.html")), &html).unwrap();
        let (downsampled, everything) = svg_pages(&text, series, html_points(&html));
        std::fs::write(out.join(format!("{name}-svg.html")), &downsampled).unwrap();
        std::fs::write(out.join(format!("{name}-svg-all.html")), &everything).unwrap();
        println!(
            "| {name} | {:.2} s | {:.2} s | {:.2} MB | {:.2} MB | {:.1} MB |",
            best.0,
            best.1,
            html.len() as f64 / 1e6,
            downsampled.len() as f64 / 1e6,
            everything.len() as f64 / 1e6
        );
    }
}

/// `series` series of `per_series` points each, one a second, with noise and a spike per series.
fn line_protocol(series: usize, per_series: usize) -> String {
    let mut text = String::with_capacity(series * per_series * 60);
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    for s in 0..series {
        for i in 0..per_series {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let noise = (state >> 11) as f64 / (1u64 << 53) as f64;
            let value = if i == per_series / 2 {
                50.0
            } else {
                1.0 + s as f64 * 0.01 + noise * 0.1
            };
            let time = 1_700_000_000_000_000_000i64 + i as i64 * 1_000_000_000;
            let _ = writeln!(
                text,
                "latency,host=h{s},case=c{} seconds={value:.6} {time}",
                s % 7
            );
        }
    }
    text
}

/// How many points the report's charts draw (the lengths of its value arrays).
fn html_points(html: &str) -> usize {
    html.split("\"v\":[")
        .skip(1)
        .map(|v| v[..v.find(']').unwrap()].split(',').count())
        .sum()
}

/// Which points of a series a page draws.
type Keep<'a> = dyn Fn(&[(i64, f64)]) -> Vec<usize> + 'a;

/// Two pages of SVG polylines (a 1000×300 chart): the series the report draws, downsampled to
/// as many points as the report draws (`drawn`), and every point of every series.
fn svg_pages(text: &str, series: usize, drawn: usize) -> (String, String) {
    let mut by_series: Vec<Vec<(i64, f64)>> = vec![Vec::new(); series];
    for (_, line) in Lines::new(text).flatten() {
        let host = &line.tags.iter().find(|(k, _)| k == "host").unwrap().1;
        let index: usize = host[1..].parse().unwrap();
        by_series[index].push((line.timestamp.unwrap(), line.fields[0].1.as_f64().unwrap()));
    }
    let drawn_series = series.min(influxdb_datalogger::report::SERIES_PER_CHART);
    let buckets = (drawn / drawn_series / 4).max(1);
    let (t0, t1) = (by_series[0][0].0, by_series[0].last().unwrap().0);
    let page = |count: usize, keep: &Keep<'_>| {
        let mut html = String::from(
            "<!DOCTYPE html><html><body><svg viewBox=\"0 0 1000 300\" width=\"1000\" height=\"300\">",
        );
        for points in by_series.iter().take(count) {
            html.push_str("<polyline fill=\"none\" stroke=\"#1f77b4\" points=\"");
            for i in keep(points) {
                let (t, v) = points[i];
                let x = (t - t0) as f64 / (t1 - t0) as f64 * 1000.0;
                let _ = write!(html, "{x:.1},{:.1} ", 300.0 - v.min(60.0) * 5.0);
            }
            html.push_str("\"/>");
        }
        html.push_str("</svg></body></html>");
        html
    };
    (
        page(drawn_series, &|p: &[(i64, f64)]| m4(p, buckets)),
        page(series, &|p: &[(i64, f64)]| (0..p.len()).collect()),
    )
}
