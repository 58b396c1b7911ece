"""The original package's module path ``influxdb_datalogger.field``."""

from ._schema import DataLoggerMap, Field, FieldMap  # noqa: F401
