//! Regressions without false alarms: whether the newest values of a series differ from its
//! history ([`compare`]), and where a history changed level ([`change_points`]).
//!
//! Test durations are skewed (log-normal: a run is rarely much faster, sometimes much slower),
//! noisy on shared machines, and have single spikes. Both checks therefore work on the
//! logarithms of positive series (a ratio becomes a difference, the skew goes), measure spread
//! robustly (median absolute deviation), and demand a minimum relative change as well as
//! statistical significance, so that a large relative change in a quiet series and a small one
//! in a noisy series are told apart, and a spike is neither.
//!
//! - [`compare`] follows the modified z-score of Iglewicz and Hoaglin (median and scaled MAD,
//!   threshold 3.5), as Bencher's and asv's thresholds do with the history's own spread.
//! - [`change_points`] is binary segmentation, as in the E-divisive approach of MongoDB's
//!   and Apache Otava's (Hunter's) change-point detection: find the split of a segment that best
//!   separates its two sides, keep it if it is significant, and go on in both halves. The split's
//!   statistic is Student's t on the logarithms with outliers tamed (beyond three scaled MADs
//!   of its segment, a lone value counts as the median — a spike — and one of a run is clipped
//!   to that bound), its p-value corrected for having tried every split (Bonferroni, eased for
//!   the splits' correlation by a factor, 1 + n/40, calibrated on simulated noise).
//!   The newest runs get a test of their own (the last 3 to `min_segment + 2` values against
//!   the segment before them, at half the level), so that a step is reported a few runs
//!   after it happened, before `min_segment` values follow it. A split is reported when its
//!   p-value is below
//!   [`ChangePointOptions::alpha`] and the medians of its two sides differ by at least
//!   [`ChangePointOptions::min_change`].
//!
//! Both are measured on synthetic histories by `cargo run --example regressions_quality` in
//! `bench/` (recall, false alarms, delay; see `bench/RESULTS.md`).

mod stats;

use stats::{median, scaled_mad, t_two_sided_p};

/// How [`compare`] decides.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CompareOptions {
    /// The fewest history values to judge by; with fewer, nothing is flagged.
    pub min_history: usize,
    /// How many scaled MADs from the history's median the newest value must be.
    pub threshold: f64,
    /// The smallest relative change flagged (0.05: 5 %), whatever the spread.
    pub min_change: f64,
    /// The smallest absolute change flagged, in the series' unit (0: none).
    pub min_absolute: f64,
}

impl Default for CompareOptions {
    fn default() -> Self {
        CompareOptions {
            min_history: 5,
            threshold: 3.5,
            min_change: 0.05,
            min_absolute: 0.0,
        }
    }
}

/// What [`compare`] found.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Comparison {
    /// The history's median.
    pub baseline: f64,
    /// The history's spread, relative to its median (the scaled MAD of the logarithms for a
    /// positive series: 0.05 for about 5 % noise).
    pub spread: f64,
    /// The newest values' median.
    pub current: f64,
    /// `current / baseline - 1`: +0.25 for 25 % more (slower, for a duration).
    pub change: f64,
    /// How many spreads `current` is from `baseline`.
    pub score: f64,
    /// Whether the history was long enough to judge.
    pub judged: bool,
    /// Whether the newest values differ from the history by the options' rules.
    pub flagged: bool,
}

/// Whether the median of `newest` differs from `history` (see the module documentation).
/// `NaN` values are left out; an empty `newest` is never flagged.
pub fn compare(history: &[f64], newest: &[f64], options: &CompareOptions) -> Comparison {
    let history: Vec<f64> = history.iter().copied().filter(|v| !v.is_nan()).collect();
    let newest: Vec<f64> = newest.iter().copied().filter(|v| !v.is_nan()).collect();
    let baseline = median(&history);
    let current = median(&newest);
    let change = if baseline != 0.0 {
        current / baseline - 1.0
    } else {
        f64::NAN
    };
    let judged = history.len() >= options.min_history && !newest.is_empty();
    if !judged {
        return Comparison {
            baseline,
            spread: f64::NAN,
            current,
            change,
            score: f64::NAN,
            judged,
            flagged: false,
        };
    }
    let scale = Scale::of(history.iter().chain(&newest));
    let history_t: Vec<f64> = history.iter().map(|&v| scale.apply(v)).collect();
    let center = median(&history_t);
    // A history without spread (a constant) still has the spread of its unit's rounding: never
    // less than a hundredth of the minimum change.
    let spread =
        scaled_mad(&history_t, center).max(scale.floor(options.min_change / 100.0, center));
    let score = (scale.apply(current) - center) / spread;
    let flagged = score.abs() > options.threshold
        && (change.abs() >= options.min_change || change.is_nan())
        && (current - baseline).abs() >= options.min_absolute;
    Comparison {
        baseline,
        spread: scale.relative(spread, center),
        current,
        change,
        score,
        judged,
        flagged,
    }
}

/// How [`change_points`] decides.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ChangePointOptions {
    /// The fewest values on each side of a change point.
    pub min_segment: usize,
    /// The significance a split must reach, after correction for the splits tried.
    pub alpha: f64,
    /// The smallest relative change between the medians on either side (0.05: 5 %).
    pub min_change: f64,
    /// The most change points reported for one series.
    pub max_points: usize,
}

impl Default for ChangePointOptions {
    fn default() -> Self {
        ChangePointOptions {
            min_segment: 4,
            alpha: 0.01,
            min_change: 0.05,
            max_points: 16,
        }
    }
}

/// Where a series changed level.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ChangePoint {
    /// The index of the first value after the change.
    pub index: usize,
    /// The median of the segment before it (up to the previous change point).
    pub before: f64,
    /// The median of the segment after it (up to the next change point).
    pub after: f64,
    /// `after / before - 1`: +0.25 for 25 % more.
    pub change: f64,
    /// The split's p-value, corrected for the splits tried in its segment.
    pub p_value: f64,
}

/// The change points of `values` (in time order), in index order; the medians and changes
/// are those of the final segments. `NaN` values must be left out by the caller.
pub fn change_points(values: &[f64], options: &ChangePointOptions) -> Vec<ChangePoint> {
    let min_segment = options.min_segment.max(2);
    if values.len() < 2 * min_segment {
        return Vec::new();
    }
    let scale = Scale::of(values.iter());
    let transformed: Vec<f64> = values.iter().map(|&v| scale.apply(v)).collect();
    let mut splits: Vec<(usize, f64)> = Vec::new();
    let mut segments = vec![(0, values.len())];
    while let Some((start, end)) = segments.pop() {
        if splits.len() >= options.max_points {
            break;
        }
        let Some((split, p_value)) = best_split(&transformed[start..end], min_segment) else {
            continue;
        };
        let at = start + split;
        let before = median(&values[start..at]);
        let after = median(&values[at..end]);
        let change = relative_change(before, after);
        if p_value < options.alpha && change.abs() >= options.min_change {
            splits.push((at, p_value));
            segments.push((start, at));
            segments.push((at, end));
        }
    }
    // The newest runs: a change too recent to leave `min_segment` values after it, tested on its
    // own against the last segment, with a stricter level (it is tried at every run).
    let last_start = splits.iter().map(|(at, _)| *at).max().unwrap_or(0);
    if splits.len() < options.max_points {
        let tail = &transformed[last_start..];
        if let Some((split, p_value)) = recent_split(tail, min_segment) {
            let at = last_start + split;
            let change = relative_change(median(&values[last_start..at]), median(&values[at..]));
            if p_value < options.alpha * RECENT_ALPHA_SHARE && change.abs() >= options.min_change {
                splits.push((at, p_value));
            }
        }
    }
    splits.sort_unstable_by_key(|(at, _)| *at);
    let bounds: Vec<usize> = std::iter::once(0)
        .chain(splits.iter().map(|(at, _)| *at))
        .chain(std::iter::once(values.len()))
        .collect();
    splits
        .iter()
        .enumerate()
        .map(|(i, &(index, p_value))| {
            let before = median(&values[bounds[i]..index]);
            let after = median(&values[index..bounds[i + 2]]);
            ChangePoint {
                index,
                before,
                after,
                change: relative_change(before, after),
                p_value,
            }
        })
        .collect()
}

fn relative_change(before: f64, after: f64) -> f64 {
    if before != 0.0 {
        after / before - 1.0
    } else {
        f64::NAN
    }
}

/// The fewest newest values the recent-change test looks at: fewer is a spike or two.
const RECENT_MIN: usize = 3;

/// The share of [`ChangePointOptions::alpha`] the recent-change test may use.
const RECENT_ALPHA_SHARE: f64 = 0.5;

/// The split of `segment` (at least `min_segment` values on each side) with the largest t
/// statistic between its sides, outliers tamed, and its p-value corrected for the splits tried.
fn best_split(segment: &[f64], min_segment: usize) -> Option<(usize, f64)> {
    let n = segment.len();
    if n < 2 * min_segment {
        return None;
    }
    let tries = effective_tests(n, min_segment);
    best_t(segment, min_segment..=n - min_segment, tries)
}

/// The split leaving the newest 3 to `min_segment + 2` values of `segment` on its right (at
/// least `min_segment` on its left) with the largest t, its p-value corrected for those tries.
fn recent_split(segment: &[f64], min_segment: usize) -> Option<(usize, f64)> {
    let n = segment.len();
    let widest = (min_segment + 2).min(n.saturating_sub(min_segment));
    if widest < RECENT_MIN {
        return None;
    }
    best_t(
        segment,
        n - widest..=n - RECENT_MIN,
        (widest + 1 - RECENT_MIN) as f64,
    )
}

/// Of the splits `ks` of `segment`, the one with the largest t statistic between its sides
/// (outliers tamed), with its two-sided p-value times `tries`.
fn best_t(
    segment: &[f64],
    ks: std::ops::RangeInclusive<usize>,
    tries: f64,
) -> Option<(usize, f64)> {
    let n = segment.len();
    let center = median(segment);
    let spread = scaled_mad(segment, center);
    let clipped = tame_outliers(segment, center, spread);
    // Prefix sums of values and squares: every split's means and variances in constant time.
    let mut sums = vec![(0.0, 0.0); n + 1];
    for (i, v) in clipped.iter().enumerate() {
        sums[i + 1] = (sums[i].0 + v, sums[i].1 + v * v);
    }
    let (total, total_squares) = sums[n];
    let mut best: Option<(usize, f64)> = None;
    for k in ks {
        let (left_n, right_n) = (k as f64, (n - k) as f64);
        let (left_sum, left_squares) = sums[k];
        let (right_sum, right_squares) = (total - left_sum, total_squares - left_squares);
        let left_mean = left_sum / left_n;
        let right_mean = right_sum / right_n;
        let within =
            (left_squares - left_sum * left_mean) + (right_squares - right_sum * right_mean);
        let variance = (within / (n as f64 - 2.0)).max(0.0);
        let difference = (right_mean - left_mean).abs();
        let t = if variance > 0.0 {
            difference / (variance * (1.0 / left_n + 1.0 / right_n)).sqrt()
        } else if difference > 0.0 {
            f64::INFINITY
        } else {
            0.0
        };
        if best.is_none_or(|(_, best_t)| t > best_t) {
            best = Some((k, t));
        }
    }
    let (k, t) = best?;
    Some((k, (t_two_sided_p(t, n as f64 - 2.0) * tries).min(1.0)))
}

/// How many independent tests the splits of a segment of `n` values count as. Bonferroni counts
/// every split tried, but neighbouring splits' statistics are nearly the same: on Gaussian noise
/// it overstates the maximum's tail by a factor of about 1 + n/40 (measured by simulation in
/// `bench/examples/regressions_quality.rs`, whose calibration table checks this every run).
fn effective_tests(n: usize, min_segment: usize) -> f64 {
    let tried = (n + 1 - 2 * min_segment) as f64;
    (tried / (1.0 + n as f64 / 40.0)).max(1.0)
}

/// `segment` with its outliers (beyond three scaled MADs of `center`) tamed: a lone one — no
/// neighbour beyond the same bound on the same side — is a spike, and counts as the median; one
/// of a run is clipped to the bound, so that the run still moves the mean, by a bounded amount.
fn tame_outliers(segment: &[f64], center: f64, spread: f64) -> Vec<f64> {
    if spread <= 0.0 {
        return segment.to_vec();
    }
    let bound = 3.0 * spread;
    let side = |v: f64| {
        if v > center + bound {
            1
        } else if v < center - bound {
            -1
        } else {
            0
        }
    };
    (0..segment.len())
        .map(|i| {
            let here = side(segment[i]);
            if here == 0 {
                return segment[i];
            }
            let before = i.checked_sub(1).map(|j| side(segment[j]));
            let after = segment.get(i + 1).map(|&v| side(v));
            if before != Some(here) && after != Some(here) {
                center
            } else {
                segment[i].clamp(center - bound, center + bound)
            }
        })
        .collect()
}

/// The transformation both checks work in: logarithms for a positive series, the values
/// themselves otherwise.
struct Scale {
    log: bool,
}

impl Scale {
    fn of<'a>(mut values: impl Iterator<Item = &'a f64>) -> Self {
        Scale {
            log: values.all(|v| *v > 0.0),
        }
    }

    fn apply(&self, value: f64) -> f64 {
        if self.log {
            value.ln()
        } else {
            value
        }
    }

    /// A spread of `relative` of the series' level at `center` (transformed).
    fn floor(&self, relative: f64, center: f64) -> f64 {
        if self.log {
            relative
        } else {
            (relative * center.abs()).max(f64::MIN_POSITIVE)
        }
    }

    /// `spread` (transformed) relative to the level at `center`.
    fn relative(&self, spread: f64, center: f64) -> f64 {
        if self.log {
            spread.exp_m1()
        } else if center != 0.0 {
            spread / center.abs()
        } else {
            f64::NAN
        }
    }
}

#[cfg(test)]
mod tests;
