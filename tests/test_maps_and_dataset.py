"""The maps users build in every call and the dataset their writers read, now made in Rust,
against the original 2.4.2 package: the same types, keys, values, errors, time format and
mutation semantics."""

from __future__ import annotations

import copy
import datetime
import pickle
from types import ModuleType
from typing import Any, List

import pytest

import influxdb_datalogger as ours


@pytest.mark.parametrize("pkg_name", ["original", "ours"])
def test_built_maps_are_the_same_dict_subclasses_with_the_same_behaviour(original: ModuleType, pkg_name: str) -> None:
    pkg = original if pkg_name == "original" else ours
    d, c, h = pkg.Field("duration"), pkg.Field("count"), pkg.Tag("host")
    fields = pkg.FieldMap.build(d, 0.5, c, 3)
    assert type(fields) is pkg.FieldMap and isinstance(fields, dict)
    assert fields == {"duration": 0.5, "count": 3} and list(fields) == [d, c]
    assert all(type(k) is pkg.Field for k in fields)
    tags = pkg.TagMap.build(h, "ci-7")
    assert type(tags) is pkg.TagMap and tags == {"host": "ci-7"}
    assert pkg.FieldMap.build() == {} and type(pkg.FieldMap.build()) is pkg.FieldMap
    # A later pair with the same key wins, as a dict's assignment does.
    assert pkg.FieldMap.build(d, 1, d, 2) == {"duration": 2}
    # Maps are ordinary dicts afterwards: mutation, add, copy, pickling.
    fields[c] = 4
    fields.add(pkg.Field("extra"), 1)
    with pytest.raises(AssertionError):
        fields.add(d, 9)
    duplicate = fields.copy()
    assert type(duplicate) is pkg.FieldMap and duplicate == fields and duplicate is not fields
    assert copy.deepcopy(tags) == tags
    if pkg is ours:  # the original's classes live under a name pickle cannot import here
        restored = pickle.loads(pickle.dumps(fields))
        assert type(restored) is ours.FieldMap and restored == fields


@pytest.mark.parametrize(
    "items",
    [
        ("duration",),  # an odd count
        ("duration", 1),  # a plain str where a Field is wanted
        (1.5, "x"),
        ("FIELD", "FIELD"),  # a value that is a Field
    ],
)
def test_build_refuses_what_the_original_refuses(original: ModuleType, items: Any) -> None:
    for pkg in (original, ours):
        field = pkg.Field("duration")
        args = tuple(field if item == "FIELD" else item for item in items)
        with pytest.raises(AssertionError):
            pkg.FieldMap.build(*args)
    with pytest.raises(ours.ValidationError, match="FieldMap.build"):
        ours.FieldMap.build(*tuple(ours.Field("d") if i == "FIELD" else i for i in items))


@pytest.mark.parametrize("pkg_name", ["original", "ours"])
def test_build_takes_any_number_of_pairs_by_position_only(original: ModuleType, pkg_name: str) -> None:
    pkg = original if pkg_name == "original" else ours
    fields = [pkg.Field(f"f{i}") for i in range(20)]
    items = [item for i, field in enumerate(fields) for item in (field, i)]
    built = pkg.FieldMap.build(*items)
    assert built == {f"f{i}": i for i in range(20)} and list(built) == fields
    assert type(built.build(fields[0], 1)) is pkg.FieldMap  # through an instance too
    with pytest.raises(TypeError):
        pkg.FieldMap.build(fields[0], 1, extra=2)
    with pytest.raises(TypeError):
        pkg.TagMap.build(items=())


def test_a_subclass_of_the_users_is_built_through_its_own_init() -> None:
    class Counted(ours.FieldMap):
        made = 0

        def __init__(self, kwargs: Any = None) -> None:
            super().__init__(kwargs)
            Counted.made += 1

    built = Counted.build(ours.Field("d"), 1)
    assert type(built) is Counted and built == {"d": 1} and Counted.made == 1
    assert ours.DataLoggerMap.build("plain", 2) == {"plain": 2}


def entries_of(pkg: ModuleType, writer_seen: List[Any]) -> Any:
    """Logs three points of two measurements (one with an optional tag left out) and returns
    the logger, with a writer that keeps what ``dataset`` showed it."""

    class Keep(pkg.DatabaseWriter):  # type: ignore[misc, name-defined]
        def write_data(self, datalogger: Any) -> None:
            writer_seen.extend(datalogger.dataset)

    d, n, host, zone = pkg.Field("duration"), pkg.Field("n"), pkg.Tag("host"), pkg.Tag("zone")
    first = pkg.Measurement("first", d, n, host, optional_tags=[zone])
    second = pkg.Measurement("second", d, host)
    logger = pkg.DataLogger(Keep())
    logger.log(first, pkg.FieldMap.build(d, 0.25, n, 3), pkg.TagMap.build(host, "h1", zone, "z"))
    logger.log(second, pkg.FieldMap.build(d, 1.5), pkg.TagMap.build(host, "h2"))
    logger.log(first, pkg.FieldMap.build(d, 0.5, n, -1), pkg.TagMap.build(host, "h1"))
    return logger, (first, second)


def test_the_dataset_has_the_originals_shape(original: ModuleType) -> None:
    seen: dict[str, List[Any]] = {"original": [], "ours": []}
    for name, pkg in (("original", original), ("ours", ours)):
        before = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        logger, (first, second) = entries_of(pkg, seen[name])
        after = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        dataset = logger.dataset
        assert [e.measurement for e in dataset] == [first, first, second], name
        for entry in dataset:
            assert type(entry) is pkg.DataEntry and type(entry.fields) is pkg.FieldMap
            assert type(entry.tags) is pkg.TagMap and type(entry.time) is str
            assert set(entry) == {"measurement", "fields", "tags", "time"}
            assert entry["fields"] is entry.fields and entry["tags"] is entry.tags
            assert entry["measurement"] is entry.measurement and entry["time"] == entry.time
            assert all(isinstance(k, pkg.Field) for k in entry.fields)
            assert all(isinstance(k, pkg.Tag) for k in entry.tags)
            logged = datetime.datetime.fromisoformat(entry.time)
            assert before - datetime.timedelta(seconds=1) <= logged <= after, (name, entry.time)
        assert [dict(e.fields) for e in dataset] == [
            {"duration": 0.25, "n": 3},
            {"duration": 0.5, "n": -1},
            {"duration": 1.5},
        ]
        assert [dict(e.tags) for e in dataset][1:] == [{"host": "h1"}, {"host": "h2"}]
        assert dataset[0].tags["host"] == "h1" and dataset[0].tags["zone"] == "z"
        # The entries a writer reads are the ones dataset shows.
        logger.write_data()
        assert [dict(e.fields) for e in seen[name]] == [dict(e.fields) for e in dataset]


def test_entries_are_dicts_whose_attributes_and_keys_stay_one_as_the_originals() -> None:
    logger, _ = entries_of(ours, [])
    entry = logger.dataset[0]
    entry.time = "changed"
    assert entry["time"] == "changed"
    entry.fields[ours.Field("duration")] = 9.0
    assert entry["fields"]["duration"] == 9.0


def test_times_read_as_the_originals_str_of_a_naive_utc_datetime() -> None:
    d = ours.Field("d")
    m = ours.Measurement("t", d)
    logger = ours.DataLogger()
    moments = [
        datetime.datetime(2023, 11, 14, 22, 13, 20, 123456),
        datetime.datetime(2023, 11, 14, 22, 13, 21),
        datetime.datetime(1969, 12, 31, 23, 59, 59, 999999),
    ]
    for moment in moments:
        logger.log(m, ours.FieldMap.build(d, 1), time=moment)
    assert [e.time for e in logger.dataset] == [str(moment) for moment in moments]


def test_entries_carry_each_points_own_tag_values_escaped_or_not() -> None:
    d, host, case = ours.Field("d"), ours.Tag("host"), ours.Tag("case")
    m = ours.Measurement("t", d, host, case)
    logger = ours.DataLogger()
    values = ["a", "a", "b b,c=d\\x", "b b,c=d\\x", "a", "é ✓", "a"]
    for i, value in enumerate(values):
        logger.log(m, ours.FieldMap.build(d, i), ours.TagMap.build(host, value, case, f"case {i % 2}"))
    entries = logger.dataset
    assert [e.tags[host] for e in entries] == values
    assert [e.tags[case] for e in entries] == [f"case {i % 2}" for i in range(len(values))]
    assert [e.fields[d] for e in entries] == list(range(len(values)))
    assert all(type(e.fields) is ours.FieldMap and type(e.tags) is ours.TagMap for e in entries)
    assert entries[0].__dict__ == dict(entries[0]) and "__dict__" not in entries[0]


@pytest.mark.parametrize("pkg_name", ["original", "ours"])
def test_the_last_data_entry_is_the_datasets_last_as_in_the_original(original: ModuleType, pkg_name: str) -> None:
    pkg = original if pkg_name == "original" else ours
    d, host = pkg.Field("d"), pkg.Tag("host")
    first, second = pkg.Measurement("first", d, host), pkg.Measurement("second", d, host)
    logger = pkg.DataLogger()
    with pytest.raises(IndexError):
        logger.last_data_entry  # noqa: B018
    # Grouped by measurement: the last entry is the last one of the measurement seen last first.
    for measurement, value in [(first, 1), (second, 2), (first, 3)]:
        logger.log(measurement, pkg.FieldMap.build(d, value), pkg.TagMap.build(host, f"h{value}"))
        last = logger.last_data_entry
        assert dict(last) == dict(logger.dataset[-1]) and last.__dict__ == logger.dataset[-1].__dict__
    assert (str(last.measurement), last.fields, last.tags) == ("second", {"d": 2}, {"host": "h2"})
