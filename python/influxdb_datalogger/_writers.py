"""Built-in writers that need no server. Their points go from the Rust core straight to the
file, without a Python object per point."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Dict, Optional, Union

from . import _native
from ._datalogger import DatabaseWriter

if TYPE_CHECKING:
    from ._datalogger import DataLogger

__all__ = ["GrafanaAnnotationWriter", "InfluxDBWriter", "JSONLinesFileWriter", "LineProtocolFileWriter"]

_Path = Union[str, "os.PathLike[str]"]


class _NativeFileWriter(DatabaseWriter):
    _kind = ""

    def __init__(self, path: _Path) -> None:
        self.path = os.fspath(path)
        self._native_writer = _native.NativeWriter(self._kind, self.path)

    def write_data(self, datalogger: DataLogger) -> None:
        """Appends what ``datalogger`` holds now (when called directly rather than by the
        DataLogger's own ``write_data``), purging nothing."""
        datalogger._write_with(self._native_writer)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.path!r})"


class LineProtocolFileWriter(_NativeFileWriter):
    """Appends points, and events as the ``events`` measurement, to a line protocol file."""

    _kind = "line_protocol"


class JSONLinesFileWriter(_NativeFileWriter):
    """Appends one JSON object per point and per event to a file."""

    _kind = "json_lines"


class InfluxDBWriter(DatabaseWriter):
    """Writes to InfluxDB 1.x (``/write``), 2.x (``/api/v2/write``) or 3 (``/api/v3/write_lp``),
    or a server with the same APIs (VictoriaMetrics), from the Rust core.

    ``url`` is a server's address or a whole connection string, as ``from_url`` takes
    (``http://user:password@host:8086?db=tests``); keywords given here win over it. A password
    in the URL is kept as a secret, out of every message and ``repr``.

    ``api=None`` picks from what is given: a bucket means v2, a database and a token v3, a
    database v1. Lines the server refuses go to ``dead_letter`` with its reason while the good
    ones land. Bodies from ``gzip_threshold`` bytes are gzip-compressed, except to a loopback
    address (where it only costs CPU) unless ``gzip_to_loopback``.

    Delivery runs on a thread of its own: ``write_data()`` hands the data over and returns at
    once; requests carry up to ``batch_size`` points and leave at the latest ``flush_interval``
    seconds after data arrives; failures are retried with backoff (honouring ``Retry-After``)
    for ``retry_budget`` seconds at a time, and the data is kept until the server takes it.
    ``DataLogger.flush()``/``close()`` wait up to ``flush_timeout`` seconds for the server, and at
    interpreter exit what was handed over is delivered within that time.
    """

    def __init__(
        self,
        url: str,
        *,
        api: Optional[str] = None,
        database: Optional[str] = None,
        bucket: Optional[str] = None,
        org: Optional[str] = None,
        token: Optional[str] = None,
        username: Optional[str] = None,
        password: Optional[str] = None,
        precision: str = "ns",
        retention_policy: Optional[str] = None,
        gzip_threshold: Optional[int] = 4096,
        gzip_to_loopback: bool = False,
        timeout: float = 10.0,
        ca_file: Optional[_Path] = None,
        insecure_skip_verify: bool = False,
        proxy: Optional[str] = None,
        dead_letter: Optional[_Path] = None,
        accept_partial: bool = True,
        no_sync: bool = False,
        batch_size: int = 5000,
        flush_interval: float = 1.0,
        flush_timeout: float = 30.0,
        retry_budget: float = 60.0,
    ) -> None:
        options = {
            "api": api,
            "database": database,
            "bucket": bucket,
            "org": org,
            "token": token,
            "username": username,
            "password": password,
            "precision": precision,
            "rp": retention_policy,
            "gzip": "off" if gzip_threshold is None else gzip_threshold,
            "gzip_loopback": "true" if gzip_to_loopback else "false",
            "timeout": timeout,
            "ca": None if ca_file is None else os.fspath(ca_file),
            "insecure": "true" if insecure_skip_verify else "false",
            "proxy": proxy,
            "dead_letter": None if dead_letter is None else os.fspath(dead_letter),
            "accept_partial": "true" if accept_partial else "false",
            "no_sync": "true" if no_sync else "false",
            "batch_size": batch_size,
            "flush_interval": flush_interval,
            "flush_timeout": flush_timeout,
            "retry_budget": retry_budget,
        }
        # ``url`` may be a whole connection string (``http://user:pw@host:8086?db=tests``): what
        # it sets stands unless a keyword here says otherwise.
        defaults = _INFLUXDB_DEFAULTS
        self._native_writer = _native.NativeWriter.influxdb(
            url, {k: v for k, v in options.items() if v != defaults.get(k, None)}
        )

    @classmethod
    def from_env(cls) -> InfluxDBWriter:
        """From ``INFLUX_HOST``/``INFLUX_TOKEN``/``INFLUX_DATABASE``/``INFLUX_ORG``,
        ``INFLUXDB_V2_URL``/``_ORG``/``_TOKEN``/``_BUCKET`` and ``INFLUX_USERNAME``/``_PASSWORD``."""
        writer = cls.__new__(cls)
        writer._native_writer = _native.NativeWriter.influxdb_from_env()
        return writer

    @classmethod
    def from_url(cls, connection_string: str) -> InfluxDBWriter:
        """From ``http[s]://[user[:password]@]host[:port]?db=...&precision=ms&...``."""
        writer = cls.__new__(cls)
        writer._native_writer = _native.NativeWriter.influxdb_from_url(connection_string)
        return writer

    def write_data(self, datalogger: DataLogger) -> None:
        """Sends what ``datalogger`` holds now (when called directly), purging nothing."""
        datalogger._write_with(self._native_writer)

    def __repr__(self) -> str:
        return f"InfluxDBWriter({self._native_writer.describe()!r})"


# What InfluxDBWriter's keywords are when not given (as the core's own defaults).
_INFLUXDB_DEFAULTS: Dict[str, object] = {
    "precision": "ns",
    "gzip": 4096,
    "gzip_loopback": "false",
    "timeout": 10.0,
    "insecure": "false",
    "accept_partial": "true",
    "no_sync": "false",
    "batch_size": 5000,
    "flush_interval": 1.0,
    "flush_timeout": 30.0,
    "retry_budget": 60.0,
}


class GrafanaAnnotationWriter(DatabaseWriter):
    """Posts events (from ``log_event``, or ``measure``/``measure_block`` with ``event_tags``) as
    Grafana annotations: ``POST /api/annotations`` with ``time``/``timeEnd`` in epoch
    milliseconds, ``text`` the measurement, ``tags`` as ``key:value``, Bearer auth with a service
    account token. Points are ignored. Delivered in the background, like ``InfluxDBWriter``."""

    def __init__(
        self, url: str, token: str, *, dashboard_uid: Optional[str] = None, panel_id: Optional[int] = None
    ) -> None:
        self._native_writer = _native.NativeWriter.grafana(url, token, dashboard_uid, panel_id)

    def write_data(self, datalogger: DataLogger) -> None:
        """Posts the events ``datalogger`` holds now (when called directly), purging nothing."""
        datalogger._write_with(self._native_writer)

    def __repr__(self) -> str:
        return f"GrafanaAnnotationWriter({self._native_writer.describe()!r})"
