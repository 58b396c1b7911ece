"""Record test measurements and events, and deliver them to InfluxDB and Grafana.

A drop-in replacement for the ``influxdb-datalogger`` 2.4.2 package, on a Rust core.
"""

from __future__ import annotations

# The original's modules are attributes of the package, as its imports made them.
from . import _native, datalogger, datalogger_map, field, measurement, tag, utils  # noqa: F401
from ._datalogger import (
    BlockMeasurer,
    DatabaseWriter,
    DataEntry,
    DataLogger,
    Dataset,
    Event,
    Events,
    PostProcessing,
)
from ._output import dashboard, report
from ._regressions import compare_with_history, regressions
from ._schema import DataLoggerMap, Field, FieldMap, Measurement, Tag, TagMap
from ._writers import GrafanaAnnotationWriter, InfluxDBWriter, JSONLinesFileWriter, LineProtocolFileWriter
from .exceptions import (
    DataLoggerError,
    DataLoggerTypeError,
    IncompletePointError,
    SpoolFullError,
    ValidationError,
    WriterError,
)

_native._register(Measurement, FieldMap, TagMap, DatabaseWriter)
spool_inventory = _native.spool_inventory

__version__ = _native._crate_version.replace("-alpha.", "a").replace("-beta.", "b").replace("-rc.", "rc")

__all__ = [
    "BlockMeasurer",
    "DataEntry",
    "DataLogger",
    "DataLoggerError",
    "DataLoggerMap",
    "DataLoggerTypeError",
    "DatabaseWriter",
    "Dataset",
    "Event",
    "Events",
    "Field",
    "FieldMap",
    "GrafanaAnnotationWriter",
    "IncompletePointError",
    "InfluxDBWriter",
    "JSONLinesFileWriter",
    "LineProtocolFileWriter",
    "Measurement",
    "PostProcessing",
    "SpoolFullError",
    "Tag",
    "TagMap",
    "ValidationError",
    "WriterError",
    "compare_with_history",
    "dashboard",
    "regressions",
    "report",
    "spool_inventory",
]
