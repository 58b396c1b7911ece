"""The ``influxdb-datalogger`` command as ``pip install`` gives it to Python users: the script the
wheel installs and ``python -m influxdb_datalogger``, with the native tool's commands and exit
statuses, against a real InfluxDB 1.6."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest

import influxdb_datalogger
from conftest import influx_query, poll

SCRIPT = Path(sys.executable).parent / ("influxdb-datalogger.exe" if sys.platform == "win32" else "influxdb-datalogger")


@pytest.fixture(params=["script", "module"])
def command(request: Any) -> List[str]:
    if request.param == "script":
        assert SCRIPT.is_file(), f"the wheel installed no {SCRIPT.name} next to {sys.executable}"
        return [str(SCRIPT)]
    return [sys.executable, "-m", "influxdb_datalogger"]


def run(command: List[str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=120)


def test_help_version_and_a_wrong_command_line_exit_as_the_native_tool_does(command: List[str]) -> None:
    version = run(command, "--version")
    assert version.returncode == 0
    assert version.stdout.strip() == f"influxdb-datalogger {influxdb_datalogger._native._crate_version}"
    help_text = run(command, "--help")
    assert help_text.returncode == 0
    for name in ["demo", "stats", "push", "ping", "replay", "spool"]:
        assert name in help_text.stdout
    wrong = run(command, "sing")
    assert wrong.returncode == 2 and "unrecognized subcommand 'sing'" in wrong.stderr


def test_demo_and_stats_work_without_a_server_and_report_bad_input(command: List[str], tmp_path: Path) -> None:
    demo = run(command, "demo", "--rounds", "1", "--file", "demo.lp")
    assert demo.returncode == 0, demo.stderr
    assert "appended to demo.lp" in demo.stdout and (tmp_path / "demo.lp").stat().st_size > 0
    (tmp_path / "mixed.lp").write_text("req,host=a ms=10i 1\r\nreq,host=a ms=oops 2\r\nreq,host=b ms=5i 3\r\n")
    stats = run(command, "stats", "mixed.lp")
    assert stats.returncode == 0
    assert stats.stdout.splitlines()[0].split() == "measurement tags field count min mean p50 p95 p99 max".split()
    assert "mixed.lp:2:" in stats.stderr and "line skipped" in stats.stderr
    missing = run(command, "stats", "missing.lp")
    assert missing.returncode == 1 and "cannot read missing.lp" in missing.stderr


def test_ping_and_push_reach_a_real_influxdb(command: List[str], servers: Dict[str, Any], tmp_path: Path) -> None:
    url = servers["influxdb"]["url"]
    database = f"cli_{len(command)}"
    influx_query(url, f"CREATE DATABASE {database}")
    ping = run(command, "ping", "--url", f"{url}/?db={database}")
    assert ping.returncode == 0, ping.stderr
    assert "version 1.6" in ping.stdout
    lines = "".join(f"cpu,host=h{i % 3} v={i} {1_700_000_000_000_000_000 + i}\n" for i in range(2_000))
    (tmp_path / "points.lp").write_text(lines)
    push = run(command, "push", "points.lp", "--url", f"{url}/?db={database}", "--batch-size", "500")
    assert push.returncode == 0, push.stderr
    assert "2000 lines delivered" in push.stdout

    def count() -> Any:
        series = influx_query(url, "SELECT count(v) FROM cpu", database)["results"][0].get("series")
        return series and series[0]["values"][0][1] == 2_000

    assert poll(count)
    refused = run(command, "ping", "--url", "http://127.0.0.1:9/?db=x&timeout=1")
    assert refused.returncode == 1 and "127.0.0.1:9" in refused.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT is sent as a console event on Windows")
def test_ctrl_c_ends_a_push_that_is_retrying_at_once(command: List[str], tmp_path: Path) -> None:
    (tmp_path / "points.lp").write_text("cpu v=1 1\n")
    with subprocess.Popen(
        [*command, "push", "points.lp", "--url", "http://127.0.0.1:9/?db=x", "--timeout", "120"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as push:
        try:
            assert push.stderr is not None
            assert "retrying" in push.stderr.readline()  # the command is inside Rust, retrying
            push.send_signal(signal.SIGINT)
            assert push.wait(timeout=10) == -signal.SIGINT
        finally:
            push.kill()


def test_import_junit_reads_a_real_pytest_report_into_influxdb(
    command: List[str], servers: Dict[str, Any], tmp_path: Path
) -> None:
    (tmp_path / "test_suite.py").write_text(
        "import pytest\n"
        "def test_ok(): pass\n"
        "def test_fail(): assert 1 == 2\n"
        "@pytest.mark.skip(reason='later')\n"
        "def test_skip(): pass\n"
        "def test_tagged(record_property):\n"
        "    record_property('component', 'auth')\n"
    )
    suite = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--junitxml=report.xml", "test_suite.py"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert suite.returncode == 1, suite.stdout  # one test fails, on purpose
    url = servers["influxdb"]["url"]
    database = f"junit_{len(command)}"
    influx_query(url, f"CREATE DATABASE {database}")
    imported = run(command, "import", "junit", "report.xml", "--url", f"{url}/?db={database}", "--run-id", "r1")
    assert imported.returncode == 0, imported.stderr
    assert "imported 4 test cases from 1 files (2 passed, 1 failed, 0 errors, 1 skipped)" in imported.stdout

    def rows() -> Any:
        answer = influx_query(url, 'SELECT "call" FROM "tests" GROUP BY "name", "outcome", "component"', database)
        return answer["results"][0].get("series")

    series = poll(rows)
    found = {(s["tags"]["name"], s["tags"]["outcome"], s["tags"]["component"]) for s in series}
    assert found == {
        ("test_ok", "passed", ""),
        ("test_fail", "failed", ""),
        ("test_skip", "skipped", ""),
        ("test_tagged", "passed", "auth"),
    }


def benchmark_tools() -> str:
    """Where `make test` installed pytest-benchmark, apart from the test environment."""
    location = os.environ.get("INFLUXDB_DATALOGGER_BENCHMARK_TOOLS", str(Path(sys.prefix) / "benchmark-tools"))
    if not (Path(location) / "pytest_benchmark").is_dir():
        pytest.fail(f"pytest-benchmark is not installed at {location} (make test installs it)")
    return location


def test_import_pytest_benchmark_reads_a_real_report_into_influxdb(
    command: List[str], servers: Dict[str, Any], tmp_path: Path
) -> None:
    (tmp_path / "test_speed.py").write_text(
        "def test_sum(benchmark):\n    benchmark(sum, range(1000))\n\n"
        "def test_sorted(benchmark):\n    benchmark(sorted, list(range(1000, 0, -1)))\n"
    )
    run_benchmarks = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--benchmark-json=speed.json",
            "test_speed.py",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": benchmark_tools()},
    )
    assert run_benchmarks.returncode == 0, run_benchmarks.stdout + run_benchmarks.stderr
    url = servers["influxdb"]["url"]
    database = f"bench_{len(command)}"
    influx_query(url, f"CREATE DATABASE {database}")
    imported = run(command, "import", "pytest-benchmark", "speed.json", "--url", f"{url}/?db={database}")
    assert imported.returncode == 0, imported.stderr
    assert "imported 2 benchmarks from 1 paths" in imported.stdout

    def rows() -> Any:
        answer = influx_query(
            url, 'SELECT "mean", "rounds", "median" FROM "benchmarks" GROUP BY "name", "python"', database
        )
        return answer["results"][0].get("series")

    series = poll(rows)
    assert {s["tags"]["name"] for s in series} == {"test_sum", "test_sorted"}
    assert all(s["tags"]["python"] and s["values"][0][1] > 0 and s["values"][0][2] >= 1 for s in series)
    broken = tmp_path / "broken.json"
    broken.write_text('{"benchmarks": [')
    failed = run(command, "import", "pytest-benchmark", "broken.json", "--file", "out.lp")
    assert failed.returncode == 1 and "broken.json:1:" in failed.stderr
