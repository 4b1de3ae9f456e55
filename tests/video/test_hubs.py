"""The signaling hub, in this process (``LocalHub``) and across processes
through the real Redis (``RedisHub``): events in order, rooms kept apart,
presence with compare-and-delete, and two hubs (two app processes) that see
each other's events and presence.

The Redis tests need ``PUENTE_TEST_REDIS_URL`` (e.g.
``redis://127.0.0.1:6379/2``); every key and channel they use starts with a
prefix of their own, removed afterwards."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from puente.config import Settings
from puente.video.hub import Hub, LocalHub, RedisHub, Subscription, hub_of

REDIS_URL = os.environ.get("PUENTE_TEST_REDIS_URL")
needs_redis = pytest.mark.skipif(
    not REDIS_URL, reason="PUENTE_TEST_REDIS_URL is not set (e.g. redis://127.0.0.1:6379/2)"
)


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(scenario(), 20))


async def next_events(subscription: Subscription, n: int) -> list[Any]:
    return [await asyncio.wait_for(subscription.get(), 5) for _ in range(n)]


@pytest.fixture
def prefix() -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    prefix = f"puente-test-{uuid.uuid4().hex[:12]}:"
    yield prefix
    if REDIS_URL:
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()


HubPair = Callable[[], tuple[Hub, Hub]]


@pytest.fixture(params=["local", pytest.param("redis", marks=needs_redis)])
def two_processes(request: pytest.FixtureRequest, prefix: str) -> HubPair:
    """The hubs of two app processes (for LocalHub: one process, one hub)."""

    def make() -> tuple[Hub, Hub]:
        if request.param == "local":
            hub = LocalHub()
            return hub, hub
        assert REDIS_URL
        return RedisHub(REDIS_URL, prefix=prefix), RedisHub(REDIS_URL, prefix=prefix)

    return make


async def closed(*hubs: Hub) -> None:
    for hub in hubs:
        if isinstance(hub, RedisHub):
            await hub.aclose()


def test_events_reach_every_subscriber_in_the_order_they_were_published(
    two_processes: HubPair,
) -> None:
    async def scenario() -> None:
        a, b = two_processes()
        on_a = await a.subscribe("visit:7")
        on_b = await b.subscribe("visit:7")
        for n in range(100):
            await (a if n % 2 else b).publish("visit:7", {"type": "signal", "n": n})
        assert [e["n"] for e in await next_events(on_a, 100)] == list(range(100))
        assert [e["n"] for e in await next_events(on_b, 100)] == list(range(100))
        await on_a.close()
        await on_b.close()
        await closed(a, b)

    run(scenario)


def test_a_room_hears_nothing_of_another_room(two_processes: HubPair) -> None:
    async def scenario() -> None:
        a, b = two_processes()
        seven = await a.subscribe("visit:7")
        eight = await b.subscribe("visit:8")
        await b.publish("visit:8", {"type": "chat", "body": "for eight"})
        await a.publish("visit:7", {"type": "chat", "body": "for seven"})
        assert await next_events(seven, 1) == [{"type": "chat", "body": "for seven"}]
        assert await next_events(eight, 1) == [{"type": "chat", "body": "for eight"}]
        await asyncio.sleep(0.2)
        assert seven.queue.empty() and eight.queue.empty()  # type: ignore[attr-defined]
        await seven.close()
        await eight.close()
        await closed(a, b)

    run(scenario)


def test_a_rejoin_replaces_the_old_connection_which_then_cannot_depart_for_it(
    two_processes: HubPair,
) -> None:
    """Nikolai's first tab is on one process, his reload on the other: the
    old tab's late goodbye must not erase the new connection."""

    async def scenario() -> None:
        a, b = two_processes()
        first = await a.arrive("visit:7", "patient", "tab-1")
        assert first.connections == {} and first.left_at == {}
        before = await b.arrive("visit:7", "patient", "tab-2")
        assert before.connections == {"patient": "tab-1"}
        assert await a.depart("visit:7", "patient", "tab-1") is False
        for hub in (a, b):
            presence = await hub.presence("visit:7")
            assert presence.here("patient") and presence.connections["patient"] == "tab-2"
            assert "patient" not in presence.left_at
        await closed(a, b)

    run(scenario)


def test_a_side_that_leaves_is_gone_for_both_processes_with_the_time_it_left(
    two_processes: HubPair,
) -> None:
    async def scenario() -> None:
        a, b = two_processes()
        clock = Clock(1_700_000_000.25)
        for hub in {a, b}:
            hub._clock = clock  # type: ignore[attr-defined]
        await a.arrive("visit:7", "patient", "tab-1")
        await b.arrive("visit:7", "clinician", "desk-1")
        assert await a.depart("visit:7", "patient", "tab-1") is True
        assert await a.depart("visit:7", "patient", "tab-1") is False  # only once
        presence = await b.presence("visit:7")
        assert presence.connections == {"clinician": "desk-1"}
        assert presence.left_at == {"patient": 1_700_000_000.25}
        back = await b.arrive("visit:7", "patient", "tab-2")
        assert back.left_at == {"patient": 1_700_000_000.25} and not back.here("patient")
        await closed(a, b)

    run(scenario)


@needs_redis
def test_the_sides_of_a_process_that_died_count_as_left_when_it_was_last_alive(
    prefix: str,
) -> None:
    """Process A crashes with Nikolai's connection (no goodbye ever comes):
    after thirty seconds without A's heartbeat, process B sees him gone,
    since A's last heartbeat, while Dr Petrova on B stays."""

    async def scenario() -> None:
        assert REDIS_URL
        clock = Clock(1_700_000_000.0)
        crashed = RedisHub(REDIS_URL, prefix=prefix, clock=clock)
        alive = RedisHub(REDIS_URL, prefix=prefix, clock=clock)
        await crashed.arrive("visit:7", "patient", "tab-1")
        await alive.arrive("visit:7", "clinician", "desk-1")
        await crashed.aclose()  # the process is gone; its heartbeat stops
        clock.now += 25
        assert (await alive.presence("visit:7")).here("patient")  # maybe only slow
        clock.now += 10
        presence = await alive.presence("visit:7")
        assert presence.connections == {"clinician": "desk-1"}
        assert presence.left_at == {"patient": 1_700_000_000.0}
        back = await alive.arrive("visit:7", "patient", "tab-2")
        assert not back.here("patient") and back.left_at == {"patient": 1_700_000_000.0}
        await alive.aclose()

    run(scenario)


@needs_redis
def test_a_process_whose_pub_sub_connection_drops_subscribes_again_and_hears_the_room(
    prefix: str,
) -> None:
    """Redis cuts process A's pub/sub connection (a restart, a network
    blip): A reconnects and subscribes again by itself."""
    import redis

    admin = redis.Redis.from_url(str(REDIS_URL))

    async def scenario() -> None:
        assert REDIS_URL
        a, b = RedisHub(REDIS_URL, prefix=prefix), RedisHub(REDIS_URL, prefix=prefix)
        desk = await a.subscribe("visit:7")
        ours = [c for c in admin.client_list(_type="pubsub") if c["name"] == f"puente-hub-{a.id}"]
        assert len(ours) == 1
        admin.client_kill_filter(_id=ours[0]["id"])
        for n in range(100):  # what is published before A is back is lost
            await b.publish("visit:7", {"type": "chat", "n": n})
            with contextlib.suppress(TimeoutError):
                event = await asyncio.wait_for(desk.get(), 0.1)
                break
        else:
            raise AssertionError("process A never heard the room again")
        await b.publish("visit:7", {"type": "chat", "body": "after"})
        while event.get("body") != "after":
            event = await asyncio.wait_for(desk.get(), 5)
        await desk.close()
        await closed(a, b)

    run(scenario)
    admin.close()


@needs_redis
def test_the_presence_of_a_room_expires_a_day_after_its_last_write(prefix: str) -> None:
    import redis

    async def scenario() -> None:
        assert REDIS_URL
        hub = RedisHub(REDIS_URL, prefix=prefix)
        await hub.arrive("visit:7", "patient", "tab-1")
        await hub.depart("visit:7", "patient", "tab-1")
        await hub.aclose()

    run(scenario)
    client = redis.Redis.from_url(str(REDIS_URL))
    ttl = client.ttl(f"{prefix}room:visit:7:presence")
    client.close()
    assert 86_000 < ttl <= 86_400


@needs_redis
def test_events_travel_as_redis_messages_on_the_rooms_channel(prefix: str) -> None:
    """Another program listening on Redis sees what one process publishes."""
    import redis

    listener = redis.Redis.from_url(str(REDIS_URL)).pubsub()
    listener.subscribe(f"{prefix}room:visit:7")
    assert listener.get_message(timeout=5)["type"] == "subscribe"  # type: ignore[index]

    async def scenario() -> None:
        assert REDIS_URL
        hub = RedisHub(REDIS_URL, prefix=prefix)
        await hub.publish("visit:7", {"type": "chat", "body": "Температура 38,2"})
        await hub.aclose()

    run(scenario)
    message = listener.get_message(timeout=5)
    listener.close()
    assert message is not None and message["type"] == "message"
    assert message["data"].decode() == '{"type":"chat","body":"Температура 38,2"}'


@needs_redis
def test_a_process_unsubscribes_when_its_last_connection_of_a_room_closes(prefix: str) -> None:
    import redis

    channel = f"{prefix}room:visit:7"
    client = redis.Redis.from_url(str(REDIS_URL))

    def subscribers() -> int:
        return int(dict(client.pubsub_numsub(channel))[channel.encode()])

    async def scenario() -> None:
        assert REDIS_URL
        hub, other = RedisHub(REDIS_URL, prefix=prefix), RedisHub(REDIS_URL, prefix=prefix)
        tab, desk = await hub.subscribe("visit:7"), await hub.subscribe("visit:7")
        assert subscribers() == 1  # one pub/sub connection per process
        await tab.close()
        assert subscribers() == 1
        await desk.close()
        await asyncio.sleep(0.1)
        assert subscribers() == 0
        again = await hub.subscribe("visit:7")
        await other.publish("visit:7", {"type": "status", "status": "in_call"})
        assert await next_events(again, 1) == [{"type": "status", "status": "in_call"}]
        await again.close()
        await closed(hub, other)

    run(scenario)
    client.close()


def test_the_app_uses_redis_when_a_redis_url_is_configured(tmp_path: Path) -> None:
    def app(**settings: Any) -> Any:
        values = Settings(database_url="sqlite://", data_dir=tmp_path, **settings)
        return SimpleNamespace(state=SimpleNamespace(settings=values))

    shared = app(redis_url="redis://127.0.0.1:6379/2", redis_prefix="elsewhere:")
    hub = hub_of(shared)
    assert isinstance(hub, RedisHub) and hub.prefix == "elsewhere:"
    assert hub_of(shared) is hub
    assert isinstance(hub_of(app()), LocalHub)
