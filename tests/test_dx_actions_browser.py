"""The browser client (``/actorkit.js`` in headless Chromium) against a real server:
keyword arguments over HTTP and the WebSocket, ``getForId(id)``, internal actions hidden
(issue 15 items 4, 6, 7)."""

from __future__ import annotations

from typing import Any

from playwright.async_api import async_playwright

from server_fixtures import ServerFactory
from test_ws_browser import CHROMIUM, CHROMIUM_ARGS

APP = "tests/apps/dx_actions_app.py:registry"

SCRIPT = """async () => {
    const { createClient, kwargs, ActorError } = await import("/actorkit.js");
    const client = createClient(location.origin);
    const notes = client.getOrCreate("notes", ["js"]);
    const codeOf = (promise) => promise.then(() => "ok", (e) => e instanceof ActorError && e.code);
    const out = {};
    out.http = await notes.add("milk", kwargs({ urgent: true }));
    out.httpByName = await notes.action("add", kwargs({ text: "tea", tag: "t" }));
    const fail = (e) => [e.code, e.metadata];
    out.unknown = await notes.add("x", kwargs({ colour: "red" })).catch(fail);
    const id = await notes.resolve();
    out.byId = await client.getForId(id).add(kwargs({ text: "by id" }));
    out.byNameAndId = await client.getForId("notes", id).count();
    out.hidden = await codeOf(notes.expire());
    out.selfCall = await notes.expire_self();
    const conn = notes.connect();
    await new Promise((resolve) => conn.onOpen(resolve));
    out.ws = await conn.add(kwargs({ text: "ws", tag: "live" }));
    out.wsByName = await conn.action("add", "w2", kwargs({ urgent: true }));
    out.wsHidden = await codeOf(conn.expire());
    conn.dispose();
    return out;
}"""


async def test_browser_client_keywords_get_for_id_and_internal(
    server_factory: ServerFactory,
) -> None:
    server = server_factory(APP)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(server.url + "/health")
            out: dict[str, Any] = await page.evaluate(SCRIPT)
        finally:
            await browser.close()
    assert errors == []
    assert out["http"] == {"text": "milk", "tag": "misc", "urgent": True}
    assert out["httpByName"] == {"text": "tea", "tag": "t", "urgent": False}
    assert out["unknown"] == ["validation_error", {"action": "add", "param": "colour"}]
    assert out["byId"]["text"] == "by id"
    assert out["byNameAndId"] == 3
    assert out["hidden"] == "action_not_found"
    assert out["selfCall"] == ["self"]
    assert out["ws"] == {"text": "ws", "tag": "live", "urgent": False}
    assert out["wsByName"] == {"text": "w2", "tag": "misc", "urgent": True}
    assert out["wsHidden"] == "action_not_found"
