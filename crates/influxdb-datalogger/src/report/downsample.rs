//! M4 downsampling (Jugel et al., "M4: A Visualization-Oriented Time Series Data Aggregation",
//! VLDB 2014): per time bucket, the first, last, smallest and largest point. A line drawn
//! through them at one bucket per pixel looks like the line through every point, spikes
//! included.

/// The indices of the points of `points` (sorted by time) that M4 keeps with `buckets` equal
/// time buckets, in order. All of them when there are at most four per bucket. `NaN` values
/// are kept only as a bucket's first or last point.
pub fn m4(points: &[(i64, f64)], buckets: usize) -> Vec<usize> {
    let buckets = buckets.max(1);
    if points.len() <= 4 * buckets {
        return (0..points.len()).collect();
    }
    let first_time = points[0].0;
    let span = i128::from(points[points.len() - 1].0) - i128::from(first_time) + 1;
    let bucket_of = |time: i64| {
        let offset = i128::from(time) - i128::from(first_time);
        ((offset * buckets as i128 / span) as usize).min(buckets - 1)
    };
    let mut kept = Vec::with_capacity(4 * buckets);
    let mut start = 0;
    while start < points.len() {
        let bucket = bucket_of(points[start].0);
        let mut end = start + 1;
        let (mut low, mut high) = (start, start);
        while end < points.len() && bucket_of(points[end].0) == bucket {
            let value = points[end].1;
            if value < points[low].1 || points[low].1.is_nan() {
                low = end;
            }
            if value > points[high].1 || points[high].1.is_nan() {
                high = end;
            }
            end += 1;
        }
        let mut four = [start, low, high, end - 1];
        four.sort_unstable();
        for (i, &index) in four.iter().enumerate() {
            if i == 0 || four[i - 1] != index {
                kept.push(index);
            }
        }
        start = end;
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::m4;

    #[test]
    fn short_series_are_kept_whole() {
        let points: Vec<(i64, f64)> = (0..8).map(|i| (i, i as f64)).collect();
        assert_eq!(m4(&points, 2), (0..8).collect::<Vec<_>>());
    }

    #[test]
    fn every_bucket_keeps_its_first_last_smallest_and_largest() {
        // 1,000 points in 10 buckets, one spike up and one down.
        let mut points: Vec<(i64, f64)> = (0..1000).map(|i| (i * 10, (i % 7) as f64)).collect();
        points[123].1 = 1e6;
        points[789].1 = -1e6;
        let kept = m4(&points, 10);
        assert!(kept.len() <= 40, "{}", kept.len());
        assert!(kept.contains(&123) && kept.contains(&789));
        assert!(kept.contains(&0) && kept.contains(&999));
        assert!(kept.windows(2).all(|w| w[0] < w[1]));
        // In each bucket of 100 points, the smallest value (0) and the largest (6 or the spike)
        // are kept.
        for bucket in 0..10 {
            let inside: Vec<f64> = kept
                .iter()
                .filter(|&&i| i / 100 == bucket)
                .map(|&i| points[i].1)
                .collect();
            let all: Vec<f64> = points[bucket * 100..(bucket + 1) * 100]
                .iter()
                .map(|p| p.1)
                .collect();
            let max = |v: &[f64]| v.iter().cloned().fold(f64::MIN, f64::max);
            let min = |v: &[f64]| v.iter().cloned().fold(f64::MAX, f64::min);
            assert_eq!((min(&inside), max(&inside)), (min(&all), max(&all)));
        }
    }

    #[test]
    fn equal_times_and_extreme_spans_do_not_overflow() {
        let points = vec![
            (i64::MIN, 1.0),
            (0, 2.0),
            (0, 3.0),
            (i64::MAX, 4.0),
            (i64::MAX, 0.5),
        ];
        assert_eq!(m4(&points, 1), vec![0, 3, 4]);
        assert_eq!(m4(&points, 2), vec![0, 1, 2, 3, 4]);
        let many: Vec<(i64, f64)> = (0..100).map(|i| (5, i as f64)).collect();
        assert_eq!(m4(&many, 3), vec![0, 99]);
    }
}
