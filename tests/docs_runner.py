"""Finds the code blocks of ``README.md`` and ``docs/*.md`` and says how each one runs.

Every fenced block is one of four kinds, by its info string's language:

- ``python``: a complete program, run with ``python -W error``;
- ``shell`` (``bash``, ``sh``, ``shell``): run with bash, line by line (see
  ``docs_runner_shell.py``);
- ``js`` (``html``, ``js``, ``javascript``): run in headless Chromium on a page served from
  the page's server (see ``docs_runner_browser.py``);
- ``display`` (``text``, ``json``, ``toml``, ``ini``, ``yaml``, ``sql``, none): output
  samples, data formats and diagrams, which are not programs. ``json`` and ``toml`` blocks
  must parse.

A block that cannot run says why in its info string: ```` ```bash no-run: needs a
PostgreSQL server ````. ``test_docs.py`` pins the list of such blocks, so it cannot grow
unnoticed.

A page whose shell or browser blocks need a server declares it in an HTML comment (not
rendered), which applies to the blocks after it until the next one::

    <!-- docs-test: server=actorkit dev examples/counter/app.py:registry -->
    <!-- docs-test: app.py=examples/counter/app.py; server=actorkit serve app:registry -->

``server=`` is the command that starts the app; the runner adds ``--port`` (a free one) and
``--storage`` (a fresh directory), and runs it in a fresh working directory that holds a
link to the repository's ``examples/`` (and, for ``NAME.py=PATH``, a link ``NAME.py`` to
that file). Each directive starts a fresh server. In the blocks it governs, the one change
made to the text is the address: ``127.0.0.1:6420`` becomes the server's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

KINDS = {
    "python": "python",
    "bash": "shell",
    "sh": "shell",
    "shell": "shell",
    "html": "js",
    "js": "js",
    "javascript": "js",
    "text": "display",
    "json": "display",
    "toml": "display",
    "ini": "display",
    "yaml": "display",
    "sql": "display",
    "": "display",
}

FENCE = re.compile(r"^```([^`\n]*)\n(.*?)^```[ \t]*$", re.DOTALL | re.MULTILINE)
DIRECTIVE = re.compile(r"^<!-- docs-test: (.*?) -->[ \t]*$", re.MULTILINE)
NO_RUN = re.compile(r"^no-run:\s*(\S.*)$")
DOCS_ADDRESS = "127.0.0.1:6420"


@dataclass(frozen=True)
class Server:
    """A ``docs-test`` directive: how to start the app that the blocks after it talk to."""

    command: str
    links: dict[str, str] = field(default_factory=dict)  # name in the workdir → repo path
    line: int = 0

    @classmethod
    def parse(cls, text: str, line: int) -> Server:
        command = ""
        links: dict[str, str] = {}
        for part in text.split(";"):
            key, sep, value = part.strip().partition("=")
            if not sep:
                raise ValueError(f"line {line}: docs-test directive part {part!r} is not KEY=VALUE")
            if key == "server":
                command = value.strip()
            elif key.endswith(".py") and "/" not in key:
                links[key] = value.strip()
            else:
                raise ValueError(f"line {line}: unknown docs-test key {key!r}")
        if not command:
            raise ValueError(f"line {line}: docs-test directive without server=")
        return cls(command, links, line)


@dataclass(frozen=True)
class Block:
    page: str  # "README.md" or "docs/cli.md"
    index: int  # 1-based, counting every fenced block of the page
    line: int  # line of the opening fence
    lang: str
    kind: str
    code: str
    no_run: str | None  # the stated reason, for a block marked ``no-run:``
    server: Server | None  # the directive in force, if any

    @property
    def name(self) -> str:
        return f"{self.page}#{self.index}"


def page_name(path: Path) -> str:
    return str(path.relative_to(ROOT))


def parse_page(path: Path) -> list[Block]:
    text = path.read_text()
    directives = [
        (m.start(), Server.parse(m.group(1), text.count("\n", 0, m.start()) + 1))
        for m in DIRECTIVE.finditer(text)
    ]
    blocks: list[Block] = []
    for match in FENCE.finditer(text):
        info = match.group(1).strip()
        lang, _, rest = info.partition(" ")
        line = text.count("\n", 0, match.start()) + 1
        if lang not in KINDS:
            raise ValueError(f"{page_name(path)}:{line}: unknown code block language {lang!r}")
        no_run = None
        if rest.strip():
            found = NO_RUN.match(rest.strip())
            if found is None:
                raise ValueError(f"{page_name(path)}:{line}: unknown info string {info!r}")
            no_run = found.group(1)
        server = None
        for start, directive in directives:
            if start < match.start():
                server = directive
        blocks.append(
            Block(
                page_name(path),
                len(blocks) + 1,
                line,
                lang,
                KINDS[lang],
                match.group(2),
                no_run,
                server,
            )
        )
    return blocks


def all_blocks() -> list[Block]:
    return [block for page in PAGES for block in parse_page(page)]


def runnable(block: Block) -> bool:
    return block.kind != "display" and block.no_run is None


def needs_page_session(block: Block) -> bool:
    """Blocks that run against a server, in page order (the rest run on their own)."""
    return runnable(block) and (block.server is not None or block.kind != "python")


def at_address(code: str, port: int) -> str:
    """The block's text pointed at the test server instead of the documented 6420."""
    return code.replace(DOCS_ADDRESS, f"127.0.0.1:{port}")
