"""Runs the docs' browser blocks in headless Chromium, on a page of the page's server.

An ``html`` block is served as is (with the address pointed at the test server) at
``/__docs__/block.html`` of the server's origin, so ``import … from "/actorkit.js"`` loads
the module the server serves; a ``js``/``javascript`` block is put in a
``<script type="module">`` first. The only thing added is a line at the end of each module
script that records it ran to the end. The block passes when every module script finished
with no uncaught error or unhandled rejection on the page.
"""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Playwright, Route, sync_playwright

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
MODULE = re.compile(r'(<script type="module">)(.*?)(</script>)', re.DOTALL)
PATH = "/__docs__/block.html"
# Uncaught errors reach Playwright ("pageerror"); the page counts them too, so that a failing
# block ends the wait for it at once.
ERROR_TRAP = (
    "window.__docsErrors = 0;"
    "addEventListener('error', () => { window.__docsErrors += 1; });"
    "addEventListener('unhandledrejection', () => { window.__docsErrors += 1; });"
)


def page_html(block: Block, port: int) -> tuple[str, int]:
    """The block as a page, and how many module scripts it runs."""
    code = at_address(block.code, port)
    if block.lang != "html":
        code = f'<script type="module">\n{code}\n</script>'
    scripts = len(MODULE.findall(code))
    assert scripts, f'{block.name}: no <script type="module"> to run'
    done = "\nwindow.__docsDone = (window.__docsDone || 0) + 1;\n"
    return MODULE.sub(lambda m: m.group(1) + m.group(2) + done + m.group(3), code), scripts


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
        html, scripts = page_html(block, port)
        page = self.browser().new_page()
        errors: list[str] = []
        logs: list[str] = []
        page.add_init_script(ERROR_TRAP)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: logs.append(msg.text))

        def serve(route: Route) -> None:
            route.fulfill(status=200, content_type="text/html", body=html)

        try:
            page.route(base_url + PATH, serve)
            page.goto(base_url + PATH)
            page.wait_for_function(
                f"(window.__docsDone || 0) >= {scripts} || window.__docsErrors > 0",
                timeout=30_000,
            )
            finished = page.evaluate("window.__docsDone || 0")
        finally:
            page.close()
        assert not errors, f"{block.name} (line {block.line}) failed in the browser: {errors}"
        assert finished == scripts, f"{block.name}: {finished} of {scripts} scripts finished"
        return logs

    def close(self) -> None:
        if self._browser is not None:
            self._browser.close()
        if self._pw is not None:
            self._pw.stop()
