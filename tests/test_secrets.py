"""A password given in a URL never reaches an output channel: reprs, errors, stats, the at-exit
message, the pytest summary, spool files and their names, the command line's spool listing."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SECRET = "S3cr3tPW"
URL = f"http://alice:{SECRET}@127.0.0.1:1"
CLI = Path(__file__).resolve().parent.parent / "target" / "debug" / "influxdb-datalogger"

pytest_plugins = ["pytester"]

SCRIPT = f"""
from influxdb_datalogger import DataLogger, Field, FieldMap, InfluxDBWriter, Measurement, TagMap
from influxdb_datalogger.exceptions import WriterError

F = Field("f")
M = Measurement("m", F)
for url, kw in [({URL!r}, dict(database="db")), ({URL + "?db=db"!r}, dict())]:
    writer = InfluxDBWriter(url, timeout=0.2, flush_timeout=0.3, **kw)
    print(repr(writer), str(writer))
dl = DataLogger(writer, spool_dir="spool")
dl.log(M, FieldMap.build(F, 1.0))
try:
    dl.flush(0.3)
except WriterError as error:
    print("error:", error, repr(error))
print("stats:", dl.stats())
print("logger:", repr(dl))
dl.log(M, FieldMap.build(F, 2.0))
dl.write_data()
# Left for the exit hook, which says on stderr what it could not deliver.
"""


def files_and_names(root: Path) -> str:
    found = []
    for path in root.rglob("*"):
        found.append(str(path))
        if path.is_file():
            found.append(path.read_bytes().decode("utf-8", "replace"))
    return "\n".join(found)


def test_a_password_in_the_url_appears_nowhere(tmp_path: Path) -> None:
    (tmp_path / "script.py").write_text(textwrap.dedent(SCRIPT))
    work = tmp_path / "work"  # what the program leaves, apart from the script that names the secret
    work.mkdir()
    run = subprocess.run([sys.executable, "../script.py"], capture_output=True, text=True, timeout=60, cwd=work)
    assert run.returncode == 0, run.stderr
    assert "error: " in run.stdout and "stats: " in run.stdout, run.stdout
    assert "influxdb-datalogger: at exit" in run.stderr, "the exit hook reported what it could not deliver"
    assert "127.0.0.1:1" in run.stdout and "alice" not in run.stdout.replace("username", "")
    assert SECRET not in run.stdout and SECRET not in run.stderr
    assert (work / "spool").is_dir()
    assert SECRET not in files_and_names(work)
    if not CLI.exists():
        pytest.fail(f"{CLI} is not built: run cargo build first (make test does)")
    listing = subprocess.run([str(CLI), "spool", "spool"], capture_output=True, text=True, cwd=work, timeout=60)
    assert "127.0.0.1:1" in listing.stdout, listing.stdout + listing.stderr
    assert SECRET not in listing.stdout + listing.stderr


def test_the_pytest_summary_shows_no_password(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_one="def test_one():\n    pass\n")
    result = pytester.runpytest_subprocess(f"--datalogger-url={URL}?db=tests", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    output = result.stdout.str() + result.stderr.str()
    assert "datalogger: run" in output and "127.0.0.1:1" in output
    assert SECRET not in output
    assert SECRET not in files_and_names(pytester.path)
