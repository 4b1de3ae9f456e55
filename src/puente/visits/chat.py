"""Chat and files of a visit room, kept with the visit.

Messages and files are stored as they are sent, so both sides can read them
again after the call (store and forward), and so a line typed while the other
side's connection dropped is waiting for them when they rejoin.

Files are images (JPEG, PNG) and PDF only. Their type is decided from the
first bytes of the content (magic numbers), never from the name or the
Content-Type the browser sent; a file of any other kind is refused. They are
stored under ``<data_dir>/visit-files/<visit id>/`` with a random name (the
user's name is kept in the database only), and served back as downloads.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import unicodedata
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from puente.db import utcnow
from puente.errors import FieldError, NotFound, PayloadTooLarge, Unprocessable
from puente.visits.models import Visit, VisitFile, VisitMessage

MAX_MESSAGE_CHARS = 2000
FILES_FOLDER = "visit-files"


@dataclass(frozen=True)
class FileKind:
    content_type: str
    extensions: tuple[str, ...]
    magic: bytes


KINDS = (
    FileKind("image/jpeg", (".jpg", ".jpeg"), b"\xff\xd8\xff"),
    FileKind("image/png", (".png",), b"\x89PNG\r\n\x1a\n"),
    FileKind("application/pdf", (".pdf",), b"%PDF-"),
)


def sniff(head: bytes) -> FileKind | None:
    """The kind of a file from its first bytes, or None when not allowed."""
    return next((kind for kind in KINDS if head.startswith(kind.magic)), None)


def clean_filename(name: str | None, kind: FileKind) -> str:
    """A display name safe in a header and on any disk: no folders, no
    control characters, at most 120 characters, ending in the extension of
    the sniffed kind (``scan.exe`` that is a PNG becomes ``scan.exe.png``)."""
    base = unicodedata.normalize("NFC", (name or "").replace("\\", "/").rsplit("/", 1)[-1])
    base = re.sub(r"[\x00-\x1f\x7f\"<>:|?*]+", "", base).strip(" .") or "file"
    stem, dot, ext = base.rpartition(".")
    if not dot or f".{ext.lower()}" not in kind.extensions:
        stem, ext = base, kind.extensions[0][1:]
    return f"{stem[: 120 - len(ext) - 1]}.{ext}"


def message_text(body: str) -> str:
    text = body.strip()
    if not text:
        raise Unprocessable("The message is empty.", errors=[FieldError("body", "empty")])
    if len(text) > MAX_MESSAGE_CHARS:
        raise Unprocessable(
            f"A message holds at most {MAX_MESSAGE_CHARS} characters.",
            errors=[FieldError("body", f"longer than {MAX_MESSAGE_CHARS} characters")],
        )
    return text


def post_message(
    session: Session, *, visit: Visit, sender_user_id: int, side: str, body: str
) -> VisitMessage:
    row = VisitMessage(
        visit_id=visit.id,
        sender_user_id=sender_user_id,
        sender_role=side,
        body=message_text(body),
        sent_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row


def incoming_path(data_dir: Path) -> Path:
    """A fresh temporary path for an upload being received (same disk as the
    final place, so keeping it is a rename)."""
    folder = data_dir / FILES_FOLDER / "incoming"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / uuid.uuid4().hex


def check_size(size: int, limit: int) -> None:
    if size > limit:
        raise PayloadTooLarge(
            f"Files shared in a visit may be at most {limit} bytes.",
            errors=[FieldError("file", f"larger than {limit} bytes")],
        )
    if size == 0:
        raise Unprocessable("The file is empty.", errors=[FieldError("file", "empty")])


def store_file(
    session: Session,
    *,
    visit: Visit,
    data_dir: Path,
    received: Path,
    filename: str | None,
    uploaded_by_user_id: int,
    side: str,
    limit: int,
) -> tuple[VisitFile, VisitMessage]:
    """Keep the upload at ``received`` (a temporary file that is moved or
    removed) as a file of the visit, announced in its chat."""
    try:
        size = received.stat().st_size
        check_size(size, limit)
        with received.open("rb") as fh:
            kind = sniff(fh.read(16))
        if kind is None:
            raise Unprocessable(
                "Only JPEG or PNG images and PDF documents can be shared.",
                errors=[FieldError("file", "not a JPEG, PNG or PDF file")],
            )
        digest = hashlib.sha256()
        with received.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        key = f"{FILES_FOLDER}/{visit.id}/{uuid.uuid4().hex}"
        target = data_dir / key
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(received, target)
    finally:
        if received.exists():
            received.unlink()
    name = clean_filename(filename, kind)
    row = VisitFile(
        visit_id=visit.id,
        filename=name,
        content_type=kind.content_type,
        size=size,
        sha256=digest.hexdigest(),
        storage_key=key,
        uploaded_by_user_id=uploaded_by_user_id,
        uploaded_at=utcnow(),
    )
    session.add(row)
    session.flush()
    message = VisitMessage(
        visit_id=visit.id,
        sender_user_id=uploaded_by_user_id,
        sender_role=side,
        body=name,
        file_id=row.id,
        sent_at=row.uploaded_at,
    )
    session.add(message)
    session.flush()
    return row, message


def file_of(
    session: Session, *, visit_id: int, file_id: int, data_dir: Path
) -> tuple[VisitFile, Path]:
    row = session.get(VisitFile, file_id)
    if row is None or row.visit_id != visit_id:
        raise NotFound(
            f"No file {file_id} in this visit.", errors=[FieldError("file_id", "unknown")]
        )
    path = data_dir / row.storage_key
    if not path.is_file():
        raise NotFound("The file is no longer stored.", errors=[FieldError("file_id", "missing")])
    return row, path


def history(session: Session, visit_id: int) -> list[dict[str, Any]]:
    """Every message of the visit, oldest first, as the room shows them."""
    rows = session.execute(
        select(VisitMessage, VisitFile)
        .outerjoin(VisitFile, VisitFile.id == VisitMessage.file_id)
        .where(VisitMessage.visit_id == visit_id)
        .order_by(VisitMessage.sent_at, VisitMessage.id)
    ).all()
    return [message_event(m, f) for m, f in rows]


def message_event(message: VisitMessage, file: VisitFile | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "chat",
        "id": message.id,
        "side": message.sender_role,
        "body": message.body,
        "sent_at": message.sent_at.isoformat(),
        "file": None,
    }
    if file is not None:
        event["file"] = {
            "id": file.id,
            "name": file.filename,
            "content_type": file.content_type,
            "size": file.size,
            "url": f"/api/visits/{message.visit_id}/files/{file.id}",
        }
    return event


def remove_stale_incoming(data_dir: Path, older_than_seconds: float = 3600) -> None:
    """Uploads interrupted mid-way leave a temporary file; drop old ones."""
    folder = data_dir / FILES_FOLDER / "incoming"
    if not folder.is_dir():
        return
    limit = utcnow().timestamp() - older_than_seconds
    for entry in os.scandir(folder):
        if entry.is_file() and entry.stat().st_mtime < limit:
            Path(entry.path).unlink(missing_ok=True)
