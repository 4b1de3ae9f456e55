"""Dashboard figures kept for a short while.

A dashboard page computes a dozen figures (some 70 queries over the
rollups and the consult cases: 0.3–1.5 s of one core on the demo world).
Managers open the same few dashboards all day, so each figure is kept for
``PUENTE_DASHBOARD_CACHE_SECONDS`` (60 by default; 0 turns it off) under
everything it depends on: the indicator, the filters, the breakdown, the
reader's facility scope and the language. A dashboard therefore shows
figures at most that old; the JSON API (/api/reports/…) always computes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class TimedCache(Generic[T]):
    """``key`` → value for ``seconds``; at most ``size`` keys (expired ones,
    then the oldest, make room). Safe across threads; two threads missing
    the same key at once both compute, and the later one is kept."""

    def __init__(self, seconds: float, size: int = 1024) -> None:
        self.seconds = seconds
        self.size = size
        self._items: dict[Hashable, tuple[float, T]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        if self.seconds <= 0:
            return compute()
        now = time.monotonic()
        with self._lock:
            found = self._items.get(key)
            if found is not None and found[0] > now:
                return found[1]
        value = compute()
        with self._lock:
            if len(self._items) >= self.size:
                self._make_room(now)
            self._items[key] = (now + self.seconds, value)
        return value

    def _make_room(self, now: float) -> None:
        for key in [k for k, (until, _v) in self._items.items() if until <= now]:
            del self._items[key]
        while len(self._items) >= self.size:
            del self._items[next(iter(self._items))]  # the oldest inserted
