"""The original package's module path ``influxdb_datalogger.measurement``."""

from ._schema import Field, FieldMap, Measurement, Tag, TagMap  # noqa: F401
