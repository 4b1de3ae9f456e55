"""The planner, hand-checked on instances small enough to solve by eye."""

from __future__ import annotations

from datetime import date

from puente.recovery.planner import Entry, entry_value, greedy, plan

SAT, SUN = date(2026, 5, 15), date(2026, 5, 16)
SURGERY, CONSULT = 1, 2
JALISCO_HGR, NUEVO_LEON_HE = 10, 20


def entry(
    i: int,
    *,
    patient: int | None = None,
    line: int = CONSULT,
    use: int = 1,
    value: float = 1.0,
    units: tuple[int, ...] = (JALISCO_HGR,),
    referred: date = date(2025, 1, 1),
) -> Entry:
    return Entry(i, patient or 100 + i, line, use, value, units, referred)


def test_an_urgent_entry_is_worth_more_than_a_routine_one_and_waiting_raises_value() -> None:
    assert entry_value(1, 0) > entry_value(4, 0)
    assert entry_value(3, 120) > entry_value(3, 10)
    assert entry_value(4, 10_000) == 4 * entry_value(4, 0)  # capped at four times


def test_the_one_slot_goes_to_the_entry_of_highest_value() -> None:
    result = plan([entry(1, value=1.0), entry(2, value=9.0)], {(JALISCO_HGR, SAT, CONSULT): 1})
    assert [a.entry for a in result.assignments] == [2]
    assert result.objective == 9.0
    assert result.bound == 9.0 and result.gap == 0.0


def test_a_patient_is_given_at_most_one_appointment_a_day() -> None:
    # Rosa waits for a surgery and a consultation; there is one day.
    rosa = 7
    entries = [entry(1, patient=rosa, line=SURGERY, use=60, value=5.0), entry(2, patient=rosa)]
    capacity = {(JALISCO_HGR, SAT, SURGERY): 480, (JALISCO_HGR, SAT, CONSULT): 10}
    result = plan(entries, capacity)
    assert [a.entry for a in result.assignments] == [1]
    # With a second day she gets both, on different days.
    capacity[(JALISCO_HGR, SUN, CONSULT)] = 10
    result = plan(entries, capacity)
    days = sorted(a.day for a in result.assignments)
    assert days == [SAT, SUN]


def test_an_entry_is_only_planned_at_a_unit_that_may_serve_it() -> None:
    result = plan([entry(1, units=(NUEVO_LEON_HE,))], {(JALISCO_HGR, SAT, CONSULT): 5})
    assert result.assignments == []
    assert result.bound == 0.0


def test_operating_minutes_are_never_overbooked_and_the_bound_is_above_the_plan() -> None:
    entries = [
        entry(i, line=SURGERY, use=use, value=v)
        for i, (use, v) in enumerate([(240, 6), (180, 5), (120, 4), (90, 2), (60, 1)], 1)
    ]
    capacity = {(JALISCO_HGR, SAT, SURGERY): 300}
    result = plan(entries, capacity)
    used = sum(e.use for e in entries if e.id in {a.entry for a in result.assignments})
    assert used <= 300
    # Best by hand: 180 + 120 minutes = value 9.
    assert result.objective == 9.0
    assert result.bound >= result.objective
    assert 0 <= result.gap < 0.2


def test_the_plan_is_at_least_as_good_as_both_baselines() -> None:
    # The oldest referrals are routine; the recent ones urgent.
    entries = [entry(i, value=1.0, referred=date(2024, 1, i)) for i in range(1, 6)]
    entries += [entry(i, value=8.0, referred=date(2026, 4, i - 5)) for i in range(6, 9)]
    capacity = {(JALISCO_HGR, SAT, CONSULT): 3}
    result = plan(entries, capacity, standby_size=2)
    fcfs = greedy(entries, capacity, order="fcfs")
    assert {a.entry for a in fcfs} == {1, 2, 3}
    assert result.fcfs_objective == 3.0
    assert result.objective == result.greedy_objective == 24.0
    assert len(result.standby) == 2


def test_kept_appointments_hold_their_patients_day() -> None:
    result = plan([entry(1, patient=5)], {(JALISCO_HGR, SAT, CONSULT): 3}, busy=[(5, SAT)])
    assert result.assignments == []


def test_both_baselines_also_give_a_patient_at_most_one_appointment_a_day() -> None:
    # Rosa waits for two consultations, referred before anyone else and worth
    # the most; there is one day with room for three.
    rosa = 7
    entries = [
        entry(1, patient=rosa, value=9.0, referred=date(2024, 1, 1)),
        entry(2, patient=rosa, value=9.0, referred=date(2024, 1, 2)),
        entry(3, value=1.0, referred=date(2025, 1, 1)),
    ]
    capacity = {(JALISCO_HGR, SAT, CONSULT): 3}
    for order in ("fcfs", "density"):
        days = [a.day for a in greedy(entries, capacity, order=order) if a.entry in (1, 2)]
        assert days == [SAT], order
    result = plan(entries, capacity)
    assert result.fcfs_objective == result.greedy_objective == result.objective == 10.0
