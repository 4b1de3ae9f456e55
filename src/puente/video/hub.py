"""The signaling hub: how the connections of one room reach each other.

Every connection to a visit room (a browser's WebSocket) subscribes to its
room and publishes events to it: WebRTC offers, answers and ICE candidates,
chat lines, files shared, admission, the end of the call. The hub also keeps
the room's *presence* — which connection is the current one of each side and
when a side last left — which decides who may rejoin without admission.

``LocalHub`` keeps all of it in this process: enough for one app process
(``uvicorn`` with one worker). To run several processes behind a load
balancer, ``RedisHub`` implements the same methods with Redis (chosen by
``PUENTE_REDIS_URL``): ``publish`` → ``PUBLISH puente:room:<id> <json>``;
``subscribe`` → one ``redis.asyncio`` pub/sub connection per process,
subscribed to the channels of the rooms it has connections in; presence → a
hash ``puente:room:<id>:presence`` (fields ``<side>`` = connection id and
``<side>:left`` = time), where ``arrive`` and ``depart`` are short Lua scripts
(read-then-write and compare-and-delete, atomic in Redis) and the hash
expires a day after its last write; a heartbeat per process lets the others
treat the connections of a crashed process as gone. Nothing outside this
module knows which backend runs: code asks ``hub_of(app)``. docs/processes.md
says what else several processes share.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

Event = dict[str, Any]
QUEUE_LIMIT = 512
PRESENCE_EXPIRY_SECONDS = 86_400
SUBSCRIBE_TIMEOUT_SECONDS = 10.0
HEARTBEAT_SECONDS = 10.0
HUB_TIMEOUT_SECONDS = 30.0


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


# Redis: several processes ------------------------------------------------------

# Every process's hub notes in the sorted set ``<prefix>hubs`` when it was last
# alive (a heartbeat). A side whose connection belongs to a hub silent for
# longer than HUB_TIMEOUT_SECONDS (a process that crashed, and so never said
# goodbye) counts as having left when that hub was last seen. The scripts
# below start with that pruning. Connection values are "<hub id> <connection>".
PRUNE = """
local function prune(key, hubs, now, timeout)
  local fields = redis.call('HGETALL', key)
  for i = 1, #fields, 2 do
    local name, value = fields[i], fields[i + 1]
    if not string.find(name, ':', 1, true) then
      local hub = string.match(value, '^(%S+) ')
      local seen = hub and tonumber(redis.call('ZSCORE', hubs, hub))
      if hub and (seen == nil or seen < now - timeout) then
        redis.call('HDEL', key, name)
        redis.call('HSET', key, name .. ':left', tostring(seen or now))
      end
    end
  end
end
"""

# KEYS[1] presence hash, KEYS[2] hubs; ARGV: side, value, expiry, hub id, now,
# timeout. Returns the hash as it was before (a flat list of fields, values).
ARRIVE = (
    PRUNE
    + """
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[4])
prune(KEYS[1], KEYS[2], tonumber(ARGV[5]), tonumber(ARGV[6]))
local before = redis.call('HGETALL', KEYS[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return before
"""
)

# KEYS[1] presence hash; ARGV: side, value, time, expiry. Forgets the side
# only if this connection is still its current one (compare-and-delete).
DEPART = """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then
  return 0
end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1] .. ':left', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
"""

# KEYS[1] presence hash, KEYS[2] hubs; ARGV: now, timeout, hub id (the
# asking hub is alive).
PRESENCE = (
    PRUNE
    + """
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[3])
prune(KEYS[1], KEYS[2], tonumber(ARGV[1]), tonumber(ARGV[2]))
return redis.call('HGETALL', KEYS[1])
"""
)


def _unless_cancelled() -> None:
    """redis-py may turn a cancellation into a connection error: re-raise it."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _presence_of(flat: list[Any]) -> Presence:
    values = [_text(v) for v in flat]
    presence = Presence()
    for name, value in zip(values[::2], values[1::2], strict=True):
        side, _, suffix = name.partition(":")
        if not suffix:
            presence.connections[side] = value.partition(" ")[2]
        elif suffix == "left":
            with contextlib.suppress(ValueError):
                presence.left_at[side] = float(value)
    return presence


class _RedisSubscription(Subscription):
    def __init__(self, hub: RedisHub, channel: str) -> None:
        self.hub = hub
        self.channel = channel
        self.queue: asyncio.Queue[Event] = asyncio.Queue(QUEUE_LIMIT)

    async def get(self) -> Event:
        return await self.queue.get()

    async def close(self) -> None:
        await self.hub._leave(self)


class RedisHub(Hub):
    """The hub shared by every process connected to one Redis.

    Each process keeps one pub/sub connection, subscribed to the channels of
    the rooms it has connections in, and a reader task that hands every
    message to this process's subscribers of its room, in the order Redis
    delivered them. Publishing and presence use an ordinary connection pool.
    ``prefix`` starts every key and channel (several installations, or
    tests, can share one Redis). Bound to the event loop of its first use."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "puente:",
        clock: Any = time.time,
        expiry_seconds: int = PRESENCE_EXPIRY_SECONDS,
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.expiry_seconds = expiry_seconds
        self.id = uuid.uuid4().hex
        self._clock = clock
        self._loop: asyncio.AbstractEventLoop | None = None
        self._redis: Any = None
        self._pubsub: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._rooms: dict[str, set[_RedisSubscription]] = {}
        self._confirmed: dict[str, asyncio.Future[None]] = {}
        self._arrive: Any = None
        self._depart: Any = None
        self._presence: Any = None
        self._heartbeat: asyncio.Task[None] | None = None

    def channel(self, room: str) -> str:
        return f"{self.prefix}room:{room}"

    def presence_key(self, room: str) -> str:
        return f"{self.prefix}room:{room}:presence"

    @property
    def hubs_key(self) -> str:
        return f"{self.prefix}hubs"

    def _value(self, connection: str) -> str:
        return f"{self.id} {connection}"

    def _client(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._redis is None or self._loop is not loop:
            from redis import asyncio as aioredis

            # First use, or a new event loop (a test's): connections belong
            # to the loop that opened them, so start afresh.
            self._loop = loop
            # Named, so that CLIENT LIST tells which process a connection serves.
            self._redis = aioredis.from_url(self.url, client_name=f"puente-hub-{self.id}")
            self._pubsub = None
            self._reader = None
            self._lock = asyncio.Lock()
            self._rooms = {}
            self._confirmed = {}
            self._arrive = self._redis.register_script(ARRIVE)
            self._depart = self._redis.register_script(DEPART)
            self._presence = self._redis.register_script(PRESENCE)
            self._heartbeat = loop.create_task(self._beat())
        return self._redis

    async def _beat(self) -> None:
        """Tell the other processes this one is alive; forget long-dead hubs."""
        from redis.exceptions import RedisError

        while True:
            now = float(self._clock())
            try:
                await self._redis.zadd(self.hubs_key, {self.id: now})
                await self._redis.zremrangebyscore(self.hubs_key, "-inf", now - self.expiry_seconds)
            except (RedisError, OSError):
                _unless_cancelled()
                log.warning("could not reach Redis for the hub's heartbeat", exc_info=True)
            _unless_cancelled()
            await asyncio.sleep(HEARTBEAT_SECONDS)

    async def publish(self, room: str, event: Event) -> None:
        data = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
        await self._client().publish(self.channel(room), data)

    async def subscribe(self, room: str) -> Subscription:
        self._client()
        channel = self.channel(room)
        subscription = _RedisSubscription(self, channel)
        async with self._lock:
            pubsub = await self._listening()
            subscribers = self._rooms.get(channel)
            if subscribers is not None:
                subscribers.add(subscription)
                return subscription
            # Registered before SUBSCRIBE is sent: the reader may hand over the
            # first message before this coroutine runs again.
            self._rooms[channel] = {subscription}
            confirmed = asyncio.get_running_loop().create_future()
            self._confirmed[channel] = confirmed
            try:
                await pubsub.subscribe(channel)
                # Once Redis confirms, every later PUBLISH reaches this process.
                await asyncio.wait_for(confirmed, SUBSCRIBE_TIMEOUT_SECONDS)
            except BaseException:
                self._rooms.pop(channel, None)
                self._confirmed.pop(channel, None)
                raise
        return subscription

    async def _listening(self) -> Any:
        """The process's pub/sub connection and its reader (started once)."""
        if self._pubsub is None:
            pubsub = self._redis.pubsub()
            # A channel of this hub's own keeps the connection subscribed (and
            # the reader reading) while no room is open.
            own = f"{self.prefix}hub:{self.id}"
            await pubsub.subscribe(own)
            while True:
                message = await pubsub.get_message(timeout=SUBSCRIBE_TIMEOUT_SECONDS)
                if message is None:
                    raise TimeoutError("Redis did not confirm the subscription")
                if message["type"] == "subscribe":
                    break
            self._pubsub = pubsub
            self._reader = asyncio.get_running_loop().create_task(self._read(pubsub))
        return self._pubsub

    async def _read(self, pubsub: Any) -> None:
        from redis.exceptions import RedisError

        while True:
            try:
                message = await pubsub.get_message(timeout=None)
            except (RedisError, OSError):
                _unless_cancelled()
                # Redis restarted or the link dropped: redis-py reconnects and
                # subscribes again; what was published meanwhile is lost (the
                # browsers' own reconnection recovers the call).
                log.warning("lost the Redis pub/sub connection; reconnecting", exc_info=True)
                await asyncio.sleep(1.0)
                continue
            _unless_cancelled()
            if message is None:
                continue
            kind = message["type"]
            channel = _text(message["channel"])
            if kind == "subscribe":
                confirmed = self._confirmed.pop(channel, None)
                if confirmed is not None and not confirmed.done():
                    confirmed.set_result(None)
            elif kind == "message":
                try:
                    event = json.loads(message["data"])
                except ValueError:
                    continue
                for subscriber in list(self._rooms.get(channel, ())):
                    try:
                        subscriber.queue.put_nowait(event)
                    except asyncio.QueueFull:
                        continue  # as in LocalHub: a stalled reader is not waited for

    async def _leave(self, subscription: _RedisSubscription) -> None:
        if self._loop is not asyncio.get_running_loop():
            return  # belongs to a loop that is gone
        async with self._lock:
            subscribers = self._rooms.get(subscription.channel)
            if subscribers is None:
                return
            subscribers.discard(subscription)
            if subscribers:
                return
            del self._rooms[subscription.channel]
            if self._pubsub is not None:
                from redis.exceptions import RedisError

                with contextlib.suppress(RedisError, OSError):
                    await self._pubsub.unsubscribe(subscription.channel)

    async def arrive(self, room: str, side: str, connection: str) -> Presence:
        self._client()
        flat = await self._arrive(
            keys=[self.presence_key(room), self.hubs_key],
            args=[
                side,
                self._value(connection),
                self.expiry_seconds,
                self.id,
                repr(float(self._clock())),
                HUB_TIMEOUT_SECONDS,
            ],
        )
        return _presence_of(flat)

    async def depart(self, room: str, side: str, connection: str) -> bool:
        self._client()
        done = await self._depart(
            keys=[self.presence_key(room)],
            args=[side, self._value(connection), repr(float(self._clock())), self.expiry_seconds],
        )
        return bool(done)

    async def presence(self, room: str) -> Presence:
        self._client()
        flat = await self._presence(
            keys=[self.presence_key(room), self.hubs_key],
            args=[repr(float(self._clock())), HUB_TIMEOUT_SECONDS, self.id],
        )
        return _presence_of(flat)

    async def aclose(self) -> None:
        """Stop the reader and close the connections (tests; shutdown)."""
        for task in (self._reader, self._heartbeat):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()
        if self._redis is not None:
            with contextlib.suppress(Exception):
                await self._redis.aclose()
        self._redis = self._pubsub = self._reader = self._heartbeat = None
        self._rooms = {}


def hub_of(app: Any) -> Hub:
    """The application's hub (created on first use; one per app): Redis when
    ``PUENTE_REDIS_URL`` is set, this process otherwise."""
    hub: Hub | None = getattr(app.state, "video_hub", None)
    if hub is None:
        settings = getattr(app.state, "settings", None)
        url = getattr(settings, "redis_url", None)
        if url:
            hub = RedisHub(url, prefix=str(getattr(settings, "redis_prefix", "puente:")))
        else:
            hub = LocalHub()
        app.state.video_hub = hub
    return hub
