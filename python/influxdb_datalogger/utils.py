"""The original package's module path ``influxdb_datalogger.utils``."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterable, List, Optional


def threaded_execution(
    target: Callable[..., Any], *args_as_iterable: Iterable[Any], pool_size: Optional[int] = None
) -> Optional[List[Any]]:
    """Calls ``target`` once per position of the iterables (``target(a[i], b[i], ...)``, as
    ``map`` pairs them up), on a pool of threads, and returns the results in order.

    The pool has ``pool_size`` threads, or one per call when it is ``None`` or 0. With nothing
    to call, returns ``None``, as the original package does.
    """
    calls = list(zip(*args_as_iterable, strict=False))  # shortest wins, as in the original
    if not calls:
        return None
    size = pool_size or len(calls)
    if not isinstance(size, int):
        raise TypeError(f"pool_size must be an int, not {type(size).__name__} ({size!r})")
    with ThreadPoolExecutor(max_workers=size) as pool:
        return list(pool.map(target, *zip(*calls, strict=True)))
