"""The built-in writers, from Python: what they write, how they fail, and how they mix with
Python writers."""

from __future__ import annotations

import datetime
import json
import os
from pathlib import Path
from typing import Any, List

import pytest

from influxdb_datalogger import (
    DatabaseWriter,
    DataLogger,
    Field,
    FieldMap,
    JSONLinesFileWriter,
    LineProtocolFileWriter,
    Measurement,
    Tag,
    TagMap,
)
from influxdb_datalogger.exceptions import WriterError

F, N, T = Field("duration"), Field("note"), Tag("case")
M = Measurement("step time", F, N, T)
AT = datetime.datetime(2024, 1, 2, 3, 4, 5, 678901)
AT_NS = 1704164645678901000


def log_two(dl: DataLogger) -> None:
    dl.log(M, FieldMap.build(F, 0.5, N, 'say "hi"'), TagMap.build(T, "a b"), time=AT)
    dl.log(M, FieldMap.build(F, 2, N, "x"), TagMap.build(T, "c,d"), time=AT)


def test_line_protocol_writer_appends_escaped_lines_and_events(tmp_path: Path) -> None:
    path = tmp_path / "out" / "points.lp"
    dl = DataLogger(LineProtocolFileWriter(path))
    log_two(dl)
    dl.log_event(M, AT, AT + datetime.timedelta(seconds=2), TagMap.build(Tag("host"), "h1"))
    dl.write_data()
    log_two(dl)
    dl.write_data()
    lines = path.read_text().splitlines()
    first = f'step\\ time,case=a\\ b duration=0.5,note="say \\"hi\\"" {AT_NS}'
    second = f'step\\ time,case=c\\,d duration=2i,note="x" {AT_NS}'
    event = f'events,host=h1 text="step time",duration=2.0,time_end=1704164647678i {AT_NS}'
    assert lines == [first, second, event, first, second]


def test_json_lines_writer_writes_one_object_per_point_and_event(tmp_path: Path) -> None:
    path = tmp_path / "points.jsonl"
    dl = DataLogger(JSONLinesFileWriter(os.fspath(path)))
    log_two(dl)
    dl.log_event(M, AT, AT, None)
    dl.write_data()
    objects = [json.loads(line) for line in path.read_text().splitlines()]
    assert objects[0] == {
        "measurement": "step time",
        "tags": {"case": "a b"},
        "fields": {"duration": 0.5, "note": 'say "hi"'},
        "time": AT_NS,
    }
    assert objects[1]["fields"] == {"duration": 2, "note": "x"}
    assert objects[2] == {"event": "step time", "start": AT_NS, "stop": AT_NS, "tags": {}}


def test_a_built_in_writer_called_directly_writes_without_purging(tmp_path: Path) -> None:
    writer = LineProtocolFileWriter(tmp_path / "direct.lp")
    dl = DataLogger()
    log_two(dl)
    writer.write_data(dl)
    assert len((tmp_path / "direct.lp").read_text().splitlines()) == 2
    assert len(dl.dataset) == 2
    assert repr(writer).startswith("LineProtocolFileWriter(") and "direct.lp" in repr(writer)


def test_an_unwritable_path_raises_a_writer_error_and_the_data_is_kept(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    writer = LineProtocolFileWriter(blocker / "points.lp")
    dl = DataLogger(writer)
    log_two(dl)
    with pytest.raises(WriterError, match="file"):
        dl.write_data()
    assert dl.stats()["writers"][0]["backlog_points"] == 2
    blocker.unlink()
    blocker.mkdir()
    dl.write_data()
    assert len((blocker / "points.lp").read_text().splitlines()) == 2


def test_built_in_and_python_writers_mix_and_each_sees_every_point(tmp_path: Path) -> None:
    seen: List[Any] = []

    class Collect(DatabaseWriter):
        def write_data(self, datalogger: DataLogger) -> None:
            seen.extend((e.tags["case"], e.fields["duration"]) for e in datalogger.dataset)

    path = tmp_path / "mixed.lp"
    dl = DataLogger(LineProtocolFileWriter(path), Collect())
    log_two(dl)
    dl.write_data()
    assert seen == [("a b", 0.5), ("c,d", 2)]
    assert len(path.read_text().splitlines()) == 2


def test_many_points_arrive_whole(tmp_path: Path) -> None:
    path = tmp_path / "many.lp"
    dl = DataLogger(LineProtocolFileWriter(path))
    tags = [TagMap.build(T, f"case-{i % 7}") for i in range(7)]
    for i in range(20_000):
        dl.log(M, FieldMap.build(F, i * 0.5, N, str(i)), tags[i % 7])
    dl.write_data()
    lines = path.read_text().splitlines()
    assert len(lines) == 20_000
    assert lines[12345].startswith(f'step\\ time,case=case-{12345 % 7} duration={12345 * 0.5},note="12345" ')
