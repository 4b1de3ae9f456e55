"""At most so many HTTP requests inside the app at once; the rest wait
their turn asynchronously, holding no thread and no database connection.

Why: a request holds one pooled connection from its first query to its
commit, while its synchronous steps (the principal, the route, the commit)
hop between threadpool threads. With more requests in flight than the pool
has connections, every thread can end up blocked in the pool's checkout
while the connections' holders wait for a thread: nothing moves until the
pool timeout answers 500 to everyone (seen with 200 users on ``puente
serve``; docs/benchmarks.md). Letting in no more requests than there are
connections keeps every admitted request able to finish.

The probes (/healthz, /readyz) pass the door: an orchestrator must hear
"up" from a busy process, not time out behind its queue. /readyz takes a
connection from the pool's overflow.
"""

from __future__ import annotations

import asyncio
from typing import Any

PROBES = frozenset({"/healthz", "/readyz"})


class AdmissionLimit:
    """ASGI middleware: ``limit`` HTTP requests at a time (WebSockets and
    the probes pass)."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit
        self._semaphore: asyncio.Semaphore | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("path") in PROBES:
            await self.app(scope, receive, send)
            return
        if self._semaphore is None:  # made in the server's event loop
            self._semaphore = asyncio.Semaphore(self.limit)
        async with self._semaphore:
            await self.app(scope, receive, send)
