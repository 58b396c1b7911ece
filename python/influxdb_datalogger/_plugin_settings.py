"""The pytest plugin's settings: its options (each also an ini key and an environment
variable), and the tags of a run and of a test."""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import pytest

from . import _native
from ._datalogger import DatabaseWriter
from ._writers import InfluxDBWriter, LineProtocolFileWriter

#: The file the embedded default sink appends to, under the rootdir.
DEFAULT_FILE = "influxdb-datalogger.lp"
#: Changes smaller than this are never flagged by the comparison: timer noise.
COMPARE_FLOOR_SECONDS = 0.001
#: The robust comparison flags no change smaller than this (a busy CI machine moves a test's
#: duration by a few percent from run to run, however steady its history).
COMPARE_MIN_CHANGE = 0.10
#: How long the end of the run waits for the database before leaving the rest in the spool.
CLOSE_TIMEOUT = 5.0
#: How often the points are handed to the writer during the run.
WRITE_EVERY_SECONDS = 1.0

_RUN_TAGS = (
    "run_id",
    "host",
    "os",
    "cpu",
    "cores",
    "python",
    "git_commit",
    "git_branch",
    "git_dirty",
    "ci",
    "ci_job",
    "worker",
)
# `os` as the Rust attribute (std::env::consts::OS) spells it.
_OS_NAMES = {"darwin": "macos", "win32": "windows", "cygwin": "windows"}
_TEST_TAGS = ("test", "module", "name", "param", "outcome")


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
    _Option(
        "--datalogger-compare-method",
        "str",
        "robust",
        "robust: flag a call beyond 3.5 spreads (MADs) of its history's median and 10 %, after 5 earlier runs; "
        "percent: flag it beyond --datalogger-compare-threshold percent of the median",
    ),
    _Option("--datalogger-compare-threshold", "float", 20.0, "with the percent method: the percent beyond which"),
    _Option("--datalogger-compare-fail", "bool", False, "make a slower test fail the run"),
    _Option("--datalogger-run-tags-off", "list", [], "run tags to leave out, e.g. host,git_branch (repeatable)"),
    _Option(
        "--datalogger-resources",
        "bool",
        False,
        "also record each test's CPU time (cpu_time), its peak of traced memory (peak_bytes, by tracemalloc "
        "during the call, which slows allocation-heavy tests) and the growth of the process's peak RSS "
        "(rss_growth_bytes)",
    ),
    _Option("--datalogger-report", "str", None, "write the HTML report of this run and its history to this file"),
    _Option("--datalogger-dashboard", "str", None, "write the Grafana dashboard of the test runs to this file"),
)


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
            # The grammar of the connection strings: anything else is a mistake, not "off".
            value = text.strip().lower()
            if value in ("1", "true", "yes", "on"):
                return True
            if value in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(value)
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
    compare_method: str
    threshold: float
    compare_fail: bool
    report: Optional[str]
    dashboard: Optional[str]
    run_tags_off: Tuple[str, ...]
    resources: bool

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
        method = values["datalogger_compare_method"]
        if method not in ("robust", "percent"):
            raise pytest.UsageError(f"--datalogger-compare-method takes robust or percent, not {method!r}")
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
            compare_method=method,
            threshold=values["datalogger_compare_threshold"],
            compare_fail=bool(values["datalogger_compare_fail"]),
            report=values["datalogger_report"],
            dashboard=values["datalogger_dashboard"],
            run_tags_off=tuple(
                name.strip() for entry in values["datalogger_run_tags_off"] for name in entry.split(",") if name.strip()
            ),
            resources=bool(values["datalogger_resources"]),
        )

    def source(self, rootpath: Path) -> Dict[str, Any]:
        """Where the points of the runs are read back from: the arguments of ``report``."""
        if not self.url:
            return {"sources": str(rootpath / DEFAULT_FILE)}
        url = self.url
        if self.token and "token=" not in url:
            url += ("&" if "?" in url else "?") + "token=" + self.token
        return {"sources": url, "database": self.database, "bucket": self.bucket, "org": self.org}

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
        "os": _OS_NAMES.get(sys.platform, sys.platform.rstrip("0123456789")),
        "cores": str(os.cpu_count() or 1),
        "python": platform.python_version(),
    }
    commit = _git(rootpath, "rev-parse", "HEAD")
    if commit:
        tags["git_commit"] = commit
        tags["git_branch"] = _git(rootpath, "rev-parse", "--abbrev-ref", "HEAD") or ""
        tags["git_dirty"] = "true" if _git(rootpath, "status", "--porcelain", "--untracked-files=no") else "false"
    ci = _native._ci_job()
    if ci:
        tags["ci"], tags["ci_job"] = ci
    cpu = _native._cpu_model()
    if cpu:
        tags["cpu"] = cpu
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
