"""The inspector counts a hibernating connection (open while its actor sleeps) and shows it
as hibernating, in the actor list and in the connections tab."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import expect, sync_playwright

from actorkit import AsyncClient
from docs_runner_browser import CHROMIUM, CHROMIUM_ARGS
from server_fixtures import ServerProcess
from ws_helpers import eventually


def _lobby_dev_server(tmp_path: Path) -> ServerProcess:
    """``actorkit dev`` (inspector on) of the hibernation app."""
    log = tmp_path / "lobby.log"
    log.touch()
    return ServerProcess(
        "tests/apps/hibernation_app.py:registry",
        f"sqlite:///{tmp_path / 'data'}",
        command="dev",
        args=["--no-reload"],
        env={"LOBBY_LOG": str(log)},
    ).start()


async def test_inspector_shows_hibernating_connections_of_a_sleeping_actor(
    tmp_path: Path,
) -> None:
    server = _lobby_dev_server(tmp_path)
    api = server.url + "/inspector/api"
    try:
        async with AsyncClient(server.url) as client, httpx.AsyncClient() as http:
            lobby = client.get_or_create("lobby", "l")
            async with lobby.connect(params={"user": "dee"}) as conn:
                assert await conn.whoami() == "dee"

                async def health() -> Any:
                    return (await http.get(server.url + "/health")).json()

                asleep = await eventually(health, lambda h: h["connections_hibernating"] == 1)
                assert (asleep["actors_awake"], asleep["connections_hibernating"]) == (0, 1)

                listed = (await http.get(f"{api}/actors", params={"name": "lobby"})).json()
                row = listed["actors"][0]
                assert (row["awake"], row["connections"], row["hibernating"]) == (False, 1, 1)
                one = (await http.get(f"{api}/actors/{row['actor_id']}")).json()["actor"]
                assert (one["connections"], one["hibernating"]) == (1, 1)

                conns = (await http.get(f"{api}/actors/{row['actor_id']}/connections")).json()
                [shown] = conns["connections"]
                assert shown["id"] == conn.id and shown["hibernating"] is True
                assert shown["params"] == {"user": "dee"} and shown["state"] == {"user": "dee"}
    finally:
        server.stop()


def test_inspector_page_shows_a_hibernating_connection(tmp_path: Path) -> None:
    server = _lobby_dev_server(tmp_path)
    try:
        httpx.put(server.url + "/actors", json={"name": "lobby", "key": ["l"]}).raise_for_status()
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                context = browser.new_context()
                context.set_default_timeout(30_000)
                page = context.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                page.goto(server.url + "/inspector/")
                page.get_by_test_id("search").fill("l")
                row = page.locator("[data-testid=actor-row][data-key=l]")
                row.click()
                client = context.new_page()
                client.goto(server.url + "/health")
                client.evaluate("""async () => {
                    const { createClient } = await import("/actorkit.js");
                    window.conn = createClient(location.origin)
                        .getOrCreate("lobby", ["l"]).connect({ user: "zoe" });
                    await new Promise((resolve) => window.conn.onOpen(resolve));
                }""")
                # The actor sleeps when idle; its socket hibernates and still counts.
                expect(row).not_to_have_class(re.compile(r"\bawake\b"))
                expect(row.locator(".conns.hibernating")).to_have_text("⇄ 1")
                page.get_by_test_id("tab-connections").click()
                expect(page.get_by_test_id("connection-row")).to_contain_text("hibernating")
                assert errors == []
            finally:
                browser.close()
    finally:
        server.stop()
