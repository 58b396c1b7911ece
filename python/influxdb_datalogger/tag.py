"""The original package's module path ``influxdb_datalogger.tag``."""

from ._schema import DataLoggerMap, Tag, TagMap  # noqa: F401
