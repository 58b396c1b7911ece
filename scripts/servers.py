#!/usr/bin/env python3
"""Start and stop the real databases the integration tests and benchmarks use: Debian's
InfluxDB 1.6 (``influxd``) and VictoriaMetrics (``victoria-metrics``), on free ports of
127.0.0.1 only, with their data in a temporary directory.

    scripts/servers.py up [--state FILE] [--auth]   start both, wait until they answer, print JSON
    scripts/servers.py down [--state FILE]          stop the processes this script started (by PID)
    scripts/servers.py stop-influxdb [--state FILE]  stop InfluxDB only (fault tests)
    scripts/servers.py start-influxdb [--state FILE] start it again, same port and data

The JSON (also written to the state file) gives each server's URL, PID and data directory.
``make servers-deps`` installs the packages (``apt-get install -y influxdb victoria-metrics``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Dict, List

DEFAULT_STATE = Path(__file__).resolve().parent.parent / ".servers" / "state.json"
ADMIN_USER, ADMIN_PASSWORD = "admin", "admin-password"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(url: str, process: subprocess.Popen, seconds: float = 30.0) -> None:  # type: ignore[type-arg]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server for {url} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status < 500:
                    return
        except urllib.error.HTTPError as error:
            if error.code < 500:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {seconds} s")


def binary(name: str) -> str:
    found = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)
    if not found:
        raise SystemExit(
            f"{name} is not installed: run `make servers-deps` (apt-get install influxdb victoria-metrics)"
        )
    return found


def start_influxdb(root: Path, auth: bool, http: int = 0, rpc: int = 0) -> Dict[str, Any]:
    fresh = not http  # a restart keeps its ports, data and users
    http, rpc = http or free_port(), rpc or free_port()
    data = root / "influxdb"
    config = root / "influxdb.conf"
    config.write_text(
        f"""reporting-disabled = true
bind-address = "127.0.0.1:{rpc}"
[meta]
  dir = "{data}/meta"
[data]
  dir = "{data}/data"
  wal-dir = "{data}/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:{http}"
  auth-enabled = {"true" if auth else "false"}
  log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
"""
    )
    with open(root / "influxdb.log", "wb") as log:  # the server keeps its own copy of the file
        process = subprocess.Popen([binary("influxd"), "-config", str(config)], stdout=log, stderr=log)
    url = f"http://127.0.0.1:{http}"
    wait_until(f"{url}/ping", process)
    if auth and fresh:
        query = urllib.parse.urlencode(
            {"q": f"CREATE USER {ADMIN_USER} WITH PASSWORD '{ADMIN_PASSWORD}' WITH ALL PRIVILEGES"}
        )
        urllib.request.urlopen(urllib.request.Request(f"{url}/query?{query}", method="POST"), timeout=10).close()
    return {
        "url": url,
        "pid": process.pid,
        "ports": [http, rpc],
        "auth": auth,
        "user": ADMIN_USER,
        "password": ADMIN_PASSWORD,
    }


def start_victoria_metrics(root: Path) -> Dict[str, Any]:
    port = free_port()
    data = root / "victoria-metrics"
    command = [
        binary("victoria-metrics"),
        f"-httpListenAddr=127.0.0.1:{port}",
        f"-storageDataPath={data}",
        "-retentionPeriod=100y",
        "-search.latencyOffset=0s",
        "-loggerLevel=ERROR",
    ]
    with open(root / "victoria-metrics.log", "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    wait_until(f"{url}/health", process)
    return {"url": url, "pid": process.pid}


def up(state: Path, auth: bool) -> Dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="influxdb-datalogger-servers-"))
    started: List[int] = []
    try:
        influxdb = start_influxdb(root, auth)
        started.append(influxdb["pid"])
        victoria = start_victoria_metrics(root)
        started.append(victoria["pid"])
    except BaseException:
        for pid in started:
            stop_pid(pid)
        raise
    info = {"root": str(root), "influxdb": influxdb, "victoria_metrics": victoria}
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text(json.dumps(info, indent=2))
    return info


def stop_pid(pid: int, seconds: float = 10.0) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            finished, _ = os.waitpid(pid, os.WNOHANG)
            if finished:
                return
        except ChildProcessError:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def down(state: Path) -> None:
    if not state.exists():
        return
    info = json.loads(state.read_text())
    for server in ("influxdb", "victoria_metrics"):
        if server in info:
            stop_pid(int(info[server]["pid"]))
    shutil.rmtree(info["root"], ignore_errors=True)
    state.unlink()


def restart_influxdb(state: Path, start: bool) -> None:
    info = json.loads(state.read_text())
    influxdb = info["influxdb"]
    stop_pid(int(influxdb["pid"]))
    if start:
        http, rpc = influxdb["ports"]
        info["influxdb"] = start_influxdb(Path(info["root"]), influxdb["auth"], http, rpc)
    state.write_text(json.dumps(info, indent=2))


def main(argv: List[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["up", "down", "stop-influxdb", "start-influxdb"])
    parser.add_argument("--state", type=Path, default=DEFAULT_STATE)
    parser.add_argument("--auth", action="store_true", help="start InfluxDB with authentication on")
    args = parser.parse_args(argv)
    if args.action == "up":
        print(json.dumps(up(args.state, args.auth)))
    elif args.action == "down":
        down(args.state)
    else:
        restart_influxdb(args.state, start=args.action == "start-influxdb")


if __name__ == "__main__":
    main(sys.argv[1:])
