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
    PostProcessingHandler,
)
from ._schema import Field, FieldMap, Measurement, Tag, TagMap  # noqa: F401
from .utils import threaded_execution  # noqa: F401
