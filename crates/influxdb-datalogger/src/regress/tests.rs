use super::*;

/// A deterministic log-normal series: `level` × e^(noise × N(0,1)), from SplitMix64 and
/// Box–Muller.
fn noisy(level: f64, noise: f64, n: usize, seed: u64) -> Vec<f64> {
    let mut state = seed;
    let mut uniform = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| {
            let (u, v) = (uniform().max(1e-12), uniform());
            let normal = (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos();
            level * (noise * normal).exp()
        })
        .collect()
}

fn indexes(points: &[ChangePoint]) -> Vec<usize> {
    points.iter().map(|p| p.index).collect()
}

#[test]
fn a_step_is_found_where_it_is_with_its_levels() {
    let mut series = noisy(1.0, 0.05, 60, 1);
    series.extend(noisy(1.25, 0.05, 40, 2));
    let points = change_points(&series, &ChangePointOptions::default());
    assert_eq!(indexes(&points), [60]);
    let point = &points[0];
    assert!(
        (point.before - 1.0).abs() < 0.03 && (point.after - 1.25).abs() < 0.04,
        "{point:?}"
    );
    assert!(
        (point.change - 0.25).abs() < 0.05 && point.p_value < 1e-10,
        "{point:?}"
    );
}

#[test]
fn two_steps_and_a_return_are_each_found() {
    let mut series = noisy(1.0, 0.03, 50, 3);
    series.extend(noisy(1.5, 0.03, 50, 4));
    series.extend(noisy(1.0, 0.03, 50, 5));
    assert_eq!(
        indexes(&change_points(&series, &ChangePointOptions::default())),
        [50, 100]
    );
}

#[test]
fn single_spikes_and_noise_are_not_change_points() {
    for seed in 0..50 {
        let mut series = noisy(2.0, 0.05, 120, 100 + seed);
        series[30] *= 5.0;
        series[90] *= 3.0;
        // A spike as the newest value too: not a change until more values follow it.
        series[119] *= 4.0;
        let points = change_points(&series, &ChangePointOptions::default());
        assert!(points.is_empty(), "seed {seed}: {points:?}");
    }
}

#[test]
fn a_small_change_in_a_noisy_series_is_not_flagged_but_a_large_one_is() {
    let mut small = noisy(1.0, 0.20, 80, 7);
    small.extend(noisy(1.04, 0.20, 80, 8));
    assert!(change_points(&small, &ChangePointOptions::default()).is_empty());
    let mut large = noisy(1.0, 0.20, 80, 9);
    large.extend(noisy(2.0, 0.20, 80, 10));
    assert_eq!(
        indexes(&change_points(&large, &ChangePointOptions::default())),
        [80]
    );
}

#[test]
fn edge_cases_have_no_change_points_or_exactly_the_obvious_one() {
    let options = ChangePointOptions::default();
    assert!(change_points(&[], &options).is_empty());
    assert!(change_points(&[1.0, 2.0], &options).is_empty());
    assert!(change_points(&[5.0; 50], &options).is_empty(), "constant");
    // Without spread on either side, a step is certain.
    let mut zero_variance = vec![1.0; 20];
    zero_variance.extend([2.0; 20]);
    let points = change_points(&zero_variance, &options);
    assert_eq!(indexes(&points), [20]);
    assert_eq!(
        (points[0].before, points[0].after, points[0].change),
        (1.0, 2.0, 1.0)
    );
    // A step at the first or last possible run: the segments are the minimum long.
    let mut at_start = vec![1.0; 4];
    at_start.extend([3.0; 30]);
    assert_eq!(indexes(&change_points(&at_start, &options)), [4]);
    let mut at_end = vec![1.0; 30];
    at_end.extend([3.0; 4]);
    assert_eq!(indexes(&change_points(&at_end, &options)), [30]);
    // One value after it: a spike, not yet a change.
    let mut too_late = vec![1.0; 30];
    too_late.push(3.0);
    assert!(change_points(&too_late, &options).is_empty());
    // Zero and negative values: worked on as they are, not as logarithms.
    let mut signed = vec![-1.0; 20];
    signed.extend([1.0; 20]);
    assert_eq!(indexes(&change_points(&signed, &options)), [20]);
}

#[test]
fn comparison_flags_a_slow_run_and_not_a_run_within_the_noise() {
    let history = noisy(2.0, 0.05, 30, 11);
    let options = CompareOptions::default();
    let same = compare(&history, &[2.05], &options);
    assert!(same.judged && !same.flagged, "{same:?}");
    assert!((same.spread - 0.05).abs() < 0.03, "{same:?}");
    let slow = compare(&history, &[2.6], &options);
    assert!(
        slow.flagged && (slow.change - 0.3).abs() < 0.05 && slow.score > 3.5,
        "{slow:?}"
    );
    let fast = compare(&history, &[1.4], &options);
    assert!(fast.flagged && fast.change < -0.25, "{fast:?}");
}

#[test]
fn comparison_needs_history_and_both_floors() {
    let options = CompareOptions::default();
    let short = compare(&[1.0, 1.0, 1.0], &[5.0], &options);
    assert!(!short.judged && !short.flagged);
    // A constant history: any change beyond the minimum is flagged, one below it is not.
    let constant = [1.0; 10];
    assert!(compare(&constant, &[1.06], &options).flagged);
    assert!(!compare(&constant, &[1.04], &options).flagged);
    // The absolute floor: 50 % of a microsecond is not worth a flag when the floor is 1 ms.
    let tiny = CompareOptions {
        min_absolute: 1e-3,
        ..CompareOptions::default()
    };
    assert!(!compare(&[2e-6; 10], &[3e-6], &tiny).flagged);
    // The median of several newest values: one spike among them is not a regression.
    let history = noisy(1.0, 0.05, 30, 12);
    assert!(!compare(&history, &[1.0, 5.0, 1.02], &options).flagged);
    assert!(!compare(&history, &[f64::NAN], &options).judged);
}
