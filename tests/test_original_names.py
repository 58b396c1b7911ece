"""Every name the original 2.4.2 package offers, where it offers it: its modules, the classes and
functions each defines or re-exports, and their public attributes — found by introspecting the
original, so that nothing its users import is missing here.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from types import ModuleType
from typing import Any, Dict, List

import pytest

import influxdb_datalogger as ours
from influxdb_datalogger import BlockMeasurer, Field, FieldMap, Measurement, Tag, TagMap

ORIGINAL_MODULES = ["", ".datalogger", ".datalogger_map", ".field", ".measurement", ".tag", ".utils"]


def package_names(module: ModuleType, package: str) -> Dict[str, Any]:
    """The public names of ``module`` whose objects the package defines (not ``typing``'s or the
    standard library's, which the original's star imports drag in)."""
    return {
        name: value
        for name, value in vars(module).items()
        if not name.startswith("_") and str(getattr(value, "__module__", "")).startswith(package)
    }


@pytest.mark.parametrize("suffix", ORIGINAL_MODULES)
def test_every_module_has_the_names_the_original_module_has(original: ModuleType, suffix: str) -> None:
    theirs = importlib.import_module(original.__name__ + suffix)
    mine = importlib.import_module("influxdb_datalogger" + suffix)
    expected = package_names(theirs, original.__name__)
    assert expected, f"introspection found nothing in {theirs.__name__}"
    missing = sorted(name for name in expected if not hasattr(mine, name))
    assert not missing, f"influxdb_datalogger{suffix} lacks {missing}"
    for name, value in expected.items():
        if isinstance(value, type):
            public = {a for a in dir(value) if not a.startswith("_")}
            absent = sorted(a for a in public if not hasattr(getattr(mine, name), a))
            assert not absent, f"influxdb_datalogger{suffix}.{name} lacks {absent}"


def test_the_package_has_the_originals_submodules_as_attributes(original: ModuleType) -> None:
    for suffix in ORIGINAL_MODULES[1:]:
        name = suffix.lstrip(".")
        assert isinstance(getattr(original, name), ModuleType)
        assert getattr(ours, name) is importlib.import_module("influxdb_datalogger" + suffix)


def test_threaded_execution_runs_the_calls_on_threads_and_returns_results_in_order(original: ModuleType) -> None:
    from influxdb_datalogger.utils import threaded_execution

    theirs = importlib.import_module(original.__name__ + ".utils").threaded_execution
    threads = set()

    def work(a: int, b: str) -> str:
        threads.add(threading.get_ident())
        time.sleep(0.05)  # every call waits, so the pool runs them side by side
        return f"{b}{a}"

    args = ([1, 2, 3, 4], ["a", "b", "c", "d"])
    assert threaded_execution(work, *args) == theirs(work, *args) == ["a1", "b2", "c3", "d4"]
    assert len(threads) > 1
    assert threaded_execution(work, [], []) is None and theirs(work, [], []) is None
    assert threaded_execution(work, [5], ["x"], pool_size=0) == theirs(work, [5], ["x"], pool_size=0) == ["x5"]
    assert threaded_execution(lambda v: v * 2, {3}, pool_size=1) == [6]


def test_a_block_measurer_made_directly_times_its_block_as_measure_block_does(caplog: Any) -> None:
    duration, case = Field("duration"), Tag("case")
    step = Measurement("step", duration, case)
    logger = ours.DataLogger()
    tags = TagMap.build(case, "direct")
    measurer = BlockMeasurer(logger, step, duration, tags, logger=logging.getLogger("blocks"), log_lvl=logging.WARNING)
    assert (measurer.datalogger, measurer.measurement, measurer.field) == (logger, step, duration)
    assert measurer.tags_map is tags and measurer.log_lvl == logging.WARNING
    with caplog.at_level(logging.WARNING, logger="blocks"):
        with measurer:
            time.sleep(0.01)
    (entry,) = logger.dataset
    assert entry.measurement is step and entry.tags == {case: "direct"}
    assert 0.01 <= entry.fields[duration] < 5
    assert [r.getMessage() for r in caplog.records] == [
        "Starting block-measurement for step",
        "Stopping block-measurement for step",
    ]
    with pytest.raises(TypeError, match="'datalogger' must be a DataLogger, not str"):
        BlockMeasurer("logger", step, duration)
    with pytest.raises(ValueError, match="nope"):
        BlockMeasurer(logger, step, Field("nope"))


def test_datasets_and_events_are_containers_with_log_as_in_the_original(original: ModuleType) -> None:
    for pkg in (original, ours):
        value = pkg.Field("value")
        m = pkg.Measurement("m", value)
        dataset = pkg.Dataset()
        dataset.log(m, pkg.FieldMap.build(value, 1))
        dataset.log(m, pkg.FieldMap.build(value, 2), None)
        entries: List[Any] = dataset.get_entries_for_measurement(m)
        assert [e.fields[value] for e in entries] == [1, 2]
        assert isinstance(entries[0], pkg.DataEntry) and entries[0]["measurement"] is m
        events = pkg.Events()
        events.log(m, 1.0, 2.0, pkg.TagMap())
        (event,) = events.as_list()
        assert (event.start, event.stop) == (1.0, 2.0)


def test_a_post_processing_handler_carries_the_function_and_its_measurements() -> None:
    from influxdb_datalogger.datalogger import PostProcessing, PostProcessingHandler

    m = Measurement("m", Field("v"))

    @PostProcessing.register(m)
    def derive(datalogger: Any, **entries: Any) -> None:
        pass

    handler = PostProcessingHandler(derive)
    assert handler.func is derive and handler.measurements == (m,) and handler.post_processing is True
    assert FieldMap is ours.field.FieldMap
