"""Tele-education: Bạch Mai trains the spokes, attendance is counted per
facility and in the ledger; a closed case becomes de-identified teaching
material with one action; the doctors discuss it on the board."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import select

from puente.ledger.models import LedgerEntry
from tests.consults.network import Net, case_body


def test_bach_mai_schedules_a_session_and_spokes_record_attendance(app: FastAPI, net: Net) -> None:
    with net.client(app, "dr.minh") as c:
        r = c.post(
            "/api/training/sessions",
            json={
                "hub_facility_code": "VN-BACHMAI",
                "title": "Đọc điện tâm đồ trong nhồi máu cơ tim cấp",
                "specialty_code": "cardiology",
                "starts_at": "2026-12-10T01:00:00Z",
                "minutes": 90,
                "video_url": "https://bachmai.example/room/ecg",
            },
        )
        assert r.status_code == 201, r.text
        elsewhere = c.post(
            "/api/training/sessions",
            json={
                "hub_facility_code": "VN-NHITW",
                "title": "Sốt co giật",
                "starts_at": "2026-12-11T01:00:00Z",
            },
        )
        assert elsewhere.status_code == 403
    session_id = r.json()["id"]
    with net.client(app, "dr.lan") as c:
        first = c.post(
            f"/api/training/sessions/{session_id}/attendance", json={"facility_code": "VN-CONDAO"}
        )
        again = c.post(
            f"/api/training/sessions/{session_id}/attendance", json={"facility_code": "VN-CONDAO"}
        )
        other = c.post(
            f"/api/training/sessions/{session_id}/attendance", json={"facility_code": "VN-COTO"}
        )
    assert first.status_code == 201 and again.status_code == 200 and other.status_code == 403
    with net.client(app, "dr.somphone") as c:
        c.post(
            f"/api/training/sessions/{session_id}/attendance",
            json={"facility_code": "LA-MITTAPHAB"},
        )
    with net.client(app, "analyst") as c:
        rows = c.get("/api/training/attendance").json()
    assert {(r["facility_code"], r["attendances"]) for r in rows} == {
        ("VN-CONDAO", 1),
        ("LA-MITTAPHAB", 1),
    }
    counted = net.db.scalars(
        select(LedgerEntry).where(LedgerEntry.source_ref.like(f"training:{session_id}:%"))
    ).all()
    assert {e.facility_id for e in counted} == {net.ids["condao"], net.ids["mittaphab"]}


def test_a_closed_case_becomes_teaching_material_without_the_patient(
    app: FastAPI, net: Net
) -> None:
    with net.client(app, "dr.lan") as c:
        case = c.post("/api/consults", json=case_body(patient_id=net.ids["tuan"])).json()
        early = c.post("/api/teaching-cases", json={"case_id": case["id"], "title": "STEMI"})
        assert early.status_code == 409
    with net.client(app, "dr.minh") as c:
        c.post(
            f"/api/consults/{case['id']}/answer",
            json={
                "assessment": "STEMI thành dưới.",
                "diagnoses": ["I21.1"],
                "plan": "Tiêu sợi huyết.",
            },
        )
        made = c.post(
            "/api/teaching-cases", json={"case_id": case["id"], "title": "STEMI ngoài đảo"}
        )
    assert made.status_code == 201, made.text
    teaching = made.json()
    assert teaching["diagnoses"] == ["I21.1"] and teaching["age_band"] == "40-49"
    assert "patient_id" not in teaching and "case_id" not in teaching
    with net.client(app, "dr.huong") as c:
        thread = c.post(
            "/api/board/threads",
            json={
                "specialty_code": "cardiology",
                "title": "Tiêu sợi huyết ở đảo xa",
                "body": "Ở Cô Tô chúng tôi cũng gặp ca tương tự.",
                "teaching_case_id": teaching["id"],
            },
        )
        assert thread.status_code == 201, thread.text
        assert c.get(f"/api/teaching-cases/{teaching['id']}").status_code == 200
    with net.client(app, "dr.minh") as c:
        r = c.post(
            f"/api/board/threads/{thread.json()['id']}/posts", json={"body": "Cửa sổ 12 giờ."}
        )
        listed = c.get("/api/board/threads", params={"specialty_code": "cardiology"}).json()
    assert [p["author"] for p in r.json()["posts"]] == ["dr.huong", "dr.minh"]
    assert listed[0]["teaching_case_id"] == teaching["id"]


def test_the_training_page_lists_sessions_and_threads_in_russian(app: FastAPI, net: Net) -> None:
    with net.client(app, "coord.bachmai") as c:
        c.post(
            "/api/training/sessions",
            json={
                "hub_facility_code": "VN-BACHMAI",
                "title": "Sepsis in children",
                "starts_at": "2026-12-12T02:00:00Z",
            },
        )
        page = c.get("/training?lang=ru")
        listing = c.get("/consults?lang=ru")
    assert page.status_code == 200
    assert "Sepsis in children" in page.text and "Учебные занятия" in page.text
    assert 'href="/training?lang=ru"' in listing.text


def test_resent_training_teaching_and_board_creates_with_the_same_key_make_nothing_twice(
    app: FastAPI, net: Net
) -> None:
    """Dr Hương on Cô Tô and Dr Minh at Bạch Mai lose the line after each
    send and send again with the same Idempotency-Key."""
    session = {
        "hub_facility_code": "VN-BACHMAI",
        "title": "Siêu âm tại giường",
        "starts_at": "2026-12-14T01:00:00Z",
    }
    with net.client(app, "dr.minh") as c:
        key = {"Idempotency-Key": "bm-train-1"}
        training = [c.post("/api/training/sessions", json=session, headers=key) for _ in "ab"]
        changed = c.post(
            "/api/training/sessions", json={**session, "title": "Khác hẳn"}, headers=key
        )
    assert [r.status_code for r in training] == [201, 200] and changed.status_code == 409
    assert training[0].json()["id"] == training[1].json()["id"]
    with net.client(app, "dr.lan") as c:
        case_id = c.post("/api/consults", json=case_body(patient_id=net.ids["tuan"])).json()["id"]
    with net.client(app, "dr.minh") as c:
        c.post(
            f"/api/consults/{case_id}/answer",
            json={"assessment": "STEMI.", "diagnoses": ["I21.1"], "plan": "Tiêu sợi huyết."},
        )
        key = {"Idempotency-Key": "bm-teach-1"}
        body = {"case_id": case_id, "title": "STEMI ngoài đảo"}
        teaching = [c.post("/api/teaching-cases", json=body, headers=key) for _ in "ab"]
    assert [r.status_code for r in teaching] == [201, 200]
    assert teaching[0].json()["id"] == teaching[1].json()["id"]
    thread_body = {
        "specialty_code": "cardiology",
        "title": "Tiêu sợi huyết ở đảo xa",
        "body": "Ở Cô Tô chúng tôi cũng gặp ca tương tự.",
    }
    with net.client(app, "dr.huong") as c:
        key = {"Idempotency-Key": "coto-thread-1"}
        threads = [c.post("/api/board/threads", json=thread_body, headers=key) for _ in "ab"]
        thread_id = threads[0].json()["id"]
        key = {"Idempotency-Key": "coto-post-1"}
        url = f"/api/board/threads/{thread_id}/posts"
        posts = [c.post(url, json={"body": "Thêm ảnh ECG."}, headers=key) for _ in "ab"]
        other = c.post(url, json={"body": "Một câu khác."}, headers=key)
        listed = c.get("/api/board/threads").json()
    assert [r.status_code for r in threads] == [201, 200]
    assert threads[1].json()["id"] == thread_id
    assert [r.status_code for r in posts] == [201, 200] and other.status_code == 409
    assert [len(t["posts"]) for t in listed] == [2]
    # Another doctor's same key is her own, not a replay of Dr Hương's.
    with net.client(app, "dr.lan") as c:
        hers = c.post(
            f"/api/board/threads/{thread_id}/posts",
            json={"body": "Thêm ảnh ECG."},
            headers={"Idempotency-Key": "coto-post-1"},
        )
    assert hers.status_code == 201 and len(hers.json()["posts"]) == 3
