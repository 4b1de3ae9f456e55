"""The signaling hub: how the connections of one room reach each other.

Every connection to a visit room (a browser's WebSocket) subscribes to its
room and publishes events to it: WebRTC offers, answers and ICE candidates,
chat lines, files shared, admission, the end of the call. The hub also keeps
the room's *presence* — which connection is the current one of each side and
when a side last left — which decides who may rejoin without admission.

``LocalHub`` keeps all of it in this process: enough for one app process
(``uvicorn`` with one worker). To run several processes behind a load
balancer, a ``RedisHub`` implements the same four methods with Redis
(issue 8): ``publish`` → ``PUBLISH puente:room:<id> <json>``; ``subscribe`` →
a ``redis.asyncio`` pub/sub on that channel; presence → a hash
``puente:room:<id>:presence`` (fields ``<side>`` = connection id and
``<side>:left`` = time), where ``depart`` is a compare-and-delete (a short Lua
script) and the hash expires a day after its last write. Nothing outside this
module knows which backend runs: code asks ``hub_of(app)``.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

Event = dict[str, Any]
QUEUE_LIMIT = 512


@dataclass
class Presence:
    """The current connection of each side, and when each side last left."""

    connections: dict[str, str] = field(default_factory=dict)
    left_at: dict[str, float] = field(default_factory=dict)

    def here(self, side: str) -> bool:
        return side in self.connections


class Subscription(ABC):
    """The events of one room, in order, for one connection."""

    @abstractmethod
    async def get(self) -> Event: ...

    @abstractmethod
    async def close(self) -> None: ...


class Hub(ABC):
    @abstractmethod
    async def publish(self, room: str, event: Event) -> None:
        """Deliver ``event`` to every subscriber of ``room`` (the sender too)."""

    @abstractmethod
    async def subscribe(self, room: str) -> Subscription: ...

    @abstractmethod
    async def arrive(self, room: str, side: str, connection: str) -> Presence:
        """Make ``connection`` the current one of ``side``; returns the
        presence as it was just before (to tell a rejoin from a first join)."""

    @abstractmethod
    async def depart(self, room: str, side: str, connection: str) -> bool:
        """Forget ``connection`` if it is still the current one of ``side``
        and note the time; False when a newer connection replaced it."""

    @abstractmethod
    async def presence(self, room: str) -> Presence: ...


class _LocalSubscription(Subscription):
    def __init__(self, hub: LocalHub, room: str) -> None:
        self.hub = hub
        self.room = room
        self.queue: asyncio.Queue[Event] = asyncio.Queue(QUEUE_LIMIT)

    async def get(self) -> Event:
        return await self.queue.get()

    async def close(self) -> None:
        subscribers = self.hub._rooms.get(self.room)
        if subscribers is not None:
            subscribers.discard(self)
            if not subscribers:
                del self.hub._rooms[self.room]


class LocalHub(Hub):
    """The hub inside one process (all connections on one event loop)."""

    def __init__(self, clock: Any = time.time) -> None:
        self._rooms: dict[str, set[_LocalSubscription]] = {}
        self._presence: dict[str, Presence] = {}
        self._clock = clock

    async def publish(self, room: str, event: Event) -> None:
        for subscriber in list(self._rooms.get(room, ())):
            try:
                subscriber.queue.put_nowait(event)
            except asyncio.QueueFull:
                # A connection that stopped reading: it is closed by its own
                # send timeout; the others must not wait for it.
                continue

    async def subscribe(self, room: str) -> Subscription:
        subscription = _LocalSubscription(self, room)
        self._rooms.setdefault(room, set()).add(subscription)
        return subscription

    async def arrive(self, room: str, side: str, connection: str) -> Presence:
        presence = self._presence.setdefault(room, Presence())
        before = Presence(dict(presence.connections), dict(presence.left_at))
        presence.connections[side] = connection
        return before

    async def depart(self, room: str, side: str, connection: str) -> bool:
        presence = self._presence.get(room)
        if presence is None or presence.connections.get(side) != connection:
            return False
        del presence.connections[side]
        presence.left_at[side] = self._clock()
        return True

    async def presence(self, room: str) -> Presence:
        presence = self._presence.get(room, Presence())
        return Presence(dict(presence.connections), dict(presence.left_at))


def hub_of(app: Any) -> Hub:
    """The application's hub (created on first use; one per app)."""
    hub: Hub | None = getattr(app.state, "video_hub", None)
    if hub is None:
        hub = LocalHub()
        app.state.video_hub = hub
    return hub
