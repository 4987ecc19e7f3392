"""A real browser (Debian's headless Chromium, driven by Playwright) against the chat example."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page, async_playwright

from server_fixtures import ROOT, free_port

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture
def chat_server(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    log = (tmp_path / "chat.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "examples/chat/app.py",
            "--port",
            str(port),
            "--storage",
            f"sqlite:///{tmp_path / 'data'}",
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / "chat.log").read_text()
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "chat server did not start"
            time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def test_browser_module_is_served(chat_server: str) -> None:
    js = httpx.get(chat_server + "/actorkit.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert "export function createClient" in js.text
    dts = httpx.get(chat_server + "/actorkit.d.ts")
    assert dts.status_code == 200 and "createClient(url: string): Client" in dts.text


async def send(page: Page, text: str) -> None:
    await page.fill("#text", text)
    await page.press("#text", "Enter")


async def test_two_browser_pages_chat_live(chat_server: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            ann = await browser.new_page()
            bob = await browser.new_page()
            errors: list[str] = []
            for page in (ann, bob):
                page.on("pageerror", lambda exc: errors.append(str(exc)))
            await ann.goto(chat_server + "/?user=ann&room=test")
            await bob.goto(chat_server + "/?user=bob&room=test")
            for page in (ann, bob):
                await page.wait_for_selector("#status.connected", timeout=30_000)
            await ann.wait_for_function(
                "document.getElementById('who').textContent.includes('bob')", timeout=30_000
            )

            await send(ann, "hello from ann")
            await bob.wait_for_selector("#messages li:has-text('hello from ann')", timeout=30_000)
            await send(bob, "hi ann, bob here")
            await ann.wait_for_selector("#messages li:has-text('bob here')", timeout=30_000)
            assert await ann.locator("#messages li").all_inner_texts() == [
                "annhello from ann",
                "bobhi ann, bob here",
            ]
            # A page opened later gets the history, then live messages.
            cat = await browser.new_page()
            await cat.goto(chat_server + "/?user=cat&room=test")
            await cat.wait_for_selector("#messages li:has-text('bob here')", timeout=30_000)
            await ann.screenshot(path=str(ARTIFACTS / "chat-ann.png"))
            await bob.screenshot(path=str(ARTIFACTS / "chat-bob.png"))
            assert errors == []
        finally:
            await browser.close()
    assert (ARTIFACTS / "chat-ann.png").stat().st_size > 1000
