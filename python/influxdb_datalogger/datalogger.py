"""The original package's module path ``influxdb_datalogger.datalogger``."""

from ._datalogger import (  # noqa: F401
    BlockMeasurer,
    DatabaseWriter,
    DataEntry,
    DataLogger,
    Dataset,
    Event,
    Events,
    PostProcessing,
)
