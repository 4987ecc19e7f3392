"""docs/sql.md's worked example: examples/todos.py runs, and the doc shows its real code."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "todos.py"


def test_db_example_todos_runs_and_persists(tmp_path: Path) -> None:
    def run() -> list[str]:
        out = subprocess.run(
            [sys.executable, str(EXAMPLE), str(tmp_path / "data")],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        return out.stdout.splitlines()

    assert run() == [
        "import failed: empty_todo",
        "alice: [{'id': 2, 'text': 'write docs', 'done': 0}] 1",
        "bob: [{'id': 1, 'text': 'fix bike', 'done': 0}]",
    ]
    second = run()  # same data directory: yesterday's todos are still there
    assert second[1] == (
        "alice: [{'id': 2, 'text': 'write docs', 'done': 0}, "
        "{'id': 4, 'text': 'write docs', 'done': 0}] 2"
    )
    assert len(list((tmp_path / "data" / "actors").glob("*.db"))) == 2


def test_db_docs_show_the_example_code() -> None:
    doc = (ROOT / "docs" / "sql.md").read_text()
    source = EXAMPLE.read_text()
    first_block = re.search(r"^```python\n(.*?)^```$", doc, re.S | re.M)
    assert first_block is not None
    assert first_block.group(1) == source
