"""The DataLogger and what it hands to writers: entries, events, post-processing."""

from __future__ import annotations

import atexit
import datetime
import functools
import json
import logging
import os
import sys
import time as _time
import weakref
from abc import ABC, abstractmethod
from typing import Any, Callable, Dict, List, Optional, TypeVar, Union

from . import _native
from ._schema import FieldMap, Measurement, Tag, TagMap, _measurement_named
from .exceptions import DataLoggerTypeError, ValidationError

__all__ = [
    "BlockMeasurer",
    "DataEntry",
    "DataLogger",
    "DatabaseWriter",
    "Dataset",
    "Event",
    "Events",
    "PostProcessing",
    "PostProcessingHandler",
]

BlockMeasurer = _native.BlockMeasurer

_log = logging.getLogger("influxdb_datalogger")
_F = TypeVar("_F", bound=Callable[..., Any])


class DatabaseWriter(ABC):
    """Where a DataLogger's data goes: implement ``write_data``, which reads
    ``datalogger.dataset`` and ``datalogger.events``."""

    @abstractmethod
    def write_data(self, datalogger: DataLogger) -> None:
        """Writes the data of ``datalogger`` to the database."""


class PostProcessing:
    @staticmethod
    def register(*measurements: Measurement) -> Callable[[_F], _F]:
        """Marks ``f(datalogger, **entries)`` as a post-processor of ``measurements``; ``entries``
        maps each measurement to its list of entries (or None)."""

        def wrap_outer(func: _F) -> _F:
            func.post_processing = True  # type: ignore[attr-defined]
            func.measurements = measurements  # type: ignore[attr-defined]

            @functools.wraps(func)
            def wrap_inner(*args: Any, **kwargs: Any) -> Any:
                return func(*args, **kwargs)

            return wrap_inner  # type: ignore[return-value]

        return wrap_outer


class PostProcessingHandler:
    """A function marked with ``PostProcessing.register``, with the measurements it handles."""

    def __init__(self, func: Callable[..., Any]) -> None:
        self.func = func
        self.measurements = func.measurements  # type: ignore[attr-defined]
        self.post_processing = func.post_processing  # type: ignore[attr-defined]


class DataEntry(dict):  # type: ignore[type-arg]
    """One logged point; a ``dict`` whose keys mirror its attributes."""

    measurement: Measurement
    fields: FieldMap
    tags: TagMap
    time: str

    def __init__(
        self,
        measurement: Measurement,
        fields_map: Optional[FieldMap],
        tags_map: Optional[TagMap] = None,
        time: Optional[datetime.datetime] = None,
    ) -> None:
        super().__init__()
        self.measurement = measurement
        self.fields = fields_map or FieldMap()
        self.tags = tags_map or TagMap()
        self.time = str(time or datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None))

    def __setattr__(self, key: str, value: Any) -> None:
        super().__setattr__(key, value)
        self[key] = value


class Dataset(dict):  # type: ignore[type-arg]
    """Entries grouped by measurement."""

    def log(
        self,
        measurement: Measurement,
        fields_map: Optional[FieldMap],
        tags_map: Optional[TagMap] = None,
        time: Optional[datetime.datetime] = None,
    ) -> None:
        """Appends a new entry (nothing is validated or sent: a ``Dataset`` is a plain container)."""
        self.append(DataEntry(measurement, fields_map, tags_map, time=time))

    def append(self, entry: DataEntry) -> None:
        self.setdefault(entry.measurement, []).append(entry)

    def get_entries_for_measurement(self, measurement: Measurement) -> Optional[List[DataEntry]]:
        return self.get(measurement)

    def as_list(self) -> List[DataEntry]:
        return [entry for entries in self.values() for entry in entries]


class Event(dict):  # type: ignore[type-arg]
    """A span of time to mark in Grafana; ``start`` and ``stop`` are epoch seconds (UTC)."""

    measurement: Any
    start: float
    stop: float
    tags_map: Optional[Dict[Any, Any]]

    def __init__(self, measurement: Any, start: float, stop: float, tags_map: Optional[Dict[Any, Any]]) -> None:
        super().__init__()
        self.measurement = measurement
        self.start = start
        self.stop = stop
        self.tags_map = tags_map

    def __setattr__(self, key: str, value: Any) -> None:
        if key == "tag_map":
            key = "tags_map"
        super().__setattr__(key, value)
        self[key] = value

    @property
    def tag_map(self) -> Optional[Dict[Any, Any]]:
        """The tags; the spelling the original package's README used."""
        return self.tags_map


class Events(dict):  # type: ignore[type-arg]
    """Events grouped by measurement."""

    def log(self, measurement: Any, start: float, stop: float, tags_map: Optional[Dict[Any, Any]]) -> None:
        """Appends a new event (a plain container: nothing is sent)."""
        self.append(Event(measurement, start, stop, tags_map))

    def append(self, event: Event) -> None:
        self.setdefault(event.measurement, []).append(event)

    def get_entries_for_measurement(self, measurement: Measurement) -> Optional[List[Event]]:
        return self.get(measurement)

    def as_list(self) -> List[Event]:
        return [event for events in self.values() for event in events]


class DataLogger(_native.LoggerBase):
    """Records measurements and events, and hands them to its writers.

    ``DataLogger(*writers, continuous_write=False, spool_dir=None)``. Every writer is a
    ``DatabaseWriter``. ``log`` and ``measure_block`` run in Rust; usable from many threads at
    once; a context manager whose exit writes what is pending.

    ``spool_dir``: where every logged point is kept on disk until the database acknowledged it,
    so that nothing is lost when the process dies or the database is away (a later logger with
    the same directory delivers what was left). ``None`` takes ``INFLUXDB_DATALOGGER_SPOOL``
    from the environment, else ``.influxdb-datalogger-spool`` under the working directory when a
    writer delivers to a database (``InfluxDBWriter``, ``GrafanaAnnotationWriter``); ``False``
    turns it off. A connection string sets more: ``"dir?max_bytes=2GiB&fsync=100ms"``.
    """

    postprocessing_functions: List[Any]

    def __init__(
        self,
        *database_writers: DatabaseWriter,
        continuous_write: bool = False,
        spool_dir: Union[str, os.PathLike[str], bool, None] = None,
    ) -> None:
        self.postprocessing_functions = []
        self._refused_seen: Dict[str, int] = {}
        _LIVE_LOGGERS.add(self)

    def __str__(self) -> str:
        return json.dumps(self._dataset, indent=2)

    def __enter__(self) -> DataLogger:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def flush(self, timeout: Optional[float] = None) -> None:
        """Writes what is pending and waits (at most ``timeout`` seconds, else each writer's
        own limit) until every writer has delivered it. Points the database refused for good
        (set aside in the dead-letter file) are reported as a warning on the
        ``influxdb_datalogger`` logger."""
        try:
            super().flush(timeout)
        finally:
            self._warn_of_refused_points()

    def _warn_of_refused_points(self) -> None:
        for writer in self.stats()["writers"]:
            seen = self._refused_seen.get(writer["name"], 0)
            if writer["dead_lettered"] > seen:
                self._refused_seen[writer["name"]] = writer["dead_lettered"]
                _log.warning(
                    "%s: %d points refused by the database, set aside in its dead-letter file: %s",
                    writer["name"],
                    writer["dead_lettered"] - seen,
                    writer["last_error"] or "see the file for each point's reason",
                )

    def close(self, timeout: Optional[float] = None) -> None:
        """Writes what is pending and waits (at most ``timeout`` seconds, else each writer's
        own limit) until every writer has delivered it — with a spool, not for a server that
        cannot be reached (refused, an unknown host): what it did not take waits in the spool
        for the next logger that opens it, and the error says so. The exit hook does not wait
        for a closed logger again."""
        try:
            self._flush_to_close(timeout)
        finally:
            _LIVE_LOGGERS.discard(self)
            self._warn_of_refused_points()

    def _close_briefly(self, timeout: float) -> None:
        """``close()`` as an exit does it: each writer waited for at most its own flush
        timeout and ``timeout``, and not at all once its server cannot be reached (what was
        not delivered stays in the spool, if there is one)."""
        try:
            self.write_data()
            self._flush_writers(timeout)
        finally:
            _LIVE_LOGGERS.discard(self)

    @property
    def dataset(self) -> List[DataEntry]:
        """The pending entries, grouped by measurement (inside a writer: what it writes)."""
        return self._entries(DataEntry, _measurement_named)

    @property
    def _dataset(self) -> Dataset:
        dataset = Dataset()
        for entry in self.dataset:
            dataset.append(entry)
        return dataset

    @property
    def events(self) -> List[Event]:
        """The pending events (inside a writer: what it writes)."""
        return self._events.as_list()

    @property
    def _events(self) -> Events:
        events = Events()
        logged = self._measurements()
        for name, start, stop, tags in self._event_rows():
            measurement = logged.get(name) or _measurement_named(name)
            events.append(Event(measurement, start / 1e9, stop / 1e9, TagMap(tags)))
        return events

    @property
    def last_data_entry(self) -> DataEntry:
        """``dataset[-1]`` (an ``IndexError`` when there is none), without making the others."""
        return self._entries(DataEntry, _measurement_named, True)[-1]  # type: ignore[no-any-return]

    @property
    def last_event(self) -> Event:
        return self.events[-1]

    def add_post_processing(self, func: Callable[..., Any]) -> None:
        """Adds a function decorated with ``PostProcessing.register``; it runs at every
        ``write_data()``, before the writers, and may log derived points."""
        if not getattr(func, "post_processing", False):
            raise ValidationError(
                f"{getattr(func, '__name__', func)!r} is not registered as a post-processing "
                "function; decorate it with @PostProcessing.register(measurement, ...)"
            )
        self.postprocessing_functions.append(func)
        self._add_post_processing(func)

    def _run_post_processing(self, func: Any) -> None:
        dataset = self._dataset
        entries = {m: dataset.get_entries_for_measurement(m) for m in func.measurements}
        func(self, **entries)

    def measure(
        self,
        func: Any = None,
        measurement: Any = None,
        field: Any = None,
        tags_map: Optional[TagMap] = None,
        event_tags: Optional[TagMap] = None,
        logger: Optional[logging.Logger] = None,
        log_start: Optional[str] = None,
        log_end: Optional[str] = None,
        args: Optional[tuple] = None,  # type: ignore[type-arg]
        kwargs: Optional[Dict[str, Any]] = None,
        *,
        tag_map: Optional[TagMap] = None,
        outcome_tag: Optional[Tag] = None,
    ) -> Any:
        """Runs ``func(*args, **kwargs)``, logs its duration in seconds to ``field`` and returns
        what it returned. Also a decorator: ``@datalogger.measure(measurement, field, tags_map)``
        (other options by keyword).

        If ``func`` raises, nothing is logged and the exception propagates — unless
        ``outcome_tag`` is given: then the duration is logged with that tag set to ``error``
        (and to ``ok`` on success).
        """
        if tags_map is None:
            tags_map = tag_map
        if func is None or isinstance(func, Measurement):
            if isinstance(func, Measurement):
                # @datalogger.measure(measurement, field[, tags_map], **keywords)
                measurement, field, positional_tags = func, measurement, field
                if positional_tags is not None:
                    if tags_map is not None:
                        raise DataLoggerTypeError("measure() got the tags twice")
                    tags_map = positional_tags
            return self._measure_decorator(
                measurement, field, tags_map, event_tags, logger, log_start, log_end, outcome_tag
            )
        if not callable(func):
            raise DataLoggerTypeError(f"'func' must be callable, not {type(func).__name__}")
        if args is None:
            args = ()
        elif not isinstance(args, tuple):
            raise DataLoggerTypeError(f"'args' must be a tuple, not {type(args).__name__}")
        if kwargs is None:
            kwargs = {}
        elif not isinstance(kwargs, dict):
            raise DataLoggerTypeError(f"'kwargs' must be a dict, not {type(kwargs).__name__}")
        if (log_start is not None or log_end is not None) and not isinstance(logger, logging.Logger):
            raise DataLoggerTypeError("if 'log_start' or 'log_end' is given, 'logger' must be a logging.Logger")
        if log_start and logger is not None:
            logger.info(log_start)
        started_at = _time.time_ns()
        started = _time.perf_counter_ns()
        try:
            result = func(*args, **kwargs)
        except BaseException:
            if outcome_tag is not None:
                elapsed = _time.perf_counter_ns() - started
                self._record(measurement, field, tags_map, event_tags, started_at, elapsed, outcome_tag, "error")
            raise
        elapsed = _time.perf_counter_ns() - started
        self._record(measurement, field, tags_map, event_tags, started_at, elapsed, outcome_tag, "ok")
        if log_end and logger is not None:
            logger.info(log_end)
        return result

    def _record(
        self,
        measurement: Any,
        field: Any,
        tags_map: Optional[TagMap],
        event_tags: Optional[TagMap],
        started_at: int,
        elapsed: int,
        outcome_tag: Optional[Tag],
        outcome: str,
    ) -> None:
        if event_tags:
            self._log_event_ns(measurement, started_at, started_at + elapsed, event_tags)
        if outcome_tag is not None:
            tags_map = TagMap({**(tags_map or {}), outcome_tag: outcome})
        self.log(measurement, FieldMap.build(field, elapsed / 1e9), tags_map=tags_map)

    def _measure_decorator(self, *options: Any) -> Callable[[_F], _F]:
        measurement, field, tags_map, event_tags, logger, log_start, log_end, outcome_tag = options

        def decorate(func: _F) -> _F:
            @functools.wraps(func)
            def measured(*args: Any, **kwargs: Any) -> Any:
                return self.measure(
                    func,
                    measurement,
                    field,
                    tags_map,
                    event_tags,
                    logger,
                    log_start,
                    log_end,
                    args=args,
                    kwargs=kwargs,
                    outcome_tag=outcome_tag,
                )

            return measured  # type: ignore[return-value]

        return decorate


# Loggers still alive at interpreter exit get a bounded wait for what their writers were given
# (points a background writer has not delivered yet); nothing new is handed over, as the
# original package wrote nothing without write_data().
_LIVE_LOGGERS: weakref.WeakSet[DataLogger] = weakref.WeakSet()
EXIT_TIMEOUT = 10.0


def _deliver_at_exit() -> None:
    deadline = _time.monotonic() + EXIT_TIMEOUT
    for datalogger in list(_LIVE_LOGGERS):
        try:
            datalogger._flush_writers(max(0.0, deadline - _time.monotonic()))
        except Exception as error:
            print(f"influxdb-datalogger: at exit: {error}", file=sys.stderr)
    try:
        _native._flush_detached(max(0.0, deadline - _time.monotonic()))
    except Exception as error:
        print(f"influxdb-datalogger: at exit: {error}", file=sys.stderr)


atexit.register(_deliver_at_exit)

_CHILD_EXIT_HOOK_PID = 0


def _deliver_at_child_exit() -> None:
    """Called once a forked child has made its own logger core (at its first use of a logger
    inherited from the parent). A ``multiprocessing`` child ends with ``os._exit``, past
    ``atexit``: its own exit hooks (finalizers) run ``_deliver_at_exit`` instead."""
    global _CHILD_EXIT_HOOK_PID
    if _CHILD_EXIT_HOOK_PID == os.getpid():
        return
    _CHILD_EXIT_HOOK_PID = os.getpid()
    util = sys.modules.get("multiprocessing.util")
    if util is not None:
        util.Finalize(None, _deliver_at_exit, exitpriority=0)
