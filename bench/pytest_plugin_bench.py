"""Overhead of the pytest plugin: a suite of 2,000 empty tests with the plugin on (embedded
default sink) versus off, in the same run, rounds interleaved. Target: at most 5 % slower.
Also with ``--datalogger-resources`` (CPU time, tracemalloc, peak RSS per test) versus on.

    make bench-pytest      (or: .venv/bin/python bench/pytest_plugin_bench.py [rounds])
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Tuple

TESTS = 2_000


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(suite: Path, args: List[str]) -> Tuple[float, float]:
    """Wall time and CPU time (user + system, all threads) of one pytest process."""
    started, cpu_before = time.perf_counter(), cpu()
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=suite,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started, cpu() - cpu_before


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    with tempfile.TemporaryDirectory() as tmp:
        suite = Path(tmp)
        (suite / "test_empty.py").write_text("".join(f"def test_{i}():\n    pass\n\n" for i in range(TESTS)))
        modes: Dict[str, List[str]] = {
            "off": [],
            "on": ["--datalogger"],
            "resources": ["--datalogger", "--datalogger-resources"],
        }
        times: Dict[str, List[Tuple[float, float]]] = {mode: [] for mode in modes}
        run(suite, [])  # warm the file system cache and the bytecode
        for round_ in range(rounds):
            # Rotated order: no mode always runs first (caches, CPU frequency).
            items = list(modes.items())
            shift = round_ % len(items)
            order = items[shift:] + items[:shift]
            for mode, args in order:
                times[mode].append(run(suite, args))
        lines = (suite / "influxdb-datalogger.lp").read_text().count("\n")
    print(f"{TESTS} empty tests, median of {rounds} runs each, interleaved")
    for index, what in ((0, "wall"), (1, "CPU")):
        for base, mode, target in (("off", "on", " (target <= 1.05)"), ("on", "resources", "")):
            before, after = (statistics.median(t[index] for t in times[m]) for m in (base, mode))
            paired = statistics.median(b[index] - a[index] for a, b in zip(times[base], times[mode], strict=True))
            print(
                f"  {what:>4}: {base} {before:.3f} s, {mode} {after:.3f} s, ratio {after / before:.3f}{target}; "
                f"median paired difference {paired / TESTS * 1e6:+.1f} us per test"
            )
    print(f"  ({lines} lines written in all)")


if __name__ == "__main__":
    main()
