"""Waiting-list figures, checked by hand."""

from __future__ import annotations

from datetime import date, timedelta

from puente.recovery.figures import Row, percentile, waiting_stats

AS_OF = date(2026, 5, 11)  # a Monday


def weeks_ago(n: float) -> date:
    return AS_OF - timedelta(days=round(n * 7))


def test_percentiles_interpolate_between_ranks() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([10], 92) == 10
    assert percentile([], 50) is None


def test_the_list_counts_only_entries_still_waiting_on_the_day() -> None:
    rows = [
        Row("surgery-general", "HGR-46", 3, weeks_ago(10), None),
        Row("surgery-general", "HGR-46", 2, weeks_ago(60), None),
        Row("consult-cardiology", "UMF-3", 4, weeks_ago(110), None),
        Row("consult-cardiology", "UMF-3", 1, weeks_ago(20), weeks_ago(1)),  # served last week
        Row("consult-cardiology", "UMF-3", 1, AS_OF + timedelta(days=3), None),  # not yet referred
    ]
    s = waiting_stats(rows, AS_OF)
    assert s.size == 3
    assert s.by_service == [("surgery-general", 2), ("consult-cardiology", 1)]
    assert s.by_priority == [("p2", 1), ("p3", 1), ("p4", 1)]
    assert s.median_weeks == 60
    assert s.share_under_18_weeks == 1 / 3
    assert s.over_weeks == {52: 2, 65: 1, 78: 1, 104: 1}
    # P2 waited 60 weeks (> 30 days), P4 110 weeks (> 365 days); P3 70 days < 90.
    assert s.past_target == 2


def test_weeks_to_clear_divides_the_list_by_the_weekly_removals() -> None:
    rows = [Row("s", "u", 3, weeks_ago(30), None) for _ in range(12)]
    rows += [Row("s", "u", 3, weeks_ago(30), weeks_ago(k % 8 + 0.5)) for k in range(16)]
    s = waiting_stats(rows, AS_OF)
    assert sum(removed for _, _, removed in s.weeks) == 16
    assert s.weeks_to_clear == 12 / 2
    assert waiting_stats(rows[:12], AS_OF).weeks_to_clear is None
