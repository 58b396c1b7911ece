"""Regressions without false alarms: change points over a series' history, and whether its
newest values differ from the history — the checks the ``regressions`` command and the pytest
plugin use, made in Rust (see docs/regressions.md for the method)."""

from __future__ import annotations

from typing import Any, Dict, Iterable, List

from . import _native

__all__ = ["compare_with_history", "regressions"]


def regressions(
    values: Iterable[float],
    *,
    min_segment: int = 4,
    alpha: float = 0.01,
    min_change: float = 0.05,
    max_points: int = 16,
) -> List[Dict[str, Any]]:
    """Where ``values`` (in time order) changed level: one dict per change point, in order,
    with ``index`` (the first value at the new level), ``before`` and ``after`` (the medians
    around it), ``change`` (+0.25 for 25 % more) and ``p_value``. ``NaN`` values are left out."""
    return _native.change_points([float(v) for v in values], min_segment, alpha, min_change, max_points)


def compare_with_history(
    history: Iterable[float],
    newest: Iterable[float],
    *,
    min_history: int = 5,
    threshold: float = 3.5,
    min_change: float = 0.05,
    min_absolute: float = 0.0,
) -> Dict[str, Any]:
    """Whether the median of ``newest`` differs from ``history``: a dict with ``baseline`` (the
    history's median), ``spread`` (relative), ``current``, ``change``, ``score`` (in spreads),
    ``judged`` (the history was long enough) and ``flagged``."""
    return _native.compare(
        [float(v) for v in history], [float(v) for v in newest], min_history, threshold, min_change, min_absolute
    )
