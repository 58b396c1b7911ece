"""Ending while the database cannot be reached: with every point in the spool, a program's exit,
``close()`` and the pytest plugin's session end do not wait for a server that refuses the
connection or whose name does not resolve; they say where the points are, and the next logger
delivers them. Against a real InfluxDB 1.6, stopped for the purpose."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, Dict

import pytest

from conftest import influx_query, poll, servers_script
from influxdb_datalogger import DataLogger, Field, FieldMap, InfluxDBWriter, Measurement, Tag, TagMap, WriterError

PROGRAM = textwrap.dedent(
    """
    import sys
    from influxdb_datalogger import DataLogger, Field, FieldMap, InfluxDBWriter, Measurement, Tag, TagMap

    value, case = Field("value"), Tag("case")
    m = Measurement("down", value, case)
    datalogger = DataLogger(InfluxDBWriter(sys.argv[1]), spool_dir=sys.argv[2])
    for i in range(100):
        datalogger.log(m, FieldMap.build(value, i), TagMap.build(case, sys.argv[3]))
    datalogger.write_data()
    """
)


def count(url: str, db: str, case: str) -> Any:
    result = influx_query(url, f"SELECT count(value) FROM down WHERE \"case\" = '{case}'", db)["results"][0]
    series = result.get("series")
    return series[0]["values"][0][1] if series else 0


def test_a_program_ending_while_influxdb_is_down_exits_at_once_and_the_next_run_delivers(
    servers: Dict[str, Any], tmp_path: Path
) -> None:
    url = servers["influxdb"]["url"]
    influx_query(url, "CREATE DATABASE down")
    (tmp_path / "program.py").write_text(PROGRAM)
    spool = tmp_path / "spool"
    servers_script(servers, "stop-influxdb")
    try:
        started = time.monotonic()
        ended = subprocess.run(
            [sys.executable, "program.py", f"{url}/?db=down", str(spool), "exit"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        took = time.monotonic() - started
    finally:
        servers_script(servers, "start-influxdb")
    assert ended.returncode == 0, ended.stderr
    # The exit hook would give the writer 10 s; a refused connection ends the wait at once.
    assert took < 5, f"the program took {took:.1f} s to end"
    assert "cannot be reached" in ended.stderr
    assert f"kept in the spool {spool}" in ended.stderr and f"influxdb-datalogger replay {spool}" in ended.stderr
    # The next run of a program with that spool delivers them first.
    with DataLogger(InfluxDBWriter(f"{url}/?db=down"), spool_dir=str(spool)) as next_run:
        assert next_run.stats()["replayed"]["points"] == 100
    assert poll(lambda: count(url, "down", "exit") == 100)


def test_close_with_a_spool_does_not_wait_for_a_server_that_refuses_and_nothing_is_lost(
    servers: Dict[str, Any], tmp_path: Path
) -> None:
    url = servers["influxdb"]["url"]
    influx_query(url, "CREATE DATABASE down")
    value, case = Field("value"), Tag("case")
    m = Measurement("down", value, case)
    spool = tmp_path / "spool"
    servers_script(servers, "stop-influxdb")
    try:
        datalogger = DataLogger(InfluxDBWriter(f"{url}/?db=down"), spool_dir=str(spool))
        for i in range(100):
            datalogger.log(m, FieldMap.build(value, i), TagMap.build(case, "close"))
        started = time.monotonic()
        with pytest.raises(WriterError) as refused:
            datalogger.close()
        took = time.monotonic() - started
    finally:
        servers_script(servers, "start-influxdb")
    # The writer's own flush limit is 30 s: close() gave up at the refused connection.
    assert took < 5, f"close() took {took:.1f} s"
    message = str(refused.value)
    assert "cannot be reached" in message and f"kept in the spool {spool}" in message
    # With the server back, the points arrive, once: the closed logger's thread goes on
    # delivering from the spool while the process lives.
    assert poll(lambda: count(url, "down", "close") == 100)
    time.sleep(0.5)
    assert count(url, "down", "close") == 100


def test_close_while_the_server_comes_back_delivers_instead_of_giving_up(
    servers: Dict[str, Any], tmp_path: Path
) -> None:
    """The verdict "unreachable" must come from an attempt made during the close, not from one
    made while the server was away: the server is back by the time ``close()`` runs."""
    url = servers["influxdb"]["url"]
    influx_query(url, "CREATE DATABASE down")
    value, case = Field("value"), Tag("case")
    m = Measurement("down", value, case)
    servers_script(servers, "stop-influxdb")
    try:
        datalogger = DataLogger(InfluxDBWriter(f"{url}/?db=down"), spool_dir=str(tmp_path / "spool"))
        for i in range(50):
            datalogger.log(m, FieldMap.build(value, i), TagMap.build(case, "back"))
        datalogger.write_data()
        assert poll(lambda: datalogger.stats()["writers"][0]["retries"] > 0)
    finally:
        servers_script(servers, "start-influxdb")
    datalogger.close()
    assert datalogger.stats()["writers"][0]["awaiting_delivery"] == 0
    assert poll(lambda: count(url, "down", "back") == 50)


def test_a_program_whose_server_name_does_not_resolve_ends_at_once_after_close(tmp_path: Path) -> None:
    program = PROGRAM.replace("datalogger.write_data()", "datalogger.close()")
    (tmp_path / "program.py").write_text(program)
    started = time.monotonic()
    ended = subprocess.run(
        [sys.executable, "program.py", "http://no-such-host.invalid:8086/?db=down", "spool", "dns"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    took = time.monotonic() - started
    assert ended.returncode == 1 and "WriterError" in ended.stderr and "host not found" in ended.stderr
    assert "cannot be reached" in ended.stderr and f"kept in the spool {tmp_path / 'spool'}" in ended.stderr
    # Neither close() (the writer's limit is 30 s) nor the exit (10 s) waited for the name.
    assert took < 5, f"the program took {took:.1f} s to end"
