"""What a person looks at: the HTML report and Grafana dashboards, made by the Rust core (the
same as the ``report`` and ``dashboard`` commands; see docs/report.md)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, List, Mapping, Optional, Sequence, Union

from . import _native
from .exceptions import DataLoggerError

__all__ = ["dashboard", "report"]

Sources = Union[str, "os.PathLike[str]", Sequence[Union[str, "os.PathLike[str]"]], None]


def _source_args(sources: Sources, database: Optional[str], bucket: Optional[str], org: Optional[str]) -> List[str]:
    """Files as arguments; a connection string (``http(s)://…``) as ``--url`` with its keywords."""
    if sources is None:
        return []
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    items = [os.fspath(s) for s in sources]
    urls = [s for s in items if s.startswith(("http://", "https://"))]
    if urls and len(items) > 1:
        raise DataLoggerError("give line protocol files or one connection string, not both")
    if urls:
        args = ["--url", urls[0]]
        for flag, value in (("--database", database), ("--bucket", bucket), ("--org", org)):
            if value:
                args += [flag, value]
        return args
    return items


def _repeat(flag: str, values: Optional[Iterable[str]]) -> List[str]:
    return [arg for value in values or () for arg in (flag, value)]


def _run(args: List[str]) -> str:
    status, out, err = _native._run_cli_captured(["influxdb-datalogger", *args])
    if status != 0:
        raise DataLoggerError(err.strip().removeprefix("influxdb-datalogger: ") or f"exit status {status}")
    return out


def report(
    sources: Sources,
    output: Union[str, os.PathLike[str]] = "report.html",
    *,
    measurements: Optional[Iterable[str]] = None,
    since: Optional[str] = None,
    group_by: Optional[Iterable[str]] = None,
    count_by: Optional[Iterable[str]] = None,
    title: Optional[str] = None,
    precision: str = "ns",
    database: Optional[str] = None,
    bucket: Optional[str] = None,
    org: Optional[str] = None,
) -> Path:
    """Writes the HTML report of line protocol files (a path or a list of paths) or of a server
    (a connection string such as ``"http://127.0.0.1:8086?db=tests"``) to ``output``, and
    returns its path. ``since`` is an age (``"30d"``, ``"12h"``); from a server the default is
    30 days. ``group_by`` names the tags that make a series (default: all of a point's);
    ``count_by`` tags are counted and shown per series as of its newest point. Raises
    ``DataLoggerError`` with a one-line reason when there is nothing to report, a file cannot be
    read or the server cannot be reached (no file is written then)."""
    args = ["report", *_source_args(sources, database, bucket, org), "-o", os.fspath(output)]
    args += _repeat("--measurement", measurements) + _repeat("--group-by", group_by) + _repeat("--count-by", count_by)
    if since is not None:
        args += ["--since", since]
    if title is not None:
        args += ["--title", title]
    _run([*args, "--precision", precision])
    return Path(output)


def dashboard(
    sources: Sources = None,
    output: Union[str, os.PathLike[str]] = "dashboard.json",
    *,
    measurements: Optional[Iterable[str]] = None,
    tests: Optional[str] = None,
    title: Optional[str] = None,
    units: Optional[Mapping[str, str]] = None,
    datasource_uid: Optional[str] = None,
    provisioning: Optional[Union[str, os.PathLike[str]]] = None,
    database: Optional[str] = None,
    bucket: Optional[str] = None,
    org: Optional[str] = None,
) -> Path:
    """Writes a Grafana dashboard to ``output`` and returns its path: one panel per numeric field
    of the measurements of line protocol files or of a server (``sources`` as for ``report``),
    or, with ``tests="pytest"``, the ready dashboard for the test runs in that measurement.
    ``units`` maps field names to Grafana units; ``provisioning`` also writes Grafana's
    provisioning files there (it needs a server among ``sources``)."""
    args = ["dashboard", *_source_args(sources, database, bucket, org), "-o", os.fspath(output)]
    args += _repeat("--measurement", measurements)
    args += _repeat("--unit", (f"{field}={unit}" for field, unit in (units or {}).items()))
    for flag, value in (
        ("--tests", tests),
        ("--title", title),
        ("--datasource-uid", datasource_uid),
        ("--provisioning", os.fspath(provisioning) if provisioning is not None else None),
    ):
        if value is not None:
            args += [flag, value]
    _run(args)
    return Path(output)
