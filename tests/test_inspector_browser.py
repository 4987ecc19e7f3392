"""The inspector in a real browser (headless Debian Chromium via Playwright) against a real
server: find an actor, watch its state change live while a client calls actions, edit the
state (a bad edit shows the reason), call actions, read the event log, use the console;
and, on a token-protected server, unlock the page with the token.

Screenshots go to ``test-artifacts/inspector/``. ``ACTORKIT_UPDATE_DOCS=1`` also refreshes
``docs/inspector.png``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from inspector_helpers import TOKEN, call, create, dev_server, token_server
from server_fixtures import ROOT, free_port

ARTIFACTS = ROOT / "test-artifacts" / "inspector"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 760})
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    yield tab
    context.close()
    assert errors == [], errors


def shot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), animations="disabled")
    return path


def state_json(page: Page) -> object:
    return json.loads(page.get_by_test_id("state-view").get_attribute("data-json") or "null")


def test_inspector_in_a_browser(tmp_path: Path, page: Page) -> None:
    server = dev_server(tmp_path / "data")
    try:
        alice = create(server.url, "counter", ["alice"])
        create(server.url, "counter", ["bob"])
        create(server.url, "person", ["ada"])
        call(server.url, alice, "increment", 1)

        page.goto(server.url + "/inspector")
        expect(page.get_by_test_id("live-status")).to_have_attribute("data-status", "open")
        rows = page.get_by_test_id("actor-row")
        expect(rows).to_have_count(3)

        # Find the actor by key.
        page.get_by_test_id("search").fill("ali")
        expect(rows).to_have_count(1)
        rows.first.click()
        expect(page.get_by_test_id("actor-title")).to_contain_text("alice")
        expect(page.get_by_test_id("state-view")).to_contain_text("count")
        assert state_json(page) == {"count": 1, "history": [1]}

        # Live: a client calls actions; the page follows without a reload.
        for _ in range(3):
            call(server.url, alice, "increment", 2)
        expect(page.get_by_test_id("state-view")).to_have_attribute(
            "data-json", json.dumps({"count": 7, "history": [1, 2, 2, 2]}, separators=(",", ":"))
        )
        docs_shot = shot(page, "state-live")

        # Edit state: a bad edit shows the reason and changes nothing.
        page.get_by_test_id("state-edit").click()
        page.get_by_test_id("state-editor").fill("[1, 2, 3]")
        page.get_by_test_id("state-save").click()
        expect(page.get_by_test_id("error-box")).to_contain_text("must be an object")
        shot(page, "state-edit-refused")
        assert call(server.url, alice, "get") == 7
        page.get_by_test_id("state-editor").fill('{"count": 100, "history": []}')
        page.get_by_test_id("state-save").click()
        expect(page.get_by_test_id("state-editor")).to_have_count(0)
        assert state_json(page) == {"count": 100, "history": []}
        assert call(server.url, alice, "get") == 100

        # Call an action from the page: result, then an error.
        page.get_by_test_id("tab-actions").click()
        page.get_by_test_id("action-increment").click()
        page.get_by_test_id("action-args").fill("[5]")
        page.get_by_test_id("action-call").click()
        expect(page.get_by_test_id("action-result")).to_have_attribute("data-output", "105")
        shot(page, "actions")
        page.get_by_test_id("action-fail").click()
        page.get_by_test_id("action-call").click()
        expect(page.get_by_test_id("error-box")).to_contain_text("refused")

        # The event log has the actions (args, result), state changes and broadcasts.
        page.get_by_test_id("tab-events").click()
        log = page.get_by_test_id("event-log")
        expect(log).to_contain_text("increment(5)")
        expect(log).to_contain_text("→ 105")
        expect(log).to_contain_text("refused: nope")
        expect(log).to_contain_text("changed(105)")
        call(server.url, alice, "increment", 1)  # a live entry
        expect(log).to_contain_text("→ 106")
        shot(page, "events")

        # Console (dev mode): Python inside the actor.
        page.get_by_test_id("tab-console").click()
        page.get_by_test_id("console-in").fill("self.state['count'] * 2")
        page.get_by_test_id("console-in").press("Enter")
        expect(page.get_by_test_id("console-result")).to_have_text("212")
        shot(page, "console")

        # Typed state: the refusal names the field.
        page.get_by_test_id("search").fill("")
        page.locator("[data-testid=actor-row][data-key=ada]").click()
        page.get_by_test_id("tab-state").click()
        page.get_by_test_id("state-edit").click()
        page.get_by_test_id("state-editor").fill('{"name": "ada", "age": "old"}')
        page.get_by_test_id("state-save").click()
        expect(page.get_by_test_id("error-box")).to_contain_text("$.age")

        # Schedules: listed, cancelled from the page (durably: the API agrees).
        reminder = create(server.url, "reminder", ["later"])
        call(server.url, reminder, "remind_later", 3600, "tea")
        page.get_by_test_id("search").fill("later")
        page.locator("[data-testid=actor-row][data-key=later]").click()
        page.get_by_test_id("tab-schedules").click()
        expect(page.get_by_test_id("schedule-row")).to_contain_text("fire")
        expect(page.get_by_test_id("schedule-row")).to_contain_text('["tea"]')
        shot(page, "schedules")
        page.get_by_test_id("cancel-schedule").click()
        expect(page.get_by_test_id("no-schedules")).to_be_visible()
        listed = httpx.get(f"{server.url}/inspector/api/actors/{reminder}/schedules").json()
        assert listed == {"schedules": []}

        # Connections: a browser client connects (another tab, /actorkit.js); the inspector
        # shows it live with its params and state, and disconnects it.
        lobby = create(server.url, "lobby", ["hall"])
        page.get_by_test_id("search").fill("hall")
        page.locator("[data-testid=actor-row][data-key=hall]").click()
        page.get_by_test_id("tab-connections").click()
        expect(page.get_by_test_id("no-connections")).to_be_visible()
        other = page.context.new_page()
        other.goto(server.url + "/health")
        other.evaluate("""async () => {
            const { createClient } = await import("/actorkit.js");
            window.conn = createClient(location.origin)
                .getOrCreate("lobby", ["hall"]).connect({ user: "zoe" });
            await new Promise((resolve) => window.conn.onOpen(resolve));
        }""")
        row = page.get_by_test_id("connection-row")
        expect(row).to_contain_text("zoe")
        expect(row).to_contain_text("connected")
        expect(page.locator("[data-testid=actor-row][data-key=hall] .conns")).to_have_text("⇄ 1")
        shot(page, "connections")
        page.get_by_test_id("disconnect").click()
        expect(page.get_by_test_id("no-connections")).to_be_visible()
        other.wait_for_function("window.conn.status === 'closed'")
        assert call(server.url, lobby, "left") == 1
        page.get_by_test_id("tab-events").click()
        expect(page.get_by_test_id("event-log")).to_contain_text("disconnect")

        # Database: tables, rows, and the query box.
        notebook = create(server.url, "notebook", ["pad"])
        call(server.url, notebook, "add", "milk", "eggs")
        page.get_by_test_id("search").fill("pad")
        page.locator("[data-testid=actor-row][data-key=pad]").click()
        page.get_by_test_id("tab-database").click()
        page.get_by_test_id("db-table").click()
        expect(page.get_by_test_id("db-rows")).to_contain_text("eggs")
        page.get_by_test_id("db-sql").fill("SELECT upper(text) AS loud FROM note ORDER BY id")
        page.get_by_test_id("db-run").click()
        expect(page.get_by_test_id("db-result")).to_contain_text("MILK")
        shot(page, "database")

        # Sleep and wake show live in the sidebar.
        napper = create(server.url, "napper", ["nap"])
        page.get_by_test_id("search").fill("nap")
        nap_row = page.locator("[data-testid=actor-row][data-key=nap]")
        expect(nap_row).to_have_attribute("data-awake", "false")  # idle: asleep
        expect(page.get_by_test_id("awake-napper")).to_have_text("0 awake")
        call(server.url, napper, "poke")
        expect(nap_row).to_have_attribute("data-awake", "true")
        expect(nap_row).to_have_attribute("data-awake", "false")

        if os.environ.get("ACTORKIT_UPDATE_DOCS") == "1":
            shutil.copyfile(docs_shot, ROOT / "docs" / "inspector.png")
    finally:
        server.stop()


def test_inspector_page_asks_for_the_token(tmp_path: Path, page: Page) -> None:
    server = token_server(tmp_path / "data")
    try:
        create(server.url, "counter", ["guarded"])
        page.goto(server.url + "/inspector/")
        token_input = page.get_by_test_id("token-input")
        token_input.fill("wrong")
        page.get_by_test_id("token-submit").click()
        expect(page.locator("#token-error")).to_contain_text("refused")
        token_input.fill(TOKEN)
        page.get_by_test_id("token-submit").click()
        expect(page.get_by_test_id("actor-row")).to_have_count(1)
        expect(page.get_by_test_id("live-status")).to_have_attribute("data-status", "open")
        page.get_by_test_id("actor-row").click()
        expect(page.get_by_test_id("tab-state")).to_be_visible()
        expect(page.get_by_test_id("tab-console")).to_have_count(0)  # no console outside dev
        assert page.evaluate("sessionStorage.getItem('actorkit.inspector.token')") == TOKEN
        shot(page, "token")
        # The API itself still refuses a request without the token.
        assert httpx.get(server.url + "/inspector/api/actors").status_code == 401
    finally:
        server.stop()


def test_inspector_works_when_mounted_under_a_prefix(tmp_path: Path, page: Page) -> None:
    """``registry.asgi()`` mounted at ``/api`` of a host app: the page, its files, its API
    and its live socket all live under ``/api/inspector``."""
    port = free_port()
    cmd = [sys.executable, "-m", "uvicorn", "app:app", "--app-dir", "examples/mounted"]
    cmd += ["--port", str(port), "--log-level", "warning"]
    env = {
        **os.environ,
        "ACTORKIT_STORAGE": f"sqlite:///{tmp_path / 'data'}",
        "ACTORKIT_INSPECTOR_TOKEN": TOKEN,
    }
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/health").status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.05)
        actor_id = create(base, "counter", ["mounted"])
        page.goto(base + "/inspector")
        assert page.url == base + "/inspector/"
        page.get_by_test_id("token-input").fill(TOKEN)
        page.get_by_test_id("token-submit").click()
        page.locator("[data-testid=actor-row][data-key=mounted]").click()
        expect(page.get_by_test_id("live-status")).to_have_attribute("data-status", "open")
        call(base, actor_id, "increment", 4)
        expect(page.get_by_test_id("state-view")).to_have_attribute("data-json", '{"count":4}')
    finally:
        proc.terminate()
        proc.wait(timeout=30)
