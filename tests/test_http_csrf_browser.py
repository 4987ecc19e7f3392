"""CSRF in a real browser (headless Chromium): a page on another site cannot run an action
with the requests it may send without a CORS preflight; our own browser client still works.

The attacker's page is served on ``http://localhost:<port>``; the actorkit server is reached
as ``http://127.0.0.1:<port>`` — another host name, so another site to the browser.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from playwright.async_api import async_playwright

from server_fixtures import ServerFactory, ServerProcess
from test_ws_browser import CHROMIUM, CHROMIUM_ARGS

ATTACK_PAGE = b"""<!doctype html>
<form id="attack" method="POST"></form>
<p>an innocent page</p>
"""


class _AttackerPage(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/html")
        self.send_header("content-length", str(len(ATTACK_PAGE)))
        self.end_headers()
        self.wfile.write(ATTACK_PAGE)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def attacker_site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _AttackerPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


async def _count(server: ServerProcess, actor_id: str) -> int:
    async with httpx.AsyncClient() as http:
        reply = await http.post(f"{server.url}/actors/{actor_id}/actions/get", json={})
    return int(reply.json()["output"])


async def test_cross_site_form_post_and_no_cors_fetch_run_no_action(
    server_factory: ServerFactory, attacker_site: str
) -> None:
    server = server_factory()
    async with httpx.AsyncClient() as http:
        reply = await http.put(f"{server.url}/actors", json={"name": "counter", "key": ["csrf"]})
    actor_id = reply.json()["actor_id"]
    target = f"{server.url}/actors/{actor_id}/actions/increment"
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            await page.goto(attacker_site)
            # A fetch the browser sends without asking (opaque reply): no body, no type.
            status = await page.evaluate(
                "async (url) => (await fetch(url, {method: 'POST', mode: 'no-cors'})).type",
                target,
            )
            assert status == "opaque"
            # A form post: application/x-www-form-urlencoded, empty body.
            async with page.expect_navigation():
                await page.evaluate(
                    "(url) => { const f = document.getElementById('attack');"
                    " f.action = url; f.submit(); }",
                    target,
                )
            shown = await page.content()
            assert "unsupported_media_type" in shown
        finally:
            await browser.close()
    assert await _count(server, actor_id) == 0


async def test_browser_client_calls_actions_over_http(server_factory: ServerFactory) -> None:
    """``/actorkit.js`` stateless calls (create, get-or-create, actions) pass the check."""
    server = server_factory()
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            await page.goto(server.url + "/health")
            outputs = await page.evaluate(
                """async () => {
                    const { createClient } = await import("/actorkit.js");
                    const client = createClient(location.origin);
                    const made = await client.create("counter", ["js-new"]);
                    const handle = client.getOrCreate("counter", ["js"]);
                    return [await handle.increment(2), await handle.increment(3),
                            await made.increment()];
                }"""
            )
        finally:
            await browser.close()
    assert outputs == [2, 5, 1]
