//! Summary statistics of a series' values — the numbers the CLI's `stats` table and the HTML
//! report's tables show, computed once here so that both always agree.

/// Numbers of one series field.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Summary {
    /// How many values (numeric or not).
    pub count: usize,
    /// Statistics of the numeric values, if there are any.
    pub numbers: Option<NumberSummary>,
}

/// Statistics of numeric values; percentiles by the nearest-rank method.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct NumberSummary {
    /// The smallest value.
    pub min: f64,
    /// The arithmetic mean.
    pub mean: f64,
    /// The median (nearest rank).
    pub p50: f64,
    /// The 95th percentile (nearest rank).
    pub p95: f64,
    /// The 99th percentile (nearest rank).
    pub p99: f64,
    /// The largest value.
    pub max: f64,
}

impl Summary {
    /// The summary of `numbers` and of `others` values that are not numbers (strings), which
    /// count but have no statistics.
    pub fn of(numbers: &[f64], others: usize) -> Self {
        let mut sorted = numbers.to_vec();
        sorted.sort_by(f64::total_cmp);
        Self::of_sorted(&sorted, others)
    }

    /// [`of`](Self::of) for numbers already sorted ascending (by `f64::total_cmp`).
    pub fn of_sorted(sorted: &[f64], others: usize) -> Self {
        let count = sorted.len() + others;
        if sorted.is_empty() {
            return Summary {
                count,
                numbers: None,
            };
        }
        let mean = sorted.iter().sum::<f64>() / sorted.len() as f64;
        Summary {
            count,
            numbers: Some(NumberSummary {
                min: sorted[0],
                mean,
                p50: nearest_rank(sorted, 50.0),
                p95: nearest_rank(sorted, 95.0),
                p99: nearest_rank(sorted, 99.0),
                max: sorted[sorted.len() - 1],
            }),
        }
    }
}

/// The `p`th percentile of `sorted` (ascending) by the nearest-rank method; `NaN` when empty.
pub fn nearest_rank(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    let index = ((p / 100.0) * n as f64).ceil() as usize;
    sorted[index.clamp(1, n) - 1]
}

/// Four significant digits, without an exponent for everyday magnitudes.
pub fn format_number(v: f64) -> String {
    if v == 0.0 {
        return "0".to_string();
    }
    let magnitude = v.abs().log10().floor() as i32;
    if !(-4..=9).contains(&magnitude) {
        return format!("{v:.3e}");
    }
    let decimals = (3 - magnitude).max(0) as usize;
    format!("{v:.decimals$}")
}

/// A tag set as `k=v,k=v`, sorted by key: how tables and reports name a series.
pub fn tags_text<K: AsRef<str>, V: AsRef<str>>(tags: &[(K, V)]) -> String {
    let mut pairs: Vec<(&str, &str)> = tags.iter().map(|(k, v)| (k.as_ref(), v.as_ref())).collect();
    pairs.sort_unstable();
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        let n = Summary::of(&values, 0).numbers.unwrap();
        assert_eq!(
            (n.min, n.p50, n.p95, n.p99, n.max, n.mean),
            (1.0, 50.0, 95.0, 99.0, 100.0, 50.5)
        );
        assert_eq!(Summary::of(&[2.0], 3).count, 4);
        assert_eq!(Summary::of(&[], 2).numbers, None);
    }

    #[test]
    fn numbers_have_four_significant_digits() {
        assert_eq!(format_number(0.0012345), "0.001234");
        assert_eq!(format_number(12.3456), "12.35");
        assert_eq!(format_number(98765.4), "98765");
        assert_eq!(format_number(1e12), "1.000e12");
        assert_eq!(format_number(-2.5), "-2.500");
    }

    #[test]
    fn tag_sets_are_named_sorted_by_key() {
        assert_eq!(tags_text(&[("b", "2"), ("a", "1")]), "a=1,b=2");
        assert_eq!(tags_text::<&str, &str>(&[]), "");
    }
}
