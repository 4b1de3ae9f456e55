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
