"""Forked children (``os.fork``, ``multiprocessing`` with the fork start method) get a working
logger of their own: their points reach the real InfluxDB 1.6, and the parent's are neither lost
nor sent twice."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Dict

import pytest

from conftest import influx_query, poll

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="no fork on Windows")

SCRIPT = """
import multiprocessing, os, sys
from influxdb_datalogger import DataLogger, Field, FieldMap, InfluxDBWriter, Measurement, Tag, TagMap

url, database, mode, spool = sys.argv[1:5]
D, WHO = Field("d"), Tag("who")
M = Measurement("m", D, WHO)
dl = DataLogger(InfluxDBWriter(url, database=database), continuous_write=True,
                spool_dir=False if spool == "off" else "spf")

def child(i, flush=True):
    for k in range(100):
        dl.log(M, FieldMap.build(D, float(k)), TagMap.build(WHO, f"child{i}"))
    if flush:
        dl.flush(10)
    return i

def child_without_flush(i):
    return child(i, flush=False)

if __name__ == "__main__":
    for k in range(10):
        dl.log(M, FieldMap.build(D, float(k)), TagMap.build(WHO, "parent"))
    if mode == "pool":
        with multiprocessing.get_context("fork").Pool(2) as pool:
            assert pool.map(child, [1, 2]) == [1, 2]
    elif mode == "pool-no-flush":
        pool = multiprocessing.get_context("fork").Pool(2)
        pool.map(child_without_flush, [1, 2])
        pool.close()
        pool.join()
    elif mode == "os.fork":
        pid = os.fork()
        if pid == 0:
            child(1, flush=False)
            sys.exit(0)  # a normal exit: the at-exit hook delivers
        assert os.waitpid(pid, 0)[1] == 0
    for k in range(10, 20):
        dl.log(M, FieldMap.build(D, float(k)), TagMap.build(WHO, "parent"))
    dl.close(10)
"""


def counts(url: str, database: str) -> Dict[str, Any]:
    answer = influx_query(url, "SELECT count(d) FROM m GROUP BY who", database)
    series = answer["results"][0].get("series", [])
    return {s["tags"]["who"]: s["values"][0][1] for s in series}


@pytest.mark.parametrize(
    ("mode", "spool", "children"),
    [("pool", "on", 2), ("pool", "off", 2), ("pool-no-flush", "on", 2), ("os.fork", "on", 1)],
)
def test_forked_children_deliver_their_points(
    servers: Dict[str, Any], tmp_path: Path, mode: str, spool: str, children: int
) -> None:
    url = servers["influxdb"]["url"]
    database = f"fork_{mode.replace('.', '_').replace('-', '_')}_{spool}"
    influx_query(url, f"CREATE DATABASE {database}")
    (tmp_path / "script.py").write_text(textwrap.dedent(SCRIPT))
    run = subprocess.run(
        [sys.executable, "script.py", url, database, mode, spool],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    expected = {"parent": 20, **{f"child{i}": 100 for i in range(1, children + 1)}}
    assert poll(lambda: counts(url, database) == expected) or counts(url, database) == expected
    if spool == "on":
        assert not list((tmp_path / "spf").glob("*.seg")), "everything acknowledged, nothing left in the spool"
