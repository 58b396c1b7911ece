"""The original package's module path ``influxdb_datalogger.measurement``."""

from ._schema import Measurement  # noqa: F401
