"""This project's README must not rot: its Python example runs and writes what it says."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_the_python_example_in_our_readme_runs() -> None:
    (section,) = [s for s in README.read_text().split("\n## ") if s.startswith("Python\n")]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1
    namespace: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    assert namespace["add"](2, 3) == 5
    lines = Path("points.lp").read_text().splitlines()
    assert [line.split(" ")[0].split(",case=")[1].split(",")[0] for line in lines] == ["login", "logout"]
