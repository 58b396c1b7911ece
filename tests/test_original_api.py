"""Behaviour of the Python API, point by point as the original 2.4.2 package behaves, and the
additions (context manager, flush, stats, measure as a decorator, async with, outcome tag)."""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
import threading
import time
from typing import Any, List

import pytest

import influxdb_datalogger as idl
from influxdb_datalogger import (
    DatabaseWriter,
    DataEntry,
    DataLogger,
    Event,
    Field,
    FieldMap,
    Measurement,
    PostProcessing,
    Tag,
    TagMap,
)
from influxdb_datalogger.exceptions import (
    DataLoggerError,
    DataLoggerTypeError,
    IncompletePointError,
    InvalidValueError,
    SchemaError,
    UnknownFieldError,
    UnknownTagError,
    ValidationError,
)


class Recorder(DatabaseWriter):
    """Keeps what every write_data call saw."""

    def __init__(self) -> None:
        self.calls: List[List[DataEntry]] = []
        self.event_calls: List[List[Event]] = []

    def write_data(self, datalogger: DataLogger) -> None:
        self.calls.append(datalogger.dataset)
        self.event_calls.append(datalogger.events)

    @property
    def entries(self) -> List[DataEntry]:
        return [e for call in self.calls for e in call]


F, G = Field("duration"), Field("count", default=1)
T, H = Tag("identifier"), Tag("host", func=lambda: "computed-host")
M = Measurement("time-taken", F, G, T, H)


def fm(*items: Any) -> FieldMap:
    return FieldMap.build(*items)


def tm(*items: Any) -> TagMap:
    return TagMap.build(*items)


# ---- names ----


def test_the_original_names_are_exported():
    for name in [
        "DataLogger",
        "DatabaseWriter",
        "PostProcessing",
        "DataEntry",
        "Dataset",
        "Event",
        "Events",
        "BlockMeasurer",
        "Measurement",
        "Tag",
        "TagMap",
        "Field",
        "FieldMap",
    ]:
        assert hasattr(idl, name), name
    assert idl.__all__ == sorted(idl.__all__)
    from influxdb_datalogger.datalogger import DataLogger as FromOldPath

    assert FromOldPath is DataLogger


# ---- schema objects ----


def test_fields_and_tags_are_strings_with_their_options():
    f = Field("speed", 1, 2, func=lambda a, b: a + b, desc="km/h", default=None)
    assert f == "speed" and hash(f) == hash("speed") and isinstance(f, str)
    assert (f.func(*f.args_func), f.desc, f.default) == (3, "km/h", None)
    t = Tag("zone", default="eu")
    assert t == "zone" and {t: 1}["zone"] == 1 and t.default == "eu"


def test_a_tag_with_func_and_default_is_a_value_error():
    with pytest.raises(ValueError, match="'zone'"):
        Tag("zone", func=lambda: "a", default="b")
    with pytest.raises(SchemaError):
        Tag("zone", func=lambda: "a", default="b")


def test_measurement_holds_field_and_tag_sets_and_refuses_other_types():
    opt = Tag("optional")
    m = Measurement("m", F, T, optional_tags=[opt], desc="d")
    assert m == "m" and isinstance(m, str) and m.desc == "d"
    assert m.fields == {F} and m.tags == {T, opt} and list(m.optional_tags) == [opt]
    with pytest.raises(TypeError, match="int"):
        Measurement("m", F, 3)
    with pytest.raises(AssertionError):
        Measurement("m", F, "not-a-field")


def test_maps_build_pairs_and_refuse_odd_counts_wrong_keys_and_duplicates():
    assert TagMap.build(T, "a", H, "b") == {"identifier": "a", "host": "b"}
    with pytest.raises(AssertionError, match="pairs"):
        TagMap.build(T, "a", H)
    with pytest.raises(ValueError, match="TagMap.build takes pairs of"):
        TagMap.build(F, "a")
    with pytest.raises(ValidationError):
        FieldMap.build(F, F)
    m = TagMap.build(T, "a")
    with pytest.raises(AssertionError, match="already present"):
        m.add(T, "b")
    m.add(H, "c")
    assert isinstance(m.copy(), TagMap) and m.copy() == m


# ---- DataLogger ----


def test_every_writer_must_be_a_database_writer():
    with pytest.raises(AssertionError, match="DatabaseWriter"):
        DataLogger(object())  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        DataLogger(Recorder(), "writer")  # type: ignore[arg-type]
    rec = Recorder()
    assert DataLogger(rec).db_writers == [rec]


def test_log_merges_defaults_then_funcs_then_given_values():
    dl = DataLogger()
    dl.log(M, fm(F, 0.5), tm(T, "a"))
    entry = dl.last_data_entry
    assert entry.fields == {"duration": 0.5, "count": 1}
    assert entry.tags == {"identifier": "a", "host": "computed-host"}
    dl.log(M, fm(F, 0.5, G, 7), tm(T, "a", H, "given-host"))
    entry = dl.last_data_entry
    assert entry.fields["count"] == 7 and entry.tags["host"] == "given-host"


def test_field_func_wins_over_field_default():
    f = Field("f", func=lambda: 2.0, default=1.0)
    m = Measurement("mf", f)
    dl = DataLogger()
    dl.log(m, FieldMap())
    assert dl.last_data_entry.fields == {"f": 2.0}


def test_unknown_fields_and_tags_fail_at_log_time_and_store_nothing():
    dl = DataLogger()
    dl.log(M, fm(F, 1.0), tm(T, "kept"))
    with pytest.raises(UnknownFieldError, match='no field "speed"'):
        dl.log(M, fm(Field("speed"), 1.0), tm(T, "x"))
    with pytest.raises(UnknownTagError, match='no tag "zone"'):
        dl.log(M, fm(F, 1.0), tm(Tag("zone"), "x"))
    with pytest.raises(AssertionError):
        dl.log(M, fm(F, 1.0), tm(Tag("zone"), "x"))
    assert [e.tags["identifier"] for e in dl.dataset] == ["kept"]


def test_log_checks_argument_types_like_the_original():
    dl = DataLogger()
    with pytest.raises(AssertionError, match="Measurement"):
        dl.log("time-taken", fm(F, 1.0))
    with pytest.raises(TypeError, match="FieldMap"):
        dl.log(M, {"duration": 1.0})
    with pytest.raises(DataLoggerTypeError, match="TagMap"):
        dl.log(M, fm(F, 1.0), {"identifier": "x"})


def test_bad_values_name_measurement_field_and_value_and_store_nothing():
    dl = DataLogger()
    with pytest.raises(InvalidValueError) as err:
        dl.log(M, fm(F, float("nan")), tm(T, "x"))
    assert 'measurement "time-taken", field "duration"' in str(err.value) and "NaN" in str(err.value)
    with pytest.raises(ValueError, match=r'tag "identifier": value "a\\nb"'):
        dl.log(M, fm(F, 1.0), tm(T, "a\nb"))
    with pytest.raises(InvalidValueError, match="list"):
        dl.log(M, fm(F, [1, 2]), tm(T, "x"))
    assert dl.dataset == []


def test_values_keep_their_types_and_other_tag_values_become_text():
    f, i, b, s = Field("f"), Field("i"), Field("b"), Field("s")
    m = Measurement("types", f, i, b, s, T)
    dl = DataLogger()
    dl.log(m, fm(f, 1.5, i, 2**63 + 5, b, True, s, 'say "hi"'), tm(T, 42))
    entry = dl.last_data_entry
    assert entry.fields == {"f": 1.5, "i": 2**63 + 5, "b": True, "s": 'say "hi"'}
    assert type(entry.fields["b"]) is bool and entry.tags == {"identifier": "42"}


def test_time_naive_means_utc_and_aware_is_converted():
    dl = DataLogger()
    naive = datetime.datetime(2024, 5, 6, 7, 8, 9, 123456)
    dl.log(M, fm(F, 1.0), tm(T, "a"), time=naive)
    assert dl.last_data_entry.time == "2024-05-06 07:08:09.123456"
    aware = datetime.datetime(2024, 5, 6, 9, 8, 9, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))
    dl.log(M, fm(F, 1.0), tm(T, "b"), time=aware)
    assert dl.last_data_entry.time == "2024-05-06 07:08:09"
    before = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    dl.log(M, fm(F, 1.0), tm(T, "c"))
    stamped = datetime.datetime.fromisoformat(dl.last_data_entry.time)
    assert before - datetime.timedelta(seconds=1) <= stamped <= before + datetime.timedelta(seconds=5)


def test_continuous_write_reaches_python_writers_on_every_log():
    rec = Recorder()
    dl = DataLogger(rec, continuous_write=True)
    dl.log(M, fm(F, 1.0), tm(T, "a"))
    dl.log(M, fm(F, 2.0), tm(T, "b"))
    assert [[e.tags["identifier"] for e in call] for call in rec.calls] == [["a"], ["b"]]
    assert dl.dataset == []
    assert dl.continuous_write is True


def test_measure_returns_the_value_and_logs_seconds():
    dl = DataLogger()

    def work(a, b=0):
        time.sleep(0.01)
        return a + b

    assert dl.measure(work, M, F, tm(T, "w"), args=(1,), kwargs={"b": 2}) == 3
    d = dl.last_data_entry.fields["duration"]
    assert isinstance(d, float) and 0.01 <= d < 5


def test_measure_logs_nothing_when_the_function_raises_unless_asked():
    dl = DataLogger()

    def boom():
        raise KeyError("boom")

    with pytest.raises(KeyError):
        dl.measure(boom, M, F, tm(T, "x"))
    assert dl.dataset == []
    outcome = Tag("outcome")
    m = Measurement("with-outcome", F, T, optional_tags=[outcome])
    with pytest.raises(KeyError):
        dl.measure(boom, m, F, tm(T, "x"), outcome_tag=outcome)
    dl.measure(lambda: None, m, F, tm(T, "y"), outcome_tag=outcome)
    assert [e.tags["outcome"] for e in dl.dataset] == ["error", "ok"]


def test_measure_checks_its_arguments():
    dl = DataLogger()
    with pytest.raises(AssertionError, match="tuple"):
        dl.measure(print, M, F, args=[1])
    with pytest.raises(AssertionError, match="dict"):
        dl.measure(print, M, F, kwargs=[("a", 1)])
    with pytest.raises(AssertionError, match="logging.Logger"):
        dl.measure(print, M, F, log_start="start")
    with pytest.raises(TypeError, match="callable"):
        dl.measure(42, M, F)


def test_measure_logs_start_and_end_messages(caplog: pytest.LogCaptureFixture):
    log = logging.getLogger("measure-test")
    dl = DataLogger()
    with caplog.at_level(logging.INFO, logger="measure-test"):
        dl.measure(lambda: None, M, F, tm(T, "x"), logger=log, log_start="begin", log_end="end")
    assert [r.message for r in caplog.records] == ["begin", "end"]


def test_measure_with_event_tags_logs_an_event_spanning_the_call():
    dl = DataLogger()
    before = time.time()
    dl.measure(time.sleep, M, F, tm(T, "x"), event_tags=tm(Tag("host"), "h"), args=(0.01,))
    event = dl.last_event
    assert event.measurement == "time-taken" and event.tags_map == {"host": "h"}
    assert before - 1 <= event.start <= event.stop <= time.time() + 1
    assert event.stop - event.start >= 0.01


def test_measure_block_logs_on_exit_also_when_the_block_raises():
    dl = DataLogger()
    with pytest.raises(RuntimeError):
        with dl.measure_block(M, F, tm(T, "raised")):
            raise RuntimeError("in block")
    assert dl.last_data_entry.tags["identifier"] == "raised"


def test_measure_block_with_a_logger_says_generic_messages(caplog: pytest.LogCaptureFixture):
    log = logging.getLogger("block-test")
    dl = DataLogger()
    with caplog.at_level(logging.INFO, logger="block-test"):
        with dl.measure_block(M, F, tm(T, "x"), logger=log):
            pass
    assert [r.message for r in caplog.records] == [
        "Starting block-measurement for time-taken",
        "Stopping block-measurement for time-taken",
    ]


def test_measure_block_outcome_tag_is_opt_in():
    outcome = Tag("outcome")
    m = Measurement("outcomes", F, T, optional_tags=[outcome])
    dl = DataLogger()
    with dl.measure_block(m, F, tm(T, "plain")):
        pass
    with pytest.raises(ValueError):
        with dl.measure_block(m, F, tm(T, "failed"), outcome_tag=outcome):
            raise ValueError("x")
    tags = [e.tags for e in dl.dataset]
    assert tags == [{"identifier": "plain"}, {"identifier": "failed", "outcome": "error"}]


def test_measure_block_durations_are_monotonic_and_close_to_the_block():
    dl = DataLogger()
    with dl.measure_block(M, F, tm(T, "sleep")):
        time.sleep(0.02)
    assert 0.02 <= dl.last_data_entry.fields["duration"] < 5


def test_log_event_records_epoch_seconds_and_both_tag_spellings():
    dl = DataLogger()
    start = datetime.datetime(2024, 1, 1, 0, 0, 0)
    stop = datetime.datetime(2024, 1, 1, 0, 0, 1, 500000)
    dl.log_event(M, start, stop, tm(Tag("host"), "h"))
    event = dl.last_event
    assert (event.measurement, event.start, event.stop) == ("time-taken", 1704067200.0, 1704067201.5)
    assert event.tags_map == event.tag_map == {"host": "h"}
    assert dict(event) == {
        "measurement": "time-taken",
        "start": 1704067200.0,
        "stop": 1704067201.5,
        "tags_map": {"host": "h"},
    }


def test_dataset_groups_by_measurement_and_underscore_dataset_is_keyed_by_it():
    other = Measurement("other", F, T)
    dl = DataLogger()
    dl.log(M, fm(F, 1.0), tm(T, "a"))
    dl.log(other, fm(F, 2.0), tm(T, "b"))
    dl.log(M, fm(F, 3.0), tm(T, "c"))
    assert [e.tags["identifier"] for e in dl.dataset] == ["a", "c", "b"]
    assert M in dl._dataset and other in dl._dataset
    assert list(dl._dataset) == ["time-taken", "other"]
    entry = dl._dataset[M][0]
    assert entry.measurement is M and isinstance(entry, DataEntry)
    assert set(entry.keys()) == {"measurement", "fields", "tags", "time"}
    assert entry["fields"] is entry.fields and isinstance(entry.time, str)
    assert next(k for k in entry.fields if k == "duration") is F, "keys are the schema's own Field objects"


def test_dataset_and_str_are_json():
    dl = DataLogger()
    dl.log(M, fm(F, 1.0), tm(T, "a"))
    loaded = json.loads(json.dumps(dl.dataset))
    assert loaded[0]["fields"] == {"duration": 1.0, "count": 1}
    assert json.loads(str(dl)) == {"time-taken": loaded}


def test_an_incomplete_point_is_refused_at_log_and_blocks_nothing_else():
    rec = Recorder()
    dl = DataLogger(rec)
    dl.log(M, fm(F, 1.0), tm(T, "complete"))
    with pytest.raises(IncompletePointError, match='measurement "time-taken": field "duration" has no value'):
        dl.log(M, FieldMap(), tm(T, "no-duration"))
    with pytest.raises(AssertionError):  # the original checked with assert
        dl.log(M, FieldMap(), tm(T, "no-duration"))
    dl.log(M, fm(F, 2.0), tm(T, "later"))
    assert [e.tags["identifier"] for e in dl.dataset] == ["complete", "later"]
    dl.write_data()
    assert [[e.tags["identifier"] for e in c] for c in rec.calls] == [["complete", "later"]]
    assert dl.stats()["log_errors"] == 2


def test_an_incomplete_point_with_continuous_write_blocks_no_later_log():
    rec = Recorder()
    dl = DataLogger(rec, continuous_write=True)
    for i in range(3):
        with pytest.raises(IncompletePointError):
            dl.log(M, fm(F, None), tm(T, f"bad{i}"))
        dl.log(M, fm(F, 1.0), tm(T, f"good{i}"))
    assert [e.tags["identifier"] for c in rec.calls for e in c] == ["good0", "good1", "good2"]


def test_an_explicit_none_is_no_value():
    dl = DataLogger(Recorder())
    with pytest.raises(IncompletePointError, match='field "count"'):
        dl.log(M, fm(F, 1.0, G, None), tm(T, "a"))
    assert dl.dataset == []


def test_optional_tags_may_stay_without_value_and_required_ones_may_not():
    opt = Tag("opt")
    m = Measurement("opt-m", F, T, optional_tags=[opt])
    rec = Recorder()
    dl = DataLogger(rec)
    dl.log(m, fm(F, 1.0), tm(T, "a"))
    dl.write_data()
    with pytest.raises(IncompletePointError, match='tag "identifier"'):
        dl.log(m, fm(F, 1.0), tm(opt, "o"))


def test_write_data_purges_so_the_next_call_writes_no_duplicates():
    rec = Recorder()
    dl = DataLogger(rec)
    dl.log(M, fm(F, 1.0), tm(T, "a"))
    dl.log_event(M, datetime.datetime(2024, 1, 1), datetime.datetime(2024, 1, 2))
    dl.write_data()
    assert dl.dataset == [] and dl.events == []
    dl.log(M, fm(F, 2.0), tm(T, "b"))
    dl.write_data()
    assert [[e.tags["identifier"] for e in c] for c in rec.calls] == [["a"], ["b"]]
    assert [len(c) for c in rec.event_calls] == [1, 0]


def test_post_processors_see_their_entries_and_may_log_derived_points():
    average = Measurement("average", F)
    seen = {}

    @PostProcessing.register(M)
    def add_average(datalogger, **entries):
        seen.update(entries)
        values = [e.fields["duration"] for e in entries["time-taken"]]
        datalogger.log(average, fm(F, sum(values) / len(values)))

    rec = Recorder()
    dl = DataLogger(rec)
    dl.add_post_processing(add_average)
    dl.log(M, fm(F, 1.0), tm(T, "a"))
    dl.log(M, fm(F, 3.0), tm(T, "b"))
    dl.write_data()
    assert list(seen) == ["time-taken"] and len(seen["time-taken"]) == 2
    written = {e.measurement: e for e in rec.entries}
    assert written["average"].fields["duration"] == 2.0
    assert dl.postprocessing_functions == [add_average]


def test_add_post_processing_refuses_an_undecorated_function():
    dl = DataLogger()
    with pytest.raises(AssertionError, match="PostProcessing.register"):
        dl.add_post_processing(lambda datalogger: None)


def test_a_post_processor_exception_propagates_as_it_was_and_nothing_is_written():
    class Custom(Exception):
        pass

    @PostProcessing.register(M)
    def fails(datalogger, **entries):
        raise Custom("no baseline")

    rec = Recorder()
    dl = DataLogger(rec)
    dl.add_post_processing(fails)
    dl.log(M, fm(F, 1.0), tm(T, "a"))
    with pytest.raises(Custom, match="no baseline"):
        dl.write_data()
    assert rec.calls == [] and len(dl.dataset) == 1


def test_a_failing_writer_gets_its_data_again_and_the_others_no_duplicates():
    class Flaky(Recorder):
        fail = True

        def write_data(self, datalogger):
            if self.fail:
                self.fail = False
                raise ConnectionError("database down")
            super().write_data(datalogger)

    good, flaky = Recorder(), Flaky()
    dl = DataLogger(good, flaky)
    dl.log(M, fm(F, 1.0), tm(T, "first"))
    with pytest.raises(ConnectionError, match="database down"):
        dl.write_data()
    dl.log(M, fm(F, 2.0), tm(T, "second"))
    dl.write_data()
    names = lambda rec: [e.tags["identifier"] for e in rec.entries]  # noqa: E731
    assert names(good) == ["first", "second"]
    assert names(flaky) == ["first", "second"] and len(flaky.calls) == 1
    stats = dl.stats()
    assert stats["writers"][1]["failures"] == 1 and stats["writers"][1]["points_written"] == 2


# ---- additions ----


def test_the_logger_is_a_context_manager_that_writes_on_exit():
    rec = Recorder()
    with DataLogger(rec) as dl:
        dl.log(M, fm(F, 1.0), tm(T, "a"))
    assert len(rec.entries) == 1


def test_stats_count_what_happened():
    rec = Recorder()
    dl = DataLogger(rec)
    dl.log(M, fm(F, 1.0), tm(T, "a"))
    with pytest.raises(DataLoggerError):
        dl.log(M, fm(F, float("inf")), tm(T, "a"))
    stats = dl.stats()
    assert (stats["points_logged"], stats["log_errors"], stats["pending_points"]) == (1, 1, 1)
    assert "infinity" in stats["last_error"]
    dl.flush()
    stats = dl.stats()
    assert stats["pending_points"] == 0 and stats["writers"][0]["points_written"] == 1
    assert stats["writers"][0]["name"] == "Recorder"


def test_measure_is_also_a_decorator():
    dl = DataLogger()

    @dl.measure(M, F, tm(T, "decorated"))
    def add(a, b):
        return a + b

    assert add(2, 3) == 5 and add.__name__ == "add"
    assert [e.tags["identifier"] for e in dl.dataset] == ["decorated"]

    @dl.measure(measurement=M, field=F, tags_map=tm(T, "keywords"))
    def nothing():
        return None

    nothing()
    assert len(dl.dataset) == 2


def test_measure_block_works_with_async_with():
    dl = DataLogger()

    async def main():
        async with dl.measure_block(M, F, tm(T, "async")):
            await asyncio.sleep(0.01)

    asyncio.run(main())
    assert dl.last_data_entry.tags["identifier"] == "async"
    assert dl.last_data_entry.fields["duration"] >= 0.01


def test_tag_and_field_functions_get_their_arguments_and_run_only_when_needed():
    calls = []

    def host(prefix):
        calls.append(prefix)
        return prefix + "-1"

    h = Tag("host", "node", func=host)
    m = Measurement("funcs", F, h)
    dl = DataLogger()
    dl.log(m, fm(F, 1.0))
    dl.log(m, fm(F, 1.0), tm(h, "given"))
    assert [e.tags["host"] for e in dl.dataset] == ["node-1", "given"]
    assert calls == ["node"]


def test_eight_threads_logging_at_once_lose_and_duplicate_nothing():
    seq, thread = Field("seq"), Tag("thread")
    m = Measurement("parallel", seq, thread)
    rec = Recorder()
    dl = DataLogger(rec)
    per_thread = 2000

    def run(n):
        t = TagMap.build(thread, str(n))
        for i in range(per_thread):
            dl.log(m, FieldMap.build(seq, i), t)
            if i % 500 == 0:
                dl.write_data()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    dl.write_data()
    seen = sorted((e.tags["thread"], e.fields["seq"]) for e in rec.entries)
    assert seen == sorted((str(n), i) for n in range(8) for i in range(per_thread))


def test_tag_values_change_between_calls_that_reuse_a_map():
    dl = DataLogger()
    tags = tm(T, "first")
    seen = []
    for value in ["first", "second", "".join(["th", "ird"]), "".join(["th", "ird"]), 7, "first"]:
        tags[T] = value
        dl.log(M, fm(F, 1.0), tags)
        seen.append(dl.last_data_entry.tags["identifier"])
    assert seen == ["first", "second", "third", "third", "7", "first"]


def test_a_writer_s_own_exception_reaches_the_caller_even_if_another_writer_logs_meanwhile():
    class Failing(DatabaseWriter):
        def write_data(self, datalogger):
            raise LookupError("the first writer's own error")

    class Logging(DatabaseWriter):
        def write_data(self, datalogger):
            datalogger.log(M, fm(F, 9.0), tm(T, "logged by a writer"))

    dl = DataLogger(Failing(), Logging())
    dl.log(M, fm(F, 1.0), tm(T, "a"))
    with pytest.raises(LookupError, match="the first writer's own error"):
        dl.write_data()
