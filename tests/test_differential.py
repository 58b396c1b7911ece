"""Differential tests: the original influxdb-datalogger 2.4.2 (installed by ``make test`` under
``.venv/original`` and loaded here under another name) and this package, driven through the same
generated schemas and call sequences, must agree on what ends up in ``dataset`` (measurement,
fields, tags — not timestamps) and on which calls raise.

The generator stays inside what both accept by design: names and values that line protocol can
carry (the original accepts anything, and this package refuses what no database could store),
no empty tag values (line protocol drops them), no field and tag sharing a name.
"""

from __future__ import annotations

import random
from types import ModuleType
from typing import Any, Callable, Dict, List, Optional, Tuple

import pytest

import influxdb_datalogger as ours

CASES = 300


FIELD_NAMES = ["duration", "count", "ratio", "ok", "label"]
TAG_NAMES = ["host", "case", "zone", "run", "build"]


def field_value(rng: random.Random) -> Any:
    kind = rng.randrange(5)
    if kind == 0:
        return rng.uniform(-1e6, 1e6)
    if kind == 1:
        return rng.randrange(-(2**40), 2**40)
    if kind == 2:
        return rng.random() < 0.5
    if kind == 3:
        return rng.choice(["fast", "slow", "a b", 'quote"d', "x,y=z"])
    return rng.choice([0.5, 1, 2.25])


def tag_value(rng: random.Random) -> Any:
    return rng.choice(["a", "b-1", "node 7", "x=y", "c,d", 42, 3.5, True])


class Spec:
    """A generated measurement, to be built with either package."""

    def __init__(self, rng: random.Random, index: int) -> None:
        self.name = f"m{index}"
        self.fields = rng.sample(FIELD_NAMES, rng.randint(1, 3))
        self.tags = rng.sample(TAG_NAMES, rng.randint(0, 3))
        self.optional = [t for t in self.tags if rng.random() < 0.3]
        self.field_default = {f: field_value(rng) for f in self.fields if rng.random() < 0.3}
        self.field_func = {f: field_value(rng) for f in self.fields if rng.random() < 0.2}
        self.tag_default = {t: tag_value(rng) for t in self.tags if rng.random() < 0.3}
        self.tag_func = {t: tag_value(rng) for t in self.tags if t not in self.tag_default and rng.random() < 0.3}

    def build(self, pkg: ModuleType) -> Tuple[Any, Dict[str, Any], Dict[str, Any]]:
        const: Callable[[Any], Callable[[], Any]] = lambda v: lambda: v  # noqa: E731
        fields = {
            f: pkg.Field(
                f, default=self.field_default.get(f), func=const(self.field_func[f]) if f in self.field_func else None
            )
            for f in self.fields
        }
        tags = {
            t: pkg.Tag(t, default=self.tag_default.get(t), func=const(self.tag_func[t]) if t in self.tag_func else None)
            for t in self.tags
        }
        required = [tags[t] for t in self.tags if t not in self.optional]
        optional = [tags[t] for t in self.optional]
        measurement = pkg.Measurement(self.name, *fields.values(), *required, optional_tags=optional or None)
        # Unknown names, to exercise the refusals.
        fields["bogus_field"] = pkg.Field("bogus_field")
        tags["bogus_tag"] = pkg.Tag("bogus_tag")
        return measurement, fields, tags


class Recorder:
    """Counts what writers saw, per package."""

    def __init__(self) -> None:
        self.written: List[Any] = []


def make_writer(pkg: ModuleType, recorder: Recorder) -> Any:
    class Writer(pkg.DatabaseWriter):  # type: ignore[misc, name-defined]
        def write_data(self, datalogger: Any) -> None:
            recorder.written.extend(project(datalogger.dataset))

    return Writer()


def project(dataset: List[Any]) -> List[Tuple[str, Dict[str, Any], Dict[str, Optional[str]]]]:
    """What both must agree on: measurement, fields, tags (tag values as text)."""
    return [
        (
            str(entry["measurement"]),
            {str(k): v for k, v in entry["fields"].items()},
            {str(k): (None if v is None else str(v)) for k, v in entry["tags"].items()},
        )
        for entry in dataset
    ]


def refuse_incomplete_like_ours(logger: Any, measurement: Any) -> None:
    """The documented fix, applied to the original: a point that lacks a field value or a required
    tag is refused at ``log()`` (the original stored it and then refused every ``write_data()``)."""
    entries = logger._dataset.get(measurement)
    if not entries:
        return
    entry = entries[-1]
    complete = all(entry.fields.get(f) is not None for f in measurement.fields) and all(
        entry.tags.get(t) is not None or t in measurement.optional_tags for t in measurement.tags
    )
    if not complete:
        entries.pop()
        if not entries:
            del logger._dataset[measurement]
        raise AssertionError("incomplete point refused at log()")


def call(action: Callable[[], Any]) -> Tuple[bool, Any]:
    try:
        return False, action()
    except Exception as error:
        return True, type(error).__name__


def run_case(original_pkg: ModuleType, case: int) -> Dict[str, int]:
    rng = random.Random(case)
    specs = [Spec(rng, i) for i in range(rng.randint(1, 2))]
    built = {pkg: [s.build(pkg) for s in specs] for pkg in (original_pkg, ours)}
    recorders = {pkg: Recorder() for pkg in (original_pkg, ours)}
    loggers = {pkg: pkg.DataLogger(make_writer(pkg, recorders[pkg])) for pkg in (original_pkg, ours)}
    steps = []
    timed: set = set()  # (measurement, field) pairs that measure() filled with a duration

    def strip(data: List[Any]) -> List[Any]:
        return [(m, {k: v for k, v in f.items() if (m, k) not in timed}, t) for m, f, t in data]

    for step in range(rng.randint(1, 8)):
        which = rng.randrange(len(specs))
        spec = specs[which]
        op = rng.random()
        chosen_fields = [
            f for f in [*spec.fields, "bogus_field"] if rng.random() < (0.03 if f == "bogus_field" else 0.9)
        ]
        chosen_tags = [t for t in [*spec.tags, "bogus_tag"] if rng.random() < (0.03 if t == "bogus_tag" else 0.9)]
        values = {f: (None if rng.random() < 0.05 else field_value(rng)) for f in chosen_fields}
        tag_values = {t: tag_value(rng) for t in chosen_tags}
        outcomes = {}
        for pkg in (original_pkg, ours):
            measurement, fields, tags = built[pkg][which]
            logger = loggers[pkg]
            fm = pkg.FieldMap({fields[f]: v for f, v in values.items()})
            tm = pkg.TagMap({tags[t]: v for t, v in tag_values.items()}) if chosen_tags or rng.random() < 0.5 else None
            if op < 0.55 and pkg is original_pkg:
                outcome = call(
                    lambda: (
                        logger.log(measurement, fm, tm),  # noqa: B023
                        refuse_incomplete_like_ours(logger, measurement),  # noqa: B023
                    )
                )
            elif op < 0.55:
                outcome = call(lambda: logger.log(measurement, fm, tm))  # noqa: B023
            elif op < 0.85:
                outcome = call(lambda: logger.write_data())  # noqa: B023
            else:
                timed.add((spec.name, spec.fields[0]))
                outcome = call(
                    lambda: (
                        logger.measure(lambda: 7, measurement, fields[spec.fields[0]], tags_map=tm),  # noqa: B023
                        pkg is original_pkg and refuse_incomplete_like_ours(logger, measurement),  # noqa: B023
                    )
                )
            outcomes[pkg] = (outcome[0], project(logger.dataset))
        steps.append((op, values, tag_values, outcomes[original_pkg][0], outcomes[ours][0]))
        original_raised, original_data = outcomes[original_pkg]
        our_raised, our_data = outcomes[ours]
        assert original_raised == our_raised, (
            f"case {case} step {step}: raised {original_raised} vs {our_raised}: {steps}"
        )
        assert strip(original_data) == strip(our_data), f"case {case} step {step}: {steps}"
    assert strip(recorders[original_pkg].written) == strip(recorders[ours].written), f"case {case}: writers differ"
    assert len(recorders[original_pkg].written) == len(recorders[ours].written), f"case {case}"
    return {
        "steps": len(steps),
        "raised": sum(1 for step in steps if step[3]),
        "written": len(recorders[ours].written),
    }


@pytest.mark.parametrize("case", range(CASES))
def test_both_packages_agree(original: ModuleType, case: int) -> None:
    run_case(original, case)


def test_the_generator_exercises_refusals_logs_and_writes(original: ModuleType) -> None:
    """The cases are only worth something if they include refused calls and written data."""
    totals = {"steps": 0, "raised": 0, "written": 0}
    for case in range(CASES):
        for key, value in run_case(original, case).items():
            totals[key] += value
    assert totals["raised"] >= totals["steps"] // 20, totals
    assert totals["written"] >= CASES // 2, totals
