"""Shared fixtures for the Python tests (run against the installed wheel)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Dict, Iterator

import pytest

import influxdb_datalogger
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


SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "servers.py"


@pytest.fixture(scope="session")
def servers() -> Iterator[Dict[str, Any]]:
    """Debian's InfluxDB 1.6 and VictoriaMetrics, started by scripts/servers.py for the session
    (``servers["state"]`` is the state file for ``servers_script``)."""
    if not (shutil.which("influxd") and shutil.which("victoria-metrics")):
        pytest.skip("influxd and victoria-metrics are not installed (make servers-deps)")
    state = Path(__file__).resolve().parent.parent / ".servers" / "pytest-state.json"
    out = subprocess.run([sys.executable, str(SCRIPT), "up", "--state", str(state)], check=True, capture_output=True)
    try:
        yield {**json.loads(out.stdout), "state": state}
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


def servers_script(servers: Dict[str, Any], action: str) -> None:
    """Runs another action of scripts/servers.py (``stop-influxdb``, ``start-influxdb``)."""
    subprocess.run([sys.executable, str(SCRIPT), action, "--state", str(servers["state"])], check=True)


def load_original() -> ModuleType:
    location = os.environ.get("INFLUXDB_DATALOGGER_ORIGINAL", str(Path(sys.prefix) / "original"))
    package = Path(location) / "influxdb_datalogger"
    if not package.is_dir():
        message = f"the original package is not installed at {location} (make test installs it)"
        if "INFLUXDB_DATALOGGER_ORIGINAL" in os.environ:
            pytest.fail(message)  # make test said where it is: a wrong path must not pass as a skip
        pytest.skip(message)
    name = "original_influxdb_datalogger"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(
        name, package / "__init__.py", submodule_search_locations=[str(package)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def original() -> ModuleType:
    module = load_original()
    assert module.DataLogger is not influxdb_datalogger.DataLogger
    return module
