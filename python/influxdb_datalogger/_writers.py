"""Built-in writers that need no server. Their points go from the Rust core straight to the
file, without a Python object per point."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Union

from . import _native
from ._datalogger import DatabaseWriter

if TYPE_CHECKING:
    from ._datalogger import DataLogger

__all__ = ["JSONLinesFileWriter", "LineProtocolFileWriter"]

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
