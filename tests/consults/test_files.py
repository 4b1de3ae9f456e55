"""Attachments: chunked, resumable after a drop, type read from the content."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from puente.config import Settings
from tests.consults.network import Net, case_body

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
DICOM = b"\x00" * 128 + b"DICM" + b"\x02\x00\x10\x00UI" + b"\x01" * 3000


def _case(app: FastAPI, net: Net) -> int:
    with net.client(app, "dr.lan") as c:
        r = c.post("/api/consults", json=case_body(patient_id=net.ids["tuan"]))
    return int(r.json()["id"])


def _start(
    c: object, case_id: int, name: str, size: int, key: str | None = None
) -> dict[str, object]:
    headers = {"Idempotency-Key": key} if key else {}
    r = c.post(  # type: ignore[attr-defined]
        f"/api/consults/{case_id}/uploads", json={"filename": name, "size": size}, headers=headers
    )
    assert r.status_code in (200, 201), r.text
    return dict(r.json())


def _chunk(c: object, url: str, at: int, data: bytes) -> object:
    return c.patch(  # type: ignore[attr-defined]
        url,
        content=data,
        headers={"Upload-Offset": str(at), "Content-Type": "application/offset+octet-stream"},
    )


def test_an_image_sent_in_chunks_resumes_after_a_dropped_connection(
    app: FastAPI, net: Net, settings: Settings
) -> None:
    case_id = _case(app, net)
    with net.client(app, "dr.lan") as c:
        upload = _start(c, case_id, "ecg.png", len(PNG), key="ecg-1")
        url = str(upload["url"])
        r = _chunk(c, url, 0, PNG[:4000])
        assert r.status_code == 200 and r.json()["offset"] == 4000  # type: ignore[attr-defined]
        # The line drops; the client asks again where it stands and resumes.
        again = _start(c, case_id, "ecg.png", len(PNG), key="ecg-1")
        assert again["id"] == upload["id"] and again["offset"] == 4000
        stale = _chunk(c, url, 0, PNG[:4000])
        assert stale.status_code == 409  # type: ignore[attr-defined]
        done = _chunk(c, url, 4000, PNG[4000:])
        body = done.json()  # type: ignore[attr-defined]
        assert body["complete"] is True
        assert body["file"]["content_type"] == "image/png"
    with net.client(app, "dr.minh") as c:
        detail = c.get(f"/api/consults/{case_id}").json()
        assert [f["filename"] for f in detail["files"]] == ["ecg.png"]
        got = c.get(detail["files"][0]["url"])
    assert got.status_code == 200 and got.content == PNG
    assert got.headers["content-disposition"].startswith("attachment")


def test_a_dicom_file_is_kept_as_it_came(app: FastAPI, net: Net, settings: Settings) -> None:
    case_id = _case(app, net)
    with net.client(app, "dr.lan") as c:
        upload = _start(c, case_id, "ct-head", len(DICOM))
        done = _chunk(c, str(upload["url"]), 0, DICOM).json()  # type: ignore[attr-defined]
    assert done["file"]["content_type"] == "application/dicom"
    assert done["file"]["filename"] == "ct-head.dcm"
    stored = list(Path(settings.data_dir, "consult-files", str(case_id)).iterdir())
    assert [p.read_bytes() for p in stored] == [DICOM]


def test_an_executable_named_like_an_image_is_refused(app: FastAPI, net: Net) -> None:
    case_id = _case(app, net)
    payload = b"MZ\x90\x00" + b"\x00" * 400
    with net.client(app, "dr.lan") as c:
        upload = _start(c, case_id, "scan.png", len(payload))
        r = _chunk(c, str(upload["url"]), 0, payload)
    assert r.status_code == 422  # type: ignore[attr-defined]


def test_an_announced_size_beyond_the_limit_is_refused(app: FastAPI, net: Net) -> None:
    case_id = _case(app, net)
    with net.client(app, "dr.lan") as c:
        r = c.post(
            f"/api/consults/{case_id}/uploads", json={"filename": "big.dcm", "size": 5 * 10**9}
        )
    assert r.status_code == 413
    assert r.json()["errors"][0]["field"] == "size"


def test_a_chunk_larger_than_the_body_limit_is_refused(
    app: FastAPI, net: Net, settings: Settings
) -> None:
    case_id = _case(app, net)
    big = b"\xff\xd8\xff" + b"\x00" * (settings.max_body_bytes + 10)
    with net.client(app, "dr.lan") as c:
        upload = _start(c, case_id, "x.jpg", len(big))
        r = _chunk(c, str(upload["url"]), 0, big)
    assert r.status_code == 413  # type: ignore[attr-defined]


def test_a_file_whose_transaction_rolls_back_leaves_nothing_on_disk(
    app: FastAPI, net: Net, tmp_path: Path
) -> None:
    from puente.consults import files, repository
    from puente.consults.models import ConsultUpload
    from puente.enums import ConsultSide

    case = repository.case(net.db, _case(app, net))
    assert case is not None
    upload, _new = files.start(
        net.db,
        case=case,
        side=ConsultSide.spoke,
        filename="xq-nguc.png",
        size=len(PNG),
        by_user_id=net.users["dr.lan"],
    )
    net.db.commit()
    stored = files.append(
        net.db, upload=upload, data_dir=tmp_path, at=0, chunk=PNG, by_user_id=net.users["dr.lan"]
    )
    assert stored is not None and (tmp_path / stored.storage_key).is_file()
    # A savepoint released later in the same request (an audit record, a
    # twin-safe insert) does not make the file kept before the commit.
    with net.db.begin_nested():
        pass
    # The commit fails (the line drops, the database restarts): all is undone.
    net.db.rollback()
    assert [p for p in (tmp_path / files.FOLDER).rglob("*") if p.is_file()] == []
    again = net.db.get(ConsultUpload, upload.id)
    assert again is not None and again.file_id is None
    assert files.offset(tmp_path, again) == 0
    stored = files.append(
        net.db, upload=again, data_dir=tmp_path, at=0, chunk=PNG, by_user_id=net.users["dr.lan"]
    )
    assert stored is not None
    net.db.commit()
    assert (tmp_path / stored.storage_key).read_bytes() == PNG


def test_dr_minh_sends_a_pdf_back_to_con_dao_with_his_answer(app: FastAPI, net: Net) -> None:
    pdf = b"%PDF-1.4\n" + b"0" * 5000 + b"\n%%EOF\n"
    case_id = _case(app, net)
    with net.client(app, "dr.minh") as c:
        upload = _start(c, case_id, "phac-do-tieu-soi-huyet.pdf", len(pdf), key="bm-pdf-1")
        done = _chunk(c, str(upload["url"]), 0, pdf)
    assert done.status_code == 200 and done.json()["complete"] is True  # type: ignore[attr-defined]
    with net.client(app, "dr.lan") as c:
        [file] = c.get(f"/api/consults/{case_id}").json()["files"]
        got = c.get(file["url"])
    assert (file["side"], file["content_type"]) == ("hub", "application/pdf")
    assert got.status_code == 200 and got.content == pdf
