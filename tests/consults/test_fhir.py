"""Remote consultation in FHIR R4: ServiceRequest, Task, Communication and
DocumentReference — read, search and create, every resource valid R4."""

from __future__ import annotations

import base64
from typing import Any

from fastapi import FastAPI

from puente.fhir.validation import validate
from tests.consults.network import Net, case_body

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200


def _valid(resource: dict[str, Any]) -> None:
    issues = validate(resource, resource["resourceType"])
    assert issues == [], issues


def _case(app: FastAPI, net: Net) -> int:
    with net.client(app, "dr.lan") as c:
        r = c.post("/api/consults", json=case_body(patient_id=net.ids["tuan"]))
        c.post(f"/api/consults/{r.json()['id']}/messages", json={"body": "ECG gửi kèm."})
    return int(r.json()["id"])


def test_a_case_reads_as_a_valid_service_request_and_task_with_its_deadline(
    app: FastAPI, net: Net
) -> None:
    case_id = _case(app, net)
    with net.client(app, "coord.bachmai") as c:
        sr = c.get(f"/fhir/ServiceRequest/{case_id}").json()
        task = c.get(f"/fhir/Task/{case_id}").json()
        found = c.get("/fhir/ServiceRequest", params={"priority": "stat"}).json()
        tasks = c.get("/fhir/Task", params={"status": "requested"}).json()
        thread = c.get(
            "/fhir/Communication", params={"based-on": f"ServiceRequest/{case_id}"}
        ).json()
    for resource in (sr, task, found, tasks, thread):
        _valid(resource)
    assert sr["priority"] == "stat" and sr["subject"] == {"reference": f"Patient/{net.ids['tuan']}"}
    assert sr["performer"] == [{"reference": f"Organization/{net.ids['bachmai']}"}]
    assert task["status"] == "requested" and "end" in task["restriction"]["period"]
    assert found["total"] == 1 and tasks["total"] == 1
    assert thread["entry"][0]["resource"]["payload"][0]["contentString"] == "ECG gửi kèm."
    with net.client(app, "coord.nhi") as c:
        assert c.get(f"/fhir/ServiceRequest/{case_id}").status_code == 404
        assert c.get("/fhir/ServiceRequest").json()["total"] == 0


def test_a_spoke_creates_a_case_as_a_service_request_with_an_idempotency_key(
    app: FastAPI, net: Net
) -> None:
    resource = {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "priority": "urgent",
        "subject": {"reference": f"Patient/{net.ids['noy']}"},
        "requester": {"reference": f"Organization/{net.ids['mittaphab']}"},
        "performerType": {
            "coding": [{"system": "urn:puente:code-system:specialty", "code": "neurology"}]
        },
        "reasonCode": [{"text": "Headache and fever for 3 days; meningitis?"}],
        "note": [{"text": "Woman, 31; neck stiffness."}],
    }
    with net.client(app, "dr.somphone") as c:
        first = c.post("/fhir/ServiceRequest", json=resource, headers={"Idempotency-Key": "la-1"})
        again = c.post("/fhir/ServiceRequest", json=resource, headers={"Idempotency-Key": "la-1"})
        broken = c.post("/fhir/ServiceRequest", json={**resource, "priority": 5})
    assert first.status_code == 201, first.text
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    _valid(first.json())
    assert first.json()["performer"] == [{"reference": f"Organization/{net.ids['bachmai']}"}]
    assert broken.status_code == 400


def test_a_message_and_an_image_are_created_as_communication_and_document_reference(
    app: FastAPI, net: Net
) -> None:
    case_id = _case(app, net)
    with net.client(app, "dr.minh") as c:
        message = c.post(
            "/fhir/Communication",
            json={
                "resourceType": "Communication",
                "status": "completed",
                "basedOn": [{"reference": f"ServiceRequest/{case_id}"}],
                "payload": [{"contentString": "Cho thở oxy, theo dõi SpO2."}],
            },
        )
    with net.client(app, "dr.lan") as c:
        document = c.post(
            "/fhir/DocumentReference",
            json={
                "resourceType": "DocumentReference",
                "status": "current",
                "content": [
                    {
                        "attachment": {
                            "contentType": "image/png",
                            "title": "ecg.png",
                            "data": base64.b64encode(PNG).decode(),
                        }
                    }
                ],
                "context": {"related": [{"reference": f"ServiceRequest/{case_id}"}]},
            },
        )
        listed = c.get(
            "/fhir/DocumentReference", params={"related": f"ServiceRequest/{case_id}"}
        ).json()
        fake = c.post(
            "/fhir/DocumentReference",
            json={
                "resourceType": "DocumentReference",
                "status": "current",
                "content": [
                    {
                        "attachment": {
                            "title": "x.png",
                            "data": base64.b64encode(b"MZ" + b"\x00" * 300).decode(),
                        }
                    }
                ],
                "context": {"related": [{"reference": f"ServiceRequest/{case_id}"}]},
            },
        )
    assert message.status_code == 201, message.text
    _valid(message.json())
    assert message.json()["sender"] == {"reference": f"Organization/{net.ids['bachmai']}"}
    assert document.status_code == 201, document.text
    _valid(document.json())
    assert document.json()["content"][0]["attachment"]["contentType"] == "image/png"
    assert listed["total"] == 1
    assert fake.status_code == 422


def _task_with_case(net: Net, priority: str = "stat") -> dict[str, Any]:
    return {
        "resourceType": "Task",
        "contained": [
            {
                "resourceType": "ServiceRequest",
                "id": "case",
                "status": "active",
                "intent": "order",
                "subject": {"reference": f"Patient/{net.ids['noy']}"},
                "performerType": {
                    "coding": [{"system": "urn:puente:code-system:specialty", "code": "cardiology"}]
                },
                "reasonCode": [{"text": "Chest pain 2 h, ST elevation: thrombolyse or transfer?"}],
                "note": [{"text": "Man, 58; BP 92/60."}],
            }
        ],
        "status": "requested",
        "intent": "order",
        "priority": priority,
        "focus": {"reference": "#case"},
        "requester": {"reference": f"Organization/{net.ids['mittaphab']}"},
    }


def test_dr_somphone_in_laos_creates_a_case_as_a_task_and_a_resent_task_makes_no_second(
    app: FastAPI, net: Net
) -> None:
    with net.client(app, "dr.somphone") as c:
        first = c.post("/fhir/Task", json=_task_with_case(net), headers={"Idempotency-Key": "t-1"})
        again = c.post("/fhir/Task", json=_task_with_case(net), headers={"Idempotency-Key": "t-1"})
        other = c.post(
            "/fhir/Task", json=_task_with_case(net, "routine"), headers={"Idempotency-Key": "t-1"}
        )
        listed = c.get("/fhir/Task").json()
        metadata = c.get("/fhir/metadata").json()
    assert first.status_code == 201, first.text
    task = first.json()
    _valid(task)
    assert first.headers["Location"].endswith(f"/Task/{task['id']}")
    assert task["status"] == "requested" and task["priority"] == "stat"
    assert task["focus"] == {"reference": f"ServiceRequest/{task['id']}"}
    assert task["owner"] == {"reference": f"Organization/{net.ids['bachmai']}"}
    assert "end" in task["restriction"]["period"]
    assert again.status_code == 200 and again.json()["id"] == task["id"]
    assert other.status_code == 409
    assert listed["total"] == 1
    kinds = {r["type"]: r for r in metadata["rest"][0]["resource"]}
    assert "create" in {i["code"] for i in kinds["Task"]["interaction"]}
    with net.client(app, "coord.bachmai") as c:
        sr = c.get(f"/fhir/ServiceRequest/{task['id']}").json()
        queue = c.get("/api/consults/queue").json()
    assert sr["subject"] == {"reference": f"Patient/{net.ids['noy']}"}
    assert [q["id"] for q in queue] == [int(task["id"])]


def test_a_task_that_does_not_carry_its_case_or_comes_from_outside_the_spoke_is_refused(
    app: FastAPI, net: Net
) -> None:
    case_id = _case(app, net)
    on_existing = {**_task_with_case(net), "focus": {"reference": f"ServiceRequest/{case_id}"}}
    del on_existing["contained"]
    with net.client(app, "dr.somphone") as c:
        existing = c.post("/fhir/Task", json=on_existing)
        broken = c.post("/fhir/Task", json={**_task_with_case(net), "status": "nonsense"})
    with net.client(app, "dr.lan") as c:
        foreign = c.post("/fhir/Task", json=_task_with_case(net))
    assert existing.status_code == 422, existing.text
    assert f"Task/{case_id}" in existing.json()["issue"][0]["diagnostics"]
    assert broken.status_code == 400
    assert foreign.status_code == 403, foreign.text
