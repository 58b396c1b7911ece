//! The logger's counters as the plain dicts `DataLogger.stats()` returns.

use influxdb_datalogger::{ReplayReport, Stats};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

/// `stats` and the spool's replay report as one dict of plain values.
pub(crate) fn stats_dict<'py>(
    py: Python<'py>,
    stats: Stats,
    replayed: ReplayReport,
) -> PyResult<Bound<'py, PyDict>> {
    let writers = PyList::empty(py);
    for w in stats.writers {
        writers.append(py_dict!(py, {
            "name" => w.name,
            "points_written" => w.points_written,
            "failures" => w.failures,
            "last_error" => w.last_error,
            "backlog_points" => w.backlog_points,
            "dead_lettered" => w.dead_lettered,
            "awaiting_delivery" => w.awaiting_delivery,
            "retries" => w.retries,
            "spilled" => w.spilled,
        }))?;
    }
    let spool = match stats.spool {
        None => None,
        Some(spool) => Some(py_dict!(py, {
            "dir" => spool.dir.to_string_lossy(),
            "records" => spool.records,
            "unacknowledged" => spool.unacknowledged,
            "bytes" => spool.bytes,
            "dropped_points" => spool.dropped_points,
        })),
    };
    let damaged = PyList::empty(py);
    for damage in replayed.damaged {
        damaged.append(py_dict!(py, {
            "segment" => damage.segment.to_string_lossy(),
            "offset" => damage.offset,
            "length" => damage.len,
            "reason" => damage.reason,
            "moved_to" => damage.moved_to.to_string_lossy(),
        }))?;
    }
    Ok(py_dict!(py, {
        "points_logged" => stats.points_logged,
        "events_logged" => stats.events_logged,
        "log_errors" => stats.log_errors,
        "pending_points" => stats.pending_points,
        "pending_events" => stats.pending_events,
        "last_error" => stats.last_error,
        "writers" => writers,
        "spool" => spool,
        "replayed" => py_dict!(py, {
            "owners" => replayed.owners,
            "segments" => replayed.segments,
            "points" => replayed.points,
            "events" => replayed.events,
            "other_targets" => replayed.other_targets,
            "damaged" => damaged,
        }),
    }))
}
