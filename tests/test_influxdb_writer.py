"""The Python InfluxDBWriter: configuration, errors without secrets, and writes to the real
InfluxDB 1.6 and VictoriaMetrics started by scripts/servers.py (queried back)."""

from __future__ import annotations

import datetime
import gc
import json
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Dict

import pytest

from conftest import influx_query, poll
from influxdb_datalogger import DataLogger, Field, FieldMap, InfluxDBWriter, Measurement, Tag, TagMap
from influxdb_datalogger.exceptions import ArgumentError, WriterError


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


def test_an_unreachable_server_does_not_block_logging_and_flush_reports_it() -> None:
    f = Field("f")
    m = Measurement("m", f)
    writer = InfluxDBWriter("http://127.0.0.1:9", database="db", username="u", password="secret-pw", timeout=1)
    dl = DataLogger(writer, continuous_write=True)
    started = time.monotonic()
    dl.log(m, FieldMap.build(f, 1.0))
    dl.write_data()
    assert time.monotonic() - started < 0.5, "handing over does not wait for the network"
    with pytest.raises(WriterError, match="1 points not delivered") as error:
        dl.flush(timeout=0.5)
    assert "127.0.0.1:9" in str(error.value) and "secret-pw" not in str(error.value)
    stats = dl.stats()
    assert stats["pending_points"] == 0 and stats["writers"][0]["points_written"] == 0, "handed over, not written"
    assert stats["writers"][0]["awaiting_delivery"] == 1 and stats["writers"][0]["retries"] >= 1


def test_data_handed_over_reaches_the_server_when_it_comes_up_even_after_the_logger_is_gone(tmp_path: Path) -> None:
    """A dropped logger's delivery thread goes on; the exit hook waits for it."""
    import socket

    from influxdb_datalogger import _native

    # Earlier tests may have left detached threads for servers that never answer: take them off
    # the list first, so that the wait below is for this test's writer only (collecting first:
    # a caught exception's traceback can keep an earlier logger alive).
    gc.collect()
    try:
        _native._flush_detached(0.0)
    except WriterError:
        pass
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    received: list = []
    f = Field("f")
    m = Measurement("late", f)
    dl = DataLogger(
        InfluxDBWriter(f"http://127.0.0.1:{port}", database="db", flush_interval=0.05), continuous_write=True
    )
    dl.log(m, FieldMap.build(f, 2.0))
    del dl  # the writer is dropped with the point undelivered; dropping does not block
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        _native._flush_detached(10.0)
    finally:
        server.shutdown()
        server.server_close()
    assert len(received) == 1 and received[0].startswith(b"late f=2.0 ")


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


def vm_series(url: str, metric: str, values: int) -> Any:
    """The one series `metric` of VictoriaMetrics' export, once it shows `values` values (a fresh
    write can become visible a part at a time)."""
    urllib.request.urlopen(f"{url}/internal/force_flush", timeout=10).close()
    match = urllib.parse.urlencode({"match[]": f'{{__name__="{metric}"}}'})

    def read() -> Any:
        with urllib.request.urlopen(f"{url}/api/v1/export?{match}", timeout=10) as r:
            lines = r.read().decode().splitlines()
        series = json.loads(lines[0]) if lines else None
        return series if series and len(series["values"]) >= values else None

    return poll(read)


def test_victoria_metrics_takes_the_v2_api(servers: Dict[str, Any]) -> None:
    url = servers["victoria_metrics"]["url"]
    value = Field("value")
    m = Measurement("pyvm", value, Tag("run"))
    with DataLogger(InfluxDBWriter(url, api="v2", bucket="b", org="o", token="t")) as dl:
        for i in range(5):
            dl.log(m, FieldMap.build(value, i * 2), TagMap.build(Tag("run"), "r1"))
    series = vm_series(url, "pyvm_value", 5)
    assert series["values"] == [0, 2, 4, 6, 8] and series["metric"]["run"] == "r1"


def test_grafana_annotations_from_python_have_the_documented_shape() -> None:
    import http.server
    import threading

    from influxdb_datalogger import GrafanaAnnotationWriter

    received: list = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, self.headers["Authorization"], json.loads(body)))
            reply = b'{"message":"Annotation added","id":1}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        writer = GrafanaAnnotationWriter(url, "glsa_secret", dashboard_uid="abc", panel_id=2)
        assert "glsa_secret" not in repr(writer)
        f, host = Field("duration"), Tag("host")
        m = Measurement("step", f)
        with DataLogger(writer) as dl:
            dl.measure(time.sleep, m, f, event_tags=TagMap.build(host, "h1"), args=(0.01,))
        assert len(received) == 1
        path, auth, body = received[0]
        assert (path, auth) == ("/api/annotations", "Bearer glsa_secret")
        assert body["text"] == "step" and body["tags"] == ["host:h1"]
        assert body["dashboardUID"] == "abc" and body["panelId"] == 2
        assert body["timeEnd"] - body["time"] >= 10
    finally:
        server.shutdown()
        server.server_close()


def test_every_field_type_and_escaped_names_read_back_from_influxdb(servers: Dict[str, Any], tmp_path: Path) -> None:
    url = servers["influxdb"]["url"]
    influx_query(url, "CREATE DATABASE pytypes")
    f, i, b, s, host = Field("a float"), Field("an,int"), Field("ok=1"), Field("note"), Tag("host name")
    m = Measurement("py types,all", f, i, b, s, host)
    at = datetime.datetime(2024, 2, 3, 4, 5, 6)
    with DataLogger(InfluxDBWriter(url, database="pytypes", dead_letter=tmp_path / "dead.lp")) as dl:
        dl.log(
            m,
            FieldMap.build(f, 1e-300, i, -(2**62), b, False, s, 'say "hi", \\o/'),
            TagMap.build(host, "a b,c=d"),
            time=at,
        )
    rows = influx_query(url, 'SELECT * FROM "py types,all"', "pytypes")["results"][0]["series"][0]
    assert rows["columns"] == ["time", "a float", "an,int", "host name", "note", "ok=1"]
    assert rows["values"] == [["2024-02-03T04:05:06Z", 1e-300, -(2**62), "a b,c=d", 'say "hi", \\o/', False]]
    assert not (tmp_path / "dead.lp").exists()


def test_victoria_metrics_takes_the_v1_api(servers: Dict[str, Any]) -> None:
    url = servers["victoria_metrics"]["url"]
    value = Field("v")
    m = Measurement("pyvm1", value, Tag("run"))
    with DataLogger(InfluxDBWriter(url, database="vmdb")) as dl:
        for k in range(4):
            dl.log(m, FieldMap.build(value, k + 0.5), TagMap.build(Tag("run"), "r2"))
    series = vm_series(url, "pyvm1_v", 4)
    assert series["values"] == [0.5, 1.5, 2.5, 3.5]
    assert series["metric"] == {"__name__": "pyvm1_v", "run": "r2", "db": "vmdb"}
