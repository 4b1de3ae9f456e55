"""A case conference through a Janus VideoRoom (Debian's ``janus``): the
same three doctors as test_conference_call.py, but each browser publishes
once to Janus and subscribes to the two others, every Janus call going
through Puente's gated proxy.

Skipped when the ``janus`` binary is missing (``apt-get install -y janus``).
It runs in a loopback-only network namespace where it adds a veth pair
(Janus gathers no candidates on ``lo``), starts Janus from a copy of
Debian's configuration with only the HTTP transport and the VideoRoom
plugin, and stops it at the end.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from puente.app import create_app
from puente.config import Settings
from puente.db import make_engine, make_sessionmaker, unit_of_work
from puente.migrate import upgrade
from tests.browser import CHROMIUM, browser_tests, free_port, serving
from tests.consults.network import build, case_body
from tests.consults.test_conference_call import sees_both, sign_in
from tests.visits.test_room_call import (
    WEBRTC_FLAGS,
    can_unshare,
    only_loopback,
    rerun_in_loopback_namespace,
)

pytestmark = browser_tests
JANUS = shutil.which("janus")
PLUGINS = "audiobridge duktape echotest lua nosip recordplay sip streaming textroom videocall"
OTHER_PLUGINS = ",".join(f"libjanus_{p}.so" for p in [*PLUGINS.split(), "voicemail"])
OTHER_TRANSPORTS = ",".join(
    f"libjanus_{t}.so" for t in ("websockets", "pfunix", "mqtt", "nanomsg", "rabbitmq")
)


def janus_config(folder: Path, port: int) -> Path:
    for source in Path("/etc/janus").glob("*.jcfg"):
        shutil.copy(source, folder / source.name)
    main = folder / "janus.jcfg"
    text = main.read_text()
    text = text.replace("plugins: {", f'plugins: {{\n\tdisable = "{OTHER_PLUGINS}"', 1)
    text = text.replace("transports: {", f'transports: {{\n\tdisable = "{OTHER_TRANSPORTS}"', 1)
    text = text.replace('#ice_enforce_list = "eth0"\n', 'ice_enforce_list = "vj0"\n', 1)
    main.write_text(text)
    http = folder / "janus.transport.http.jcfg"
    http.write_text(http.read_text().replace("port = 8088", f"port = {port}", 1))
    return main


def veth() -> None:
    for command in (
        "ip link add vj0 type veth peer name vj1",
        "ip addr add 10.77.0.1/24 dev vj0",
        "ip addr add 10.77.0.2/24 dev vj1",
        "ip link set vj0 up",
        "ip link set vj1 up",
    ):
        subprocess.run(command.split(), check=True)


def wait_for(url: str, process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        assert process.poll() is None, "janus exited"
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        assert time.monotonic() < deadline, "janus did not start"
        time.sleep(0.2)


@pytest.mark.skipif(JANUS is None, reason="janus is not installed (apt-get install -y janus)")
def test_three_doctors_meet_through_a_janus_video_room(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if not only_loopback():
        if not can_unshare():
            pytest.skip("cannot make a loopback-only network namespace (unshare -n)")
        rerun_in_loopback_namespace(request.node.nodeid)
        return
    from playwright.sync_api import expect, sync_playwright

    assert JANUS is not None
    veth()
    port = free_port()
    config = janus_config(tmp_path, port)
    janus = subprocess.Popen(
        [JANUS, "-F", str(tmp_path), "-C", str(config), "-o"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/janus/info", janus)
        url = f"sqlite:///{tmp_path / 'conference.db'}"
        upgrade(url)
        engine = make_engine(url)
        factory = make_sessionmaker(engine)
        with unit_of_work(factory) as session:
            net = build(session)
        settings = Settings(
            environment="test",
            database_url=url,
            data_dir=tmp_path,
            conference_provider="janus",
            janus_url=f"http://127.0.0.1:{port}/janus",
        )
        app = create_app(settings, session_factory=factory)
        with TestClient(app, raise_server_exceptions=False) as api:
            cases = []
            for who, extra in (
                ("dr.lan", {"patient_id": net.ids["tuan"]}),
                (
                    "dr.somphone",
                    {"spoke_facility_code": "LA-MITTAPHAB", "patient_id": net.ids["noy"]},
                ),
            ):
                r = api.post("/api/consults", json=case_body(**extra), headers=net.headers[who])
                assert r.status_code == 201, r.text
                cases.append(r.json()["id"])
            r = api.post(
                "/api/consults/conferences",
                json={
                    "hub_facility_code": "VN-BACHMAI",
                    "title": "Hội chẩn qua Janus",
                    "starts_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
                    "case_ids": cases,
                    "participants": ["dr.lan", "dr.somphone"],
                    "provider": "janus",
                },
                headers=net.headers["coord.bachmai"],
            )
            assert r.status_code == 201, r.text
            conference_id = r.json()["id"]
            # Janus calls go through the gate: an outsider gets no session.
            outsider = api.post(
                f"/api/consults/conferences/{conference_id}/janus",
                json={"janus": "create"},
                headers=net.headers["dr.huong"],
            )
            assert outsider.status_code == 404
            foreign = api.post(
                f"/api/consults/conferences/{conference_id}/janus",
                json={"janus": "keepalive", "session_id": 12345},
                headers=net.headers["dr.lan"],
            )
            assert foreign.status_code == 404
        room = f"/consults/conferences/{conference_id}/room"
        hoa_id, lan_id, somphone_id = (
            net.users[u] for u in ("coord.bachmai", "dr.lan", "dr.somphone")
        )
        with serving(app) as base, sync_playwright() as p:
            launch = {"executable_path": CHROMIUM, "args": WEBRTC_FLAGS, "headless": True}
            browsers = [p.chromium.launch(**launch) for _ in range(3)]
            try:
                hoa = sign_in(browsers[0], base, "coord.bachmai", room, "en-US")
                lan = sign_in(browsers[1], base, "dr.lan", room, "vi-VN")
                somphone = sign_in(browsers[2], base, "dr.somphone", room, "en-US")
                for page in (hoa, lan, somphone):
                    expect(page.locator("#conference")).to_have_attribute(
                        "data-peers", "2", timeout=30_000
                    )
                sees_both(hoa, {lan_id, somphone_id}, "Chị Hoa")
                sees_both(lan, {hoa_id, somphone_id}, "Dr. Lan")
                sees_both(somphone, {hoa_id, lan_id}, "Dr. Somphone")
                hoa.click("#next-case")
                expect(lan.locator("#conference")).to_have_attribute("data-position", "1")
            finally:
                for browser in browsers:
                    browser.close()
        engine.dispose()
    finally:
        janus.terminate()
        try:
            janus.wait(timeout=10)
        except subprocess.TimeoutExpired:
            janus.kill()
