"""The three examples of the original package's README, copied verbatim. Only the module-level
names they rely on are defined here, and the two ``self.`` helpers of ``test_events`` are
functions (as the task allows). The tests run in a fresh working directory each."""

import json
import logging
import os
import socket

import influxdb_datalogger
import pytest

# The README's writers open files without closing them; that is theirs to keep, verbatim.
pytestmark = [
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

logger = logging.getLogger(__name__)
DATA_FILE = "data.json"
EVENT_FILE = "events.json"


def assert_event_file_doesnt_exist():
    assert not os.path.exists(EVENT_FILE), f"{EVENT_FILE} exists"


def load_events_from_event_file():
    with open(EVENT_FILE) as f:
        return json.load(f)


# ---- verbatim from the README ("DatabaseWriter" and "measure" sections) ----
class DbWriter(influxdb_datalogger.DatabaseWriter):
    def write_data(self, datalogger: influxdb_datalogger.DataLogger):
        dataset = datalogger.dataset
        if os.path.exists(DATA_FILE):
            # If the file exists we are probably writing more than once in a test.
            # Since DbWriter just writes to a JSON file we need to essentially append to the existing data, which is what this does.

            loaded_dataset = json.load(open(DATA_FILE))
            dataset = [*loaded_dataset, *dataset]
        json.dump(dataset, open(DATA_FILE, "w"), indent=2)


def test_measure():
    f = influxdb_datalogger.Field("duration")
    t = influxdb_datalogger.Tag("identifier")
    m = influxdb_datalogger.Measurement("time-taken", f, t)
    tm = influxdb_datalogger.TagMap.build(t, "test")
    datalogger = influxdb_datalogger.DataLogger(DbWriter())

    def runner(arg1):
        logger.info(f"Taking measurement {m}: {arg1}")

    datalogger.measure(func=runner,
                       measurement=m,
                       field=f,
                       tag_map=tm,
                       logger=logger,
                       log_start=f"Starting {runner.__name__}",
                       log_end=f"Finished {runner.__name__}",
                       args=("test",))

    assert m in datalogger._dataset, f"Measurement {m} not in the dataset"


# ---- verbatim from the README ("measure_block" section) ----
def test_measure_block():
    f = influxdb_datalogger.Field("duration")
    t = influxdb_datalogger.Tag("identifier")
    m = influxdb_datalogger.Measurement("time-taken", f, t)
    tm = influxdb_datalogger.TagMap.build(t, "test")
    datalogger = influxdb_datalogger.DataLogger()
    with datalogger.measure_block(m, f, tm):
        logger.info(f"Taking measurement {m}")

    assert m in datalogger._dataset, f"Measurement {m} not in the dataset"
    logger.info(datalogger._dataset)


# ---- verbatim from the README ("Events" section); self.helpers turned into functions ----
class GrafanaEventWriter(influxdb_datalogger.DatabaseWriter):
    def write_data(self, datalogger: influxdb_datalogger.DataLogger):
        events = datalogger.events
        events_to_write = list()
        logger.info(events)
        for event in events:
            event: influxdb_datalogger.datalogger.Event
            marker_data = dict(time=int(event.start * 1000), timeEnd=int(event.stop * 1000), tags=event.tag_map, text=event.measurement)
            events_to_write.append(marker_data)

        if os.path.exists(EVENT_FILE):
            # If the file exists we are probably writing more than once in a test.
            # Since DbWriter just writes to a JSON file we need to essentially append to the existing data, which is what this does.

            loaded_events = json.load(open(EVENT_FILE))
            events_to_write = [*loaded_events, *events_to_write]
        json.dump(events_to_write, open(EVENT_FILE, "w"), indent=2)

def test_events():
    f = influxdb_datalogger.Field("duration")
    t = influxdb_datalogger.Tag("identifier")
    h = influxdb_datalogger.Tag("hostname")

    m = influxdb_datalogger.Measurement("time-taken", f, t)
    etm = influxdb_datalogger.TagMap.build(h, socket.gethostname())

    datalogger = influxdb_datalogger.DataLogger(DbWriter(), GrafanaEventWriter())

    with datalogger.measure_block(m, f, influxdb_datalogger.TagMap.build(t, "first"), event_tags=etm):
        logger.info(f"Taking first measurement and logging events {m}")

    with datalogger.measure_block(m, f, influxdb_datalogger.TagMap.build(t, "second"), event_tags=etm):
        logger.info(f"Taking second measurement and logging events {m}")

    with datalogger.measure_block(m, f, influxdb_datalogger.TagMap.build(t, "third")):
        logger.info(f"Taking third measurement and NOT logging events {m}")

    assert_event_file_doesnt_exist()

    datalogger.write_data()

    loaded_events = load_events_from_event_file()
    logger.info(loaded_events)
    assert len(loaded_events) == 2


# ---- checks of what the examples produced, beyond the README's own asserts ----
def test_the_examples_write_what_they_measured():
    test_events()
    with open(DATA_FILE) as f:
        written = json.load(f)
    assert [e["tags"]["identifier"] for e in written] == ["first", "second", "third"]
    assert all(isinstance(e["fields"]["duration"], float) and e["fields"]["duration"] >= 0 for e in written)
    events = load_events_from_event_file()
    assert events[0]["text"] == "time-taken"
    assert events[0]["tags"] == {"hostname": socket.gethostname()}
    assert events[0]["timeEnd"] >= events[0]["time"]
