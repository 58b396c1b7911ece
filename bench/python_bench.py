"""Python benchmarks, all in one process: this package (release wheel) against the original
influxdb-datalogger 2.4.2, the official influxdb-client (``Point`` to line protocol) and
questdb's ``Buffer.row``, on the same workload (2 tags, 2 fields). Run with ``make bench-python``.

Each timing is the median over repeated rounds of per-call cost; memory per point is the growth
of resident memory while 1,000,000 points are held, divided by the count.
"""

from __future__ import annotations

import gc
import importlib.util
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Dict

import influxdb_datalogger as ours

HOST, CASE = "ci-runner-07", "test_login_roundtrip"


def load_original() -> ModuleType:
    package = Path(os.environ["INFLUXDB_DATALOGGER_ORIGINAL"]) / "influxdb_datalogger"
    spec = importlib.util.spec_from_file_location(
        "original_influxdb_datalogger", package / "__init__.py", submodule_search_locations=[str(package)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def per_call_ns(op: Callable[[], Any], calls: int, rounds: int = 15) -> float:
    """Median over rounds of the mean cost of one call."""
    results = []
    for _ in range(rounds):
        start = time.perf_counter_ns()
        for _ in range(calls):
            op()
        results.append((time.perf_counter_ns() - start) / calls)
    return statistics.median(results)


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class Setup:
    """A measurement with 2 tags and 2 fields, prebuilt maps, and a logger, for one package."""

    def __init__(self, pkg: ModuleType, *writers: Any) -> None:
        self.pkg = pkg
        self.calls = 0
        self.duration, self.count = pkg.Field("duration"), pkg.Field("count")
        self.host, self.case = pkg.Tag("host"), pkg.Tag("case")
        self.m = pkg.Measurement("time-taken", self.duration, self.count, self.host, self.case)
        self.fields = pkg.FieldMap.build(self.duration, 0.001234567, self.count, 3)
        self.tags = pkg.TagMap.build(self.host, HOST, self.case, CASE)
        self.logger = pkg.DataLogger(*writers)
        self.timing = pkg.Measurement("block", self.duration, self.host, self.case)

    def log(self) -> None:
        self.logger.log(self.m, self.fields, self.tags)

    def empty_block(self) -> None:
        with self.logger.measure_block(self.timing, self.duration, self.tags):
            pass

    def log_idiom(self) -> None:
        """As the original README writes it: the maps built in the call, values that change."""
        self.calls += 1
        pkg = self.pkg
        self.logger.log(
            self.m,
            pkg.FieldMap.build(self.duration, self.calls * 1e-6, self.count, self.calls),
            pkg.TagMap.build(self.host, HOST, self.case, CASE),
        )

    def block_idiom(self) -> None:
        with self.logger.measure_block(
            self.timing, self.duration, self.pkg.TagMap.build(self.host, HOST, self.case, CASE)
        ):
            pass


def bench_log(results: Dict[str, Dict[str, float]], original: ModuleType) -> None:
    for name, pkg in [("influxdb-datalogger (ours)", ours), ("influxdb-datalogger 2.4.2", original)]:
        s = Setup(pkg)
        calls = 20_000 if pkg is ours else 2_000
        results[name]["log"] = per_call_ns(s.log, calls)
        results[name]["measure_block"] = per_call_ns(s.empty_block, calls)
        s = Setup(pkg)
        results[name]["log idiom"] = per_call_ns(s.log_idiom, calls)
        results[name]["block idiom"] = per_call_ns(s.block_idiom, calls)

    from influxdb_client import Point  # the official client: build a point, render line protocol

    def point() -> None:
        Point("time-taken").tag("host", HOST).tag("case", CASE).field("duration", 0.001234567).field("count", 3).time(
            time.time_ns()
        ).to_line_protocol()

    results["influxdb-client Point"]["log"] = per_call_ns(point, 5_000)

    with warnings.catch_warnings():  # questdb 6 moved these names; the old path still works
        warnings.simplefilter("ignore", DeprecationWarning)
        from questdb.ingress import Buffer, TimestampNanos

    buffer = Buffer(protocol_version=1)  # text line protocol, as the others write

    def row() -> None:
        buffer.row(
            "time-taken",
            symbols={"host": HOST, "case": CASE},
            columns={"duration": 0.001234567, "count": 3},
            at=TimestampNanos.now(),
        )

    results["questdb Buffer.row"]["log"] = per_call_ns(row, 20_000)


class TrivialWriter:
    """A writer of the user's own: reads every entry of the dataset (its time, fields and tags),
    as any writer must, and does nothing else."""

    def __init__(self, pkg: ModuleType) -> None:
        class W(pkg.DatabaseWriter):  # type: ignore[misc, name-defined]
            def write_data(self, datalogger: Any) -> None:
                for entry in datalogger.dataset:
                    entry.time, entry.fields, entry.tags  # noqa: B018

        self.writer = W()


def bench_user_writer(results: Dict[str, Dict[str, float]], original: ModuleType) -> None:
    """``write_data()`` of 100,000 points with a writer of the user's own, which reads
    ``datalogger.dataset`` as every writer of the original's users does."""
    n = 100_000
    for name, pkg in [("influxdb-datalogger (ours)", ours), ("influxdb-datalogger 2.4.2", original)]:
        s = Setup(pkg, TrivialWriter(pkg).writer)
        for _ in range(n):
            s.log_idiom()
        start = time.perf_counter()
        entries = s.logger.dataset  # what the writer is given, alone
        results[name]["dataset 100k"] = time.perf_counter() - start
        del entries
        start = time.perf_counter()
        s.logger.write_data()
        results[name]["user writer 100k"] = time.perf_counter() - start


def bench_write(results: Dict[str, Dict[str, float]], original: ModuleType) -> None:
    n = 100_000
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "points.lp"
        s = Setup(ours, ours.LineProtocolFileWriter(path))
        for _ in range(n):
            s.log()
        start = time.perf_counter()
        s.logger.write_data()
        results["influxdb-datalogger (ours)"]["write_data 100k"] = time.perf_counter() - start
        assert sum(1 for _ in path.open()) == n
    s = Setup(original, TrivialWriter(original).writer)
    for _ in range(n):
        s.log()
    start = time.perf_counter()
    s.logger.write_data()
    results["influxdb-datalogger 2.4.2"]["write_data 100k"] = time.perf_counter() - start


def bench_memory(results: Dict[str, Dict[str, float]], original: ModuleType) -> None:
    for name, pkg, n in [
        ("influxdb-datalogger (ours)", ours, 1_000_000),
        ("influxdb-datalogger 2.4.2", original, 200_000),
    ]:
        s = Setup(pkg)
        gc.collect()
        before = rss_bytes()
        for _ in range(n):
            s.log()
        gc.collect()
        results[name]["bytes/point"] = (rss_bytes() - before) / n
        assert len(s.logger.dataset) == n
        del s
        gc.collect()


def main() -> None:
    original = load_original()
    names = ["influxdb-datalogger (ours)", "influxdb-datalogger 2.4.2", "influxdb-client Point", "questdb Buffer.row"]
    results: Dict[str, Dict[str, float]] = {name: {} for name in names}
    bench_log(results, original)
    bench_write(results, original)
    bench_user_writer(results, original)
    bench_memory(results, original)
    ours_log = results[names[0]]["log"]
    print(f"{'':30} {'log ns':>10} {'vs ours':>8} {'block ns':>10} {'write 100k s':>13} {'bytes/pt':>9}")
    for name in names:
        r = results[name]
        cell = lambda key, fmt, r=r: format(r[key], fmt) if key in r else "-"  # noqa: E731
        ratio = f"{r['log'] / ours_log:.1f}x" if "log" in r else "-"
        print(
            f"{name:30} {cell('log', '10.0f')} {ratio:>8} {cell('measure_block', '10.0f')} "
            f"{cell('write_data 100k', '13.3f')} {cell('bytes/point', '9.0f')}"
        )
    ours_r, theirs = results[names[0]], results[names[1]]
    print("\nThe original README's idiom (maps built in the call), and a writer of the user's own:")
    print(f"{'':30} {'log ns':>10} {'block ns':>10} {'user writer 100k s':>19} {'dataset 100k s':>15}")
    for name in names[:2]:
        r = results[name]
        print(
            f"{name:30} {r['log idiom']:10.0f} {r['block idiom']:10.0f} {r['user writer 100k']:19.3f} "
            f"{r['dataset 100k']:15.3f}"
        )
    ratio = {key: theirs[key] / ours_r[key] for key in ("log idiom", "block idiom", "user writer 100k")}
    print(
        f"{'original / ours':30} {ratio['log idiom']:9.1f}x {ratio['block idiom']:9.1f}x "
        f"{ratio['user writer 100k']:18.1f}x"
    )


if __name__ == "__main__":
    main()
