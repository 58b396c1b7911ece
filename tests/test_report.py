"""The report and the dashboards from Python and from the pytest plugin: the functions, what a
failure says, the plugin's options against the embedded file and the real InfluxDB 1.6 (every
query of its dashboard answers), the dashboards against Grafana's published schema, and the
chart library pinned as the vendoring script says."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from pathlib import Path
from typing import Any, Dict, List

import pytest

from conftest import influx_query, poll
from influxdb_datalogger import DataLoggerError, dashboard, report

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "crates" / "influxdb-datalogger" / "src" / "report" / "assets"

LINES = "".join(
    f"build,host={host},test=t1 seconds={1 + i % 3 * 0.01} {1_700_000_000_000_000_000 + i * 3_600_000_000_000}\n"
    for host in ("a", "b")
    for i in range(10)
)


def chart_data(html: str) -> Dict[str, Any]:
    found = re.search(r'id="report-data">(.*?)</script>', html, re.S)
    assert found
    data: Dict[str, Any] = json.loads(found.group(1).replace("<\\/", "</"))
    return data


def test_report_and_dashboard_of_files(tmp_path: Path) -> None:
    (tmp_path / "b.lp").write_text(LINES)
    written = report(tmp_path / "b.lp", tmp_path / "r.html", title="builds")
    html = written.read_text()
    assert "<title>builds</title>" in html
    assert [c["field"] for c in chart_data(html)["charts"]] == ["seconds"]
    grouped = report([str(tmp_path / "b.lp")], tmp_path / "g.html", group_by=["test"])
    assert len(chart_data(grouped.read_text())["charts"][0]["series"]) == 1, "grouped by test only"
    path = dashboard(tmp_path / "b.lp", tmp_path / "d.json", units={"seconds": "ms"})
    board = json.loads(path.read_text())
    assert board["panels"][1]["fieldConfig"]["defaults"]["unit"] == "ms"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda d: report(d / "missing.lp", d / "r.html"), "cannot read"),
        (lambda d: report(d / "b.lp", d / "r.html", measurements=["nope"]), 'no points of measurement "nope"'),
        (lambda d: report("http://127.0.0.1:9?db=tests", d / "r.html"), "cannot read from http://127.0.0.1:9"),
        (lambda d: report([d / "b.lp", "http://127.0.0.1:9"], d / "r.html"), "not both"),
        (lambda d: dashboard(d / "b.lp", d / "d.json", provisioning=d / "p"), "--url"),
    ],
)
def test_failures_are_one_line_and_leave_no_file(tmp_path: Path, call: Any, message: str) -> None:
    (tmp_path / "b.lp").write_text(LINES)
    with pytest.raises(DataLoggerError) as caught:
        call(tmp_path)
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert not (tmp_path / "r.html").exists()


SUITE = """
import time
def test_quick():
    pass
def test_slow():
    time.sleep(0.02)
def test_broken():
    assert False
"""


def test_the_plugin_writes_the_runs_report_and_dashboard(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=SUITE)
    for _ in range(2):
        result = pytester.runpytest("--datalogger", "--datalogger-report", "r.html", "--datalogger-dashboard", "d.json")
        result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        ["datalogger: report written to r.html", "datalogger: Grafana dashboard written to d.json"]
    )
    html = (pytester.path / "r.html").read_text()
    call = next(c for c in chart_data(html)["charts"] if c["field"] == "call")
    labels = sorted(s["label"] for s in call["series"])
    assert labels == [f"test_suite.py::{t}" for t in ("test_broken", "test_quick", "test_slow")], "named by the test"
    assert all(len(s["v"]) == 2 for s in call["series"]), "both runs of each test, grouped by test"
    assert len(chart_data(html)["events"]) == 2, "each run is an event band"
    assert re.search(r"outcome: <span class=\"count\">4 passed</span> · <span class=\"count\">2 failed</span>", html)
    assert '<td class="tags">test=test_suite.py::test_broken</td>' in html
    assert html.count('<td class="counted">failed</td>') == 3, "its newest outcome, in each of its tables"
    board = json.loads((pytester.path / "d.json").read_text())
    assert board["panels"][0]["title"] == "call duration per test"


def test_a_report_that_cannot_be_written_is_a_summary_line_not_a_failed_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite="def test_ok():\n    pass\n")
    result = pytester.runpytest("--datalogger", "--datalogger-report", "no/such/dir/r.html")
    result.assert_outcomes(passed=1)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["datalogger: cannot write the report: cannot write no/such/dir/r.html*"])


def test_the_test_runs_dashboard_answers_on_influxdb_with_the_plugins_data(
    pytester: pytest.Pytester, servers: Dict[str, Any]
) -> None:
    url = servers["influxdb"]["url"]
    influx_query(url, "CREATE DATABASE plugin_dash")
    pytester.makepyfile(test_suite=SUITE)
    git = ["git", "-c", "user.email=t@example.invalid", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=pytester.path, check=True)
    subprocess.run([*git, "add", "-A"], cwd=pytester.path, check=True)
    subprocess.run([*git, "commit", "-qm", "suite"], cwd=pytester.path, check=True)
    for _ in range(2):
        result = pytester.runpytest(
            "--datalogger-url",
            f"{url}?db=plugin_dash",
            "--datalogger-dashboard",
            "d.json",
            "--datalogger-report",
            "r.html",
        )
        result.assert_outcomes(passed=2, failed=1)
    assert poll(lambda: influx_query(url, "SELECT count(*) FROM events", "plugin_dash")["results"][0].get("series"))
    board = json.loads((pytester.path / "d.json").read_text())
    queries: List[str] = [t["query"] for p in board["panels"] for t in p["targets"]]
    queries += [v["query"] for v in board["templating"]["list"]]
    queries += [a["target"]["query"] for a in board["annotations"]["list"][1:]]
    for query in queries:
        query = query.replace("$timeFilter", "time > now() - 1h").replace("$__interval", "1s")
        query = re.sub(r"\$(branch|host|test)\b", ".*", query)
        answer = influx_query(url, query, "plugin_dash")["results"][0]
        assert "error" not in answer, (query, answer)
        assert answer.get("series"), f"no data: {query}"
    html = (pytester.path / "r.html").read_text()
    assert "test=test_suite.py::test_slow" in html, "the report read the runs back from the server"


# Keys Grafana itself writes into dashboards that its published schema (the foundation SDK's
# models) does not model, and which the SDK therefore drops: the built-in annotation marker,
# a variable's query as shown in its editor, and the InfluxDB data source's own annotation
# query and column mappings.
NOT_IN_THE_PUBLISHED_SCHEMA = {
    "builtIn",
    "definition",
    "mappings",
    "query",
    "textColumn",
    "timeEndColumn",
    "tagsColumn",
    "refId",
    "rawQuery",
    "resultFormat",
}


def _compare(ours: Any, theirs: Any, path: str, lost: List[str]) -> None:
    """Collects into ``lost`` the keys of ``ours`` missing from ``theirs``; values must agree."""
    if isinstance(ours, dict):
        for key, value in ours.items():
            if not isinstance(theirs, dict) or key not in theirs:
                lost.append(f"{path}/{key}")
            else:
                _compare(value, theirs[key], f"{path}/{key}", lost)
    elif isinstance(ours, list):
        assert isinstance(theirs, list) and len(theirs) == len(ours), path
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            _compare(a, b, f"{path}[{i}]", lost)
    else:
        assert ours == theirs, (path, ours, theirs)


def test_dashboards_match_grafanas_published_schema(tmp_path: Path) -> None:
    sdk = pytest.importorskip("grafana_foundation_sdk.models.dashboard")
    from grafana_foundation_sdk.cog.encoder import JSONEncoder

    (tmp_path / "b.lp").write_text(
        LINES + 'events,run_id=r text="x",duration=1,time_end=1700000001000i 1700000000000000000\n'
    )
    boards = [json.loads(dashboard(tmp_path / "b.lp", tmp_path / "d.json").read_text())]
    boards.append(json.loads(dashboard(None, tmp_path / "t.json", tests="pytest").read_text()))
    for board in boards:
        back = json.loads(json.dumps(sdk.Dashboard.from_json(board), cls=JSONEncoder))
        lost: List[str] = []
        _compare(board, back, "", lost)
        unknown = [p for p in lost if p.rsplit("/", 1)[1] not in NOT_IN_THE_PUBLISHED_SCHEMA]
        assert not unknown, unknown
        assert back["panels"] and all("targets" in p or p["type"] == "row" for p in back["panels"])


def test_the_inlined_chart_library_is_the_pinned_one() -> None:
    script = (ROOT / "scripts" / "vendor-uplot.sh").read_text()
    pins = dict(re.findall(r"\[([\w.]+)\]=([0-9a-f]{64})", script))
    assert set(pins) == {"uPlot.iife.min.js", "uPlot.min.css"}
    for name, digest in pins.items():
        assert hashlib.sha256((ASSETS / name).read_bytes()).hexdigest() == digest, name
    version = re.search(r"UPLOT_VERSION=([\d.]+)", script)
    assert version and f"(v{version.group(1)})" in (ASSETS / "uPlot.iife.min.js").read_text()[:80]
    assert "MIT" in (ASSETS / "LICENSE-uPlot").read_text()


def test_the_documented_python_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = (ROOT / "docs" / "report.md").read_text()
    example = doc.split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "influxdb-datalogger.lp").write_text(LINES.replace("seconds", "duration"))
    exec(compile(example, "docs/report.md", "exec"), {})
    assert (tmp_path / "report.html").exists() and (tmp_path / "dashboard.json").exists()
