//! How well the regression checks find real steps and ignore noise, on synthetic histories of
//! test durations: log-normal noise, single spikes, bimodal series, slow drifts, and steps at
//! known runs. Compared, in the same run, with the plain rule the pytest plugin used before
//! (newest value against the median of the last 10 runs, flagged beyond 20 %, and beyond 10 %).
//!
//! `make bench-regressions` (`cargo run --release --example regressions_quality` in `bench/`);
//! results in RESULTS.md.

use std::time::Instant;

use influxdb_datalogger::regress::{change_points, ChangePointOptions};

/// SplitMix64: a small, good generator, deterministic from its seed.
struct Random(u64);

impl Random {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn between(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.next()
    }

    fn normal(&mut self) -> f64 {
        let (u, v) = (self.next().max(1e-12), self.next());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

/// A history without a step: log-normal noise, and — by kind — spikes (2–5×, one run in 20),
/// two modes (15 % apart, runs at random in either), or a slow drift (at most 4 % in all).
fn step_free(random: &mut Random, kind: usize, n: usize, noise: f64) -> Vec<f64> {
    let level = random.between(0.01, 10.0);
    (0..n)
        .map(|i| {
            let mut value = level * (noise * random.normal()).exp();
            match kind {
                0 => {}
                1 if random.next() < 0.05 => value *= random.between(2.0, 5.0),
                2 if random.next() < 0.5 => value *= 1.15,
                3 => value *= 1.0 + 0.04 * i as f64 / n as f64,
                _ => {}
            }
            value
        })
        .collect()
}

/// A history whose level changes by `step` at run `at`, with a spike now and then.
fn stepped(random: &mut Random, n: usize, at: usize, noise: f64, step: f64) -> Vec<f64> {
    let level = random.between(0.01, 10.0);
    (0..n)
        .map(|i| {
            let base = if i < at { level } else { level * (1.0 + step) };
            let mut value = base * (noise * random.normal()).exp();
            if random.next() < 0.02 {
                value *= random.between(2.0, 5.0);
            }
            value
        })
        .collect()
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    let m = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[m]
    } else {
        (sorted[m - 1] + sorted[m]) / 2.0
    }
}

/// The plain rule: the newest value against the median of the `window` before it.
fn percent_rule_flags(history: &[f64], window: usize, percent: f64) -> bool {
    let n = history.len();
    if n <= window {
        return false;
    }
    let before = median(&history[n - 1 - window..n - 1]);
    (history[n - 1] / before - 1.0).abs() * 100.0 > percent
}

/// Change points found near `at` (within two runs) in `history`.
fn found_near(history: &[f64], at: usize) -> bool {
    change_points(history, &ChangePointOptions::default())
        .iter()
        .any(|p| p.index.abs_diff(at) <= 2)
}

struct Tally {
    series: usize,
    within_5: usize,
    delays: Vec<usize>,
}

fn main() {
    let mut random = Random(20_261_203);
    // Calibration: on Gaussian noise (in the logarithms), how often the corrected p-value of a
    // series' best split is below 1 %: about 1 % if the correction is right.
    println!("Calibration on noise alone: share of series whose best split has p < 0.01");
    for n in [10usize, 20, 50, 100, 200] {
        let mut options = ChangePointOptions::default();
        (options.alpha, options.min_change, options.max_points) = (0.01, 0.0, 1);
        let below = (0..4_000)
            .filter(|_| {
                let noise: Vec<f64> = (0..n).map(|_| (0.05 * random.normal()).exp()).collect();
                !change_points(&noise, &options).is_empty()
            })
            .count();
        println!("  n = {n:>3}: {:.2} %", below as f64 / 40.0);
    }

    // False alarms: step-free series of every kind. Ours looks at the whole history, as
    // `regressions` does; the plain rule is what a check after every run (from the tenth on)
    // would have said at least once.
    println!("\nFalse alarms per 100 step-free series:");
    println!(
        "{:<34} {:>8} {:>10} {:>10}",
        "series", "ours", "10 %/10", "20 %/10"
    );
    let kinds = [
        "log-normal noise",
        "with spikes (2-5x)",
        "bimodal (15 % apart)",
        "slow drift (4 %)",
    ];
    let mut total = (0usize, 0usize, 0usize, 0usize);
    for (kind, name) in kinds.iter().enumerate() {
        for noise in [0.02, 0.05, 0.10, 0.20] {
            let (mut ours, mut ten, mut twenty) = (0, 0, 0);
            let count = 100;
            for _ in 0..count {
                let n = 10 + (random.next() * 190.0) as usize;
                let history = step_free(&mut random, kind, n, noise);
                let mut alarms = (
                    !change_points(&history, &ChangePointOptions::default()).is_empty(),
                    false,
                    false,
                );
                for end in 10..=n {
                    let seen = &history[..end];
                    alarms.1 |= percent_rule_flags(seen, 10, 10.0);
                    alarms.2 |= percent_rule_flags(seen, 10, 20.0);
                }
                ours += usize::from(alarms.0);
                ten += usize::from(alarms.1);
                twenty += usize::from(alarms.2);
            }
            total = (
                total.0 + count,
                total.1 + ours,
                total.2 + ten,
                total.3 + twenty,
            );
            println!(
                "{:<34} {ours:>8} {ten:>10} {twenty:>10}",
                format!("{name}, {:.0} % noise", noise * 100.0)
            );
        }
    }
    let per_100 = |alarms: usize| alarms as f64 * 100.0 / total.0 as f64;
    println!(
        "{:<34} {:>8.1} {:>10.1} {:>10.1}",
        "all",
        per_100(total.1),
        per_100(total.2),
        per_100(total.3)
    );

    // Steps: how many runs after the step until it is found, over 200 histories a cell.
    println!("\nSteps found within 5 runs (%), and the median delay in runs:");
    println!(
        "{:<34} {:>8} {:>8} {:>10} {:>10}",
        "step, noise", "ours", "delay", "10 %/10", "20 %/10"
    );
    for noise in [0.02, 0.05, 0.10] {
        for step in [0.05, 0.10, 0.25, 0.50, -0.10, -0.25] {
            let mut ours = Tally {
                series: 0,
                within_5: 0,
                delays: Vec::new(),
            };
            let (mut ten, mut twenty) = (0, 0);
            for _ in 0..200 {
                let at = 10 + (random.next() * 90.0) as usize;
                let history = stepped(&mut random, at + 30, at, noise, step);
                ours.series += 1;
                if let Some(delay) = (1..=30).find(|&r| found_near(&history[..at + r], at)) {
                    ours.delays.push(delay);
                    if delay <= 5 {
                        ours.within_5 += 1;
                    }
                }
                let flagged = |percent: f64| {
                    (1..=5).any(|r| percent_rule_flags(&history[..at + r], 10, percent))
                };
                ten += usize::from(flagged(10.0));
                twenty += usize::from(flagged(20.0));
            }
            let delay = if ours.delays.is_empty() {
                "-".to_string()
            } else {
                median(&ours.delays.iter().map(|&d| d as f64).collect::<Vec<_>>()).to_string()
            };
            println!(
                "{:<34} {:>7.0}% {delay:>8} {:>9.0}% {:>9.0}%",
                format!("{:+.0} %, {:.0} % noise", step * 100.0, noise * 100.0),
                ours.within_5 as f64 * 100.0 / ours.series as f64,
                ten as f64 / 2.0,
                twenty as f64 / 2.0,
            );
        }
    }

    // Speed: 1,000 series of 200 runs.
    let series: Vec<Vec<f64>> = (0..1_000)
        .map(|i| {
            stepped(
                &mut random,
                200,
                50 + i % 100,
                0.05,
                if i % 2 == 0 { 0.2 } else { 0.0 },
            )
        })
        .collect();
    let started = Instant::now();
    let found: usize = series
        .iter()
        .map(|s| change_points(s, &ChangePointOptions::default()).len())
        .sum();
    println!(
        "\nChange points of 1,000 series x 200 runs: {:.3} s ({found} found)",
        started.elapsed().as_secs_f64()
    );
}
