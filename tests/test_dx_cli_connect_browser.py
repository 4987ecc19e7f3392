"""The browser client in real headless Chromium: calls and subscriptions made while a
connection is connecting wait for it; a refusal fails them with the refusal."""

from __future__ import annotations

from playwright.async_api import async_playwright

from server_fixtures import ServerProcess
from test_dx_cli_connect import lobby_server  # noqa: F401 — the fixture
from test_ws_browser import CHROMIUM, CHROMIUM_ARGS

SCRIPT = """
async () => {
  const { createClient } = await import("/actorkit.js");
  const client = createClient(location.origin);
  const gate = client.getOrCreate("gate");
  const conn = client.getOrCreate("lobby", "web").connect({ user: "ann", gate: "w1" });
  const early = [];
  const late = [];
  conn.on("early", (t) => early.push(t));
  const status0 = conn.status;
  const first = conn.say("hello");
  first.catch(() => {});
  await gate.entered("w1");  // the connect is held in on_before_connect: init has arrived
  const status1 = conn.status;
  conn.on("late", (t) => late.push(t));
  const second = conn.say("again");
  second.catch(() => {});
  await gate.release("w1");
  const out = [];
  for (const p of [first, second]) {
    try { out.push(await p); } catch (e) { out.push(`${e.code}: ${e.message}`); }
  }
  const until = Date.now() + 30000;  // events follow their replies; bounded, never timed
  while (early.length < 2 && out[1] === "ann: again" && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 20));
  }
  const status2 = conn.status;
  const bad = client.getOrCreate("lobby", "web").connect({ user: "mallory" });
  const refused = await Promise.allSettled([bad.say("x"), bad.say("y")]);
  conn.dispose();
  return {
    status0, status1, status2, out, early, late,
    refused: refused.map((r) => (r.status === "rejected" ? r.reason.code : r.value)),
    badStatus: bad.status,
  };
}
"""


async def test_browser_calls_while_connecting_wait_for_the_connection(
    lobby_server: ServerProcess,  # noqa: F811
) -> None:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(lobby_server.url + "/health")
            result = await page.evaluate(SCRIPT)
            assert errors == []
        finally:
            await browser.close()
    assert result["status0"] == "connecting" and result["status1"] == "connecting"
    assert result["out"] == ["ann: hello", "ann: again"]
    assert result["status2"] == "connected"
    assert result["early"] == ["hello", "again"]
    assert result["late"] == ["hello", "again"]  # subscribed after the init was sent
    assert result["refused"] == ["forbidden", "forbidden"]
    assert result["badStatus"] == "closed"
