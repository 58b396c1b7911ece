"""The HTML report at 1,000,000 points (`make bench-report`): how long it takes to make and how
big it is (from `report_scale`, release build), and how long chromium takes to show it, against
the same downsampled lines as plain SVG and against every point as SVG.

Chromium is Debian's, headless, without a network. "show" is the wall time of a screenshot
(which waits for the page to load and paint) minus that of an empty page, median of 5; "draw" is
the report's own measure of its scripts (data-draw-ms: parsing the data and drawing every chart).
"""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "target" / "report-bench"


def chromium(page: Path, *args: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [
                "unshare",
                "-n",
                "chromium",
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                "--window-size=1280,2000",
                *args,
                page.as_uri(),
            ],
            capture_output=True,
            text=True,
            check=False,
        )


def show_seconds(page: Path) -> float:
    times = []
    for _ in range(5):
        with tempfile.TemporaryDirectory() as shots:
            started = time.perf_counter()
            chromium(page, f"--screenshot={shots}/s.png")
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    subprocess.run(
        ["cargo", "run", "--release", "--quiet", "--example", "report_scale", "--", str(OUT)],
        cwd=ROOT / "bench",
        check=True,
    )
    blank = OUT / "blank.html"
    blank.write_text("<!DOCTYPE html><html><body></body></html>")
    base = show_seconds(blank)
    print(f"\nchromium: an empty page takes {base:.2f} s (subtracted below)\n")
    print("| page | size | show in chromium | draw (its scripts) |")
    print("|---|---:|---:|---:|")
    for shape in ("10x100k", "1000x1000"):
        for suffix, what in (("", "report (uPlot)"), ("-svg", "SVG, same points"), ("-svg-all", "SVG, every point")):
            page = OUT / f"{shape}{suffix}.html"
            draw = "-"
            if not suffix:
                dom = chromium(page, "--dump-dom").stdout
                found = re.search(r'data-draw-ms="(\d+)"', dom)
                draw = f"{int(found.group(1))} ms" if found else "?"
            shown = show_seconds(page) - base
            print(f"| {shape} {what} | {page.stat().st_size / 1e6:.2f} MB | {shown:.2f} s | {draw} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
