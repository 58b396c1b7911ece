//! The box plots of a report: SVG drawn here, one row per drawn series of a chart.

use std::fmt::Write as _;

use super::{escape, Chart, Series};
use crate::summary::format_number;

/// A box plot per drawn series, on one shared axis: whiskers from min to max, the box from
/// p25 to p75, a line at the median.
pub(super) fn box_plot(out: &mut String, chart: &Chart<'_>) {
    let rows: Vec<(usize, &Series<'_>)> = chart
        .drawn
        .iter()
        .map(|&i| (i, &chart.series[i]))
        .filter(|(_, s)| s.summary.numbers.is_some())
        .collect();
    if rows.is_empty() {
        return;
    }
    let numbers = |s: &Series<'_>| s.summary.numbers.clone().expect("filtered");
    let low = rows
        .iter()
        .map(|(_, s)| numbers(s).min)
        .fold(f64::MAX, f64::min);
    let high = rows
        .iter()
        .map(|(_, s)| numbers(s).max)
        .fold(f64::MIN, f64::max);
    // Durations of different sizes span decades: a log axis keeps the small ones visible.
    let log = low > 0.0 && high / low > 20.0;
    let scale = |v: f64| if log { v.ln() } else { v };
    let unscale = |v: f64| if log { v.exp() } else { v };
    let (low, high) = (scale(low), scale(high));
    let span = if high > low { high - low } else { 1.0 };
    let (left, right, row_height) = (260.0, 980.0, 22.0);
    let x = |v: f64| left + (scale(v) - low) / span * (right - left);
    let height = rows.len() as f64 * row_height + 40.0;
    let _ = writeln!(
        out,
        "<svg class=\"boxplot\" viewBox=\"0 0 1000 {height}\" role=\"img\" aria-label=\"distribution per series\">"
    );
    for (row, &(index, series)) in rows.iter().enumerate() {
        let n = numbers(series);
        let y = row as f64 * row_height + 11.0;
        let color = color(index);
        let label: String = if series.label.chars().count() > 36 {
            format!("{}…", series.label.chars().take(35).collect::<String>())
        } else {
            series.label.clone()
        };
        let _ = writeln!(
            out,
            "<g stroke=\"{color}\" fill=\"{color}\"><title>{}: min {} p25 {} p50 {} p75 {} max {}</title>\
             <text x=\"{:.0}\" y=\"{:.0}\" stroke=\"none\">{}</text>\
             <line x1=\"{:.0}\" x2=\"{:.0}\" y1=\"{y:.0}\" y2=\"{y:.0}\"/>\
             <rect x=\"{:.0}\" y=\"{:.0}\" width=\"{:.0}\" height=\"12\" fill-opacity=\"0.35\"/>\
             <line x1=\"{:.0}\" x2=\"{:.0}\" y1=\"{:.0}\" y2=\"{:.0}\" stroke-width=\"2.5\"/></g>",
            escape(series.tags),
            format_number(n.min),
            format_number(series.p25),
            format_number(n.p50),
            format_number(series.p75),
            format_number(n.max),
            left - 8.0,
            y + 4.0,
            escape(&label),
            x(n.min),
            x(n.max),
            x(series.p25),
            y - 6.0,
            (x(series.p75) - x(series.p25)).max(1.0),
            x(n.p50),
            x(n.p50),
            y - 7.0,
            y + 7.0,
        );
    }
    let axis_y = rows.len() as f64 * row_height + 4.0;
    let _ = write!(
        out,
        "<line x1=\"{left}\" x2=\"{right}\" y1=\"{axis_y}\" y2=\"{axis_y}\" class=\"axis\"/>"
    );
    if log {
        let _ = write!(
            out,
            "<text x=\"{right}\" y=\"{:.1}\" class=\"note\">log scale</text>",
            axis_y + 30.0
        );
    }
    for step in 0..=4 {
        let v = unscale(low + span * f64::from(step) / 4.0);
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" class=\"tick\">{}</text>",
            x(v),
            axis_y + 16.0,
            format_number(v)
        );
    }
    out.push_str("</svg>\n");
}

/// The colour of the `index`th series of a chart (the same in the chart and the box plot).
pub(super) fn color(index: usize) -> &'static str {
    const PALETTE: [&str; 10] = [
        "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
        "#bcbd22", "#7f7f7f",
    ];
    PALETTE[index % PALETTE.len()]
}
