"""A spoke asks, the right hub sees it first in its queue, a specialist
answers, the spoke records the outcome — over the JSON API."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from sqlalchemy import select

from puente.access.models import AuditEvent
from puente.catalog.models import Service
from puente.ledger.models import LedgerEntry
from puente.reports.indicators import Breakdown
from puente.reports.service import compute
from tests.consults.network import Net, case_body


def ask(app: FastAPI, net: Net, who: str, key: str | None = None, **body: Any) -> Any:
    headers = {"Idempotency-Key": key} if key else {}
    with net.client(app, who) as c:
        return c.post("/api/consults", json=case_body(**body), headers=headers)


def test_dr_lan_on_con_dao_sends_an_emergency_case_that_lands_at_bach_mai(
    app: FastAPI, net: Net
) -> None:
    r = ask(app, net, "dr.lan", patient_id=net.ids["tuan"])
    assert r.status_code == 201, r.text
    case = r.json()
    assert case["hub_facility_code"] == "VN-BACHMAI"
    assert case["status"] == "open"
    assert case["urgency"] == "emergency"
    minutes = (
        __import__("datetime").datetime.fromisoformat(case["due_at"])
        - __import__("datetime").datetime.fromisoformat(case["requested_at"])
    ).total_seconds() / 60
    assert minutes == 30


def test_a_child_on_co_to_goes_to_the_childrens_hospital_and_an_adult_to_bach_mai(
    app: FastAPI, net: Net
) -> None:
    child = ask(
        app,
        net,
        "dr.huong",
        spoke_facility_code="VN-COTO",
        patient_id=net.ids["bao"],
        specialty_code="pediatrics",
        question="Sốt cao, co giật 10 phút; xử trí tiếp thế nào?",
    )
    adult = ask(
        app,
        net,
        "dr.huong",
        spoke_facility_code="VN-COTO",
        patient_id=None,
        patient_age_years=44,
        patient_sex="female",
        specialty_code="cardiology",
    )
    assert child.json()["hub_facility_code"] == "VN-NHITW"
    assert adult.json()["hub_facility_code"] == "VN-BACHMAI"
    assert adult.json()["patient_id"] is None


def test_a_laos_hospital_is_served_across_the_border_like_any_spoke(app: FastAPI, net: Net) -> None:
    r = ask(
        app,
        net,
        "dr.somphone",
        spoke_facility_code="LA-MITTAPHAB",
        patient_id=net.ids["noy"],
        answer_language="en",
        urgency="urgent",
    )
    assert r.status_code == 201, r.text
    assert r.json()["hub_facility_code"] == "VN-BACHMAI"


def test_a_spoke_without_support_links_asks_up_the_tier_chain(app: FastAPI, net: Net) -> None:
    r = ask(
        app,
        net,
        "dr.vinh",
        spoke_facility_code="VN-MUONGNHE",
        patient_id=None,
        patient_age_years=7,
        urgency="routine",
    )
    assert r.status_code == 201, r.text
    assert r.json()["hub_facility_code"] == "VN-DIENBIEN"


def test_a_case_never_crosses_a_border_without_a_support_link(app: FastAPI, net: Net) -> None:
    """Dr Ortega's Mexican clinic has no link to Vietnam's hubs: her case
    waits unrouted at home instead of landing at Bach Mai."""
    from puente.enums import AccessRole
    from tests import factories as f

    f.facility(net.db, "MX-JAL-UMF48", "UMF 48 Guadalajara", region_code="MX-JAL")
    ortega = f.user(net.db, "dr.ortega", AccessRole.clinician, "MX-JAL-UMF48")
    net.headers["dr.ortega"] = f.bearer(net.db, ortega)
    r = ask(
        app,
        net,
        "dr.ortega",
        spoke_facility_code="MX-JAL-UMF48",
        patient_id=None,
        patient_age_years=61,
        urgency="routine",
    )
    assert r.status_code == 201, r.text
    assert (r.json()["status"], r.json()["hub_facility_code"]) == ("unrouted", None)


def test_a_resubmission_with_the_same_idempotency_key_never_creates_a_second_case(
    app: FastAPI, net: Net
) -> None:
    first = ask(app, net, "dr.lan", key="condao-2026-12-02-0001", patient_id=net.ids["tuan"])
    again = ask(app, net, "dr.lan", key="condao-2026-12-02-0001", patient_id=net.ids["tuan"])
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    other = ask(
        app,
        net,
        "dr.lan",
        key="condao-2026-12-02-0001",
        patient_id=net.ids["tuan"],
        urgency="routine",
    )
    assert other.status_code == 409
    with net.client(app, "dr.lan") as c:
        listed = c.get("/api/consults", params={"side": "spoke"}).json()
    assert listed["total"] == 1


def test_dr_lan_cannot_ask_for_another_facility_nor_for_a_patient_she_cannot_see(
    app: FastAPI, net: Net
) -> None:
    elsewhere = ask(
        app, net, "dr.lan", spoke_facility_code="VN-COTO", patient_id=None, patient_age_years=3
    )
    assert elsewhere.status_code == 403
    hidden = ask(app, net, "dr.lan", patient_id=net.ids["bao"])
    assert hidden.status_code == 404


def test_a_case_needs_a_patient_or_an_age_and_valid_vitals(app: FastAPI, net: Net) -> None:
    r = ask(app, net, "dr.lan", patient_id=None)
    assert r.status_code == 422
    r = ask(app, net, "dr.lan", patient_id=net.ids["tuan"], vitals={"spo2": 140})
    assert r.status_code == 422
    assert any(e["field"] == "vitals.spo2" for e in r.json()["errors"])


def test_the_hub_queue_puts_the_nearest_deadline_first_with_its_countdown(
    app: FastAPI, net: Net
) -> None:
    routine = ask(app, net, "dr.lan", patient_id=net.ids["tuan"], urgency="routine").json()
    emergency = ask(
        app, net, "dr.somphone", spoke_facility_code="LA-MITTAPHAB", patient_id=net.ids["noy"]
    ).json()
    with net.client(app, "coord.bachmai") as c:
        queue = c.get("/api/consults/queue").json()
    assert [q["id"] for q in queue] == [emergency["id"], routine["id"]]
    assert 0 < queue[0]["seconds_left"] <= 30 * 60
    with net.client(app, "coord.nhi") as c:
        assert c.get("/api/consults/queue").json() == []


def test_coordinator_assigns_dr_minh_who_answers_and_the_ledger_counts_it_at_the_hub(
    app: FastAPI, net: Net
) -> None:
    case = ask(app, net, "dr.lan", patient_id=net.ids["tuan"]).json()
    with net.client(app, "coord.bachmai") as c:
        r = c.post(f"/api/consults/{case['id']}/assign", json={"user_id": net.users["dr.minh"]})
        assert r.status_code == 200, r.text
        assert r.json()["assigned_user"] == "dr.minh"
        wrong = c.post(f"/api/consults/{case['id']}/assign", json={"user_id": net.users["dr.thu"]})
        assert wrong.status_code == 422
    reply = {
        "assessment": "Nhồi máu cơ tim cấp thành dưới.",
        "diagnoses": ["I21.1"],
        "plan": "Tiêu sợi huyết tại chỗ, sau đó chuyển viện.",
        "transfer": True,
        "transfer_facility_code": "VN-BRVT",
        "transfer_urgency": "emergency",
    }
    with net.client(app, "dr.minh") as c:
        r = c.post(f"/api/consults/{case['id']}/answer", json=reply)
        # His line drops before the reply arrives; he sends it again.
        resent = c.post(f"/api/consults/{case['id']}/answer", json=reply)
        other = c.post(f"/api/consults/{case['id']}/answer", json={**reply, "plan": "Khác."})
    assert r.status_code == 200, r.text
    assert resent.status_code == 200 and other.status_code == 409
    assert resent.json()["ledger_entry_id"] == r.json()["ledger_entry_id"]
    answered = r.json()
    assert answered["case"]["status"] == "answered"
    assert answered["case"]["transfer_facility_code"] == "VN-BRVT"
    entry = net.db.get(LedgerEntry, answered["ledger_entry_id"])
    assert entry is not None
    assert entry.facility_id == net.ids["bachmai"]
    assert entry.patient_id == net.ids["tuan"]
    assert entry.source_ref == f"consult:{case['id']}"
    # Counted as a remote consultation of the case's specialty.
    service = net.db.get(Service, entry.service_id)
    assert service is not None and service.code == "remote-consultation-cardiology"
    by_specialty = compute(net.db, "remote-consultations", by=[Breakdown.specialty])
    assert [(r.keys["specialty"], r.value) for r in by_specialty.rows] == [("cardiology", 1)]
    with net.client(app, "dr.lan") as c:
        r = c.post(f"/api/consults/{case['id']}/outcome", json={"outcome": "transferred"})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "closed"
        detail = c.get(f"/api/consults/{case['id']}").json()
    kinds = [e["kind"] for e in detail["events"]]
    assert kinds == ["created", "routed", "assigned", "answered", "outcome"]


def test_the_outcome_waits_for_the_answer_and_only_the_spoke_records_it(
    app: FastAPI, net: Net
) -> None:
    case = ask(app, net, "dr.lan", patient_id=net.ids["tuan"]).json()
    with net.client(app, "dr.lan") as c:
        assert (
            c.post(f"/api/consults/{case['id']}/outcome", json={"outcome": "died"}).status_code
            == 409
        )
    with net.client(app, "dr.minh") as c:
        assert (
            c.post(f"/api/consults/{case['id']}/outcome", json={"outcome": "died"}).status_code
            == 403
        )


def test_an_outcome_resent_after_a_drop_is_recorded_once_and_a_correction_is_kept(
    app: FastAPI, net: Net
) -> None:
    case = ask(app, net, "dr.lan", patient_id=net.ids["tuan"]).json()
    with net.client(app, "dr.minh") as c:
        c.post(
            f"/api/consults/{case['id']}/answer",
            json={"assessment": "STEMI.", "diagnoses": ["I21.1"], "plan": "Tiêu sợi huyết."},
        )
    url = f"/api/consults/{case['id']}/outcome"
    with net.client(app, "dr.lan") as c:
        sent = [
            c.post(url, json={"outcome": "treated_locally"}, headers={"Idempotency-Key": "o-1"})
            for _ in "ab"
        ]
        corrected = c.post(url, json={"outcome": "transferred", "note": "Evacuated by air."})
        events = c.get(f"/api/consults/{case['id']}").json()["events"]
    assert [r.status_code for r in sent] == [200, 200] and corrected.status_code == 200
    assert corrected.json()["outcome"] == "transferred"
    assert [e["detail"] for e in events if e["kind"] == "outcome"] == [
        "treated_locally",
        "transferred",
    ]


def test_a_declined_case_goes_on_to_the_next_hub_with_the_reason_kept(
    app: FastAPI, net: Net
) -> None:
    case = ask(
        app,
        net,
        "dr.huong",
        spoke_facility_code="VN-COTO",
        patient_id=net.ids["bao"],
        specialty_code="pediatrics",
    ).json()
    with net.client(app, "coord.nhi") as c:
        r = c.post(
            f"/api/consults/{case['id']}/decline", json={"reason": "No neurologist on call tonight"}
        )
    assert r.status_code == 200, r.text
    assert r.json()["hub_facility_code"] == "VN-BACHMAI"
    with net.client(app, "coord.bachmai") as c:
        detail = c.get(f"/api/consults/{case['id']}").json()
    declined = [e for e in detail["events"] if e["kind"] == "declined"]
    assert declined[0]["detail"] == "No neurologist on call tonight"
    assert declined[0]["hub_facility_code"] == "VN-NHITW"
    with net.client(app, "coord.nhi") as c:
        assert c.get(f"/api/consults/{case['id']}").status_code == 404


def test_the_thread_works_both_ways_without_both_sides_online(app: FastAPI, net: Net) -> None:
    case = ask(app, net, "dr.lan", patient_id=net.ids["tuan"]).json()
    with net.client(app, "dr.minh") as c:
        r = c.post(
            f"/api/consults/{case['id']}/messages",
            json={"body": "Troponin có không?"},
            headers={"Idempotency-Key": "m1"},
        )
        assert r.status_code == 201 and r.json()["side"] == "hub"
        again = c.post(
            f"/api/consults/{case['id']}/messages",
            json={"body": "Troponin có không?"},
            headers={"Idempotency-Key": "m1"},
        )
        assert again.status_code == 200
    with net.client(app, "dr.lan") as c:
        c.post(
            f"/api/consults/{case['id']}/messages", json={"body": "Không có xét nghiệm troponin."}
        )
        thread = c.get(f"/api/consults/{case['id']}/messages").json()
    assert [(m["side"], m["sender"]) for m in thread] == [("hub", "dr.minh"), ("spoke", "dr.lan")]


def test_outsiders_do_not_see_a_case_and_their_attempt_is_audited(app: FastAPI, net: Net) -> None:
    case = ask(app, net, "dr.lan", patient_id=net.ids["tuan"]).json()
    for who in ("dr.huong", "dr.thu"):
        with net.client(app, who) as c:
            assert c.get(f"/api/consults/{case['id']}").status_code == 404
    with net.client(app, "analyst") as c:
        assert c.get(f"/api/consults/{case['id']}").status_code == 403
    denied = net.db.scalars(
        select(AuditEvent).where(
            AuditEvent.resource_type == "ServiceRequest", AuditEvent.outcome == "denied"
        )
    ).all()
    assert {d.username for d in denied} >= {"dr.huong", "dr.thu"}
    reads = net.db.scalars(
        select(AuditEvent).where(
            AuditEvent.resource_type == "ServiceRequest",
            AuditEvent.action == "create",
            AuditEvent.patient_id == net.ids["tuan"],
        )
    ).all()
    assert len(reads) == 1


def test_the_hub_queue_read_is_audited_with_the_role_and_request_id(app: FastAPI, net: Net) -> None:
    case = ask(app, net, "dr.lan", patient_id=net.ids["tuan"]).json()
    with net.client(app, "coord.bachmai") as c:
        c.get("/api/consults/queue", headers={"X-Request-Id": "queue-read-1"})
    row = net.db.scalar(select(AuditEvent).where(AuditEvent.request_id == "queue-read-1"))
    assert row is not None
    assert (row.role, row.action, row.patient_id) == ("hub_coordinator", "search", net.ids["tuan"])
    assert row.resource_id == str(case["id"])
