"""More requests than database connections: they wait their turn at the
door (puente.ops.admission) instead of jamming the pool and failing."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx

from puente.app import create_app
from puente.config import Settings
from puente.db import make_engine, make_sessionmaker, unit_of_work
from puente.enums import AccessRole
from puente.ops.admission import AdmissionLimit
from tests import factories as f
from tests.conftest import migrated_url


def test_sixty_requests_at_once_on_two_connections_all_succeed(
    backend: str, tmp_path: Path
) -> None:
    url = migrated_url(backend, tmp_path, suffix="admission")
    engine = make_engine(url)
    with unit_of_work(make_sessionmaker(engine)) as db:
        f.facility(db, "MX-JAL-HGZ46", "Hospital General de Zona 46")
        headers = f.bearer(db, f.user(db, "rosa.registrar", AccessRole.national_admin))
    engine.dispose()
    # Sixty at once is more than the threadpool's forty threads: without the
    # limit, threads block in the pool's checkout while the two connections'
    # holders wait for a thread, until the pool timeout answers 500.
    app = create_app(
        Settings(environment="test", database_url=url, data_dir=tmp_path, max_concurrent_requests=2)
    )

    async def crowd() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://puente", headers=headers, timeout=60
        ) as client:
            answers = await asyncio.gather(
                *(client.get("/api/facilities", params={"q": "Zona"}) for _ in range(60))
            )
        return [r.status_code for r in answers]

    started = time.perf_counter()
    statuses = asyncio.run(crowd())
    assert statuses == [200] * 60
    assert time.perf_counter() - started < 25  # well inside the 30 s pool timeout


def test_the_probes_answer_while_every_place_inside_is_taken() -> None:
    inside: list[str] = []
    release = asyncio.Event()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        inside.append(scope["path"])
        if scope["path"] == "/api/slow":
            await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    door = AdmissionLimit(app, limit=1)

    async def scene() -> list[str]:
        transport = httpx.ASGITransport(app=door)
        async with httpx.AsyncClient(transport=transport, base_url="http://puente") as client:
            slow = asyncio.create_task(client.get("/api/slow"))
            await asyncio.sleep(0.05)
            waiting = asyncio.create_task(client.get("/api/facilities"))
            await asyncio.sleep(0.05)
            assert (await client.get("/healthz")).status_code == 200
            assert (await client.get("/readyz")).status_code == 200
            seen = list(inside)  # the second API request is still at the door
            release.set()
            await asyncio.gather(slow, waiting)
        return seen

    assert asyncio.run(scene()) == ["/api/slow", "/healthz", "/readyz"]
    assert inside[-1] == "/api/facilities"
