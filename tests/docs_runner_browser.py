"""Runs the docs' browser blocks in headless Chromium, on a page of the page's server.

Each ``<script type="module">`` of an ``html`` block (a ``js``/``javascript`` block is one
such script) is served, as written but for the address, as a module of the server's origin
(``/__docs__/N.js``, answered by the browser itself), so ``import … from "/actorkit.js"``
loads the module the server serves. The rest of the block is the content of a page of that
origin, where each script is replaced by one that imports its module and reports how it
ended. The block passes when every module ran to its end with no uncaught error on the page.
"""

from __future__ import annotations

import json
import re

from playwright.sync_api import Browser, Playwright, Route, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from docs_runner import Block, at_address

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
MODULE = re.compile(r'<script type="module">(.*?)</script>', re.DOTALL)
LOADER = (
    '<script type="module">import({url}).then('
    "() => window.__docsResults.push(null), "
    "(err) => window.__docsResults.push(String(err && err.stack || err)));</script>"
)


def split_block(block: Block, port: int) -> tuple[str, list[str]]:
    """The page with loaders in place of its module scripts, and the scripts' code."""
    code = at_address(block.code, port)
    if block.lang != "html":
        code = f'<script type="module">\n{code}\n</script>'
    modules: list[str] = []

    def loader(match: re.Match[str]) -> str:
        modules.append(match.group(1))
        return LOADER.format(url=json.dumps(f"/__docs__/{len(modules)}.js"))

    page = MODULE.sub(loader, code)
    assert modules, f'{block.name}: no <script type="module"> to run'
    return "<script>window.__docsResults = [];</script>\n" + page, modules


class DocsBrowser:
    """One headless Chromium for a page's blocks; started on first use."""

    def __init__(self) -> None:
        self._pw: Playwright | None = None
        self._browser: Browser | None = None

    def browser(self) -> Browser:
        if self._browser is None:
            self._pw = sync_playwright().start()
            self._browser = self._pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        return self._browser

    def run(self, block: Block, base_url: str, port: int) -> list[str]:
        """Run one block; returns what it logged to the console."""
        html, modules = split_block(block, port)
        page = self.browser().new_page()
        errors: list[str] = []
        logs: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: logs.append(msg.text))

        def serve(route: Route) -> None:
            number = int(route.request.url.rsplit("/", 1)[1].removesuffix(".js"))
            route.fulfill(status=200, content_type="text/javascript", body=modules[number - 1])

        try:
            page.route(base_url + "/__docs__/*.js", serve)
            # A page of the server's own origin — a response from a loopback address: Chromium
            # lets only such pages open sockets to one — with the block as its content.
            page.goto(base_url + "/health")
            page.set_content(html)
            try:
                page.wait_for_function(
                    f"window.__docsResults.length >= {len(modules)}", timeout=30_000
                )
            except PlaywrightTimeout:
                raise AssertionError(f"{block.name} did not finish; console: {logs}") from None
            results = page.evaluate("window.__docsResults")
        finally:
            page.close()
        failed = [r for r in results if r is not None]
        assert not failed and not errors, (
            f"{block.name} (line {block.line}) failed in the browser: {failed + errors}\n"
            f"console: {logs}"
        )
        return logs

    def close(self) -> None:
        if self._browser is not None:
            self._browser.close()
        if self._pw is not None:
            self._pw.stop()
