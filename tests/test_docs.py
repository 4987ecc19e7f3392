"""Every code block of README.md and docs/*.md runs as written (see ``docs_runner.py``).

Python blocks are complete programs; shell blocks run with bash and the venv's ``actorkit``
against a real server of the page's app; browser blocks run in headless Chromium against
it. A block that cannot run says why (```` ```bash no-run: REASON ````), and
``NOT_RUN`` pins how many there are per page.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from collections import Counter
from pathlib import Path

import pytest

from docs_runner import ROOT, Block, Server, all_blocks, at_address, needs_page_session, runnable
from docs_runner_browser import DocsBrowser
from docs_runner_shell import DocsServer, matches, run_shell, served_file, steps_of

BLOCKS = all_blocks()

# Blocks marked ``no-run:``, per page. Each needs what a test cannot have (a PostgreSQL
# server on another host, a cluster of machines, 20 minutes); change this only with a reason.
NOT_RUN = {
    "README.md": 1,
    "docs/benchmarks.md": 2,
    "docs/cli.md": 1,
    "docs/cluster.md": 3,
    "docs/migrating.md": 2,
    "docs/reliability.md": 4,
}


def test_docs_have_runnable_blocks_of_every_kind() -> None:
    kinds = Counter(block.kind for block in BLOCKS if runnable(block))
    assert kinds["python"] >= 30 and kinds["shell"] >= 6 and kinds["js"] >= 1, kinds
    pages = {block.page for block in BLOCKS if runnable(block)}
    assert {"README.md", "docs/actors.md", "docs/cli.md", "docs/browser.md"} <= pages


def test_blocks_not_run_are_few_and_say_why() -> None:
    not_run = [block for block in BLOCKS if block.no_run is not None]
    assert all(len(block.no_run or "") >= 10 for block in not_run)
    assert dict(Counter(block.page for block in not_run)) == NOT_RUN, [
        (block.name, block.no_run) for block in not_run
    ]


def test_runner_reads_commands_and_the_output_they_show() -> None:
    steps = steps_of(
        "# a comment\n"
        "curl -s http://127.0.0.1:6420/x \\\n"
        "     -d '{}'\n"
        '# → {"output":5}\n'
        "actorkit call counter c increment 5   # → 5\n"
        "actorkit actors\n"
    )
    assert [(s.command.split()[0], s.expected) for s in steps] == [
        ("curl", '{"output":5}'),
        ("actorkit", "5"),
        ("actorkit", None),
    ]
    assert matches('{"actor_id":"…","destroyed":true}', '{"actor_id":"9c1e","destroyed":true}\n')
    assert not matches('{"actor_id":"…","destroyed":true}', '{"actor_id":"9c1e"}')
    assert not matches("5", "15")


def test_runner_knows_which_lines_start_a_server(tmp_path: Path) -> None:
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    counter = (ROOT / "examples/counter/app.py").resolve()
    assert served_file("actorkit dev examples/counter/app.py:registry", tmp_path) == counter
    assert served_file("python examples/counter/app.py   # or…", tmp_path) == counter
    assert served_file("./scripts/demo", tmp_path) == counter
    assert served_file("./scripts/demo chat", tmp_path) == (ROOT / "examples/chat/app.py")
    assert served_file("actorkit call counter c increment", tmp_path) is None
    assert served_file("python3 -c 'print(1)'", tmp_path) is None


@pytest.mark.parametrize(
    "block",
    [b for b in BLOCKS if b.kind == "display" and b.lang in ("json", "toml")],
    ids=lambda b: b.name,
)
def test_doc_data_block_parses(block: Block) -> None:
    if block.lang == "json":
        json.loads(block.code)
    else:
        tomllib.loads(block.code)


def run_python(block: Block, cwd: Path, port: int | None = None) -> None:
    script = cwd / f"block{block.index}.py"
    script.write_text(at_address(block.code, port) if port else block.code)
    proc = subprocess.run(
        [sys.executable, "-W", "error", str(script)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, f"{block.name} (line {block.line}) failed:\n{proc.stderr}"


STANDALONE = [b for b in BLOCKS if runnable(b) and not needs_page_session(b)]


@pytest.mark.parametrize("block", STANDALONE, ids=lambda b: b.name)
def test_doc_example_runs(block: Block, tmp_path: Path) -> None:
    run_python(block, tmp_path)


SESSION_PAGES = sorted({b.page for b in BLOCKS if needs_page_session(b)})


@pytest.mark.parametrize("page", SESSION_PAGES)
def test_doc_page_runs(page: str, tmp_path: Path) -> None:
    """The page's server blocks in order, each directive's server shared by its blocks."""
    server: DocsServer | None = None
    spec: Server | None = None
    browser = DocsBrowser()
    try:
        for block in (b for b in BLOCKS if b.page == page and needs_page_session(b)):
            if block.server is not spec:
                if server is not None:
                    server.stop()
                    server = None
                spec = block.server
                if spec is not None:
                    server = DocsServer(spec, tmp_path / f"line{spec.line}")
            workdir = server.workdir if server is not None else tmp_path
            if block.kind == "python":
                run_python(block, workdir, server.port if server else None)
            elif block.kind == "shell":
                run_shell(block, server, workdir)
            else:
                assert server is not None, f"{block.name}: a browser block needs a server"
                browser.run(block, server.url, server.port)
            if server is not None:
                assert server.proc.poll() is None, (
                    f"the server died in {block.name}:\n{server.output()}"
                )
    finally:
        browser.close()
        if server is not None:
            server.stop()


EXAMPLES = sorted((ROOT / "examples").glob("*.py"))


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_script_runs(example: Path, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-W", "error", str(example)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, f"{example.name} failed:\n{proc.stderr}"
