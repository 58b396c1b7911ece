"""The original package's module path ``influxdb_datalogger.datalogger_map``."""

from ._schema import DataLoggerMap  # noqa: F401
