"""Triage for acute respiratory infection (ARI) and COVID-19: may this
patient be seen over video, or must they be seen in person or as an emergency?

A pure function of the answers, checked in this order (the first rule that
fires decides, so the most urgent reason is the one shown):

Emergency care (call an ambulance; nothing is booked):
  1. ``low_oxygen_saturation`` — SpO2 known and below 94 %. WHO and the
     Russian Ministry of Health guidance both treat SpO2 < 94 % on room air
     as severe disease needing oxygen.
  2. ``breathless_at_rest`` — difficulty breathing at rest.

An in-person visit (the polyclinic or a home visit; nothing is booked here):
  3. ``breathless_on_exertion`` — difficulty breathing on exertion only:
     needs auscultation and an oxygen reading the patient cannot give.
  4. ``long_fever`` — fever for more than 5 days: the point at which a
     bacterial complication (pneumonia) must be excluded in person.
  5. ``pregnancy`` — pregnant patients are examined in person.
  6. ``infant`` — children under 1 year.
  7. ``older_with_chronic_conditions`` — aged 65 or over *and* at least one
     chronic condition (diabetes, heart, lung or kidney disease,
     immunosuppression, obesity): the group at high risk of severe COVID-19.

Otherwise a virtual visit:
  8. ``mild_symptoms``.

Reason codes are stored (``TriageAssessment.reason``) and shown through
:data:`REASON_LABELS`, translated in the reader's language.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from puente.enums import TriageDecision

__all__ = [
    "LOW_SPO2",
    "REASON_LABELS",
    "Answers",
    "Breathing",
    "ChronicCondition",
    "Outcome",
    "assess",
]

LOW_SPO2 = 94
LONG_FEVER_DAYS = 5
OLDER_AGE = 65


class Breathing(StrEnum):
    none = "none"
    on_exertion = "on_exertion"
    at_rest = "at_rest"


class ChronicCondition(StrEnum):
    diabetes = "diabetes"
    heart_disease = "heart_disease"
    lung_disease = "lung_disease"
    kidney_disease = "kidney_disease"
    immunosuppression = "immunosuppression"
    obesity = "obesity"


@dataclass(frozen=True)
class Answers:
    fever_days: int
    breathing: Breathing
    age: int
    pregnant: bool = False
    chronic_conditions: frozenset[ChronicCondition] = frozenset()
    spo2: int | None = None  # per cent, when the patient has a pulse oximeter


@dataclass(frozen=True)
class Outcome:
    decision: TriageDecision
    reason: str


def _(text: str) -> str:
    return text  # marks msgids; translated when shown


# English msgids, translated in visits.po.
REASON_LABELS: dict[str, str] = {
    "low_oxygen_saturation": _("Oxygen saturation below 94 %: call emergency care (103 / 112)."),
    "breathless_at_rest": _("Difficulty breathing at rest: call emergency care (103 / 112)."),
    "breathless_on_exertion": _("Difficulty breathing on exertion needs an in-person examination."),
    "long_fever": _("Fever for more than 5 days needs an in-person examination."),
    "pregnancy": _("During pregnancy you are examined in person."),
    "infant": _("Children under one year are examined in person."),
    "older_with_chronic_conditions": _(
        "Aged 65 or over with a chronic condition: you are examined in person."
    ),
    "mild_symptoms": _("Your symptoms can be seen in a virtual visit."),
}

E, P, V = TriageDecision.emergency, TriageDecision.in_person, TriageDecision.virtual


def assess(answers: Answers) -> Outcome:
    """The decision and the reason for it (see the module docstring)."""
    a = answers
    if a.spo2 is not None and a.spo2 < LOW_SPO2:
        return Outcome(E, "low_oxygen_saturation")
    if a.breathing == Breathing.at_rest:
        return Outcome(E, "breathless_at_rest")
    if a.breathing == Breathing.on_exertion:
        return Outcome(P, "breathless_on_exertion")
    if a.fever_days > LONG_FEVER_DAYS:
        return Outcome(P, "long_fever")
    if a.pregnant:
        return Outcome(P, "pregnancy")
    if a.age < 1:
        return Outcome(P, "infant")
    if a.age >= OLDER_AGE and a.chronic_conditions:
        return Outcome(P, "older_with_chronic_conditions")
    return Outcome(V, "mild_symptoms")
