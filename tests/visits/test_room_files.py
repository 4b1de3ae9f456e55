"""Files shared in a visit room: images and PDF only, decided by their first
bytes; capped in size; stored with the visit; always served as downloads."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from puente.app import create_app
from puente.config import Settings
from puente.enums import VisitStatus
from puente.visits.chat import clean_filename, sniff
from puente.visits.models import Visit, VisitFile, VisitMessage
from tests import factories as f
from tests.visits.room_world import RoomWorld, room_world

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 200
PDF = b"%PDF-1.7\n" + b"x" * 200


@pytest.fixture
def world(db: Session) -> RoomWorld:
    return room_world(db)


@pytest.fixture
def as_user(app: FastAPI, db: Session) -> Iterator[Any]:
    with TestClient(app, raise_server_exceptions=False) as client:

        def sign_in(account: Any) -> TestClient:
            client.headers.clear()
            client.headers.update(f.bearer(db, account))
            return client

        yield sign_in


def share(client: TestClient, visit_id: int, content: bytes, name: str) -> Any:
    return client.post(
        f"/api/visits/{visit_id}/files",
        params={"filename": name},
        content=content,
        headers={"content-type": "application/octet-stream"},
    )


def test_nikolai_shares_a_photo_and_dr_petrova_downloads_it_as_an_attachment(
    world: RoomWorld, as_user: Any, db: Session, settings: Settings
) -> None:
    r = share(as_user(world.patient), world.visit_id, PNG, "сыпь на руке.png")
    assert r.status_code == 201, r.text
    shared = r.json()
    assert shared["side"] == "patient" and shared["body"] == "сыпь на руке.png"
    assert shared["file"]["content_type"] == "image/png" and shared["file"]["size"] == len(PNG)

    download = as_user(world.clinician).get(shared["file"]["url"])
    assert download.status_code == 200
    assert download.content == PNG
    assert download.headers["content-type"] == "image/png"
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.headers["x-content-type-options"] == "nosniff"
    row = db.scalars(select(VisitFile).where(VisitFile.visit_id == world.visit_id)).one()
    assert (settings.data_dir / row.storage_key).read_bytes() == PNG
    assert "сыпь" not in row.storage_key  # stored under a random name
    # Kept with the visit: the chat announces it, for both sides, later too.
    line = db.scalars(select(VisitMessage).where(VisitMessage.file_id == row.id)).one()
    assert line.sender_role == "patient"
    history = as_user(world.clinician).get(f"/api/visits/{world.visit_id}/messages").json()
    assert history[-1]["file"]["name"] == "сыпь на руке.png"


def test_the_type_comes_from_the_content_not_from_the_name(world: RoomWorld, as_user: Any) -> None:
    client = as_user(world.clinician)
    jpeg = share(client, world.visit_id, JPEG, "report.pdf").json()
    assert jpeg["file"]["content_type"] == "image/jpeg"
    assert jpeg["file"]["name"] == "report.pdf.jpg"
    pdf = share(client, world.visit_id, PDF, "рецепт").json()
    assert (pdf["file"]["content_type"], pdf["file"]["name"]) == ("application/pdf", "рецепт.pdf")

    for content, name in (
        (b"<html><script>alert(1)</script></html>", "photo.png"),
        (b"MZ\x90\x00" + b"\x00" * 100, "scan.jpg"),
        (b"GIF89a" + b"\x00" * 100, "x.gif"),
    ):
        refused = share(client, world.visit_id, content, name)
        assert refused.status_code == 422, name
        assert refused.json()["errors"] == [
            {"field": "file", "message": "not a JPEG, PNG or PDF file"}
        ]
    assert share(client, world.visit_id, b"", "empty.png").status_code == 422


def test_files_larger_than_the_cap_are_refused_even_without_a_declared_length(
    db: Session, session_factory: Any, tmp_path: Path
) -> None:
    world = room_world(db)
    small = Settings(
        environment="test", database_url="sqlite://", data_dir=tmp_path, room_file_max_bytes=1000
    )
    app = create_app(small, session_factory=session_factory)
    with TestClient(app, raise_server_exceptions=False, headers=f.bearer(db, world.patient)) as c:
        assert share(c, world.visit_id, PNG + b"\x00" * 2000, "big.png").status_code == 413

        def chunks() -> Iterator[bytes]:  # no Content-Length: streamed
            yield PNG
            for _ in range(10):
                yield b"\x00" * 500

        streamed = c.post(
            f"/api/visits/{world.visit_id}/files?filename=big.png",
            content=chunks(),
            headers={"content-type": "application/octet-stream"},
        )
        assert streamed.status_code == 413
        assert share(c, world.visit_id, PNG, "small.png").status_code == 201
    assert db.scalars(select(VisitFile.filename)).all() == ["small.png"]
    leftovers = [p for p in (tmp_path / "visit-files" / "incoming").iterdir()]
    assert leftovers == []


def test_a_photo_of_several_megabytes_passes_the_general_body_limit(
    world: RoomWorld, as_user: Any
) -> None:
    photo = JPEG + b"\x01" * 3_000_000
    r = share(as_user(world.patient), world.visit_id, photo, "throat.jpg")
    assert r.status_code == 201 and r.json()["file"]["size"] == len(photo)
    # ...while other routes keep the one-megabyte limit.
    big_json = as_user(world.patient).post("/api/visits/1/room-token", content=b"x" * 2_000_000)
    assert big_json.status_code == 413


def test_outsiders_neither_share_nor_download_and_files_stay_in_their_visit(
    world: RoomWorld, as_user: Any
) -> None:
    shared = share(as_user(world.patient), world.visit_id, PNG, "a.png").json()
    assert share(as_user(world.other_patient), world.visit_id, PNG, "b.png").status_code == 404
    assert as_user(world.elsewhere).get(shared["file"]["url"]).status_code == 404
    wrong_visit = f"/api/visits/{world.other_visit_id}/files/{shared['file']['id']}"
    assert as_user(world.clinician).get(wrong_visit).status_code == 404


def test_a_closed_visit_takes_no_more_files_but_keeps_its_own(
    world: RoomWorld, as_user: Any, db: Session
) -> None:
    shared = share(as_user(world.patient), world.visit_id, PDF, "analysis.pdf").json()
    visit = db.get(Visit, world.visit_id)
    assert visit is not None
    visit.status = VisitStatus.closed
    db.flush()
    assert share(as_user(world.patient), world.visit_id, PNG, "late.png").status_code == 409
    assert as_user(world.patient).get(shared["file"]["url"]).content == PDF


def test_a_form_upload_is_refused_with_a_hint(world: RoomWorld, as_user: Any) -> None:
    r = as_user(world.patient).post(
        f"/api/visits/{world.visit_id}/files", files={"file": ("a.png", PNG, "image/png")}
    )
    assert r.status_code == 422


def test_sniffing_and_names() -> None:
    assert sniff(PNG) and sniff(JPEG) and sniff(PDF)
    assert sniff(b"%!PS-Adobe") is None
    kind = sniff(PNG)
    assert kind is not None
    assert clean_filename("../../etc/passwd", kind) == "passwd.png"
    assert clean_filename('C:\\Users\\a\\"x"<y>.PNG', kind) == "xy.PNG"
    assert clean_filename("", kind) == "file.png"
    assert len(clean_filename("a" * 500 + ".png", kind)) == 120
