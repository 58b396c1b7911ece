"""Earlier runs of the pytest plugin's tests, from the database or the embedded default file,
and the comparison of a run's call durations with them."""

from __future__ import annotations

import base64
import json
import statistics
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Tuple

from . import _native
from ._plugin_settings import COMPARE_FLOOR_SECONDS, COMPARE_MIN_CHANGE, DEFAULT_FILE, Settings
from ._regressions import compare_with_history


def history(settings: Settings, rootpath: Path, run_id: str, runs: int) -> Dict[str, List[float]]:
    """Call durations of passed tests in the last `runs` runs before `run_id`, per test."""
    rows = _history_from_influxdb(settings) if settings.url else _history_from_file(settings, rootpath)
    last_seen: Dict[str, float] = {}
    for run, _, when, _ in rows:
        last_seen[run] = max(last_seen.get(run, when), when)
    earlier = sorted((r for r in last_seen if r != run_id), key=lambda r: last_seen[r], reverse=True)[:runs]
    keep = set(earlier)
    durations: Dict[str, List[float]] = {}
    for run, test, _, duration in rows:
        if run in keep:
            durations.setdefault(test, []).append(duration)
    return durations


def _history_from_file(settings: Settings, rootpath: Path) -> List[Tuple[str, str, float, float]]:
    path = rootpath / DEFAULT_FILE
    if not path.exists():
        return []
    rows = []
    for tags, fields, timestamp in _native._read_line_protocol(path.read_text(), settings.measurement):
        if tags.get("outcome") == "passed" and "call" in fields and "run_id" in tags and "test" in tags:
            rows.append((tags["run_id"], tags["test"], float(timestamp or 0), float(fields["call"])))
    return rows


def _history_from_influxdb(settings: Settings) -> List[Tuple[str, str, float, float]]:
    """Through InfluxQL (`/query`, InfluxDB 1.x and the v1 compatibility API of 2.x)."""
    assert settings.url is not None
    parts = urllib.parse.urlsplit(settings.url)
    query = dict(urllib.parse.parse_qsl(parts.query))
    database = settings.database or query.get("db") or query.get("database") or settings.bucket or query.get("bucket")
    if not database:
        raise ValueError("no database to query")
    measurement = settings.measurement.replace("\\", "\\\\").replace('"', '\\"')
    q = (
        f'SELECT "call" FROM "{measurement}" WHERE "outcome" = \'passed\' AND time > now() - 365d '
        'GROUP BY "test", "run_id"'
    )
    host = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
    base = f"{parts.scheme}://{host}"
    request = urllib.request.Request(
        f"{base}/query?{urllib.parse.urlencode({'db': database, 'q': q, 'epoch': 'ms'})}", method="POST"
    )
    token = settings.token or query.get("token")
    if parts.username:
        credentials = f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
        request.add_header("Authorization", "Basic " + base64.b64encode(credentials.encode()).decode())
    elif token:
        request.add_header("Authorization", f"Token {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        answer = json.load(response)
    rows = []
    for result in answer.get("results", []):
        if "error" in result:
            raise ValueError(result["error"])
        for series in result.get("series", []):
            tags = series.get("tags", {})
            for when, duration in series["values"]:
                if duration is not None:
                    rows.append((tags.get("run_id", ""), tags.get("test", ""), float(when), float(duration)))
    return rows


@dataclass(frozen=True)
class Flagged:
    """A test whose call duration differs from its history: the history's median and spread
    (relative; NaN for the percent method), this run's duration, the change in percent, and
    why it was flagged."""

    test: str
    median: float
    spread: float
    now: float
    change: float
    why: str


def compare_robust(now: Dict[str, float], earlier: Dict[str, List[float]]) -> Tuple[List[Flagged], int]:
    """The tests whose call duration is beyond 3.5 spreads (scaled MADs, in logarithms) of the
    median of their earlier runs and COMPARE_MIN_CHANGE from it (and COMPARE_FLOOR_SECONDS),
    slowest change first; and how many tests had fewer than 5 earlier runs, which are not judged."""
    flagged = []
    unjudged = 0
    for test, duration in now.items():
        verdict = compare_with_history(
            earlier.get(test, []), [duration], min_change=COMPARE_MIN_CHANGE, min_absolute=COMPARE_FLOOR_SECONDS
        )
        if not verdict["judged"]:
            unjudged += 1
        elif verdict["flagged"]:
            why = f"{abs(verdict['score']):.1f} spreads {'above' if verdict['change'] > 0 else 'below'} the median"
            flagged.append(
                Flagged(test, verdict["baseline"], verdict["spread"], duration, verdict["change"] * 100, why)
            )
    return sorted(flagged, key=lambda f: -f.change), unjudged


def compare(
    now: Dict[str, float], earlier: Dict[str, List[float]], threshold: float
) -> List[Tuple[str, float, float, float]]:
    """(test, median before, now, change in %) for each test whose call duration changed by more
    than `threshold` percent (and more than COMPARE_FLOOR_SECONDS); slowest change first."""
    changed = []
    for test, duration in now.items():
        before = earlier.get(test)
        if not before:
            continue
        median = statistics.median(before)
        if median <= 0 or abs(duration - median) < COMPARE_FLOOR_SECONDS:
            continue
        change = (duration - median) / median * 100
        if abs(change) > threshold:
            changed.append((test, median, duration, change))
    return sorted(changed, key=lambda c: -c[3])


# Fixtures: handles that tag what a test logs with the test's and the run's tags.
