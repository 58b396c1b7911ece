"""What a demanding user meets in the first hour, against the real InfluxDB 1.6: connection
strings everywhere, integers InfluxDB 1.x cannot store, honest statistics, clear errors instead
of raw ones, bounded waits, a read-only working directory, one version."""

from __future__ import annotations

import datetime
import importlib.metadata
import logging
import os
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest

import influxdb_datalogger
from conftest import influx_query, poll
from influxdb_datalogger import (
    DataLogger,
    DataLoggerError,
    Field,
    FieldMap,
    InfluxDBWriter,
    Measurement,
    Tag,
    TagMap,
)
from influxdb_datalogger.exceptions import ArgumentError, InvalidValueError, WriterError

pytest_plugins = ["pytester"]

V = Field("v")
HOST = Tag("host")
M = Measurement("first_hour", V, HOST)
CLI = Path(__file__).resolve().parent.parent / "target" / "debug" / "influxdb-datalogger"


@pytest.fixture
def influx(servers: Dict[str, Any]) -> Iterator[str]:
    url = servers["influxdb"]["url"]
    influx_query(url, "CREATE DATABASE first_hour")
    yield url
    influx_query(url, "DROP DATABASE first_hour")


def values(url: str, measurement: str = "first_hour") -> Any:
    answer = influx_query(url, f'SELECT * FROM "{measurement}"', "first_hour")
    series = answer["results"][0].get("series")
    return series[0]["values"] if series else []


def test_a_connection_string_works_wherever_a_url_is_taken(influx: str, pytester: pytest.Pytester) -> None:
    with DataLogger(InfluxDBWriter(f"{influx}?db=first_hour&precision=ms"), spool_dir=False) as dl:
        dl.log(M, FieldMap.build(V, 1.5), TagMap.build(HOST, "a"))
    assert [row[1:] for row in poll(lambda: values(influx))] == [["a", 1.5]]
    with pytest.raises(ArgumentError, match="database"):
        InfluxDBWriter(f"{influx}?precision=ms")
    pytester.makepyfile("def test_one():\n    pass\n")
    result = pytester.runpytest_subprocess(
        f"--datalogger-url={influx}?db=first_hour", "--datalogger-measurement=from_plugin"
    )
    result.assert_outcomes(passed=1)
    assert poll(lambda: values(influx, "from_plugin")), result.stdout.str()


def test_integers_influxdb_1_cannot_store_are_refused_at_log(influx: str) -> None:
    with DataLogger(InfluxDBWriter(influx, database="first_hour"), spool_dir=False) as dl:
        with pytest.raises(InvalidValueError, match=r"9223372036854775808 is larger than the largest integer"):
            dl.log(M, FieldMap.build(V, 2**63), TagMap.build(HOST, "too-big"))
        dl.log(M, FieldMap.build(V, 2**63 - 1), TagMap.build(HOST, "largest"))
        assert dl.stats()["log_errors"] == 1
    assert [row[1:] for row in poll(lambda: values(influx))] == [["largest", 2**63 - 1]]


def test_statistics_tell_delivery_failures_and_refused_points(influx: str, caplog: pytest.LogCaptureFixture) -> None:
    missing = DataLogger(InfluxDBWriter(influx, database="no_such_db"), spool_dir=False)
    missing.log(M, FieldMap.build(V, 1.0), TagMap.build(HOST, "a"))
    with pytest.raises(WriterError, match="does the database or bucket exist"):
        missing.flush(5)
    writer = missing.stats()["writers"][0]
    assert writer["failures"] >= 1 and writer["points_written"] == 0
    assert "database not found" in writer["last_error"]
    assert "database not found" in missing.stats()["last_error"]

    refused = DataLogger(InfluxDBWriter("http://127.0.0.1:9", database="x", timeout=0.5), spool_dir=False)
    refused.log(M, FieldMap.build(V, 1.0), TagMap.build(HOST, "a"))
    with pytest.raises(WriterError, match="1 points not delivered within 1 s: .*Connection refused"):
        refused.flush(1)
    assert "Connection refused" in refused.stats()["writers"][0]["last_error"]

    dl = DataLogger(InfluxDBWriter(influx, database="first_hour"), spool_dir=False)
    dl.log(M, FieldMap.build(V, 1.0), TagMap.build(HOST, "float"))
    dl.flush(5)
    conflict = Measurement("first_hour", Field("v"), HOST)
    dl.log(conflict, FieldMap.build(Field("v"), "text"), TagMap.build(HOST, "string"))
    with caplog.at_level(logging.WARNING, logger="influxdb_datalogger"):
        dl.flush(5)
    writer = dl.stats()["writers"][0]
    assert (writer["points_written"], writer["dead_lettered"]) == (1, 1)
    assert "1 points refused by the database" in caplog.text


def test_a_closed_logger_is_not_waited_for_again_and_the_exit_wait_keeps_flush_timeout(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import socket
        from influxdb_datalogger import DataLogger, Field, FieldMap, InfluxDBWriter, Measurement
        from influxdb_datalogger.exceptions import WriterError
        # A server that takes connections and never answers: every send waits for its timeout.
        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        url = "http://127.0.0.1:%d" % silent.getsockname()[1]
        F = Field("f")
        M = Measurement("m", F)
        closed = DataLogger(InfluxDBWriter(url, database="x", flush_timeout=0.5), spool_dir=False)
        closed.log(M, FieldMap.build(F, 1.0))
        try:
            closed.close()
        except WriterError:
            pass
        open_one = DataLogger(InfluxDBWriter(url, database="x", flush_timeout=0.5), spool_dir=False)
        open_one.log(M, FieldMap.build(F, 1.0))
        open_one.write_data()
        """
    )
    (tmp_path / "script.py").write_text(script)
    started = time.monotonic()
    run = subprocess.run([sys.executable, "script.py"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    exit_wait = time.monotonic() - started
    assert exit_wait < 5, f"the exit waited {exit_wait:.1f} s, not each writer's flush_timeout: {run.stderr}"
    assert run.stderr.count("influxdb-datalogger: at exit") == 1, run.stderr


def test_an_unreachable_database_does_not_hold_up_a_pytest_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_one():\n    pass\n")
    # With a minute to wait at the end, a run that waited for the server would show it.
    pytester.makeconftest("import influxdb_datalogger.pytest_plugin as p\np.CLOSE_TIMEOUT = 60.0\n")
    started = time.monotonic()
    result = pytester.runpytest_subprocess("--datalogger-url=http://127.0.0.1:1?db=x&timeout=60")
    took = time.monotonic() - started
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["datalogger: run * pending*last error: *Connection refused*"])
    assert took < 30, f"waited for a server that refuses connections: {took:.1f} s"


def test_a_read_only_working_directory_falls_back_to_no_spool(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    if os.geteuid() == 0:
        # root writes anywhere: make the spool's place unusable another way.
        (tmp_path / ".influxdb-datalogger-spool").write_text("a file where the spool directory would go")
    else:
        tmp_path.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        with caplog.at_level(logging.WARNING, logger="influxdb_datalogger"):
            dl = DataLogger(InfluxDBWriter("http://127.0.0.1:9", database="x"))
        assert dl.stats()["spool"] is None
        assert "running without a spool" in caplog.text
        with pytest.raises(DataLoggerError, match="spool"):
            DataLogger(InfluxDBWriter("http://127.0.0.1:9", database="x"), spool_dir=".influxdb-datalogger-spool")
    finally:
        tmp_path.chmod(stat.S_IRWXU)


def test_a_bucket_on_influxdb_1_says_the_server_has_no_v2_api(influx: str) -> None:
    dl = DataLogger(InfluxDBWriter(influx, bucket="b", org="o", token="t"), spool_dir=False)
    dl.log(M, FieldMap.build(V, 1.0), TagMap.build(HOST, "a"))
    with pytest.raises(WriterError, match="has no such write API .*only the v1 API"):
        dl.flush(5)


def test_huge_values_are_quoted_short() -> None:
    dl = DataLogger()
    huge = "x" * 1_000_000
    with pytest.raises(DataLoggerError) as error:
        dl.log(M, FieldMap.build(V, 1.0), TagMap.build(HOST, huge + "\n"))
    assert len(str(error.value)) < 500 and "bytes in all" in str(error.value)
    with pytest.raises(DataLoggerError) as error:
        dl.log(M, FieldMap({huge: 1.0}))
    assert len(str(error.value)) < 500
    with pytest.raises(DataLoggerError) as error:
        dl.log(M, FieldMap.build(V, object()), TagMap.build(HOST, "a"))
    assert len(str(error.value)) < 500


def test_bad_input_raises_the_package_s_own_errors() -> None:
    dl = DataLogger()
    with pytest.raises(InvalidValueError, match="lone surrogate"):
        dl.log(M, FieldMap.build(V, 1.0), TagMap.build(HOST, "\ud800"))
    with pytest.raises(InvalidValueError, match="lone surrogate"):
        dl.log(M, FieldMap.build(V, "\udcff"), TagMap.build(HOST, "a"))
    with pytest.raises(InvalidValueError, match="outside the years 1677 to 2262"):
        dl.log(M, FieldMap.build(V, 1.0), TagMap.build(HOST, "a"), time=datetime.datetime(2300, 1, 1))
    with pytest.raises(ArgumentError, match="batch_size must be at least 1, not 0"):
        InfluxDBWriter("http://127.0.0.1:8086", database="x", batch_size=0)
    with pytest.raises(ArgumentError, match="port .*99999.* is not a port number"):
        InfluxDBWriter("http://127.0.0.1:99999", database="x")
    assert dl.stats()["pending_points"] == 0


def test_one_version_everywhere() -> None:
    version = influxdb_datalogger.__version__
    assert importlib.metadata.version("influxdb-datalogger") == version
    cargo_version = influxdb_datalogger._native._crate_version
    assert cargo_version.replace("-alpha.", "a") == version
    if CLI.exists():
        out = subprocess.run([str(CLI), "--version"], capture_output=True, text=True, check=True).stdout
        assert out.split() == ["influxdb-datalogger", cargo_version]


def test_the_default_spool_keeps_itself_out_of_git(tmp_path: Path) -> None:
    DataLogger(InfluxDBWriter("http://127.0.0.1:9", database="x"))
    ignore = tmp_path / ".influxdb-datalogger-spool" / ".gitignore"
    assert "*" in ignore.read_text().splitlines()
