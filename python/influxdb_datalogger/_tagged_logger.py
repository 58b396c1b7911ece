"""The handle the pytest plugin's fixtures give a test: a DataLogger-like object whose points
and events carry the test's tags."""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Tuple

from ._datalogger import DataLogger
from ._schema import Field, Measurement, Tag, TagMap
from .exceptions import DataLoggerError


class TaggedLogger:
    """A DataLogger-like handle: `log`, `measure_block`, `measure` and `log_event` work as on a
    DataLogger, and every point and event also carries the handle's tags."""

    def __init__(
        self, logger: DataLogger, tags: Dict[str, str], report: Optional[Callable[[str], None]] = None
    ) -> None:
        self._logger = logger
        self._tags = tags
        # Told of every point refused here (an incomplete one, say), for the run's summary.
        self._report = report
        self._extended: Dict[int, Tuple[Measurement, Measurement, Dict[str, Tag]]] = {}

    @property
    def tags(self) -> Dict[str, str]:
        """The tags added to everything logged through this handle."""
        return dict(self._tags)

    @property
    def logger(self) -> DataLogger:
        """The DataLogger underneath."""
        return self._logger

    def _with_tags(self, measurement: Measurement, tags_map: Optional[Dict[Any, Any]]) -> Tuple[Measurement, TagMap]:
        known = self._extended.get(id(measurement))
        if known is None or known[0] is not measurement:
            own = {str(t) for t in measurement.tags}
            added = {k: Tag(k) for k in self._tags if k not in own}
            extended = Measurement(
                str(measurement),
                *measurement.fields,
                *measurement.tags,
                *added.values(),
                optional_tags=[*measurement.optional_tags, *added.values()],
                desc=measurement.desc,
            )
            known = self._extended[id(measurement)] = (measurement, extended, added)
        _, extended, added = known
        merged = TagMap({added[k]: v for k, v in self._tags.items() if k in added})
        merged.update(tags_map or {})
        return extended, merged

    def _event_tags(self, tags_map: Optional[Dict[Any, Any]]) -> TagMap:
        merged = TagMap({Tag(k): v for k, v in self._tags.items()})
        merged.update(tags_map or {})
        return merged

    def log(
        self, measurement: Measurement, fields_map: Dict[Any, Any], tags_map: Optional[Dict[Any, Any]] = None, **kw: Any
    ) -> None:
        extended, tags = self._with_tags(measurement, tags_map)
        try:
            self._logger.log(extended, fields_map, tags, **kw)
        except DataLoggerError as error:
            if self._report is not None:
                self._report(f"a point was refused: {error}")
            raise

    def measure_block(
        self, measurement: Measurement, field: Field, tags_map: Optional[Dict[Any, Any]] = None, **kw: Any
    ) -> Any:
        extended, tags = self._with_tags(measurement, tags_map)
        if kw.get("event_tags") is not None:
            kw["event_tags"] = self._event_tags(kw["event_tags"])
        return self._logger.measure_block(extended, field, tags, **kw)

    def measure(
        self, func: Any, measurement: Measurement, field: Field, tags_map: Optional[Dict[Any, Any]] = None, **kw: Any
    ) -> Any:
        extended, tags = self._with_tags(measurement, tags_map)
        if kw.get("event_tags") is not None:
            kw["event_tags"] = self._event_tags(kw["event_tags"])
        try:
            return self._logger.measure(func, extended, field, tags, **kw)
        except DataLoggerError as error:
            if self._report is not None:
                self._report(f"a measurement was refused: {error}")
            raise

    def log_event(
        self, measurement: Any, start_time: Any, stop_time: Any, event_tags_map: Optional[Dict[Any, Any]] = None
    ) -> None:
        self._logger.log_event(measurement, start_time, stop_time, self._event_tags(event_tags_map))
