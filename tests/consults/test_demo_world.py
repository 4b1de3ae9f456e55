"""Done when: in the demo world a spoke doctor on an island (Cô Tô) and one
in Laos send emergency cases with images; the right hub sees each at the top
of its queue with a countdown; a specialist answers; a missed deadline
escalates; the spoke records the outcome; the metrics show it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from puente.access.models import User
from puente.consults import repository as repo
from puente.consults.deadlines import escalate_due
from puente.consults.metrics import metrics
from puente.consults.models import ConsultCase
from puente.db import utcnow
from tests import factories as f

PNG = b"\x89PNG\r\n\x1a\n" + b"\x01" * 3000


def as_user(client: TestClient, db: Session, username: str) -> TestClient:
    user = db.scalar(select(User).where(User.username == username))
    assert user is not None, username
    client.headers.clear()
    client.headers.update(f.bearer(db, user))
    return client


def send(client: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    r = client.post("/api/consults", json=body, headers={"Idempotency-Key": "demo-1"})
    assert r.status_code == 201, r.text
    case = r.json()
    upload = client.post(
        f"/api/consults/{case['id']}/uploads", json={"filename": "anh.png", "size": len(PNG)}
    ).json()
    half = len(PNG) // 2
    for at, chunk in ((0, PNG[:half]), (half, PNG[half:])):
        done = client.patch(upload["url"], content=chunk, headers={"Upload-Offset": str(at)})
        assert done.status_code == 200, done.text
    assert done.json()["complete"] is True
    return dict(case)


def test_the_demo_world_holds_months_of_cases_some_in_flight_and_some_breached(
    demo_db: Session,
) -> None:
    cases = list(demo_db.scalars(select(ConsultCase)))
    assert len(cases) > 200
    days = {c.requested_at.date() for c in cases}
    assert max(days) - min(days) > timedelta(days=120)
    assert any(c.status.value == "open" for c in cases)
    found = metrics(demo_db)
    assert found.answered > 200 and 0 < found.breached < found.answered
    spokes = repo.facilities(demo_db, {c.spoke_facility_id for c in cases})
    assert {"VN", "LA", "KH"} <= {f.country_code for f in spokes.values()}


def test_an_island_and_a_laos_case_from_request_to_outcome(
    demo_client: TestClient, demo_db: Session
) -> None:
    island = send(
        as_user(demo_client, demo_db, "dr.island"),
        {
            "spoke_facility_code": "VN-L0065",
            "patient_age_years": 3,
            "patient_sex": "male",
            "specialty_code": "pediatrics",
            "urgency": "emergency",
            "question": "Sốt cao, co giật toàn thân 10 phút; xử trí tiếp thế nào?",
            "clinical_summary": "Co giật lần đầu, đã cắt cơn bằng diazepam.",
            "answer_language": "vi",
        },
    )
    coord = as_user(demo_client, demo_db, "island.hub.coord")
    queue = coord.get("/api/consults/queue").json()
    assert queue[0]["id"] == island["id"] and 0 < queue[0]["seconds_left"] <= 1800
    assert f'data-case="{island["id"]}"' in coord.get("/consults/queue").text

    # Nobody at the island's first hub answers: the deadline passes twice.
    case = repo.case(demo_db, island["id"])
    assert case is not None
    first_hub = case.hub_facility_id
    escalate_due(demo_db, case.due_at + timedelta(seconds=1))
    escalate_due(demo_db, case.due_at + timedelta(seconds=1))
    demo_db.flush()
    assert case.hub_facility_id != first_hub and case.breached_at is not None

    laos = send(
        as_user(demo_client, demo_db, "dr.laos"),
        {
            "spoke_facility_code": "LA-MITTAPHAB",
            "patient_age_years": 58,
            "patient_sex": "male",
            "specialty_code": "cardiology",
            "urgency": "emergency",
            "question": "Chest pain for 2 hours, inferior ST elevation: thrombolyse or transfer?",
            "clinical_summary": "Smoker; BP 92/60.",
            "answer_language": "en",
        },
    )
    assert laos["hub_facility_code"] == "VN-BACHMAI"
    hub = as_user(demo_client, demo_db, "hub.coord")
    assert hub.get("/api/consults/queue").json()[0]["id"] == laos["id"]
    doctor = as_user(demo_client, demo_db, "hub.doctor")
    answered = doctor.post(
        f"/api/consults/{laos['id']}/answer",
        json={
            "assessment": "Acute inferior STEMI.",
            "diagnoses": ["I21.1"],
            "plan": "Thrombolysis now, then transfer.",
            "transfer": True,
            "transfer_facility_code": "VN-BACHMAI",
            "transfer_urgency": "emergency",
        },
    )
    assert answered.status_code == 200, answered.text
    assert answered.json()["ledger_entry_id"] is not None
    before = metrics(demo_db).answered
    spoke = as_user(demo_client, demo_db, "dr.laos")
    r = spoke.post(f"/api/consults/{laos['id']}/outcome", json={"outcome": "transferred"})
    assert r.status_code == 200
    assert len(spoke.get(f"/api/consults/{laos['id']}").json()["files"]) == 1
    demo_db.expire_all()
    after = metrics(demo_db)
    assert after.answered == before and after.outcomes["transferred"] >= 1


def test_the_demo_network_has_conferences_ahead_with_cases_and_people_of_both_sides(
    demo_client: TestClient, demo_db: Session
) -> None:
    hub = as_user(demo_client, demo_db, "hub.coord")
    ahead = hub.get("/api/consults/conferences", params={"status": "scheduled"}).json()
    assert len(ahead) >= 2
    for conf in ahead:
        assert conf["agenda"] and conf["chair"] == "hub.coord"
        assert {p["side"] for p in conf["participants"]} == {"hub", "spoke"}, conf
    held = hub.get("/api/consults/conferences", params={"status": "held"}).json()
    assert held and all(i["decision"] for i in held[0]["agenda"])
    island = as_user(demo_client, demo_db, "island.hub.coord")
    theirs = island.get("/api/consults/conferences", params={"mine": "true"}).json()
    assert theirs and theirs[0]["chair"] == "island.hub.coord"
    page = island.get("/consults/conferences?lang=vi")
    assert page.status_code == 200 and "Hội chẩn các ca từ huyện đảo" in page.text


def test_done_when_dr_laos_sends_an_emergency_with_an_x_ray_and_the_network_sees_it_through(
    demo_client: TestClient, demo_db: Session
) -> None:
    """The whole path through the HTTP API on one case: Dr Laos (Mittaphab,
    Vientiane) sends an emergency with a chest X-ray over a line that drops;
    Bạch Mai has it on top of its queue with a countdown; nobody takes it in
    time, so the coordinator is told; she assigns Dr Hub, who answers; the
    ledger counts it at Bạch Mai; Dr Laos records the outcome; the ministry's
    figures move by exactly this case."""
    from puente.ledger.models import LedgerEntry
    from puente.notify.models import OutboxMessage

    analyst = as_user(demo_client, demo_db, "analyst")
    before = analyst.get("/api/consults/metrics").json()
    since = utcnow().isoformat()

    spoke = as_user(demo_client, demo_db, "dr.laos")
    body = {
        "spoke_facility_code": "LA-MITTAPHAB",
        "patient_age_years": 47,
        "patient_sex": "female",
        "specialty_code": "cardiology",
        "urgency": "emergency",
        "question": "Sudden dyspnoea, pink frothy sputum, new murmur: what now, and transfer?",
        "clinical_summary": "Rheumatic heart disease known; X-ray attached.",
        "vitals": {"heart_rate": 128, "systolic_bp": 86, "spo2": 84},
        "answer_language": "en",
    }
    key = {"Idempotency-Key": "laos-e2e-1"}
    sent = spoke.post("/api/consults", json=body, headers=key)
    resent = spoke.post("/api/consults", json=body, headers=key)
    assert sent.status_code == 201 and resent.status_code == 200, resent.text
    case_id = sent.json()["id"]
    assert resent.json()["id"] == case_id
    assert sent.json()["hub_facility_code"] == "VN-BACHMAI"
    upload = spoke.post(
        f"/api/consults/{case_id}/uploads",
        json={"filename": "x-quang-nguc.png", "size": len(PNG)},
        headers={"Idempotency-Key": "laos-e2e-xray"},
    ).json()
    spoke.patch(upload["url"], content=PNG[:1000], headers={"Upload-Offset": "0"})
    # The line drops; the client asks where it stands and sends the rest.
    at = spoke.get(upload["url"]).json()["offset"]
    assert at == 1000
    done = spoke.patch(upload["url"], content=PNG[at:], headers={"Upload-Offset": str(at)})
    assert done.status_code == 200 and done.json()["complete"] is True

    coord = as_user(demo_client, demo_db, "hub.coord")
    top = coord.get("/api/consults/queue").json()[0]
    assert top["id"] == case_id and 0 < top["seconds_left"] <= 1800
    page = coord.get("/consults/queue?lang=vi").text
    assert f'data-case="{case_id}"' in page and 'class="countdown' in page

    case = repo.case(demo_db, case_id)
    assert case is not None
    escalate_due(demo_db, case.due_at + timedelta(seconds=1))
    demo_db.flush()
    item = next(i for i in coord.get("/api/consults/queue").json() if i["id"] == case_id)
    assert item["escalation_stage"] == 1
    coordinator = demo_db.scalar(select(User).where(User.username == "hub.coord"))
    doctor = demo_db.scalar(select(User).where(User.username == "hub.doctor"))
    assert coordinator is not None and doctor is not None
    told = demo_db.scalars(
        select(OutboxMessage).where(
            OutboxMessage.dedupe_key.like(f"consult:{case_id}:overdue:%"),
        )
    ).all()
    assert any(m.dedupe_key.endswith(f":user:{coordinator.id}") for m in told)

    assigned = coord.post(f"/api/consults/{case_id}/assign", json={"user_id": doctor.id})
    assert assigned.status_code == 200, assigned.text
    answered = as_user(demo_client, demo_db, "hub.doctor").post(
        f"/api/consults/{case_id}/answer",
        json={
            "assessment": "Acute pulmonary oedema, probably mitral valve disease.",
            "diagnoses": ["I50.1", "I05.9"],
            "plan": "Sit up, oxygen, furosemide IV; nitrates if BP allows.",
            "transfer": True,
            "transfer_facility_code": "VN-BACHMAI",
            "transfer_urgency": "urgent",
        },
    )
    assert answered.status_code == 200, answered.text
    entry = demo_db.get(LedgerEntry, answered.json()["ledger_entry_id"])
    assert entry is not None and entry.source_ref == f"consult:{case_id}"
    assert entry.facility_id == case.hub_facility_id and entry.mode.value == "virtual"

    spoke = as_user(demo_client, demo_db, "dr.laos")
    outcome = spoke.post(f"/api/consults/{case_id}/outcome", json={"outcome": "transferred"})
    assert outcome.status_code == 200 and outcome.json()["status"] == "closed"
    files = spoke.get(f"/api/consults/{case_id}").json()["files"]
    assert [f["filename"] for f in files] == ["x-quang-nguc.png"]

    analyst = as_user(demo_client, demo_db, "analyst")
    after = analyst.get("/api/consults/metrics").json()
    assert after["answered"] == before["answered"] + 1
    assert after["outcomes"]["transferred"] == before["outcomes"]["transferred"] + 1
    assert after["breached"] >= before["breached"] + 1
    mine = analyst.get("/api/consults/metrics", params={"start": since}).json()
    assert (mine["answered"], mine["breached"], mine["outcomes"]["transferred"]) == (1, 1, 1)
    [group] = mine["by_hub_and_urgency"]
    assert (group["hub_facility_code"], group["urgency"]) == ("VN-BACHMAI", "emergency")
    assert group["median_minutes"] is not None and group["breach_rate"] == 1.0
