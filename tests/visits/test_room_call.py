"""The call in real browsers: two separately launched headless Chromium
instances with fake cameras and microphones hold Nikolai's visit with
Dr Petrova over WebRTC, signaled through Puente's WebSocket.

The test runs inside a network namespace of its own with only the loopback
interface (``unshare -n``), so no packet of the call, not even an mDNS probe,
can leave 127.0.0.0/8; when started outside one it re-runs itself inside one.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from puente.app import create_app
from puente.config import Settings
from puente.db import make_engine, make_sessionmaker, unit_of_work
from puente.enums import VisitStatus
from puente.migrate import upgrade
from puente.visits.models import Visit
from tests.browser import CHROMIUM, FLAGS, browser_tests, serving
from tests.visits.room_world import room_world

pytestmark = browser_tests

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "ward seven kettle"
WEBRTC_FLAGS = [
    *FLAGS,
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--autoplay-policy=no-user-gesture-required",
]
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8


def only_loopback() -> bool:
    return {name for _index, name in socket.if_nameindex()} == {"lo"}


def can_unshare() -> bool:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return False
    return subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0


def rerun_in_loopback_namespace(test_id: str, extra_env: dict[str, str] | None = None) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PUENTE_", "PYTEST_"))}
    env.update(extra_env or {})
    command = [
        "unshare",
        "-n",
        "--",
        "sh",
        "-c",
        'ip link set lo up && exec "$0" -m pytest -q -p no:cacheprovider -p no:xdist "$1"',
        sys.executable,
        test_id,
    ]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert " 1 passed" in " " + done.stdout.splitlines()[-1], done.stdout[-2000:]  # not skipped


def eventually(check: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting: {what}"
        time.sleep(0.25)


def frames(page: Any) -> int:
    return int(page.evaluate("window.puenteRoom.framesDecoded()"))


def frames_flow(page: Any, who: str) -> None:
    """Remote video frames are being decoded, and more keep coming."""
    first = eventually(lambda: frames(page), f"{who} decodes the other side's video")
    eventually(lambda: frames(page) > first + 10, f"{who} keeps receiving frames")


def sign_in(browser: Any, base: str, username: str, path: str, locale: str) -> Any:
    page = browser.new_context(locale=locale).new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{base}{path}")
    assert "/login" in page.url
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}{path}")
    return page


def test_nikolai_waits_in_the_lobby_then_both_see_each_other_chat_share_and_rejoin(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if not only_loopback():
        if not can_unshare():
            pytest.skip("cannot make a loopback-only network namespace (unshare -n)")
        rerun_in_loopback_namespace(request.node.nodeid)
        return
    from playwright.sync_api import expect, sync_playwright

    url = f"sqlite:///{tmp_path / 'room.db'}"
    upgrade(url)
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    with unit_of_work(factory) as session:
        world = room_world(session, password=PASSWORD)
    visit_id = world.visit_id
    room = f"/visits/{visit_id}/room"

    def visit() -> Visit:
        with factory() as session:
            row = Session.get(session, Visit, visit_id)
            assert row is not None
            return row

    app = create_app(Settings(environment="test", database_url=url, data_dir=tmp_path))
    with serving(app) as base, sync_playwright() as p:
        launch = {"executable_path": CHROMIUM, "args": WEBRTC_FLAGS, "headless": True}
        nikolai_browser = p.chromium.launch(**launch)
        petrova_browser = p.chromium.launch(**launch)
        try:
            # Nikolai joins first and waits in the lobby.
            nikolai = sign_in(nikolai_browser, base, "nikolai", f"{room}?lang=ru", "ru-RU")
            nikolai_room = nikolai.locator("#room")
            expect(nikolai_room).to_have_attribute("data-status", "lobby")
            expect(nikolai.locator("#lobby")).to_be_visible()
            expect(nikolai.locator("h1")).to_contain_text("Кабинет приёма")
            assert visit().status == VisitStatus.lobby

            petrova = sign_in(petrova_browser, base, "dr.petrova", room, "en-US")
            petrova_room = petrova.locator("#room")
            expect(petrova_room).to_have_attribute("data-peer", "present")
            expect(petrova.locator("#admit")).to_be_visible()
            # Nobody is admitted by waiting: no call, no frames, still the lobby.
            time.sleep(2)
            expect(nikolai.locator("#lobby")).to_be_visible()
            assert frames(nikolai) == 0 and frames(petrova) == 0
            assert visit().status == VisitStatus.lobby

            petrova.click("#admit")
            expect(nikolai.locator("#lobby")).to_be_hidden()
            expect(nikolai_room).to_have_attribute("data-status", "in_call")
            expect(petrova_room).to_have_attribute("data-call", "connected")
            frames_flow(nikolai, "Nikolai")
            frames_flow(petrova, "Dr Petrova")
            assert visit().status == VisitStatus.in_call
            started_at = visit().started_at

            # Chat both ways.
            nikolai.fill("#chat-input", "Температура 38,2 второй день.")
            nikolai.click("#chat-send")
            expect(petrova.locator("#chat-log li[data-side=patient]")).to_contain_text(
                "Температура 38,2 второй день."
            )
            petrova.fill("#chat-input", "Please show me your throat.")
            petrova.click("#chat-send")
            expect(nikolai.locator("#chat-log li[data-side=clinician]")).to_contain_text(
                "Please show me your throat."
            )

            # A file shared by Nikolai arrives at Dr Petrova, intact.
            nikolai.set_input_files(
                "#file-input", files=[{"name": "горло.png", "mimeType": "image/png", "buffer": PNG}]
            )
            nikolai.click("#file-send")
            link = petrova.locator("#chat-log a.file")
            expect(link).to_have_text("горло.png")
            download = petrova.context.request.get(base + str(link.get_attribute("href")))
            assert download.ok and download.body() == PNG
            assert download.headers["content-disposition"].startswith("attachment")

            # Poor connection: audio only reaches both sides, without leaving.
            petrova.click("#mode-audio")
            expect(nikolai_room).to_have_attribute("data-mode", "audio")
            petrova.click("#mode-video")
            expect(nikolai_room).to_have_attribute("data-mode", "video")

            # Nikolai reloads the page: back in the call, with no new admission.
            generation = petrova.evaluate("window.puenteRoom.state.gen")
            nikolai.reload()
            expect(nikolai_room).to_have_attribute("data-status", "in_call")
            expect(nikolai.locator("#lobby")).to_be_hidden()
            eventually(
                lambda: petrova.evaluate("window.puenteRoom.state.gen") > generation,
                "Dr Petrova's browser calls the rejoined patient",
            )
            frames_flow(nikolai, "Nikolai after the reload")
            frames_flow(petrova, "Dr Petrova after the reload")
            expect(nikolai.locator("#chat-log li")).to_have_count(3)  # kept with the visit
            assert visit().status == VisitStatus.in_call
            assert visit().started_at == started_at

            # Only the clinician ends the call.
            petrova.click("#end-call")
            expect(nikolai_room).to_have_attribute("data-status", "ended")
            expect(petrova_room).to_have_attribute("data-status", "ended")
            assert visit().ended_at is not None
        finally:
            nikolai_browser.close()
            petrova_browser.close()
    engine.dispose()
