"""Case conferences: Chị Hoa (``coord.bachmai``) schedules Bạch Mai's rounds
with a case from Côn Đảo (Dr. Lan) and one from Mittaphab in Vientiane (Dr.
Somphone) on the agenda, Dr. Minh and Dr. Thu of Nhi Trung ương invited;
nobody is booked twice, only the people of those cases see it, and the
decisions are recorded case by case."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select

from puente.access.models import AuditEvent, User
from puente.enums import AppointmentPurpose, Mode, PractitionerRoleCode
from puente.notify.models import OutboxMessage
from puente.people.models import PractitionerRole
from puente.scheduling import service as scheduling
from puente.video.tokens import read_conference_token
from tests import factories as f
from tests.consults.network import Net, case_body

SOON = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)


def ask(app: FastAPI, net: Net, who: str, **overrides: Any) -> int:
    with net.client(app, who) as c:
        r = c.post("/api/consults", json=case_body(**overrides))
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def two_cases(app: FastAPI, net: Net) -> tuple[int, int]:
    condao = ask(app, net, "dr.lan", patient_id=net.ids["tuan"])
    vientiane = ask(
        app,
        net,
        "dr.somphone",
        spoke_facility_code="LA-MITTAPHAB",
        urgency="routine",
        question="Mitral stenosis in a 34-year-old: refer for valvotomy?",
        patient_id=net.ids["noy"],
    )
    return condao, vientiane


def rounds(cases: list[int], **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hub_facility_code": "VN-BACHMAI",
        "title": "Hội chẩn tim mạch thứ Năm",
        "starts_at": SOON.isoformat(),
        "minutes": 60,
        "case_ids": cases,
        "participants": ["dr.minh", "dr.lan"],
    }
    body.update(overrides)
    return body


def test_chi_hoa_schedules_rounds_with_two_cases_and_everyone_is_told(
    app: FastAPI, net: Net
) -> None:
    condao, vientiane = two_cases(app, net)
    with net.client(app, "coord.bachmai") as c:
        r = c.post(
            "/api/consults/conferences",
            json=rounds([condao, vientiane], participants=["dr.minh", "dr.lan", "dr.somphone"]),
        )
    assert r.status_code == 201, r.text
    conf = r.json()
    assert conf["status"] == "scheduled" and conf["provider"] == "mesh"
    assert conf["chair"] == "coord.bachmai"
    assert conf["timezone"] == "Asia/Ho_Chi_Minh"  # the hub's own
    assert [(i["position"], i["case_id"]) for i in conf["agenda"]] == [(0, condao), (1, vientiane)]
    assert {(p["username"], p["facility_code"], p["side"]) for p in conf["participants"]} == {
        ("coord.bachmai", "VN-BACHMAI", "hub"),
        ("dr.minh", "VN-BACHMAI", "hub"),
        ("dr.lan", "VN-CONDAO", "spoke"),
        ("dr.somphone", "LA-MITTAPHAB", "spoke"),
    }
    told = net.db.scalars(
        select(OutboxMessage).where(OutboxMessage.template == "conference_scheduled")
    ).all()
    assert {m.recipient for m in told} == {
        f"user:{net.users[u]}" for u in ("dr.minh", "dr.lan", "dr.somphone")
    }
    assert all(f"/consults/conferences/{conf['id']}/room" in m.body for m in told)
    written = net.db.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "create", AuditEvent.resource_type == "ServiceRequest"
        )
    ).all()
    assert {e.resource_id for e in written if e.user_id == net.users["coord.bachmai"]} == {
        str(condao),
        str(vientiane),
    }


def test_a_resubmitted_schedule_with_the_same_key_creates_one_conference(
    app: FastAPI, net: Net
) -> None:
    condao, _v = two_cases(app, net)
    headers = {"Idempotency-Key": "rounds-thursday"}
    with net.client(app, "coord.bachmai") as c:
        first = c.post("/api/consults/conferences", json=rounds([condao]), headers=headers)
        again = c.post("/api/consults/conferences", json=rounds([condao]), headers=headers)
        other = c.post(
            "/api/consults/conferences", json=rounds([condao], minutes=90), headers=headers
        )
        listed = c.get("/api/consults/conferences").json()
    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 409), first.text
    assert first.json()["id"] == again.json()["id"]
    assert other.json()["errors"][0]["field"] == "Idempotency-Key"
    assert len(listed) == 1


def test_dr_minh_with_a_booked_visit_at_that_time_is_refused_by_name(
    app: FastAPI, net: Net
) -> None:
    condao, _v = two_cases(app, net)
    minh = net.db.get(User, net.users["dr.minh"])
    assert minh is not None
    practitioner = f.practitioner(net.db, "Nguyễn", "Văn Minh")
    minh.display_name = "BS. Nguyễn Văn Minh"
    minh.practitioner_id = practitioner.id
    role = PractitionerRole(
        practitioner_id=practitioner.id,
        facility_id=net.ids["bachmai"],
        role=PractitionerRoleCode.specialist,
    )
    net.db.add(role)
    net.db.flush()
    local = SOON.astimezone(scheduling._zone("Asia/Ho_Chi_Minh"))
    schedule = scheduling.publish_schedule(
        net.db,
        practitioner_role_id=role.id,
        mode=Mode.virtual,
        slot_minutes=30,
        timezone="Asia/Ho_Chi_Minh",
        valid_from=date.today(),
        valid_until=None,
        # Every day, so that whatever the hour the suite runs at (local midnight
        # included) a slot of his falls within two hours after SOON.
        rules=[(day, time(0, 0), time(23, 30)) for day in range(7)],
        purpose=AppointmentPurpose.visit,
    )
    scheduling.generate_slots(net.db, schedule.id, until=local.date() + timedelta(days=1))
    slot = next(
        s
        for s in scheduling.free_slots(
            net.db, facility_ids=[net.ids["bachmai"]], start=SOON, end=SOON + timedelta(hours=2)
        )
    )
    scheduling.book(net.db, slot_id=slot.id, patient_id=net.ids["tuan"])
    net.db.commit()
    visit_start = slot.starts_at
    with net.client(app, "coord.bachmai") as c:
        busy = c.post(
            "/api/consults/conferences",
            json=rounds([condao], starts_at=visit_start.isoformat()),
        )
        later = c.post(
            "/api/consults/conferences",
            json=rounds([condao], starts_at=(visit_start + timedelta(days=1)).isoformat()),
        )
    assert busy.status_code == 409, busy.text
    assert "BS. Nguyễn Văn Minh (dr.minh)" in busy.json()["detail"]
    [error] = busy.json()["errors"]
    assert error["field"] == "participants.0" and error["message"].startswith("busy: appointment")
    assert later.status_code == 201, later.text


def test_nobody_sits_in_two_overlapping_conferences(app: FastAPI, net: Net) -> None:
    condao, vientiane = two_cases(app, net)
    with net.client(app, "coord.bachmai") as c:
        first = c.post("/api/consults/conferences", json=rounds([condao]))
        assert first.status_code == 201
        overlapping = c.post(
            "/api/consults/conferences",
            json=rounds(
                [condao, vientiane],
                starts_at=(SOON + timedelta(minutes=30)).isoformat(),
                participants=["dr.somphone", "dr.lan"],
            ),
        )
        after = c.post(
            "/api/consults/conferences",
            json=rounds([condao], starts_at=(SOON + timedelta(minutes=60)).isoformat()),
        )
        c.post(f"/api/consults/conferences/{first.json()['id']}/cancel", json={"reason": "ốm"})
        freed = c.post(
            "/api/consults/conferences",
            json=rounds([vientiane], participants=["dr.somphone"], title="Hội chẩn bù"),
        )
    assert overlapping.status_code == 409
    # The chair is the first one found busy: the field says who.
    assert overlapping.json()["errors"][0]["field"] == "chair"
    assert {e["field"] for e in overlapping.json()["errors"]} == {"chair", "participants.1"}
    assert after.status_code == 201, after.text  # back to back is fine
    assert freed.status_code == 201, freed.text  # the cancelled one holds nobody


def test_only_the_people_of_the_agenda_and_the_hub_see_the_conference(
    app: FastAPI, net: Net
) -> None:
    condao, _v = two_cases(app, net)
    with net.client(app, "coord.bachmai") as c:
        conf = c.post(
            "/api/consults/conferences", json=rounds([condao], participants=["dr.minh"])
        ).json()
    path = f"/api/consults/conferences/{conf['id']}"
    seen = {}
    for who in ("dr.minh", "dr.lan", "dr.somphone", "dr.huong", "coord.nhi", "admin"):
        with net.client(app, who) as c:
            one = c.get(path)
            listed = [x["id"] for x in c.get("/api/consults/conferences").json()]
            seen[who] = (one.status_code, conf["id"] in listed)
    assert seen == {
        "dr.minh": (200, True),  # hub staff
        "dr.lan": (200, True),  # her case is on the agenda (she is not invited)
        "dr.somphone": (404, False),  # his case is not on this agenda
        "dr.huong": (404, False),
        "coord.nhi": (404, False),  # another hub, not invited
        "admin": (200, True),
    }
    denied = net.db.scalars(
        select(AuditEvent).where(
            AuditEvent.resource_id == f"conference:{conf['id']}", AuditEvent.outcome == "denied"
        )
    ).all()
    assert {e.username for e in denied} == {"dr.somphone", "dr.huong", "coord.nhi"}
    # Dr. Lan sees it but is no participant: no room token for her.
    with net.client(app, "dr.lan") as c:
        refused = c.post(f"{path}/room-token")
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["field"] == "participants"


def test_a_specialist_of_another_hub_is_invited_and_gets_a_room_token(
    app: FastAPI, net: Net
) -> None:
    condao, _v = two_cases(app, net)
    with net.client(app, "coord.bachmai") as c:
        r = c.post(
            "/api/consults/conferences", json=rounds([condao], participants=["dr.thu", "dr.lan"])
        )
    assert r.status_code == 201, r.text
    conf = r.json()
    assert ("dr.thu", "VN-NHITW", "hub") in {
        (p["username"], p["facility_code"], p["side"]) for p in conf["participants"]
    }
    with net.client(app, "dr.thu") as c:
        ticket = c.post(f"/api/consults/conferences/{conf['id']}/room-token")
    assert ticket.status_code == 200, ticket.text
    body = ticket.json()
    assert body["socket_path"] == f"/ws/conferences/{conf['id']}"
    assert body["chair"] is False and body["provider"] == "mesh"
    room_pass = read_conference_token(
        app.state.settings.secret_key, body["token"], conference_id=conf["id"]
    )
    assert room_pass.user_id == net.users["dr.thu"] and not room_pass.chair
    with net.client(app, "coord.bachmai") as c:
        chair = c.post(f"/api/consults/conferences/{conf['id']}/room-token").json()
    assert chair["chair"] is True


def test_the_agenda_grows_shrinks_and_records_a_decision_per_case(app: FastAPI, net: Net) -> None:
    condao, vientiane = two_cases(app, net)
    with net.client(app, "coord.bachmai") as c:
        conf = c.post("/api/consults/conferences", json=rounds([condao])).json()
        path = f"/api/consults/conferences/{conf['id']}"
        added = c.post(f"{path}/agenda", json={"case_id": vientiane})
        twice = c.post(f"{path}/agenda", json={"case_id": vientiane})
        unknown = c.post(f"{path}/agenda", json={"case_id": 999_999})
        decided = c.put(
            f"{path}/agenda/{condao}/decision",
            json={"decision": "Tiêu sợi huyết tại chỗ, chuyển Bạch Mai sau 24 giờ."},
        )
        kept = c.delete(f"{path}/agenda/{condao}")
        removed = c.delete(f"{path}/agenda/{vientiane}")
        not_there = c.put(f"{path}/agenda/{vientiane}/decision", json={"decision": "x"})
    assert added.status_code == 201 and [i["case_id"] for i in added.json()["agenda"]] == [
        condao,
        vientiane,
    ]
    assert twice.status_code == 409
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "case_id"
    assert decided.status_code == 200, decided.text
    item = decided.json()["agenda"][0]
    assert item["decided_by"] == "coord.bachmai" and item["decision"].startswith("Tiêu sợi")
    assert decided.json()["status"] == "held"
    assert kept.status_code == 409
    assert removed.status_code == 200 and [i["case_id"] for i in removed.json()["agenda"]] == [
        condao
    ]
    assert not_there.status_code == 404 and not_there.json()["errors"][0]["field"] == "case_id"
    # Dr. Minh (the hub's specialist) may record decisions too; Dr. Lan may not.
    with net.client(app, "dr.lan") as c:
        spoke = c.put(f"{path}/agenda/{condao}/decision", json={"decision": "x"})
    assert spoke.status_code == 403


def test_a_cancelled_conference_tells_the_participants_and_shuts_its_room(
    app: FastAPI, net: Net
) -> None:
    condao, _v = two_cases(app, net)
    with net.client(app, "coord.bachmai") as c:
        conf = c.post("/api/consults/conferences", json=rounds([condao])).json()
        path = f"/api/consults/conferences/{conf['id']}"
        cancelled = c.post(f"{path}/cancel", json={"reason": "Mất điện"})
        again = c.post(f"{path}/cancel", json={})
        token = c.post(f"{path}/room-token")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert again.status_code == 409 and token.status_code == 409
    templates = {
        (m.recipient, m.template)
        for m in net.db.scalars(
            select(OutboxMessage).where(OutboxMessage.template.like("conference_%"))
        )
    }
    lan = f"user:{net.users['dr.lan']}"
    assert (lan, "conference_cancelled") in templates
    assert (lan, "conference_scheduled") not in templates  # withdrawn before it went out
    assert (f"user:{net.users['coord.bachmai']}", "conference_cancelled") not in templates


def test_bad_schedules_are_refused_naming_the_field(app: FastAPI, net: Net) -> None:
    condao, vientiane = two_cases(app, net)
    huong_case = ask(
        app,
        net,
        "dr.huong",
        spoke_facility_code="VN-COTO",
        specialty_code="pediatrics",
        patient_id=net.ids["bao"],
    )
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    cases = {
        "unknown case": (rounds([condao, 999_999]), 422, "case_ids.1"),
        "a case at another hub": (rounds([huong_case]), 422, "case_ids.0"),
        "repeated case": (rounds([condao, condao]), 422, "case_ids"),
        "no case": (rounds([]), 422, "case_ids"),
        "in the past": (rounds([condao], starts_at=past), 422, "starts_at"),
        "no offset": (rounds([condao], starts_at="2030-01-01T09:00:00"), 422, "starts_at"),
        "bad zone": (rounds([condao], timezone="Mars/Olympus"), 422, "timezone"),
        "too long": (rounds([condao], minutes=600), 422, "minutes"),
        "unknown user": (rounds([condao], participants=["dr.nobody"]), 422, "participants.0"),
        "not of the agenda": (
            rounds([condao], participants=["dr.minh", "dr.huong"]),
            422,
            "participants.1",
        ),
        "five in a mesh": (
            rounds(
                [condao, vientiane], participants=["dr.minh", "dr.lan", "dr.somphone", "dr.thu"]
            ),
            422,
            "participants",
        ),
        "janus not configured": (rounds([condao], provider="janus"), 422, "provider"),
        "unknown hub": (rounds([condao], hub_facility_code="VN-NOWHERE"), 422, "hub_facility_code"),
    }
    with net.client(app, "coord.bachmai") as c:
        for what, (body, code, field) in cases.items():
            r = c.post("/api/consults/conferences", json=body)
            assert r.status_code == code, (what, r.text)
            fields = {e["field"] for e in r.json().get("errors", [])}
            assert any(x == field or x.endswith(field) for x in fields), (what, r.json())
        elsewhere = c.post(
            "/api/consults/conferences", json=rounds([condao], hub_facility_code="VN-NHITW")
        )
        bad_filter = c.get("/api/consults/conferences", params={"from": "yesterday"})
    assert elsewhere.status_code == 403
    assert bad_filter.status_code == 422
    with net.client(app, "dr.lan") as c:
        spoke = c.post("/api/consults/conferences", json=rounds([condao]))
    assert spoke.status_code == 403


def test_the_list_filters_by_facility_and_time(app: FastAPI, net: Net) -> None:
    condao, vientiane = two_cases(app, net)
    later = SOON + timedelta(days=7)
    with net.client(app, "coord.bachmai") as c:
        first = c.post("/api/consults/conferences", json=rounds([condao])).json()
        second = c.post(
            "/api/consults/conferences",
            json=rounds([vientiane], starts_at=later.isoformat(), participants=["dr.somphone"]),
        ).json()

        def ids(**params: str) -> list[int]:
            r = c.get("/api/consults/conferences", params=params)
            assert r.status_code == 200, r.text
            return [x["id"] for x in r.json()]

        assert ids() == [first["id"], second["id"]]
        assert ids(facility_code="LA-MITTAPHAB") == [second["id"]]
        assert ids(facility_code="VN-BACHMAI") == [first["id"], second["id"]]
        assert ids(**{"from": (SOON + timedelta(days=1)).isoformat()}) == [second["id"]]
        assert ids(**{"to": (SOON + timedelta(days=1)).isoformat()}) == [first["id"]]
