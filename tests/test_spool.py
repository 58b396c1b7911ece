"""The spool against the real InfluxDB 1.6: processes killed with SIGKILL, a 30 s outage,
processes sharing one spool directory, a damaged segment. Every check queries the data back."""

from __future__ import annotations

import json
import random
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

from conftest import influx_query, servers_script
from influxdb_datalogger import (
    DatabaseWriter,
    DataLogger,
    Field,
    FieldMap,
    InfluxDBWriter,
    LineProtocolFileWriter,
    Measurement,
    SpoolFullError,
    spool_inventory,
)
from influxdb_datalogger.exceptions import ArgumentError, DataLoggerTypeError

# A process that logs `seq` 0, 1, 2, … tagged with its run, and writes how many log() calls
# returned to a side file after each one. It stops after LIMIT points (0: never), then
#   close:     closes the logger (continuous write);
#   crash:     exits at once, nothing written (the points are in the spool only);
#   delivered: waits until the database has every point (continuous write), then exits
#              without closing, so the spool still holds them as if released too late.
CHILD = r"""
import json, os, sys, time
from influxdb_datalogger import DataLogger, Field, FieldMap, InfluxDBWriter, Measurement, Tag, TagMap

url, db, spool, run, count_file, limit, end = sys.argv[1:8]
limit = int(limit)
seq, run_tag = Field("seq"), Tag("run")
m = Measurement("spooled", seq, run_tag)
writer = InfluxDBWriter(url, database=db, flush_interval=0.05, timeout=2)
dl = DataLogger(writer, continuous_write=end != "crash", spool_dir=spool)
fd = os.open(count_file, os.O_WRONLY | os.O_CREAT, 0o644)
print(json.dumps({"ready": True, "replayed": dl.stats()["replayed"]}), flush=True)
i = 0
while limit == 0 or i < limit:
    dl.log(m, FieldMap.build(seq, i), TagMap.build(run_tag, run))
    i += 1
    os.pwrite(fd, b"%012d" % i, 0)
    if i % 200 == 0:
        time.sleep(0.005)
if end == "crash":
    os._exit(0)
if end == "delivered":
    while dl.stats()["writers"][0]["awaiting_delivery"]:
        time.sleep(0.01)
    os._exit(0)
dl.close(timeout=60)
print(json.dumps({"done": i, "stats": dl.stats()}, default=str), flush=True)
"""

# Opens a logger on the spool (replaying what dead processes left), reports, and closes.
REPLAYER = r"""
import json, sys
from influxdb_datalogger import DataLogger, InfluxDBWriter
url, db, spool = sys.argv[1:4]
dl = DataLogger(InfluxDBWriter(url, database=db, flush_interval=0.05), spool_dir=spool)
dl.close(timeout=60)
print(json.dumps(dl.stats()["replayed"]), flush=True)
"""


@pytest.fixture
def scripts(tmp_path: Path) -> Dict[str, Path]:
    paths = {"child": tmp_path / "child.py", "replayer": tmp_path / "replayer.py"}
    paths["child"].write_text(CHILD)
    paths["replayer"].write_text(REPLAYER)
    return paths


def start_child(
    script: Path, url: str, db: str, spool: Path, run: str, count_file: Path, limit: int = 0, end: str = "close"
) -> Tuple[subprocess.Popen, Dict[str, Any]]:  # type: ignore[type-arg]
    child = subprocess.Popen(
        [sys.executable, str(script), url, db, str(spool), run, str(count_file), str(limit), end],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    first = json.loads(child.stdout.readline())
    if end != "close" or limit == 0:
        child.stdout.close()  # nothing more to read; it ends killed or crashed
    assert first["ready"]
    return child, first


def database(servers: Dict[str, Any], name: str) -> Tuple[str, str]:
    """The real InfluxDB's URL, and database `name` created in it."""
    url = servers["influxdb"]["url"]
    influx_query(url, f"CREATE DATABASE {name}")
    return url, name


def counted(count_file: Path) -> int:
    text = count_file.read_text() if count_file.exists() else ""
    return int(text) if text else 0


def per_run(url: str, db: str) -> Dict[str, Tuple[int, int, int]]:
    """count, sum and max of seq per run, as InfluxDB has them."""
    result = influx_query(url, 'SELECT count("seq"), sum("seq"), max("seq") FROM "spooled" GROUP BY "run"', db)
    series = result["results"][0].get("series", [])
    return {s["tags"]["run"]: tuple(s["values"][0][1:]) for s in series}


def assert_every_point_once(found: Tuple[int, int, int], logged: int, killed: bool) -> None:
    """The run's points are exactly seq 0..n-1, each once, for the n it logged. A process
    killed between log() returning and writing its count logged one more than it counted."""
    count, total, highest = found
    assert count == highest + 1 and total == highest * (highest + 1) // 2, f"gaps or doubles: {found}"
    assert count in ((logged, logged + 1) if killed else (logged,)), f"{found} for {logged} logged"


def test_points_of_processes_killed_at_random_moments_all_arrive_once(
    servers: Dict[str, Any], scripts: Dict[str, Path], tmp_path: Path
) -> None:
    url, db = database(servers, "spool_kill")
    spool = tmp_path / "spool"
    seed = random.randrange(1 << 30)
    moments = random.Random(seed)
    logged: Dict[str, int] = {}
    replayed_by_children = 0
    for k in range(6):
        count_file = tmp_path / f"count{k}"
        child, ready = start_child(scripts["child"], url, db, spool, f"r{k}", count_file)
        replayed_by_children += ready["replayed"]["points"]
        time.sleep(moments.uniform(0.2, 1.2))
        child.send_signal(signal.SIGKILL)
        child.wait()
        logged[f"r{k}"] = counted(count_file)
    assert all(n > 0 for n in logged.values()), logged
    # Each child took over what the one before left; a last process delivers the rest.
    with DataLogger(InfluxDBWriter(url, database=db), spool_dir=spool) as last:
        pass
    assert last.stats()["replayed"]["owners"] == 1
    found = per_run(url, db)
    assert set(found) == set(logged), f"seed {seed}"
    for run, n in logged.items():
        assert_every_point_once(found[run], n, killed=True)
    assert [o for o in spool_inventory(spool) if o["segments"]] == [], "nothing left behind"
    assert replayed_by_children > 0, f"the kills left something to replay (seed {seed})"


def test_a_30_s_outage_loses_nothing_and_memory_stays_flat(servers: Dict[str, Any], tmp_path: Path) -> None:
    url, db = database(servers, "spool_outage")
    script = tmp_path / "outage.py"
    script.write_text(
        r"""
import json, sys, time
from influxdb_datalogger import DataLogger, Field, FieldMap, InfluxDBWriter, Measurement, Tag, TagMap

def rss():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmRSS"))

url, db, spool = sys.argv[1:4]
seq, run = Field("seq"), Tag("run")
m = Measurement("spooled", seq, run)
dl = DataLogger(InfluxDBWriter(url, database=db, flush_interval=0.2, timeout=2), continuous_write=True,
                spool_dir=spool + "?memory_bytes=4MiB")
rss_at = {}
started = time.monotonic()
for i in range(200_000):
    dl.log(m, FieldMap.build(seq, i), TagMap.build(run, "outage"))
    if i % 1000 == 999:
        time.sleep(max(0.0, started + 31.0 * (i + 1) / 200_000 - time.monotonic()))
    if i + 1 in (40_000, 200_000):
        rss_at[i + 1] = rss()
print(json.dumps({"logged": 200_000, "rss": rss_at, "stats": dl.stats()}, default=str), flush=True)
sys.stdin.readline()
dl.close(timeout=120)
print(json.dumps(dl.stats()), flush=True)
"""
    )
    servers_script(servers, "stop-influxdb")
    stopped = time.monotonic()
    try:
        child = subprocess.Popen(
            [sys.executable, str(script), url, db, str(tmp_path / "spool")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None and child.stdin is not None
        during = json.loads(child.stdout.readline())
        down_for = time.monotonic() - stopped
    finally:
        servers_script(servers, "start-influxdb")
    child.stdin.write("up\n")
    child.stdin.flush()
    after = json.loads(child.stdout.readline())
    assert child.wait(timeout=180) == 0
    child.stdin.close()
    child.stdout.close()
    assert down_for >= 30.0
    writer = during["stats"]["writers"][0]
    assert writer["awaiting_delivery"] == 200_000 and writer["spilled"] > 150_000, writer
    growth = during["rss"]["200000"] - during["rss"]["40000"]
    print(f"outage: down {down_for:.1f} s, RSS {during['rss']}, grew {growth / 2**20:.2f} MiB, {writer}")
    # 160,000 more points (over 10 MB of line protocol) wait while the database is away; in
    # memory they would take tens of MB, in the spool they take none: the bound is 8 MiB.
    assert growth < 8 << 20, f"resident memory grew by {growth / 2**20:.1f} MiB"
    assert after["writers"][0]["awaiting_delivery"] == 0 and after["spool"]["unacknowledged"] == 0
    assert per_run(url, db) == {"outage": (200_000, 199_999 * 200_000 // 2, 199_999)}


def test_processes_sharing_a_spool_two_killed_deliver_everything_exactly_once(
    servers: Dict[str, Any], scripts: Dict[str, Path], tmp_path: Path
) -> None:
    url, db = database(servers, "spool_xdist")
    spool = tmp_path / "spool"
    limit = 20_000
    children = [
        start_child(scripts["child"], url, db, spool, f"w{k}", tmp_path / f"count{k}", limit=limit)[0] for k in range(4)
    ]
    time.sleep(0.4)
    for k in (1, 3):
        children[k].send_signal(signal.SIGKILL)
    for child in children:
        child.wait(timeout=120)
    logged = {f"w{k}": counted(tmp_path / f"count{k}") for k in range(4)}
    assert logged["w0"] == logged["w2"] == limit
    left = [o for o in spool_inventory(spool) if not o["alive"]]
    assert len(left) == 2, left
    # Two processes start at once; each dead owner is replayed by exactly one of them.
    replayers = [
        subprocess.Popen(
            [sys.executable, str(scripts["replayer"]), url, db, str(spool)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    reports = [json.loads(r.communicate(timeout=120)[0]) for r in replayers]
    for child in children:
        child.communicate()
    assert sum(r["owners"] for r in reports) == 2, reports
    assert sum(r["points"] for r in reports) == sum(o["points"] for o in left), (reports, left)
    found = per_run(url, db)
    for run, n in logged.items():
        assert_every_point_once(found[run], n, killed=run in ("w1", "w3"))
    assert [o for o in spool_inventory(spool) if o["segments"]] == []


def test_points_delivered_but_not_yet_released_are_resent_and_overwrite_themselves(
    servers: Dict[str, Any], scripts: Dict[str, Path], tmp_path: Path
) -> None:
    url, db = database(servers, "spool_twice")
    spool = tmp_path / "spool"
    child, _ = start_child(scripts["child"], url, db, spool, "t", tmp_path / "count", limit=1000, end="delivered")
    assert child.wait(timeout=60) == 0
    assert per_run(url, db) == {"t": (1000, 999 * 1000 // 2, 999)}, "all delivered before the process died"
    with DataLogger(InfluxDBWriter(url, database=db), spool_dir=spool) as dl:
        pass
    assert dl.stats()["replayed"]["points"] == 1000, "the spool still held them: each is sent a second time"
    assert per_run(url, db) == {"t": (1000, 999 * 1000 // 2, 999)}, "same series, same timestamp: overwritten"


def segment_records(segment: Path) -> List[Tuple[int, int]]:
    """(offset, payload length) of each record, read with the documented format: a 4096-byte
    header, then records of length (u32), CRC-32C (u32), version, kind, 2 reserved, payload."""
    data = segment.read_bytes()
    records, at = [], 4096
    while at + 12 <= len(data):
        (length,) = struct.unpack_from("<I", data, at)
        if length == 0:
            break
        records.append((at, length))
        at += 12 + length
    return records


def test_a_damaged_segment_still_delivers_every_intact_record_and_reports_the_damage(
    servers: Dict[str, Any], scripts: Dict[str, Path], tmp_path: Path
) -> None:
    url, db = database(servers, "spool_damage")
    spool = tmp_path / "spool"
    # Logged, never written: the process dies; its points are in the spool only.
    child, _ = start_child(scripts["child"], url, db, spool, "d", tmp_path / "count", limit=1000, end="crash")
    assert child.wait(timeout=60) == 0
    (segment,) = spool.glob("*.seg")
    records = segment_records(segment)
    assert len(records) == 1000
    data = bytearray(segment.read_bytes())
    data[records[100][0] + 12 + 5] ^= 0x01  # a flipped bit in point 100
    cut = records[999][0] + 20  # the last point cut short
    segment.write_bytes(bytes(data[:cut]))
    with DataLogger(InfluxDBWriter(url, database=db), spool_dir=spool) as dl:
        pass
    replayed = dl.stats()["replayed"]
    assert replayed["points"] == 998
    reasons = [d["reason"] for d in replayed["damaged"]]
    assert reasons == ["a record checksum does not match", f"a record of {records[999][1]} bytes is cut short"]
    assert all(Path(d["moved_to"]).exists() for d in replayed["damaged"])
    assert len((spool / "damaged" / "REPORT.txt").read_text().splitlines()) == 2
    result = influx_query(url, 'SELECT "seq" FROM "spooled"', db)
    seqs = sorted(v[1] for v in result["results"][0]["series"][0]["values"])
    assert seqs == [i for i in range(999) if i != 100]


def test_spool_options_from_arguments_and_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = Field("f")
    m = Measurement("m", f)
    file_writer = LineProtocolFileWriter(str(tmp_path / "out.lp"))
    assert DataLogger(file_writer).stats()["spool"] is None, "file writers need no spool"
    dl = DataLogger(file_writer, spool_dir=tmp_path / "s1")
    dl.log(m, FieldMap.build(f, 1.0))
    assert dl.stats()["spool"]["records"] == 1 and list((tmp_path / "s1").glob("*.seg"))
    dl.close()
    assert not list((tmp_path / "s1").glob("*.seg")), "released when everything was acknowledged"
    assert [o["segments"] for o in spool_inventory(tmp_path / "s1")] == [0], "the owner lives on, with nothing"
    monkeypatch.setenv("INFLUXDB_DATALOGGER_SPOOL", f"{tmp_path / 's2'}?max_bytes=16MiB")
    assert DataLogger(file_writer).stats()["spool"]["dir"] == str(tmp_path / "s2")
    assert DataLogger(file_writer, spool_dir=False).stats()["spool"] is None
    monkeypatch.setenv("INFLUXDB_DATALOGGER_SPOOL", "off")
    assert DataLogger(InfluxDBWriter("http://127.0.0.1:9", database="x")).stats()["spool"] is None
    monkeypatch.delenv("INFLUXDB_DATALOGGER_SPOOL")
    default = DataLogger(InfluxDBWriter("http://127.0.0.1:9", database="x"))
    assert default.stats()["spool"]["dir"] == str(Path.cwd() / ".influxdb-datalogger-spool")
    with pytest.raises(ArgumentError, match='unknown spool setting "colour"'):
        DataLogger(file_writer, spool_dir="d?colour=blue")
    with pytest.raises(DataLoggerTypeError, match="spool_dir must be"):
        DataLogger(file_writer, spool_dir=3)  # type: ignore[arg-type]


def test_a_full_spool_refuses_points_with_a_clear_error(tmp_path: Path) -> None:
    f = Field("f")
    m = Measurement("m", f)
    dl = DataLogger(
        InfluxDBWriter("http://127.0.0.1:9", database="x", timeout=1),
        spool_dir=f"{tmp_path / 's'}?max_bytes=256KiB&segment_bytes=128KiB",
    )
    with pytest.raises(SpoolFullError, match=r"is full: .* the point was not logged") as error:
        for i in range(100_000):
            dl.log(m, FieldMap.build(f, float(i)))
    assert str(tmp_path / "s") in str(error.value)
    assert dl.stats()["points_logged"] == i, "every point before the refused one was kept"


def test_a_writer_written_in_python_gets_what_the_spool_replays_at_its_first_write(tmp_path: Path) -> None:
    """Such a writer cannot run while the logger is being built: the replay waits for it."""
    script = tmp_path / "crash.py"
    script.write_text(
        r"""
import os, sys
from influxdb_datalogger import DataLogger, DatabaseWriter, Field, FieldMap, Measurement

class Collect(DatabaseWriter):
    def write_data(self, datalogger):
        raise RuntimeError("down")

f = Field("f")
dl = DataLogger(Collect(), spool_dir=sys.argv[1])
for i in range(5):
    dl.log(Measurement("m", f), FieldMap.build(f, i))
os._exit(0)
"""
    )
    subprocess.run([sys.executable, str(script), str(tmp_path / "spool")], check=True)

    class Collect(DatabaseWriter):
        def __init__(self) -> None:
            self.got: List[Any] = []

        def write_data(self, datalogger: DataLogger) -> None:
            self.got.extend(entry.fields[Field("f")] for entry in datalogger.dataset)

    collect = Collect()
    dl = DataLogger(collect, spool_dir=tmp_path / "spool")
    assert dl.stats()["replayed"]["points"] == 5 and collect.got == []
    dl.write_data()
    assert collect.got == [0, 1, 2, 3, 4]
    dl.close()
    assert not list((tmp_path / "spool").glob("*.seg*")), "nothing left, not even a prepared segment"
