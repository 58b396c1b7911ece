//! The regression checks of the core (`influxdb_datalogger::regress`), for Python: the pytest
//! plugin's comparison with earlier runs and `influxdb_datalogger.regressions`.

use influxdb_datalogger::regress::{self, ChangePointOptions, CompareOptions};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

/// Change points of `values` (in time order): a list of dicts with `index`, `before`,
/// `after`, `change` and `p_value`.
#[pyfunction]
#[pyo3(signature = (values, min_segment = 4, alpha = 0.01, min_change = 0.05, max_points = 16))]
pub fn change_points<'py>(
    py: Python<'py>,
    values: Vec<f64>,
    min_segment: usize,
    alpha: f64,
    min_change: f64,
    max_points: usize,
) -> PyResult<Bound<'py, PyList>> {
    let mut options = ChangePointOptions::default();
    options.min_segment = min_segment;
    options.alpha = alpha;
    options.min_change = min_change;
    options.max_points = max_points;
    let values: Vec<f64> = values.into_iter().filter(|v| !v.is_nan()).collect();
    let points = py.detach(|| regress::change_points(&values, &options));
    let out = PyList::empty(py);
    for p in points {
        out.append(py_dict!(py, {
            "index" => p.index,
            "before" => p.before,
            "after" => p.after,
            "change" => p.change,
            "p_value" => p.p_value,
        }))?;
    }
    Ok(out)
}

/// Whether the median of `newest` differs from `history`: a dict with `baseline`, `spread`,
/// `current`, `change`, `score`, `judged` and `flagged`.
#[pyfunction]
#[pyo3(signature = (history, newest, min_history = 5, threshold = 3.5, min_change = 0.05, min_absolute = 0.0))]
pub fn compare<'py>(
    py: Python<'py>,
    history: Vec<f64>,
    newest: Vec<f64>,
    min_history: usize,
    threshold: f64,
    min_change: f64,
    min_absolute: f64,
) -> PyResult<Bound<'py, PyDict>> {
    let mut options = CompareOptions::default();
    options.min_history = min_history;
    options.threshold = threshold;
    options.min_change = min_change;
    options.min_absolute = min_absolute;
    let c = regress::compare(&history, &newest, &options);
    Ok(py_dict!(py, {
        "baseline" => c.baseline,
        "spread" => c.spread,
        "current" => c.current,
        "change" => c.change,
        "score" => c.score,
        "judged" => c.judged,
        "flagged" => c.flagged,
    }))
}
