"""The original package's module path ``influxdb_datalogger.field``."""

from ._schema import Field, FieldMap  # noqa: F401
