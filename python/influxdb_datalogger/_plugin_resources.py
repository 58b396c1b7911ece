"""What a test's call used, for ``--datalogger-resources``: its thread's CPU time, the peak of
the memory Python traced (``tracemalloc``) above what was live when it started, and how much
the process's peak resident set grew (where the ``resource`` module exists: not on Windows)."""

from __future__ import annotations

import sys
import time
import tracemalloc
from contextlib import contextmanager
from typing import Dict, Iterator, Optional, Tuple

try:
    import resource
except ImportError:  # Windows
    resource = None  # type: ignore[assignment]

# ru_maxrss is in kibibytes on Linux, in bytes on macOS.
_MAXRSS_UNIT = 1 if sys.platform == "darwin" else 1024


def _max_rss() -> Optional[int]:
    if resource is None:
        return None
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * _MAXRSS_UNIT


class ResourceMeter:
    """Measures test calls; made when the run starts, closed when it ends."""

    def __init__(self) -> None:
        # Tracing costs every allocation, pytest's own included: it is on only during each test's
        # call (bench/pytest_plugin_bench.py), unless the process traced already (then it is
        # left on, and the peak is reset before each call).
        self._traced_already = tracemalloc.is_tracing()

    @property
    def fields(self) -> Tuple[str, ...]:
        return ("cpu_time", "peak_bytes") + (("rss_growth_bytes",) if resource is not None else ())

    @contextmanager
    def measure(self) -> Iterator[Dict[str, float]]:
        """Yields a dict that holds, once the block is over, a value for each of ``fields``."""
        used: Dict[str, float] = {}
        if self._traced_already:
            tracemalloc.reset_peak()
        else:
            tracemalloc.start()
        live = tracemalloc.get_traced_memory()[0]
        rss = _max_rss()
        cpu = time.thread_time()
        try:
            yield used
        finally:
            used["cpu_time"] = time.thread_time() - cpu
            used["peak_bytes"] = float(max(tracemalloc.get_traced_memory()[1] - live, 0))
            if not self._traced_already:
                tracemalloc.stop()
            after = _max_rss()
            if rss is not None and after is not None:
                used["rss_growth_bytes"] = float(after - rss)

    def close(self) -> None:
        if not self._traced_already and tracemalloc.is_tracing():
            tracemalloc.stop()
