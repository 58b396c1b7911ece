"""pytest plugin: every test measured and tagged with its run, xdist-safe, with regression checks.

Inactive until configured: ``--datalogger`` (the embedded default sink, a line protocol file) or
``--datalogger-url``. Each option is also an ini key and an environment variable (the command
line wins over the environment, which wins over the ini file); ``pytest --help`` lists them.

One point per test, in measurement ``pytest`` (``--datalogger-measurement``): fields ``setup``,
``call`` and ``teardown`` (seconds, pytest's monotonic clock; 0 for a phase that did not run),
timestamped when the setup started; tags ``test`` (node id), ``module``, ``name``, ``param``,
``outcome`` (passed, failed, skipped, xfailed, xpassed, error), ``run_id``, ``host``,
``python``, ``git_commit``/``git_branch``/``git_dirty``, ``ci``/``ci_job``, ``worker``, and
those of ``--datalogger-tag`` and ``@pytest.mark.datalogger(key=value)``. One event per run.
Delivery runs in the background and spools when the database is away: the run is never failed
or slowed by it, and the terminal summary says what was sent, pending and dead-lettered.
"""

from __future__ import annotations

import base64
import json
import os
import platform
import socket
import statistics
import subprocess
import time
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import pytest

from . import _native
from ._datalogger import DatabaseWriter, DataLogger
from ._schema import Field, FieldMap, Measurement, Tag, TagMap
from ._writers import InfluxDBWriter, LineProtocolFileWriter
from .exceptions import DataLoggerError

#: The file the embedded default sink appends to, under the rootdir.
DEFAULT_FILE = "influxdb-datalogger.lp"
#: Changes smaller than this are never flagged by the comparison: timer noise.
COMPARE_FLOOR_SECONDS = 0.001
#: How long the end of the run waits for the database before leaving the rest in the spool.
CLOSE_TIMEOUT = 5.0
#: How often the points are handed to the writer during the run.
WRITE_EVERY_SECONDS = 1.0

_RUN_TAGS = ("run_id", "host", "python", "git_commit", "git_branch", "git_dirty", "ci", "ci_job", "worker")
_TEST_TAGS = ("test", "module", "name", "param", "outcome")
# Environment variables that identify a CI job, by provider, first match wins.
_CI_JOBS = (
    ("github", "GITHUB_RUN_ID"),
    ("gitlab", "CI_JOB_ID"),
    ("jenkins", "BUILD_TAG"),
    ("circleci", "CIRCLE_WORKFLOW_JOB_ID"),
    ("buildkite", "BUILDKITE_JOB_ID"),
    ("azure", "SYSTEM_JOBID"),
    ("travis", "TRAVIS_JOB_ID"),
    ("teamcity", "BUILD_NUMBER"),
)


@dataclass(frozen=True)
class _Option:
    flag: str
    kind: str  # bool, str, list, int, float
    default: Any
    help: str

    @property
    def ini(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    @property
    def env(self) -> str:
        return "INFLUXDB_" + self.ini.upper() + ("_PYTEST" if self.flag == "--datalogger" else "")


_OPTIONS = (
    _Option("--datalogger", "bool", False, "measure every test; into the line protocol file " + DEFAULT_FILE),
    _Option("--datalogger-url", "str", None, "send to this InfluxDB (connection string, as InfluxDBWriter.from_url)"),
    _Option("--datalogger-database", "str", None, "v1/v3: the database"),
    _Option("--datalogger-bucket", "str", None, "v2: the bucket"),
    _Option("--datalogger-org", "str", None, "v2: the organisation"),
    _Option("--datalogger-token", "str", None, "the token (better kept in the environment)"),
    _Option("--datalogger-tag", "list", [], "key=value tagged on every point (repeatable)"),
    _Option("--datalogger-measurement", "str", "pytest", "the measurement of the per-test points"),
    _Option("--datalogger-spool", "str", None, "the spool directory (or connection string)"),
    _Option("--datalogger-off", "bool", False, "turn the plugin off, whatever else says"),
    _Option("--datalogger-compare", "int", 0, "compare each test's call duration with the median of the last N runs"),
    _Option("--datalogger-compare-threshold", "float", 20.0, "percent beyond which a change is reported"),
    _Option("--datalogger-compare-fail", "bool", False, "make a slower test fail the run"),
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("datalogger", "influxdb-datalogger: measure every test into InfluxDB")
    for option in _OPTIONS:
        help_text = f"{option.help} [ini {option.ini}, env {option.env}]"
        if option.kind == "bool":
            group.addoption(option.flag, action="store_true", default=None, dest=option.ini, help=help_text)
            parser.addini(option.ini, help_text, type="bool", default=None)
        elif option.kind == "list":
            group.addoption(option.flag, action="append", default=None, dest=option.ini, help=help_text)
            parser.addini(option.ini, help_text, type="linelist", default=None)
        else:
            group.addoption(option.flag, default=None, dest=option.ini, help=help_text)
            parser.addini(option.ini, help_text, default=None)


def _setting(config: pytest.Config, option: _Option) -> Any:
    """The command line, else the environment, else the ini file, else the default."""
    value: Any = config.getoption(option.ini)
    if value is None:
        env = os.environ.get(option.env)
        if env is not None and env != "":
            value = _from_text(option, env)
    if value is None:
        ini = config.getini(option.ini)
        if ini is not None and ini != [] and ini != "":
            value = ini if option.kind in ("bool", "list") else _from_text(option, str(ini))
    if value is None:
        return option.default
    if option.kind in ("int", "float") and isinstance(value, str):
        value = _from_text(option, value)
    return value


def _from_text(option: _Option, text: str) -> Any:
    try:
        if option.kind == "bool":
            return text.strip().lower() in ("1", "true", "yes", "on")
        if option.kind == "list":
            return [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()]
        if option.kind == "int":
            return int(text)
        if option.kind == "float":
            return float(text.rstrip("%"))
    except ValueError:
        raise pytest.UsageError(f"{option.flag}: {text!r} is not a valid {option.kind}") from None
    return text


@dataclass
class Settings:
    url: Optional[str]
    database: Optional[str]
    bucket: Optional[str]
    org: Optional[str]
    token: Optional[str]
    tags: Dict[str, str]
    measurement: str
    spool: Optional[str]
    compare: int
    threshold: float
    compare_fail: bool

    @classmethod
    def read(cls, config: pytest.Config) -> Optional[Settings]:
        """The settings, or None when the plugin is not active."""
        values = {o.ini: _setting(config, o) for o in _OPTIONS}
        if values["datalogger_off"] or not (values["datalogger"] or values["datalogger_url"]):
            return None
        tags = {}
        for pair in values["datalogger_tag"]:
            key, sep, value = pair.partition("=")
            if not sep or not key.strip():
                raise pytest.UsageError(f"--datalogger-tag takes key=value, not {pair!r}")
            tags[key.strip()] = value.strip()
        if values["datalogger_compare"] < 0:
            raise pytest.UsageError(
                f"--datalogger-compare takes a number of runs >= 0, not {values['datalogger_compare']}"
            )
        return cls(
            url=values["datalogger_url"],
            database=values["datalogger_database"],
            bucket=values["datalogger_bucket"],
            org=values["datalogger_org"],
            token=values["datalogger_token"],
            tags=tags,
            measurement=values["datalogger_measurement"],
            spool=values["datalogger_spool"],
            compare=values["datalogger_compare"],
            threshold=values["datalogger_compare_threshold"],
            compare_fail=bool(values["datalogger_compare_fail"]),
        )

    def writer(self, rootpath: Path) -> DatabaseWriter:
        if not self.url:
            return LineProtocolFileWriter(str(rootpath / DEFAULT_FILE))
        return InfluxDBWriter(
            self.url, database=self.database, bucket=self.bucket, org=self.org, token=self.token, flush_interval=0.2
        )


def _git(rootpath: Path, *args: str) -> Optional[str]:
    try:
        done = subprocess.run(["git", *args], cwd=rootpath, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _run_tags(rootpath: Path) -> Dict[str, str]:
    """What identifies this run: computed once, by the controller under xdist."""
    tags = {
        "run_id": os.environ.get("INFLUXDB_DATALOGGER_RUN_ID") or uuid.uuid4().hex[:16],
        "host": socket.gethostname(),
        "python": platform.python_version(),
    }
    commit = _git(rootpath, "rev-parse", "HEAD")
    if commit:
        tags["git_commit"] = commit
        tags["git_branch"] = _git(rootpath, "rev-parse", "--abbrev-ref", "HEAD") or ""
        tags["git_dirty"] = "true" if _git(rootpath, "status", "--porcelain", "--untracked-files=no") else "false"
    for provider, variable in _CI_JOBS:
        if os.environ.get(variable):
            tags["ci"], tags["ci_job"] = provider, os.environ[variable]
            break
    return tags


def _marker_tags(item: pytest.Item) -> Dict[str, str]:
    tags: Dict[str, str] = {}
    if item.get_closest_marker("datalogger") is None:
        return tags
    for marker in reversed(list(item.iter_markers("datalogger"))):
        if marker.args:
            raise pytest.UsageError(
                f"{item.nodeid}: @pytest.mark.datalogger takes tags as key=value only, not {marker.args!r}"
            )
        for key, value in marker.kwargs.items():
            if key in _RUN_TAGS or key in _TEST_TAGS:
                raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.datalogger cannot set the automatic tag {key!r}")
            if not isinstance(value, (str, int, float, bool)):
                raise pytest.UsageError(
                    f"{item.nodeid}: @pytest.mark.datalogger({key}=...) takes a str, int, float or bool, "
                    f"not {type(value).__name__}"
                )
            tags[key] = str(value)
    return tags


def _test_tags(item: pytest.Item) -> Dict[str, str]:
    callspec = getattr(item, "callspec", None)
    return {
        "test": item.nodeid,
        "module": item.nodeid.split("::", 1)[0],
        "name": getattr(item, "originalname", None) or item.name,
        "param": callspec.id if callspec is not None else "",
    }


def _outcome(phases: Dict[str, pytest.TestReport]) -> str:
    setup, call, teardown = phases.get("setup"), phases.get("call"), phases.get("teardown")
    if setup is not None and setup.failed:
        return "error"
    if setup is not None and setup.skipped:
        return "xfailed" if hasattr(setup, "wasxfail") else "skipped"
    outcome = "passed"
    if call is not None:
        if call.failed:
            outcome = "failed"
        elif call.skipped:
            outcome = "xfailed" if hasattr(call, "wasxfail") else "skipped"
        elif hasattr(call, "wasxfail"):
            outcome = "xpassed"
    if teardown is not None and teardown.failed:
        return "error"
    return outcome


@dataclass
class _Recorder:
    """Writes the per-test points: one logger, and one schema per set of tag names."""

    logger: DataLogger
    settings: Settings
    run_tags: Dict[str, str]
    fields: Tuple[Field, Field, Field] = (Field("setup"), Field("call"), Field("teardown"))
    _schemas: Dict[Tuple[str, ...], Tuple[Measurement, Dict[str, Tag]]] = field(default_factory=dict)
    # Reused for every point (log() copies the values): fewer allocations per test, so fewer
    # garbage collections over pytest's large object graph.
    _values: FieldMap = field(default_factory=FieldMap)
    _tags: TagMap = field(default_factory=TagMap)
    _last_write: float = field(default_factory=time.monotonic)

    def schema(self, extra: Tuple[str, ...]) -> Tuple[Measurement, Dict[str, Tag]]:
        """The measurement with the run's tags as defaults, and the per-test tags."""
        known = self._schemas.get(extra)
        if known is None:
            run = [Tag(k, default=v) for k, v in {**self.run_tags, **self.settings.tags}.items()]
            per_test = {name: Tag(name) for name in (*_TEST_TAGS, *extra)}
            all_tags = [*run, *per_test.values()]
            measurement = Measurement(self.settings.measurement, *self.fields, *all_tags, optional_tags=all_tags)
            known = self._schemas[extra] = (measurement, per_test)
        return known

    def record(self, test_tags: Dict[str, str], phases: Dict[str, pytest.TestReport], outcome: str) -> None:
        extra = tuple(k for k in test_tags if k not in _TEST_TAGS) if len(test_tags) > 4 else ()
        measurement, tags = self.schema(extra)
        values = self._values
        for f in self.fields:
            report = phases.get(f)
            values[f] = report.duration if report is not None else 0.0
        tag_values = self._tags
        tag_values.clear()
        for k, v in test_tags.items():
            tag_values[tags[k]] = v
        tag_values[tags["outcome"]] = outcome
        setup = phases.get("setup")
        self.logger.log(measurement, values, tag_values, time=setup.start if setup is not None else time.time())
        # Handed to the writer about once a second rather than per test (a write per test would
        # cost a system call each); with a database the spool has every point at once anyway.
        now = time.monotonic()
        if now - self._last_write >= WRITE_EVERY_SECONDS:
            self._last_write = now
            self.logger.write_data()


class DataloggerPlugin:
    """The plugin's state for one pytest run (one per process under xdist)."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        workerinput = getattr(config, "workerinput", None)
        self.is_worker = workerinput is not None
        self.is_controller = not self.is_worker and bool(getattr(config.option, "numprocesses", None))
        if workerinput is not None and "datalogger_run_tags" in workerinput:
            self.run_tags: Dict[str, str] = dict(workerinput["datalogger_run_tags"])
        else:
            self.run_tags = _run_tags(config.rootpath)
        if workerinput is not None:
            self.run_tags["worker"] = str(workerinput.get("workerid", ""))
        self.started = time.time()
        self.problems: List[str] = []
        self.logger = _keep(self._open_logger(config.rootpath))
        self.recorder = _Recorder(self.logger, settings, self.run_tags)
        self.test_tags: Dict[str, Dict[str, str]] = {}
        self.phases: Dict[str, Dict[str, pytest.TestReport]] = {}
        self.outcomes: Dict[str, str] = {}
        self.call_durations: Dict[str, float] = {}
        self.worker_stats: List[Dict[str, Any]] = []
        self.stats: Dict[str, Any] = {}
        self.comparison: List[Tuple[str, float, float, float]] = []

    def _open_logger(self, rootpath: Path) -> DataLogger:
        """The run's logger. A bad URL is a usage error; a spool that cannot be opened (a
        read-only directory, a full disk) must not break the run: then no spool, and the
        summary says so."""
        try:
            writer = self.settings.writer(rootpath)
        except DataLoggerError as error:
            raise pytest.UsageError(f"--datalogger: {error}") from None
        try:
            return DataLogger(writer, spool_dir=self.settings.spool)
        except DataLoggerError as error:
            self.problems.append(f"running without a spool: {error}")
            return DataLogger(writer, spool_dir=False)

    # Collection and tests.

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: List[pytest.Item]) -> None:
        for item in items:
            self.test_tags[item.nodeid] = {**_test_tags(item), **_marker_tags(item)}

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput["datalogger_run_tags"] = {k: v for k, v in self.run_tags.items() if k != "worker"}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        phases = self.phases.setdefault(report.nodeid, {})
        phases[report.when] = report
        if report.when != "teardown":
            return
        del self.phases[report.nodeid]
        outcome = _outcome(phases)
        self.outcomes[report.nodeid] = outcome
        if outcome == "passed" and "call" in phases:
            self.call_durations[report.nodeid] = phases["call"].duration
        if self.is_controller:
            return  # the worker that ran it logs it
        tags = self.test_tags.get(report.nodeid) or {"test": report.nodeid}
        try:
            self.recorder.record(tags, phases, outcome)
        except DataLoggerError as error:  # a bad --datalogger-tag value, say: reported, never fatal
            self.problems.append(f"{report.nodeid}: {error}")

    # End of the run.

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        stats = getattr(node, "workeroutput", {}).get("datalogger_stats")
        if stats:
            self.worker_stats.append(stats)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not self.is_worker:
            counts = ", ".join(f"{n} {o}" for o, n in Counter(self.outcomes.values()).most_common())
            self.logger.log_event(
                f"pytest run {self.run_tags['run_id']}: {counts or 'no tests'}",
                self.started,
                time.time(),
                TagMap({Tag(k): v for k, v in {**self.run_tags, **self.settings.tags}.items()}),
            )
        try:
            # Not a full close(): a database that cannot be reached must not hold up the run.
            self.logger._close_briefly(CLOSE_TIMEOUT)
        except DataLoggerError:
            pass  # what was not delivered waits in the spool; the summary says so
        self.stats = _delivery_stats(self.logger)
        if self.is_worker:
            self.config.workeroutput["datalogger_stats"] = {**self.stats, "problems": self.problems}  # type: ignore[attr-defined]
            return
        if self.settings.compare:
            try:
                self.comparison = compare(
                    self.call_durations,
                    history(self.settings, self.config.rootpath, self.run_tags["run_id"], self.settings.compare),
                    self.settings.threshold,
                )
            except (OSError, ValueError, DataLoggerError) as error:
                self.problems.append(f"cannot compare with earlier runs: {error}")
            if self.settings.compare_fail and any(change > 0 for *_, change in self.comparison):
                session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.is_worker:
            return
        totals = _sum_stats([self.stats, *self.worker_stats])
        write = terminalreporter.write_line
        line = (
            f"datalogger: run {self.run_tags['run_id']} -> {totals['target']}: {totals['sent']} points sent, "
            f"{totals['pending']} pending, {totals['dead_lettered']} dead-lettered"
        )
        if totals["pending"]:
            kept = f"kept in the spool {totals['spool']}; delivered by the next run" if totals["spool"] else "not kept"
            line += f" ({kept}; last error: {totals['last_error'] or 'none yet, still sending'})"
        terminalreporter.section("datalogger", sep="-")
        write(line)
        for problem in [*self.problems, *(p for s in self.worker_stats for p in s.get("problems", ()))]:
            write(f"datalogger: {problem}")
        if self.settings.compare:
            if not self.comparison:
                write(
                    f"datalogger: no test changed by more than {self.settings.threshold:g}% "
                    f"against the median of the last {self.settings.compare} runs"
                )
            else:
                write(
                    f"datalogger: call durations against the median of the last {self.settings.compare} runs "
                    f"(threshold {self.settings.threshold:g}%):"
                )
                width = max(len(t) for t, *_ in self.comparison)
                write(f"  {'test':<{width}}  {'median':>10}  {'this run':>10}  {'change':>8}")
                for test, median, now, change in self.comparison:
                    verdict = "slower" if change > 0 else "faster"
                    write(f"  {test:<{width}}  {median:>9.4f}s  {now:>9.4f}s  {change:>+7.1f}%  {verdict}")


def _delivery_stats(logger: DataLogger) -> Dict[str, Any]:
    stats = logger.stats()
    writer = stats["writers"][0]
    pending = writer["awaiting_delivery"] + writer["backlog_points"] + stats["pending_points"]
    return {
        "target": writer["name"],
        "sent": writer["points_written"],
        "pending": pending,
        "dead_lettered": writer["dead_lettered"],
        "spool": (stats["spool"] or {}).get("dir", ""),
        "last_error": writer["last_error"] or stats["last_error"],
    }


def _sum_stats(all_stats: List[Dict[str, Any]]) -> Dict[str, Any]:
    present = [s for s in all_stats if s]
    return {
        "target": present[0]["target"] if present else "",
        "spool": present[0]["spool"] if present else "",
        "last_error": next((s["last_error"] for s in present if s.get("last_error")), None),
        **{k: sum(s[k] for s in present) for k in ("sent", "pending", "dead_lettered")},
    }


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


class TaggedLogger:
    """A DataLogger-like handle: `log`, `measure_block`, `measure` and `log_event` work as on a
    DataLogger, and every point and event also carries the handle's tags."""

    def __init__(
        self, logger: DataLogger, tags: Dict[str, str], report: Optional[Callable[[str], None]] = None
    ) -> None:
        self._logger = logger
        self._tags = tags
        # Told of every point refused here (an incomplete one, say), for the run's summary.
        self._report = report
        self._extended: Dict[int, Tuple[Measurement, Measurement, Dict[str, Tag]]] = {}

    @property
    def tags(self) -> Dict[str, str]:
        """The tags added to everything logged through this handle."""
        return dict(self._tags)

    @property
    def logger(self) -> DataLogger:
        """The DataLogger underneath."""
        return self._logger

    def _with_tags(self, measurement: Measurement, tags_map: Optional[Dict[Any, Any]]) -> Tuple[Measurement, TagMap]:
        known = self._extended.get(id(measurement))
        if known is None or known[0] is not measurement:
            own = {str(t) for t in measurement.tags}
            added = {k: Tag(k) for k in self._tags if k not in own}
            extended = Measurement(
                str(measurement),
                *measurement.fields,
                *measurement.tags,
                *added.values(),
                optional_tags=[*measurement.optional_tags, *added.values()],
                desc=measurement.desc,
            )
            known = self._extended[id(measurement)] = (measurement, extended, added)
        _, extended, added = known
        merged = TagMap({added[k]: v for k, v in self._tags.items() if k in added})
        merged.update(tags_map or {})
        return extended, merged

    def _event_tags(self, tags_map: Optional[Dict[Any, Any]]) -> TagMap:
        merged = TagMap({Tag(k): v for k, v in self._tags.items()})
        merged.update(tags_map or {})
        return merged

    def log(
        self, measurement: Measurement, fields_map: Dict[Any, Any], tags_map: Optional[Dict[Any, Any]] = None, **kw: Any
    ) -> None:
        extended, tags = self._with_tags(measurement, tags_map)
        try:
            self._logger.log(extended, fields_map, tags, **kw)
        except DataLoggerError as error:
            if self._report is not None:
                self._report(f"a point was refused: {error}")
            raise

    def measure_block(
        self, measurement: Measurement, field: Field, tags_map: Optional[Dict[Any, Any]] = None, **kw: Any
    ) -> Any:
        extended, tags = self._with_tags(measurement, tags_map)
        if kw.get("event_tags") is not None:
            kw["event_tags"] = self._event_tags(kw["event_tags"])
        return self._logger.measure_block(extended, field, tags, **kw)

    def measure(
        self, func: Any, measurement: Measurement, field: Field, tags_map: Optional[Dict[Any, Any]] = None, **kw: Any
    ) -> Any:
        extended, tags = self._with_tags(measurement, tags_map)
        if kw.get("event_tags") is not None:
            kw["event_tags"] = self._event_tags(kw["event_tags"])
        try:
            return self._logger.measure(func, extended, field, tags, **kw)
        except DataLoggerError as error:
            if self._report is not None:
                self._report(f"a measurement was refused: {error}")
            raise

    def log_event(
        self, measurement: Any, start_time: Any, stop_time: Any, event_tags_map: Optional[Dict[Any, Any]] = None
    ) -> None:
        self._logger.log_event(measurement, start_time, stop_time, self._event_tags(event_tags_map))


_PLUGIN_NAME = "influxdb-datalogger-run"

# The plugin's loggers live until the interpreter exits: closed at the end of the run with a
# bounded wait, what they did not deliver waits in the spool, and a logger dropped with data
# undelivered would make the exit wait again (see DataLogger.close).
_LOGGERS: List[DataLogger] = []


def _keep(logger: DataLogger) -> DataLogger:
    _LOGGERS.append(logger)
    return logger


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "datalogger(**tags): tags added to the test's datalogger points (influxdb-datalogger)"
    )
    settings = Settings.read(config)
    if settings is not None:
        config.pluginmanager.register(DataloggerPlugin(config, settings), _PLUGIN_NAME)


def pytest_unconfigure(config: pytest.Config) -> None:
    plugin = config.pluginmanager.get_plugin(_PLUGIN_NAME)
    if plugin is not None:
        config.pluginmanager.unregister(plugin, _PLUGIN_NAME)


def _active(config: pytest.Config) -> Optional[DataloggerPlugin]:
    plugin = config.pluginmanager.get_plugin(_PLUGIN_NAME)
    return plugin if isinstance(plugin, DataloggerPlugin) else None


@pytest.fixture(scope="session")
def datalogger_session(pytestconfig: pytest.Config) -> Iterator[TaggedLogger]:
    """The run's DataLogger, tagging what is logged with the run's tags (a logger without writers
    when the plugin is off, so that tests using it still run)."""
    plugin = _active(pytestconfig)
    if plugin is None:
        idle = DataLogger(continuous_write=True)
        yield TaggedLogger(idle, {})
        idle.close()
        return
    yield TaggedLogger(plugin.logger, {**plugin.run_tags, **plugin.settings.tags})


@pytest.fixture
def datalogger(request: pytest.FixtureRequest, datalogger_session: TaggedLogger) -> TaggedLogger:
    """A DataLogger-like handle whose points and events carry the test's tags automatically."""
    plugin = _active(request.config)
    if plugin is None:
        return datalogger_session
    nodeid = request.node.nodeid
    test = dict(plugin.test_tags.get(nodeid) or _test_tags(request.node))
    test.pop("outcome", None)
    return TaggedLogger(
        plugin.logger,
        {**datalogger_session.tags, **test},
        lambda problem: plugin.problems.append(f"{nodeid}: {problem}"),
    )
