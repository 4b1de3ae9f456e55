"""The dashboard's figure cache: a figure is kept for its seconds, and of
many readers missing it at once only one computes it."""

from __future__ import annotations

import threading
import time

from puente.reports.cache import TimedCache


def test_eight_managers_opening_an_expired_figure_at_once_compute_it_once() -> None:
    cache: TimedCache[int] = TimedCache(seconds=30)
    computed: list[int] = []
    release = threading.Barrier(8)
    seen: list[int] = []

    def slow_count() -> int:
        computed.append(1)
        time.sleep(0.2)  # a figure over the rollups takes a while
        return 3729

    def manager() -> None:
        release.wait()
        seen.append(cache.get(("surgeries", "imss"), slow_count))

    threads = [threading.Thread(target=manager) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == [3729] * 8
    assert len(computed) == 1


def test_a_figure_is_computed_again_once_its_seconds_have_passed_and_says_when() -> None:
    cache: TimedCache[int] = TimedCache(seconds=0.2)
    values = iter([1, 2])
    first, born = cache.fetch("k", lambda: next(values))
    again, born_again = cache.fetch("k", lambda: next(values))
    assert (first, again) == (1, 1) and born_again == born
    time.sleep(0.25)
    later, born_later = cache.fetch("k", lambda: next(values))
    assert later == 2 and born_later > born


def test_a_reader_whose_computer_failed_computes_the_figure_itself() -> None:
    cache: TimedCache[str] = TimedCache(seconds=30)
    started = threading.Event()

    def failing() -> str:
        started.set()
        time.sleep(0.1)
        raise RuntimeError("database went away")

    errors: list[BaseException] = []

    def first() -> None:
        try:
            cache.get("k", failing)
        except RuntimeError as exc:
            errors.append(exc)

    t = threading.Thread(target=first)
    t.start()
    started.wait()
    assert cache.get("k", lambda: "counted") == "counted"
    t.join()
    assert len(errors) == 1


def test_no_seconds_means_every_read_computes() -> None:
    cache: TimedCache[int] = TimedCache(seconds=0)
    values = iter([1, 2])
    assert cache.get("k", lambda: next(values)) == 1
    assert cache.get("k", lambda: next(values)) == 2
