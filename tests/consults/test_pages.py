"""The pages: Dr. Lan asks from a form in Vietnamese, Bạch Mai's coordinator
sees a countdown, assigns Dr. Minh, who answers; Dr. Lan records the outcome."""

from __future__ import annotations

import re

from fastapi import FastAPI

from tests.consults.network import Net

FORM = {
    "spoke_facility_code": "VN-CONDAO",
    "specialty_code": "cardiology",
    "urgency": "emergency",
    "question": "Đau ngực 2 giờ, ST chênh lên DII, DIII, aVF.",
    "clinical_summary": "Nam 58 tuổi, hút thuốc.",
    "answer_language": "vi",
    "heart_rate": "112",
    "spo2": "93",
    "request_key": "form-1",
}


def test_the_whole_case_through_the_pages(app: FastAPI, net: Net) -> None:
    with net.client(app, "dr.lan") as lan:
        form = lan.get("/consults/new?lang=vi")
        assert form.status_code == 200 and "Gửi ca bệnh" in form.text
        sent = lan.post(
            "/consults/new",
            data={**FORM, "patient_id": str(net.ids["tuan"])},
            follow_redirects=False,
        )
        assert sent.status_code == 303, sent.text
        again = lan.post(
            "/consults/new",
            data={**FORM, "patient_id": str(net.ids["tuan"])},
            follow_redirects=False,
        )
        assert again.headers["location"] == sent.headers["location"]
        case_id = int(re.findall(r"/consults/(\d+)", sent.headers["location"])[0])
        listing = lan.get("/consults?lang=vi")
        assert listing.status_code == 200 and f"/consults/{case_id}" in listing.text

    with net.client(app, "coord.bachmai") as coord:
        queue = coord.get("/consults/queue?lang=es")
        assert queue.status_code == 200
        assert f'data-case="{case_id}"' in queue.text and "data-due=" in queue.text
        assert "Emergencia" in queue.text
        page = coord.get(f"/consults/{case_id}?lang=en")
        assert 'name="user_id"' in page.text and "dr.minh" in page.text
        r = coord.post(
            f"/consults/{case_id}/assign",
            data={"user_id": str(net.users["dr.minh"])},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text

    with net.client(app, "dr.minh") as minh:
        page = minh.get(f"/consults/{case_id}?lang=ru")
        assert 'id="answer-form"' in page.text and "Написать рекомендацию" in page.text
        r = minh.post(
            f"/consults/{case_id}/answer",
            data={
                "assessment": "Nhồi máu cơ tim cấp thành dưới.",
                "diagnoses": "I21.1",
                "plan": "Tiêu sợi huyết, chuyển viện.",
                "transfer": "true",
                "transfer_facility_code": "VN-BRVT",
                "transfer_urgency": "emergency",
            },
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
        minh.post(f"/consults/{case_id}/messages", data={"body": "Gọi lại sau 1 giờ."})

    with net.client(app, "dr.lan") as lan:
        page = lan.get(f"/consults/{case_id}?lang=vi")
        assert "I21.1" in page.text and "Gọi lại sau 1 giờ." in page.text
        r = lan.post(
            f"/consults/{case_id}/outcome", data={"outcome": "transferred"}, follow_redirects=False
        )
        assert r.status_code == 303
        page = lan.get(f"/consults/{case_id}?lang=vi")
        assert 'id="outcome"' in page.text and "Đã chuyển viện" in page.text


def test_a_bad_form_names_the_field(app: FastAPI, net: Net) -> None:
    with net.client(app, "dr.lan") as lan:
        r = lan.post("/consults/new", data={**FORM, "spo2": "140", "patient_age_years": "58"})
    assert r.status_code == 422
    assert any(e["field"] == "vitals.spo2" for e in r.json()["errors"])


def test_dr_somphone_reads_the_times_of_his_case_in_vientiane_time(app: FastAPI, net: Net) -> None:
    from datetime import datetime

    from puente.i18n import format_moment
    from tests.consults.network import case_body

    with net.client(app, "dr.somphone") as c:
        case = c.post(
            "/api/consults",
            json=case_body(spoke_facility_code="LA-MITTAPHAB", patient_id=net.ids["noy"]),
        ).json()
        c.post(f"/api/consults/{case['id']}/messages", json={"body": "ECG attached."})
        listing = c.get("/consults?lang=en").text
        page = c.get(f"/consults/{case['id']}?lang=en").text
    sent = datetime.fromisoformat(case["requested_at"])
    here = format_moment(sent, "Asia/Vientiane", "en", fmt="short")
    utc = format_moment(sent, "UTC", "en", fmt="short")
    assert here != utc
    assert f"<td>{here}</td>" in listing and "(Asia/Vientiane)" in listing
    assert here in page and f"{utc} · " not in page
