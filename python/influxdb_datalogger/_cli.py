"""The ``influxdb-datalogger`` command for Python users: the command-line tool's own code, run
through the bindings (``demo``, ``stats``, ``push``, ``ping``, ``replay``, ``spool``)."""

from __future__ import annotations

import signal
import sys
from typing import List, Optional

from . import _native


def main(argv: Optional[List[str]] = None) -> None:
    """Runs the command line with ``argv`` (default: this process's arguments) and exits with
    its status."""
    # Ctrl-C ends the command at once, as it ends the native binary: the command runs in Rust,
    # where Python's handler would only be seen after it returns.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    args = sys.argv[1:] if argv is None else argv
    raise SystemExit(_native._run_cli(["influxdb-datalogger", *args]))
