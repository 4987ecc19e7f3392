"""The README's curl examples work as written, against a real server (the demo app).

Each command in the ```bash block under "## curl" runs in one bash session; where a
``# → expected`` line follows a command, its output must be exactly that. The only change
made to the text is the port (the test server runs on a free one, not 6420).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from server_fixtures import ROOT, ServerFactory

README = ROOT / "README.md"
MARK = "@@actorkit-end@@"


def curl_steps() -> list[tuple[str, str | None]]:
    text = README.read_text()
    section = text.split("\n## curl\n", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert block is not None
    steps: list[tuple[str, str | None]] = []
    command: list[str] = []
    for line in block.group(1).splitlines():
        if line.startswith("# →"):
            steps[-1] = (steps[-1][0], line.removeprefix("# →").strip())
        elif not line.strip() or line.startswith("#"):
            continue
        else:
            command.append(line)
            if not line.endswith("\\"):
                steps.append(("\n".join(command), None))
                command = []
    return steps


def test_readme_has_curl_examples() -> None:
    steps = curl_steps()
    assert sum(expected is not None for _, expected in steps) >= 4
    assert all("curl" in cmd or "python3" in cmd for cmd, _ in steps)


def test_readme_curl_examples_work_as_written(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    if shutil.which("curl") is None:
        pytest.fail("curl is not installed (scripts/install installs it)")
    server = server_factory("examples/counter/app.py:registry")
    steps = curl_steps()
    script = "set -euo pipefail\n" + "".join(
        f"{cmd.replace('127.0.0.1:6420', f'127.0.0.1:{server.port}')}\necho; echo {MARK}\n"
        for cmd, _ in steps
    )
    result = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    outputs = result.stdout.split(MARK + "\n")
    assert len(outputs) == len(steps) + 1
    for (cmd, expected), output in zip(steps, outputs, strict=False):
        if expected is not None:
            assert output.strip() == expected, cmd
    assert server.alive
