"""The pytest plugin, run with pytester: options, points for every outcome, fixture and marker,
the summary, xdist, the regression check; and against the real InfluxDB: data read back, a
slowed test flagged, a database that is down."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

from conftest import influx_query, servers_script
from influxdb_datalogger import _native

pytest_plugins = ["pytester"]

SUITE = """
import time
import pytest
from influxdb_datalogger import Field, FieldMap, Measurement, Tag, TagMap

def test_pass():
    pass

def test_fail():
    assert False

@pytest.mark.skip
def test_skip():
    pass

@pytest.mark.xfail
def test_xfail():
    assert False

@pytest.mark.xfail
def test_xpass():
    pass

@pytest.fixture
def broken():
    raise RuntimeError("no fixture")

def test_error(broken):
    pass

@pytest.mark.parametrize("n", [1, 2])
@pytest.mark.datalogger(team="core", size=3)
def test_param(n, datalogger):
    value = Field("value")
    m = Measurement("custom", value, Tag("k"))
    datalogger.log(m, FieldMap.build(value, n), TagMap.build(Tag("k"), "v"))
    with datalogger.measure_block(m, value, TagMap.build(Tag("k"), "block")):
        pass
"""

Point = Tuple[Dict[str, str], Dict[str, Any], int]


def points(path: Path, measurement: str = "pytest") -> List[Point]:
    return [tuple(p) for p in _native._read_line_protocol(path.read_text(), measurement)]  # type: ignore[misc]


def by_test(found: List[Point]) -> Dict[str, Point]:
    return {p[0]["test"]: p for p in found}


@pytest.fixture
def suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    for name in ("GITHUB_RUN_ID", "CI_JOB_ID", "BUILD_TAG", "INFLUXDB_DATALOGGER_RUN_ID"):
        monkeypatch.delenv(name, raising=False)
    pytester.makepyfile(test_suite=SUITE)
    return pytester


def test_inactive_until_configured_and_off_wins(suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    result = suite.runpytest("-p", "no:cacheprovider")
    assert "datalogger:" not in result.stdout.str()
    result = suite.runpytest("--datalogger", "--datalogger-off")
    monkeypatch.setenv("INFLUXDB_DATALOGGER_PYTEST", "1")
    monkeypatch.setenv("INFLUXDB_DATALOGGER_OFF", "yes")
    result = suite.runpytest()
    result.assert_outcomes(passed=3, failed=1, skipped=1, xfailed=1, xpassed=1, errors=1)
    assert "datalogger:" not in result.stdout.str()
    assert not (suite.path / "influxdb-datalogger.lp").exists()


def test_every_outcome_gets_a_point_with_the_run_test_and_git_tags(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    git = ["git", "-c", "user.email=t@example.invalid", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=suite.path, check=True)
    subprocess.run([*git, "add", "-A"], cwd=suite.path, check=True)
    subprocess.run([*git, "commit", "-qm", "suite"], cwd=suite.path, check=True)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=suite.path, capture_output=True, text=True).stdout
    monkeypatch.setenv("GITHUB_RUN_ID", "4711")
    result = suite.runpytest("--datalogger", "--datalogger-tag", "suite=smoke")
    result.assert_outcomes(passed=3, failed=1, skipped=1, xfailed=1, xpassed=1, errors=1)
    lp = suite.path / "influxdb-datalogger.lp"
    found = by_test(points(lp))
    outcomes = {test.split("::")[1]: tags["outcome"] for test, (tags, _, _) in found.items()}
    assert outcomes == {
        "test_pass": "passed",
        "test_fail": "failed",
        "test_skip": "skipped",
        "test_xfail": "xfailed",
        "test_xpass": "xpassed",
        "test_error": "error",
        "test_param[1]": "passed",
        "test_param[2]": "passed",
    }
    tags, fields, _ = found["test_suite.py::test_param[2]"]
    run_id = tags["run_id"]
    assert len(run_id) == 16
    assert {k: tags[k] for k in ("module", "name", "param", "suite", "team", "size", "ci", "ci_job")} == {
        "module": "test_suite.py",
        "name": "test_param",
        "param": "2",
        "suite": "smoke",
        "team": "core",
        "size": "3",
        "ci": "github",
        "ci_job": "4711",
    }
    assert tags["git_commit"] == commit.strip() and tags["git_branch"] == "main"
    assert tags["python"] == "{}.{}.{}".format(*sys.version_info[:3]) and tags["host"]
    assert tags["os"] == {"linux": "linux", "darwin": "macos", "win32": "windows"}.get(sys.platform, tags["os"])
    assert tags["cores"] == str(os.cpu_count())
    assert all(p[0]["run_id"] == run_id for p in found.values())
    assert all(isinstance(fields[f], float) and fields[f] >= 0 for f in ("setup", "call", "teardown"))
    assert found["test_suite.py::test_skip"][1]["call"] == 0.0, "a phase that did not run"
    # The fixture's points carry the test's and the marker's tags; the run is one event.
    custom = points(lp, "custom")
    assert len(custom) == 4
    assert {(p[0]["test"], p[0]["k"], p[0]["team"]) for p in custom} >= {("test_suite.py::test_param[1]", "v", "core")}
    (event,) = points(lp, "events")
    assert event[0]["run_id"] == run_id and event[0]["suite"] == "smoke"
    assert event[1]["text"] == f"pytest run {run_id}: 3 passed, 1 failed, 1 skipped, 1 xfailed, 1 xpassed, 1 error"
    result.stdout.re_match_lines(
        [rf"datalogger: run {run_id} -> LineProtocolFileWriter\(.*\): 12 points sent, 0 pending, 0 dead-lettered"]
    )


def run_three_ways(suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> List[List[Point]]:
    """The same settings from the command line, the ini file and the environment."""
    lp = suite.path / "influxdb-datalogger.lp"
    runs = []
    suite.runpytest("--datalogger", "--datalogger-tag", "team=a", "--datalogger-measurement", "m1")
    runs.append(points(lp, "m1"))
    lp.unlink()
    suite.makeini("[pytest]\ndatalogger = true\ndatalogger_tag = team=a\ndatalogger_measurement = m1\n")
    suite.runpytest()
    runs.append(points(lp, "m1"))
    lp.unlink()
    (suite.path / "tox.ini").unlink()
    monkeypatch.setenv("INFLUXDB_DATALOGGER_PYTEST", "true")
    monkeypatch.setenv("INFLUXDB_DATALOGGER_TAG", "team=a")
    monkeypatch.setenv("INFLUXDB_DATALOGGER_MEASUREMENT", "m1")
    suite.runpytest()
    runs.append(points(lp, "m1"))
    return runs


def test_options_ini_keys_and_environment_variables_are_equivalent(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = run_three_ways(suite, monkeypatch)

    def shape(found: List[Point]) -> List[Tuple[str, str, str]]:
        return sorted((t["test"], t["outcome"], t["team"]) for t, _, _ in found)

    assert len(runs[0]) == 8
    assert shape(runs[0]) == shape(runs[1]) == shape(runs[2])
    assert len({found[0][0]["run_id"] for found in runs}) == 3, "each run has its own id"


def test_marker_arguments_that_are_not_tags_are_an_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.datalogger("positional")
        def test_a():
            pass
        """
    )
    result = pytester.runpytest("--datalogger")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*@pytest.mark.datalogger takes tags as key=value only, not ('positional',)*"])
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.datalogger(outcome="great")
        def test_a():
            pass
        """
    )
    result = pytester.runpytest("--datalogger")
    result.stderr.fnmatch_lines(["*cannot set the automatic tag 'outcome'*"])


def test_the_fixture_works_when_the_plugin_is_off(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from influxdb_datalogger import Field, FieldMap, Measurement

        def test_a(datalogger, datalogger_session):
            f = Field("f")
            datalogger.log(Measurement("m", f), FieldMap.build(f, 1))
            assert datalogger.tags == {}
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_xdist_workers_share_one_run_id_and_log_each_test_once(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        "\n".join(f"def test_{i}():\n    pass\n" for i in range(12)) + "\ndef test_fails():\n    assert False\n"
    )
    result = pytester.runpytest_subprocess("-n", "2", "--datalogger")
    result.assert_outcomes(passed=12, failed=1)
    found = points(pytester.path / "influxdb-datalogger.lp")
    assert sorted(p[0]["test"] for p in found) == sorted(
        [f"test_xdist_workers_share_one_run_id_and_log_each_test_once.py::test_{i}" for i in range(12)]
        + ["test_xdist_workers_share_one_run_id_and_log_each_test_once.py::test_fails"]
    ), "every test once"
    assert len({p[0]["run_id"] for p in found}) == 1
    assert {p[0]["worker"] for p in found} == {"gw0", "gw1"}
    (event,) = points(pytester.path / "influxdb-datalogger.lp", "events")
    assert event[0]["run_id"] == found[0][0]["run_id"] and "12 passed, 1 failed" in event[1]["text"]
    result.stdout.fnmatch_lines(["datalogger: run * -> LineProtocolFileWriter(*): 13 points sent, 0 pending*"])


SLOWED = """
import os, time

def test_steady():
    time.sleep(0.05)

def test_slowed():
    time.sleep(float(os.environ.get("SLOW", "0.05")))

def test_other():
    time.sleep(0.05)
"""


def test_the_local_history_flags_a_test_that_got_slower(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_timing=SLOWED)
    for _ in range(2):
        pytester.runpytest("--datalogger").assert_outcomes(passed=3)
    monkeypatch.setenv("SLOW", "0.25")
    # A 50 % threshold: a loaded machine can stretch a 50 ms sleep by a few ms, never by 25.
    percent = ("--datalogger-compare-method=percent", "--datalogger-compare-threshold=50")
    result = pytester.runpytest("--datalogger", "--datalogger-compare", "2", *percent)
    result.assert_outcomes(passed=3)
    assert result.ret == 0, "only a report without --datalogger-compare-fail"
    output = result.stdout.str()
    assert "call durations against the median of the last 2 runs (threshold 50%)" in output
    assert "test_timing.py::test_slowed" in output and "slower" in output
    assert "test_steady" not in output.split("threshold 50%")[1]
    failing = pytester.runpytest("--datalogger", "--datalogger-compare=3", *percent, "--datalogger-compare-fail")
    assert failing.ret == pytest.ExitCode.TESTS_FAILED


def test_the_robust_comparison_waits_for_history_then_flags_only_the_slowed_test(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_timing=SLOWED)
    too_early = None
    for run in range(6):
        result = pytester.runpytest("--datalogger", "--datalogger-compare", "10")
        result.assert_outcomes(passed=3)
        if run == 2:
            too_early = result.stdout.str()
    assert too_early is not None
    assert "3 tests have fewer than 5 earlier runs and were not judged" in too_early
    monkeypatch.setenv("SLOW", "0.25")
    slowed = pytester.runpytest("--datalogger", "--datalogger-compare", "10", "--datalogger-compare-fail")
    assert slowed.ret == pytest.ExitCode.TESTS_FAILED
    output = slowed.stdout.str()
    assert "call durations against the last 10 runs (beyond 3.5 spreads of the median and 10%):" in output
    table = output.split("(beyond 3.5 spreads of the median and 10%):")[1]
    assert "test_timing.py::test_slowed" in table and "slower:" in table and "spreads above the median" in table
    # The steady tests may move by a few percent on a busy machine; never by the slowed one's 400 %.
    for line in table.splitlines():
        if "test_steady" in line or "test_other" in line:
            change = float(re.search(r"([+-][0-9.]+)%", line).group(1))  # type: ignore[union-attr]
            assert abs(change) < 100, line
    assert "not judged" not in output
    wrong = pytester.runpytest("--datalogger", "--datalogger-compare", "3", "--datalogger-compare-method", "median")
    assert wrong.ret == pytest.ExitCode.USAGE_ERROR


@pytest.fixture
def influx(servers: Dict[str, Any]) -> Tuple[str, str]:
    url = servers["influxdb"]["url"]
    influx_query(url, "CREATE DATABASE plugin")
    return url, "plugin"


def test_runs_reach_influxdb_and_the_database_flags_the_slowed_test(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, influx: Tuple[str, str]
) -> None:
    url, db = influx
    pytester.makepyfile(test_timing=SLOWED)
    args = ["--datalogger-url", url, "--datalogger-database", db, "--datalogger-measurement", "plugin_runs"]
    first = pytester.runpytest_subprocess(*args)
    first.assert_outcomes(passed=3)
    first.stdout.fnmatch_lines(["datalogger: run * -> InfluxDBWriter(*): 3 points sent, 0 pending, 0 dead-lettered"])
    rows = influx_query(url, 'SELECT "call", "outcome", "name" FROM "plugin_runs" GROUP BY "test", "run_id"', db)
    series = rows["results"][0]["series"]
    assert {s["tags"]["test"] for s in series} == {f"test_timing.py::test_{n}" for n in ("steady", "slowed", "other")}
    assert all(s["values"][0][2] == "passed" and s["values"][0][1] >= 0.05 for s in series)
    monkeypatch.setenv("SLOW", "0.25")
    second = pytester.runpytest_subprocess(
        *args,
        "--datalogger-compare",
        "1",
        "--datalogger-compare-method=percent",
        "--datalogger-compare-threshold",
        "50",
        "--datalogger-compare-fail",
    )
    assert second.ret == pytest.ExitCode.TESTS_FAILED
    table = second.stdout.str().split("(threshold 50%):")[1]
    assert "test_timing.py::test_slowed" in table
    assert "test_steady" not in table and "test_other" not in table


def test_a_database_that_is_down_fails_nothing_and_gets_the_points_next_run(
    pytester: pytest.Pytester, servers: Dict[str, Any], influx: Tuple[str, str]
) -> None:
    url, db = influx
    pytester.makepyfile("def test_a():\n    pass\n\ndef test_b():\n    pass\n")
    args = ["--datalogger-url", url, "--datalogger-database", db, "--datalogger-measurement", "plugin_down"]
    servers_script(servers, "stop-influxdb")
    try:
        down = pytester.runpytest_subprocess(*args)
    finally:
        servers_script(servers, "start-influxdb")
    down.assert_outcomes(passed=2)
    assert down.ret == 0
    down.stdout.fnmatch_lines(
        [
            "datalogger: run * 0 points sent, 3 pending, 0 dead-lettered "
            "(kept in the spool *; delivered by the next run; last error: *Connection refused*)"
        ]
    )
    up = pytester.runpytest_subprocess(*args)
    up.assert_outcomes(passed=2)
    rows = influx_query(url, 'SELECT count("call") FROM "plugin_down" GROUP BY "run_id"', db)
    counts = sorted(s["values"][0][1] for s in rows["results"][0]["series"])
    assert counts == [2, 2], "the first run's points arrived with the second run"


def test_a_spool_that_cannot_be_opened_does_not_break_the_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_a():\n    pass\n")
    (pytester.path / "not-a-dir").write_text("a file where the spool directory should be")
    result = pytester.runpytest(
        "--datalogger-url", "http://127.0.0.1:9", "--datalogger-database", "x", "--datalogger-spool", "not-a-dir"
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["datalogger: running without a spool: cannot create spool directory *not-a-dir*"])
    bad = pytester.runpytest("--datalogger-url", "http://127.0.0.1:9")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["*--datalogger: *database*"])


INCOMPLETE = """
from influxdb_datalogger import Field, FieldMap, Measurement, Tag, TagMap

D, STEP = Field("d"), Tag("step")
M = Measurement("m", D, STEP)

def test_logs_an_incomplete_point(datalogger):
    datalogger.log(M, FieldMap.build(D, None), TagMap.build(STEP, "x"))

def test_logs_a_good_point(datalogger):
    datalogger.log(M, FieldMap.build(D, 1.5), TagMap.build(STEP, "y"))

def test_other():
    pass
"""


def test_an_incomplete_point_holds_back_nothing_and_the_summary_names_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_incomplete=INCOMPLETE)
    result = pytester.runpytest("--datalogger")
    result.assert_outcomes(passed=2, failed=1)
    lp = pytester.path / "influxdb-datalogger.lp"
    assert {p[0]["test"].split("::")[1]: p[0]["outcome"] for p in points(lp)} == {
        "test_logs_an_incomplete_point": "failed",
        "test_logs_a_good_point": "passed",
        "test_other": "passed",
    }
    assert [(p[0]["step"], p[1]["d"]) for p in points(lp, "m")] == [("y", 1.5)]
    assert len(points(lp, "events")) == 1
    result.stdout.fnmatch_lines(
        [
            "datalogger: run * 4 points sent, 0 pending, 0 dead-lettered",
            'datalogger: test_incomplete.py::test_logs_an_incomplete_point: a point was refused: measurement "m": '
            'field "d" has no value; the point was not logged',
        ]
    )


def test_a_boolean_setting_that_is_neither_true_nor_false_is_an_error(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile("def test_a():\n    pass\n")
    monkeypatch.setenv("INFLUXDB_DATALOGGER_PYTEST", "maybe")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--datalogger: 'maybe' is not a valid bool*"])
    monkeypatch.setenv("INFLUXDB_DATALOGGER_PYTEST", "off")
    pytester.runpytest().assert_outcomes(passed=1)


def test_a_run_whose_database_name_does_not_resolve_ends_without_waiting_for_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_a():\n    pass\n")
    started = time.monotonic()
    result = pytester.runpytest_subprocess(
        "--datalogger-url", "http://no-such-host.invalid:8086", "--datalogger-database", "x"
    )
    took = time.monotonic() - started
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["datalogger: run * 0 points sent, 2 pending, * (kept in the spool *host not found*)"])
    # The session end gives the writer 5 s and the exit 10 s; an unknown host is not waited for.
    assert took < 4.5, f"the run took {took:.1f} s"


RESOURCE_SUITE = """
import time

def test_holds_memory():
    block = bytearray(6_000_000)
    assert len(block) == 6_000_000

def test_spins():
    started = time.monotonic()
    while time.monotonic() - started < 0.06:
        pass

def test_sleeps():
    time.sleep(0.06)
"""


def test_resources_are_recorded_when_asked_and_run_tags_can_be_left_out(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_resources=RESOURCE_SUITE)
    result = pytester.runpytest("--datalogger", "--datalogger-resources", "--datalogger-run-tags-off", "host,python")
    result.assert_outcomes(passed=3)
    found = {tags["name"]: (tags, fields) for tags, fields, _ in points(pytester.path / "influxdb-datalogger.lp")}
    tags, memory = found["test_holds_memory"]
    assert memory["peak_bytes"] >= 6_000_000
    assert "host" not in tags and "python" not in tags and tags["run_id"], tags
    assert tags["cpu"] == _native._cpu_model(), "the cpu model, as the Rust attribute tags it"
    _, spin = found["test_spins"]
    _, sleep = found["test_sleeps"]
    # Compared with the sleeping test's (near nothing whatever the load), not with a duration.
    assert spin["cpu_time"] > 10 * max(sleep["cpu_time"], 1e-4) and sleep["cpu_time"] < 0.02, (spin, sleep)
    assert sleep["call"] >= 0.06
    if sys.platform != "win32":
        assert memory["rss_growth_bytes"] >= 0
    # Off by default; the environment variable of the option works as the flag does.
    monkeypatch.setenv("INFLUXDB_DATALOGGER_RUN_TAGS_OFF", "cpu")
    (pytester.path / "influxdb-datalogger.lp").unlink()
    pytester.runpytest("--datalogger").assert_outcomes(passed=3)
    tags, fields = next(iter(points(pytester.path / "influxdb-datalogger.lp")))[:2]
    assert "cpu_time" not in fields and "peak_bytes" not in fields
    assert "cpu" not in tags and "host" in tags
