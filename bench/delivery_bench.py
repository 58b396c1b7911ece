"""Delivery throughput, all in one run on loopback: 1,000,000 points (2 tags, 2 fields) to
InfluxDB 1.6 and to VictoriaMetrics, started by scripts/servers.py. Run with
``make bench-delivery``.

- ceiling: the same points pre-encoded, POSTed as 5,000-line batches over one keep-alive
  connection — what the server can take;
- ours: ``DataLogger(InfluxDBWriter(...))`` — the points logged through Python first, then
  timed from ``write_data()`` handing them to the background thread to ``flush()`` returning
  (the server acknowledged everything);
- influxdb-client: the official client's ``WriteApi`` in batching mode (5,000 points a batch);
  VictoriaMetrics only, as InfluxDB 1.6 has no ``/api/v2/write``.

It also times ``log()`` (prebuilt maps, a logger of its own) when idle and while a delivery runs,
to show what delivery costs the test thread.
"""

from __future__ import annotations

import http.client
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Callable, Dict, List, Tuple

from influxdb_datalogger import DataLogger, Field, FieldMap, InfluxDBWriter, Measurement, Tag, TagMap

N = 1_000_000
BATCH = 5_000
SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "servers.py"
STATE = Path(__file__).resolve().parent.parent / ".servers" / "bench-state.json"
BASE_NS = 1_700_000_000_000_000_000


def lines(measurement: str) -> List[bytes]:
    return [
        f"{measurement},host=h{i % 10},case=c{i // 10 % 10} duration={i / 1e6},count={i}i {BASE_NS + i}\n".encode()
        for i in range(N)
    ]


def ceiling(url: str, path: str, measurement: str) -> float:
    body = lines(measurement)
    batches = [b"".join(body[i : i + BATCH]) for i in range(0, N, BATCH)]
    parsed = urllib.parse.urlparse(url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
    started = time.perf_counter()
    for batch in batches:
        connection.request("POST", path, body=batch, headers={"Content-Type": "text/plain"})
        response = connection.getresponse()
        response.read()
        assert response.status == 204, (response.status, response.reason)
    return N / (time.perf_counter() - started)


def ours(url: str, measurement_name: str, spool: bool, **writer_options: object) -> Tuple[float, float]:
    """Logs N points (untimed), then times delivery: from write_data() handing them over to
    flush() returning once the server acknowledged all. Meanwhile, times log() on a separate
    logger, to see what a running delivery costs the test thread. With `spool`, every point
    is also journaled to a spool (the default for a database writer) in a fresh directory."""
    duration, count, host, case = Field("duration"), Field("count"), Tag("host"), Tag("case")
    m = Measurement(measurement_name, duration, count, host, case)
    tag_maps = [TagMap.build(host, f"h{i}", case, f"c{j}") for j in range(10) for i in range(10)]
    spool_dir = tempfile.mkdtemp(prefix="delivery-bench-spool-") if spool else False
    dl = DataLogger(InfluxDBWriter(url, flush_timeout=300, **writer_options), spool_dir=spool_dir)  # type: ignore[arg-type]
    for i in range(N):
        dl.log(m, FieldMap.build(duration, i / 1e6, count, i), tag_maps[i % 100])
    started = time.perf_counter()
    dl.write_data()
    log_during = log_alone(rounds=5)
    dl.flush()
    elapsed = time.perf_counter() - started
    stats = dl.stats()["writers"][0]
    assert stats["points_written"] == N and stats["awaiting_delivery"] == 0, stats
    del dl
    if spool_dir:
        shutil.rmtree(spool_dir)
    return N / elapsed, log_during


def log_alone(rounds: int = 10) -> float:
    """Median ns per log() with prebuilt maps, on a logger without writers."""
    duration, count, host, case = Field("duration"), Field("count"), Tag("host"), Tag("case")
    m = Measurement("alone", duration, count, host, case)
    tags = TagMap.build(host, "h1", case, "c1")
    fields = FieldMap.build(duration, 0.5, count, 3)
    dl = DataLogger()
    results = []
    for _ in range(rounds):
        t0 = time.perf_counter_ns()
        for _ in range(10_000):
            dl.log(m, fields, tags)
        results.append((time.perf_counter_ns() - t0) / 10_000)
        dl.write_data()
    return statistics.median(results)


def official_client(url: str, bucket: str) -> float:
    from influxdb_client import InfluxDBClient, WriteOptions

    body = [line.decode() for line in lines("client")]
    started = time.perf_counter()
    with InfluxDBClient(url=url, token="unused", org="org") as client:
        with client.write_api(write_options=WriteOptions(batch_size=BATCH, flush_interval=1_000)) as api:
            for line in body:
                api.write(bucket=bucket, record=line)
    return N / (time.perf_counter() - started)


def count_influxdb(url: str, measurement: str) -> int:
    query = urllib.parse.urlencode({"db": "bench", "q": f'SELECT count("count") FROM "{measurement}"'})
    with urllib.request.urlopen(f"{url}/query?{query}", timeout=60) as r:
        return int(json.load(r)["results"][0]["series"][0]["values"][0][1])


def main() -> None:
    info = json.loads(
        subprocess.run(
            [sys.executable, str(SCRIPT), "up", "--state", str(STATE)], check=True, capture_output=True
        ).stdout
    )
    influx, vm = info["influxdb"]["url"], info["victoria_metrics"]["url"]
    results: Dict[str, Dict[str, float]] = {}
    try:
        urllib.request.urlopen(urllib.request.Request(f"{influx}/query?q=CREATE+DATABASE+bench", method="POST")).close()
        alone = log_alone()
        log_costs: Dict[str, float] = {}

        def ours_and_log(server: str, url: str, name: str, spool: bool = True, **options: object) -> float:
            rate, log_cost = ours(url, name, spool, **options)
            log_costs[server] = min(log_costs.get(server, float("inf")), log_cost)
            return rate

        runs: List[Tuple[str, str, Callable[[int], float]]] = [
            ("InfluxDB 1.6", "ceiling", lambda k: ceiling(influx, "/write?db=bench&precision=n", f"ceiling{k}")),
            ("InfluxDB 1.6", "ours", lambda k: ours_and_log("InfluxDB 1.6", influx, f"ours{k}", database="bench")),
            (
                "InfluxDB 1.6",
                "ours, no spool",
                lambda k: ours_and_log("InfluxDB 1.6", influx, f"nospool{k}", False, database="bench"),
            ),
            ("VictoriaMetrics", "ceiling", lambda k: ceiling(vm, "/write?db=bench&precision=n", f"ceiling{k}")),
            ("VictoriaMetrics", "ours", lambda k: ours_and_log("VictoriaMetrics", vm, f"ours{k}", database="bench")),
            (
                "VictoriaMetrics",
                "ours, no spool",
                lambda k: ours_and_log("VictoriaMetrics", vm, f"nospool{k}", False, database="bench"),
            ),
            ("VictoriaMetrics", "influxdb-client", lambda k: official_client(vm, "bench")),
        ]
        # Each variant three times, interleaved, keeping its best: a server still digesting the
        # previous million points would otherwise penalise whichever runs next.
        for k in range(3):
            for server, who, run in runs:
                rate = run(k)
                results.setdefault(server, {})[who] = max(rate, results.get(server, {}).get(who, 0.0))
        assert count_influxdb(influx, "ours0") == N and count_influxdb(influx, "ceiling0") == N
    finally:
        subprocess.run([sys.executable, str(SCRIPT), "down", "--state", str(STATE)], check=True)
    print(f"log() when idle: {alone:.0f} ns")
    for server, rates in results.items():
        top = rates["ceiling"]
        print(f"\n{server}: ceiling {top:,.0f} points/s; log() while delivering: {log_costs[server]:.0f} ns")
        for who, rate in rates.items():
            print(f"  {who:16} {rate:12,.0f} points/s  {rate / top:6.1%} of the ceiling")


if __name__ == "__main__":
    main()
