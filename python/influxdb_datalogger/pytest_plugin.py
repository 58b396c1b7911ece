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

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import pytest

from ._datalogger import DataLogger
from ._output import dashboard, report
from ._plugin_history import Flagged, compare, compare_robust, history
from ._plugin_resources import ResourceMeter
from ._plugin_settings import (
    _OPTIONS,
    _TEST_TAGS,
    CLOSE_TIMEOUT,
    COMPARE_MIN_CHANGE,
    WRITE_EVERY_SECONDS,
    Settings,
    _marker_tags,
    _outcome,
    _run_tags,
    _test_tags,
)
from ._schema import Field, FieldMap, Measurement, Tag, TagMap
from ._tagged_logger import TaggedLogger
from .exceptions import DataLoggerError

__all__ = ["CLOSE_TIMEOUT", "Settings", "TaggedLogger", "datalogger", "datalogger_session"]


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


@dataclass
class _Recorder:
    """Writes the per-test points: one logger, and one schema per set of tag names."""

    logger: DataLogger
    settings: Settings
    run_tags: Dict[str, str]
    resource_fields: Tuple[str, ...] = ()
    fields: Tuple[Field, ...] = (Field("setup"), Field("call"), Field("teardown"))
    _schemas: Dict[Tuple[str, ...], Tuple[Measurement, Dict[str, Tag]]] = field(default_factory=dict)
    # Reused for every point (log() copies the values): fewer allocations per test, so fewer
    # garbage collections over pytest's large object graph.
    _values: FieldMap = field(default_factory=FieldMap)
    _tags: TagMap = field(default_factory=TagMap)
    _last_write: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.fields = (*self.fields, *(Field(name) for name in self.resource_fields))

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

    def record(
        self,
        test_tags: Dict[str, str],
        phases: Dict[str, pytest.TestReport],
        outcome: str,
        used: Optional[Dict[str, float]] = None,
    ) -> None:
        # Marker and other extra tags (most tests have none: the tuple is empty).
        extra = tuple(k for k in test_tags if k not in _TEST_TAGS)
        measurement, tags = self.schema(extra)
        values = self._values
        for f in self.fields[:3]:
            report = phases.get(f)
            values[f] = report.duration if report is not None else 0.0
        for f in self.fields[3:]:
            values[f] = (used or {}).get(str(f), 0.0)
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


class PluginRun:
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
            for name in settings.run_tags_off:
                if name != "run_id":
                    self.run_tags.pop(name, None)
        if workerinput is not None:
            self.run_tags["worker"] = str(workerinput.get("workerid", ""))
        self.started = time.time()
        self.problems: List[str] = []
        self.outputs: List[str] = []
        self.logger = _keep(self._open_logger(config.rootpath))
        self.meter = ResourceMeter() if settings.resources else None
        self.resources: Dict[str, Dict[str, float]] = {}
        self.recorder = _Recorder(self.logger, settings, self.run_tags, self.meter.fields if self.meter else ())
        self.test_tags: Dict[str, Dict[str, str]] = {}
        self.phases: Dict[str, Dict[str, pytest.TestReport]] = {}
        self.outcomes: Dict[str, str] = {}
        self.call_durations: Dict[str, float] = {}
        self.worker_stats: List[Dict[str, Any]] = []
        self.stats: Dict[str, Any] = {}
        self.comparison: List[Flagged] = []
        self.unjudged = 0

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

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Iterator[None]:
        if self.meter is None:
            yield
            return
        with self.meter.measure() as used:
            yield
        self.resources[item.nodeid] = used

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
            self.recorder.record(tags, phases, outcome, self.resources.pop(report.nodeid, None))
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
        if self.meter is not None:
            self.meter.close()
        try:
            # Not a full close(): a database that cannot be reached must not hold up the run.
            self.logger._close_briefly(CLOSE_TIMEOUT)
        except DataLoggerError:
            pass  # what was not delivered waits in the spool; the summary says so
        self.stats = _delivery_stats(self.logger)
        if self.is_worker:
            self.config.workeroutput["datalogger_stats"] = {**self.stats, "problems": self.problems}  # type: ignore[attr-defined]
            return
        self._write_outputs()
        if self.settings.compare:
            try:
                earlier = history(self.settings, self.config.rootpath, self.run_tags["run_id"], self.settings.compare)
                if self.settings.compare_method == "robust":
                    self.comparison, self.unjudged = compare_robust(self.call_durations, earlier)
                else:
                    self.comparison = [
                        Flagged(test, median, float("nan"), now, change, f"beyond {self.settings.threshold:g}%")
                        for test, median, now, change in compare(self.call_durations, earlier, self.settings.threshold)
                    ]
            except (OSError, ValueError, DataLoggerError) as error:
                self.problems.append(f"cannot compare with earlier runs: {error}")
            if self.settings.compare_fail and any(f.change > 0 for f in self.comparison):
                session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _write_outputs(self) -> None:
        """The report and the dashboard asked for; a failure is a line of the summary, never a
        failed run."""
        measurement = self.settings.measurement
        if self.settings.report:
            try:
                path = report(
                    **self.settings.source(self.config.rootpath),
                    output=self.settings.report,
                    measurements=[measurement],
                    group_by=["test"],
                    count_by=["outcome"],
                    since="90d",
                    title=f"pytest: run {self.run_tags['run_id']} and its history",
                )
                self.outputs.append(f"report written to {path}")
            except (DataLoggerError, OSError) as error:
                self.problems.append(f"cannot write the report: {error}")
        if self.settings.dashboard:
            try:
                path = dashboard(output=self.settings.dashboard, tests=measurement, title=f"pytest: {measurement}")
                self.outputs.append(f"Grafana dashboard written to {path}")
            except (DataLoggerError, OSError) as error:
                self.problems.append(f"cannot write the dashboard: {error}")

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
        for output in self.outputs:
            write(f"datalogger: {output}")
        for problem in [*self.problems, *(p for s in self.worker_stats for p in s.get("problems", ()))]:
            write(f"datalogger: {problem}")
        if self.settings.compare:
            self._summarise_comparison(write)

    def _summarise_comparison(self, write: Callable[[str], None]) -> None:
        runs = self.settings.compare
        if self.settings.compare_method == "robust":
            against = f"the last {runs} runs (beyond 3.5 spreads of the median and {COMPARE_MIN_CHANGE:.0%})"
        else:
            against = f"the median of the last {runs} runs (threshold {self.settings.threshold:g}%)"
        if not self.comparison:
            write(f"datalogger: no test's call duration changed against {against}")
        else:
            write(f"datalogger: call durations against {against}:")
            width = max(len(f.test) for f in self.comparison)
            write(f"  {'test':<{width}}  {'median':>10}  {'spread':>7}  {'this run':>10}  {'change':>8}")
            for f in self.comparison:
                verdict = "slower" if f.change > 0 else "faster"
                spread = "-" if f.spread != f.spread else f"{f.spread * 100:.1f}%"
                write(
                    f"  {f.test:<{width}}  {f.median:>9.4f}s  {spread:>7}  {f.now:>9.4f}s  {f.change:>+7.1f}%  "
                    f"{verdict}: {f.why}"
                )
        if self.unjudged:
            write(f"datalogger: {self.unjudged} tests have fewer than 5 earlier runs and were not judged")


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
        config.pluginmanager.register(PluginRun(config, settings), _PLUGIN_NAME)


def pytest_unconfigure(config: pytest.Config) -> None:
    plugin = config.pluginmanager.get_plugin(_PLUGIN_NAME)
    if plugin is not None:
        config.pluginmanager.unregister(plugin, _PLUGIN_NAME)


def _active(config: pytest.Config) -> Optional[PluginRun]:
    plugin = config.pluginmanager.get_plugin(_PLUGIN_NAME)
    return plugin if isinstance(plugin, PluginRun) else None


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
