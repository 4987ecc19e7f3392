"""Typed handles: mypy (with ``actorkit.mypy``) sees each action's signature and result.

``tests/typing/handles.py`` marks expectations at line ends: ``# R: <revealed type>`` and
``# E: <error message>``. This test runs mypy on it and compares, line by line.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent / "typing"
_MARK = re.compile(r"#\s*([RE]):\s*(.+)$")
_OUT = re.compile(r"^[^:]+:(\d+): (error|note): (.*?)(?:  \[[a-z-]+\])?$")


def test_typed_handles_expose_action_signatures() -> None:
    source = HERE / "handles.py"
    expected: dict[int, tuple[str, str]] = {}
    for number, line in enumerate(source.read_text().splitlines(), 1):
        match = _MARK.search(line)
        if match:
            expected[number] = (match.group(1), match.group(2).strip())
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(HERE / "mypy.ini"),
            "--no-incremental",
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=HERE,
    )
    got: dict[int, list[tuple[str, str]]] = {}
    for line in result.stdout.splitlines():
        match = _OUT.match(line)
        if match:
            kind = "R" if match.group(3).startswith("Revealed type is") else "E"
            text = match.group(3)
            if kind == "R":
                text = text.removeprefix("Revealed type is ").strip('"')
            got.setdefault(int(match.group(1)), []).append((kind, text))
    assert set(got) == set(expected), result.stdout
    for number, (kind, text) in expected.items():
        assert any(k == kind and t == text for k, t in got[number]), (
            f"line {number}: expected {kind} {text!r}, mypy said {got[number]!r}"
        )
