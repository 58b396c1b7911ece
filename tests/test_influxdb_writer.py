"""The Python InfluxDBWriter: configuration, errors without secrets, and writes to the real
InfluxDB 1.6 and VictoriaMetrics started by scripts/servers.py (queried back)."""

from __future__ import annotations

import datetime
import json
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Callable, Dict, Iterator

import pytest

from influxdb_datalogger import DataLogger, Field, FieldMap, InfluxDBWriter, Measurement, Tag, TagMap
from influxdb_datalogger.exceptions import ArgumentError, WriterError

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "servers.py"


def test_configuration_is_checked_and_secrets_stay_out_of_reprs() -> None:
    writer = InfluxDBWriter("http://127.0.0.1:1", database="db", username="u", password="hunter2")
    assert "hunter2" not in repr(writer) and "127.0.0.1:1" in repr(writer)
    with pytest.raises(ArgumentError, match="needs a bucket"):
        InfluxDBWriter("http://127.0.0.1:1", api="v2", org="o")
    with pytest.raises(ValueError, match="unknown precision"):
        InfluxDBWriter("http://127.0.0.1:1", database="db", precision="minutes")
    with pytest.raises(ArgumentError, match="needs a database"):
        InfluxDBWriter.from_url("http://127.0.0.1:1")
    assert "bucket" in repr(InfluxDBWriter.from_url("http://h:8086?bucket=b&org=o&token=t"))


def test_from_env_reads_the_official_clients_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ["INFLUX_HOST", "INFLUX_DATABASE", "INFLUX_TOKEN", "INFLUXDB_V2_URL", "INFLUXDB_V2_BUCKET"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("INFLUXDB_V2_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("INFLUXDB_V2_ORG", "o")
    monkeypatch.setenv("INFLUXDB_V2_BUCKET", "b")
    monkeypatch.setenv("INFLUXDB_V2_TOKEN", "secret-token")
    writer = InfluxDBWriter.from_env()
    assert "V2 API" in repr(writer) and "secret-token" not in repr(writer)


def test_an_unreachable_server_raises_a_writer_error_and_keeps_the_data() -> None:
    f = Field("f")
    m = Measurement("m", f)
    dl = DataLogger(InfluxDBWriter("http://127.0.0.1:9", database="db", password="secret-pw", username="u", timeout=2))
    dl.log(m, FieldMap.build(f, 1.0))
    with pytest.raises(WriterError, match="cannot write to http://127.0.0.1:9") as error:
        dl.write_data()
    assert "secret-pw" not in str(error.value)
    assert dl.stats()["writers"][0]["backlog_points"] == 1


@pytest.fixture(scope="module")
def servers() -> Iterator[Dict[str, Any]]:
    if not (shutil.which("influxd") and shutil.which("victoria-metrics")):
        pytest.skip("influxd and victoria-metrics are not installed (make servers-deps)")
    state = Path(__file__).resolve().parent.parent / ".servers" / "pytest-state.json"
    out = subprocess.run([sys.executable, str(SCRIPT), "up", "--state", str(state)], check=True, capture_output=True)
    try:
        yield json.loads(out.stdout)
    finally:
        subprocess.run([sys.executable, str(SCRIPT), "down", "--state", str(state)], check=True)


def poll(read: Callable[[], Any], seconds: float = 10.0) -> Any:
    """``read()`` until it returns something truthy (servers make writes visible a bit later)."""
    deadline = time.monotonic() + seconds
    while True:
        value = read()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def influx_query(url: str, q: str, db: str = "") -> Any:
    query = urllib.parse.urlencode({"q": q, "db": db})
    with urllib.request.urlopen(urllib.request.Request(f"{url}/query?{query}", method="POST"), timeout=10) as r:
        return json.load(r)


def test_points_and_events_reach_influxdb_and_read_back(servers: Dict[str, Any], tmp_path: Path) -> None:
    url = servers["influxdb"]["url"]
    influx_query(url, "CREATE DATABASE pytests")
    duration, case = Field("duration"), Tag("case")
    m = Measurement("py step", duration, case)
    writer = InfluxDBWriter(url, database="pytests", precision="ms", dead_letter=tmp_path / "dead.lp")
    start = datetime.datetime(2024, 1, 1)
    with DataLogger(writer) as dl:
        for i in range(50):
            at = start + datetime.timedelta(milliseconds=i, microseconds=400)  # sent as whole ms
            dl.log(m, FieldMap.build(duration, i / 8), TagMap.build(case, f"case {i % 3}"), time=at)
        with dl.measure_block(m, duration, TagMap.build(case, "block"), event_tags=TagMap.build(Tag("host"), "h")):
            pass
    rows = influx_query(url, 'SELECT count("duration") FROM "py step" GROUP BY "case"', "pytests")
    times = influx_query(url, 'SELECT "duration" FROM "py step" WHERE "case" = \'case 0\' LIMIT 2', "pytests")
    assert [row[0] for row in times["results"][0]["series"][0]["values"]] == [
        "2024-01-01T00:00:00Z",
        "2024-01-01T00:00:00.003Z",
    ], "sent in whole milliseconds"
    counts = {s["tags"]["case"]: s["values"][0][1] for s in rows["results"][0]["series"]}
    assert counts == {"case 0": 17, "case 1": 17, "case 2": 16, "block": 1}
    events = influx_query(url, 'SELECT "text", "host" FROM "events"', "pytests")
    assert events["results"][0]["series"][0]["values"][0][1:] == ["py step", "h"]
    assert dl.stats()["writers"][0]["points_written"] == 51


def test_victoria_metrics_takes_the_v2_api(servers: Dict[str, Any]) -> None:
    url = servers["victoria_metrics"]["url"]
    value = Field("value")
    m = Measurement("pyvm", value, Tag("run"))
    with DataLogger(InfluxDBWriter(url, api="v2", bucket="b", org="o", token="t")) as dl:
        for i in range(5):
            dl.log(m, FieldMap.build(value, i * 2), TagMap.build(Tag("run"), "r1"))
    urllib.request.urlopen(f"{url}/internal/force_flush", timeout=10).close()
    match = urllib.parse.urlencode({"match[]": '{__name__="pyvm_value"}'})

    def export() -> Any:
        with urllib.request.urlopen(f"{url}/api/v1/export?{match}", timeout=10) as r:
            return r.read().decode().splitlines()

    series = json.loads(poll(export)[0])
    assert series["values"] == [0, 2, 4, 6, 8] and series["metric"]["run"] == "r1"
