"""Dashboard figures kept for a short while.

A dashboard page computes a dozen figures (some 40 queries over the
rollups and the consult cases: 30–90 ms of one core on the demo world,
several times that on a busy server). Managers open the same few dashboards
all day, so each figure is kept for ``PUENTE_DASHBOARD_CACHE_SECONDS`` (30 by
default; 0 turns it off) under everything it depends on: the indicator, the
filters, the breakdown, the reader's facility scope and the language. A
dashboard therefore shows figures at most that old, and says as of when; the
JSON API (/api/reports/…) and the campaign's own pages always count at once.

Many readers missing the same figure at once (when it has just expired on a
busy morning) wait for the one of them that computes it instead of all
computing it together.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class TimedCache(Generic[T]):
    """``key`` → value for ``seconds``; at most ``size`` keys (expired ones,
    then the oldest, make room). Safe across threads; of the threads that
    miss one key at once, one computes and the others wait for its value
    (for up to ``wait`` seconds, then compute it themselves)."""

    def __init__(self, seconds: float, size: int = 1024, wait: float = 30.0) -> None:
        self.seconds = seconds
        self.size = size
        self.wait = wait
        self._items: dict[Hashable, tuple[float, float, T]] = {}
        self._computing: dict[Hashable, threading.Event] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        return self.fetch(key, compute)[0]

    def fetch(self, key: Hashable, compute: Callable[[], T]) -> tuple[T, float]:
        """The value and when it was computed (``time.time()``)."""
        if self.seconds <= 0:
            return compute(), time.time()
        waited = False
        while True:
            now = time.monotonic()
            with self._lock:
                found = self._items.get(key)
                if found is not None and found[0] > now:
                    return found[2], found[1]
                busy = self._computing.get(key)
                if busy is None or waited:
                    mine = threading.Event()
                    self._computing.setdefault(key, mine)
                    break
            waited = True
            busy.wait(self.wait)  # then look again: found, or compute it here
        try:
            value = compute()
            born = time.time()
            with self._lock:
                if len(self._items) >= self.size:
                    self._make_room(time.monotonic())
                self._items[key] = (time.monotonic() + self.seconds, born, value)
            return value, born
        finally:
            with self._lock:
                if self._computing.get(key) is mine:
                    del self._computing[key]
            mine.set()

    def _make_room(self, now: float) -> None:
        for key in [k for k, (until, _born, _v) in self._items.items() if until <= now]:
            del self._items[key]
        while len(self._items) >= self.size:
            del self._items[next(iter(self._items))]  # the oldest inserted
