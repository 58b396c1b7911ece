"""Shared fixtures for the Python tests (run against the installed wheel)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest


@pytest.fixture(autouse=True)
def _in_tmp_dir(tmp_path: Path) -> Iterator[Path]:
    """Every test runs in its own empty working directory."""
    old = Path.cwd()
    os.chdir(tmp_path)
    try:
        yield tmp_path
    finally:
        os.chdir(old)
