"""Shared fixtures for the Python tests (run against the installed wheel)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest

import influxdb_datalogger._datalogger

# Some tests leave points no server will ever take; do not wait 10 s for them at exit.
influxdb_datalogger._datalogger.EXIT_TIMEOUT = 1.0


@pytest.fixture(autouse=True)
def _in_tmp_dir(tmp_path: Path) -> Iterator[Path]:
    """Every test runs in its own empty working directory."""
    old = Path.cwd()
    os.chdir(tmp_path)
    try:
        yield tmp_path
    finally:
        os.chdir(old)
