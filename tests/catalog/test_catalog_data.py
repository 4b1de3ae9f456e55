"""The shipped catalog: everything issue 2 names, labelled in four
languages, loaded idempotently by code."""

from __future__ import annotations

import importlib
import re
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from puente.catalog import service
from puente.catalog.models import Service, Specialty
from puente.enums import ServiceKind

CONSULTED = [
    "angiology", "cardiology", "general_surgery", "internal_medicine", "nephrology",
    "pulmonology", "ophthalmology", "pediatrics", "psychiatry", "psychology",
    "traumatology_orthopedics", "urology", "gynecology", "obstetrics", "neurology", "oncology",
    "medical_oncology", "genetics", "otorhinolaryngology", "dentistry", "nutrition",
    "family_medicine",
]  # fmt: skip
# Every item of issue 2's catalog list, by the code Puente gives it.
ISSUE_ITEMS: dict[str, ServiceKind] = {
    **{f"consult-{s.replace('_', '-')}": ServiceKind.consultation for s in CONSULTED},
    **{
        code: ServiceKind.surgery
        for code in [
            "surgery-angiology", "surgery-cardiology", "surgery-general", "surgery-pulmonology",
            "surgery-ophthalmology", "surgery-traumatology-orthopedics", "surgery-urology",
            "surgery-gynecology", "surgery-obstetrics", "surgery-otorhinolaryngology",
            "surgery-pediatric", "surgery-plastic", "surgery-burns", "surgery-neurosurgery",
            "surgery-surgical-oncology", "surgery-maxillofacial", "surgery-joint-replacement",
            "surgery-cataract-iol",
        ]
    },
    **{
        code: ServiceKind.screening
        for code in [
            "screen-mammography", "screen-breast-exam", "screen-diabetes",
            "screen-hypertension", "screen-cervical-cancer", "screen-hepatitis-c",
        ]
    },
    **{
        code: ServiceKind.transplant
        for code in [
            "transplant-kidney", "transplant-cornea", "transplant-liver", "transplant-bone-marrow"
        ]
    },
    "donation-multi-organ": ServiceKind.donation,
    "donation-tissue": ServiceKind.donation,
    "fp-vasectomy": ServiceKind.family_planning,
    "fp-tubal-occlusion": ServiceKind.family_planning,
    "fp-hormonal-implant": ServiceKind.family_planning,
    "fp-other-long-acting": ServiceKind.family_planning,
    "vaccination-schedule": ServiceKind.vaccination,
    "social-work-intervention": ServiceKind.social_work,
    "endoscopy": ServiceKind.procedure,
    "imaging-mri": ServiceKind.imaging,
    "diagnostics": ServiceKind.diagnostics,
    "virtual-ari-covid": ServiceKind.remote_consultation,
}  # fmt: skip
LANGS = ("en", "es", "ru", "vi")


@pytest.fixture
def catalog(db: Session) -> dict[str, Service]:
    service.sync_catalog(db)
    return {s.code: s for s in db.scalars(select(Service))}


def test_the_catalog_holds_every_item_issue_2_names_with_its_kind(
    catalog: dict[str, Service],
) -> None:
    missing = sorted(set(ISSUE_ITEMS) - set(catalog))
    assert missing == []
    wrong = {c: catalog[c].kind for c, kind in ISSUE_ITEMS.items() if catalog[c].kind != kind}
    assert wrong == {}


def test_every_kind_of_service_has_at_least_one_service(catalog: dict[str, Service]) -> None:
    assert {s.kind for s in catalog.values()} == set(ServiceKind)


def test_every_service_and_specialty_has_four_distinct_non_empty_labels(
    db: Session, catalog: dict[str, Service]
) -> None:
    rows: list[Any] = [*catalog.values(), *db.scalars(select(Specialty))]
    blank = [(r.code, lang) for r in rows for lang in LANGS if not service.label(r, lang).strip()]
    assert blank == []
    # A translation that is the English text again is a missing translation
    # (a few words, such as "Endoscopy", are written the same in Spanish).
    untranslated = [r.code for r in rows if r.name_ru == r.name_en or r.name_vi == r.name_en]
    assert untranslated == []
    cyrillic = re.compile(r"[а-яё]", re.IGNORECASE)
    assert all(cyrillic.search(r.name_ru) for r in rows)


def test_label_speaks_the_readers_language_and_falls_back_to_english(
    catalog: dict[str, Service],
) -> None:
    kidney = catalog["transplant-kidney"]
    assert service.label(kidney, "es") == "Trasplante renal"
    assert service.label(kidney, "ru") == "Трансплантация почки"
    assert service.label(kidney, "vi") == "Ghép thận"
    assert service.label(kidney, "fr") == "Kidney transplant"


def test_consultations_belong_to_their_specialty(db: Session, catalog: dict[str, Service]) -> None:
    ids = service.specialty_ids_by_code(db, CONSULTED)
    for code in CONSULTED:
        assert catalog[f"consult-{code.replace('_', '-')}"].specialty_id == ids[code]


def test_syncing_twice_changes_nothing_and_keeps_ids(db: Session) -> None:
    first = service.sync_catalog(db)
    assert first.created > 100
    ids = {c: i for c, i in db.execute(select(Service.code, Service.id))}
    again = service.sync_catalog(db)
    assert (again.created, again.updated) == (0, 0)
    assert {c: i for c, i in db.execute(select(Service.code, Service.id))} == ids


def test_sync_restores_a_shipped_label_and_leaves_added_services_alone(db: Session) -> None:
    service.sync_catalog(db)
    mri = db.scalar(select(Service).where(Service.code == "imaging-mri"))
    assert mri is not None
    mri.name_es = "RM"
    db.add(
        Service(
            code="local-extra", kind=ServiceKind.procedure, name_en="Extra", name_es="Extra",
            name_ru="Доп.", name_vi="Thêm",
        )
    )  # fmt: skip
    db.flush()
    result = service.sync_catalog(db)
    assert (result.created, result.updated) == (0, 1)
    assert mri.name_es == "Resonancia magnética"
    assert db.scalar(select(func.count()).where(Service.code == "local-extra")) == 1


def _demo_specialty_codes() -> set[str]:
    """Specialty codes the demo world names in its facility profiles."""
    codes: set[str] = set()
    snake = re.compile(r"^[a-z]+(_[a-z]+)*$")

    def collect(value: Any) -> None:
        if isinstance(value, frozenset | set):
            codes.update(v for v in value if isinstance(v, str) and snake.match(v))
        elif isinstance(value, list | tuple):
            for item in value:
                collect(item)

    for name in ("mexico", "russia", "vietnam", "people"):
        module = importlib.import_module(f"puente.demo.{name}")
        for attr, value in vars(module).items():
            if attr.isupper() or attr.startswith("_"):
                collect(value)
        codes.update(getattr(module, "COMMON_SPECIALTIES", []))
        codes.update(getattr(module, "SPOKE_GENERALISTS", ()))
    return codes


def test_every_specialty_the_demo_world_names_is_in_the_catalog(db: Session) -> None:
    service.sync_catalog(db)
    named = _demo_specialty_codes()
    assert {"cardiology", "transplantation", "infectious_diseases"} <= named
    known = set(db.scalars(select(Specialty.code)))
    assert sorted(named - known) == []
