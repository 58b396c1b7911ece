"""The regression checks from Python: change points of a series and the comparison of the newest
values with a history, as the ``regressions`` command and the pytest plugin make them."""

from __future__ import annotations

import math
import random

import influxdb_datalogger
from influxdb_datalogger import compare_with_history, regressions


def lognormal(level: float, noise: float, n: int, rng: random.Random) -> list[float]:
    return [level * math.exp(rng.gauss(0, noise)) for _ in range(n)]


def test_a_step_is_found_and_spikes_and_nan_are_not_steps() -> None:
    rng = random.Random(5)
    series = lognormal(0.2, 0.04, 50, rng) + lognormal(0.26, 0.04, 30, rng)
    series[10] *= 4  # a spike
    series.insert(20, float("nan"))  # left out, as if never measured
    (point,) = regressions(series)
    assert point["index"] == 50
    assert abs(point["change"] - 0.3) < 0.06 and point["p_value"] < 1e-6
    assert set(point) == {"index", "before", "after", "change", "p_value"}
    assert regressions([1.0] * 30) == [] and regressions([]) == []
    assert regressions(series, min_change=0.5) == []
    assert influxdb_datalogger.regressions is regressions


def test_the_newest_value_against_a_history() -> None:
    rng = random.Random(6)
    history = lognormal(1.0, 0.05, 20, rng)
    steady = compare_with_history(history, [1.02])
    assert steady["judged"] and not steady["flagged"]
    slow = compare_with_history(history, [1.4])
    assert slow["flagged"] and slow["change"] > 0.3 and slow["score"] > 3.5
    assert set(slow) == {"baseline", "spread", "current", "change", "score", "judged", "flagged"}
    short = compare_with_history(history[:3], [9.0])
    assert not short["judged"] and not short["flagged"]
    # Both floors: 50 % of two microseconds is no regression when a millisecond is the floor.
    assert not compare_with_history([2e-6] * 10, [3e-6], min_absolute=1e-3)["flagged"]
