"""Attachments of a case, uploaded in chunks that survive a dropped line.

An upload is announced first (name and total size), then its bytes are sent
in chunks, each saying at which offset it starts (``Upload-Offset``). The
bytes received so far are a partial file on disk; after a drop the client
asks for the offset and sends the rest. A chunk that does not start where
the file ends is refused (409) and changes nothing, so a chunk sent twice is
never stored twice.

Only JPEG and PNG images, PDF documents and DICOM files are kept. The kind
is read from the content (magic numbers; DICOM's ``DICM`` after its
128-byte preamble), never from the name or the declared type. DICOM files
are kept as they came, byte for byte, under
``<data_dir>/consult-files/<case id>/`` with a random name.

A completed file is moved to its place before the transaction commits (its
row names it); if the transaction then rolls back, the file is removed
again, so no file lies on disk without its row. The upload starts over
from byte 0 (its partial file went with it).
"""

from __future__ import annotations

import hashlib
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from puente.consults import repository as repo
from puente.consults.models import ConsultCase, ConsultFile, ConsultUpload
from puente.db import insert_unless_twin, utcnow
from puente.enums import ConsultSide
from puente.errors import Conflict, FieldError, NotFound, PayloadTooLarge, Unprocessable
from puente.visits.chat import FileKind as ChatKind
from puente.visits.chat import clean_filename

FOLDER = "consult-files"
MB = 1_000_000


@dataclass(frozen=True)
class Kind:
    content_type: str
    extensions: tuple[str, ...]
    magic: bytes
    at: int  # where the magic number starts
    max_bytes: int


KINDS = (
    Kind("image/jpeg", (".jpg", ".jpeg"), b"\xff\xd8\xff", 0, 30 * MB),
    Kind("image/png", (".png",), b"\x89PNG\r\n\x1a\n", 0, 30 * MB),
    Kind("application/pdf", (".pdf",), b"%PDF-", 0, 50 * MB),
    Kind("application/dicom", (".dcm",), b"DICM", 128, 1000 * MB),
)
MAX_BYTES = max(k.max_bytes for k in KINDS)
# session.info key: the files this transaction has put in place.
_WRITTEN = "consult_files_written"
ALLOWED = "JPEG or PNG images, PDF documents or DICOM files"


def sniff(head: bytes) -> Kind | None:
    return next((k for k in KINDS if head[k.at : k.at + len(k.magic)] == k.magic), None)


def _partial(data_dir: Path, upload: ConsultUpload) -> Path:
    folder = data_dir / FOLDER / "incoming"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / upload.id


def offset(data_dir: Path, upload: ConsultUpload) -> int:
    if upload.file_id is not None:
        return upload.size
    path = _partial(data_dir, upload)
    return path.stat().st_size if path.exists() else 0


def start(
    session: Session,
    *,
    case: ConsultCase,
    side: ConsultSide,
    filename: str,
    size: int,
    by_user_id: int | None,
    idempotency_key: str | None = None,
) -> tuple[ConsultUpload, bool]:
    if size > MAX_BYTES:
        raise PayloadTooLarge(
            f"An attachment may be at most {MAX_BYTES} bytes.",
            errors=[FieldError("size", f"larger than {MAX_BYTES} bytes")],
        )

    def replay(earlier: ConsultUpload) -> tuple[ConsultUpload, bool]:
        if earlier.case_id != case.id or earlier.size != size:
            raise Conflict(
                "This Idempotency-Key was already used for another upload.",
                errors=[FieldError("Idempotency-Key", "used for another request")],
            )
        return earlier, True

    if idempotency_key is not None:
        earlier = repo.upload_by_key(session, idempotency_key)
        if earlier is not None:
            return replay(earlier)
    row = ConsultUpload(
        id=uuid.uuid4().hex,
        case_id=case.id,
        side=side,
        filename=filename,
        size=size,
        created_by_user_id=by_user_id,
        created_at=utcnow(),
        idempotency_key=idempotency_key,
    )
    key = idempotency_key
    twin = insert_unless_twin(session, row, lambda: repo.upload_by_key(session, key or ""))
    if twin is not None:
        return replay(twin)
    return row, False


def get_upload(session: Session, case: ConsultCase, upload_id: str) -> ConsultUpload:
    row = session.get(ConsultUpload, upload_id, with_for_update=True)
    if row is None or row.case_id != case.id:
        raise NotFound(f"No upload {upload_id}.", errors=[FieldError("upload_id", "unknown")])
    return row


def append(
    session: Session,
    *,
    upload: ConsultUpload,
    data_dir: Path,
    at: int,
    chunk: bytes,
    by_user_id: int | None,
) -> ConsultFile | None:
    """Add ``chunk`` at offset ``at``; the stored file when this completes it."""
    if upload.file_id is not None:
        raise Conflict(
            "The upload is already complete.", errors=[FieldError("upload_id", "complete")]
        )
    path = _partial(data_dir, upload)
    current = path.stat().st_size if path.exists() else 0
    if at != current:
        raise Conflict(
            f"The upload continues at byte {current}, not {at}.",
            errors=[FieldError("Upload-Offset", f"expected {current}")],
        )
    if not chunk:
        raise Unprocessable("The chunk is empty.", errors=[FieldError("body", "empty")])
    if current + len(chunk) > upload.size:
        raise Unprocessable(
            f"The chunk goes past the announced size of {upload.size} bytes.",
            errors=[FieldError("body", "past the announced size")],
        )
    head = chunk if current == 0 else b""
    if head and len(head) >= 132 and sniff(head) is None:
        raise Unprocessable(
            f"Only {ALLOWED} can be attached.", errors=[FieldError("file", "type not allowed")]
        )
    with path.open("ab") as fh:
        fh.write(chunk)
    if current + len(chunk) < upload.size:
        return None
    return _finish(session, upload=upload, data_dir=data_dir, received=path, by_user_id=by_user_id)


def _finish(
    session: Session,
    *,
    upload: ConsultUpload,
    data_dir: Path,
    received: Path,
    by_user_id: int | None,
) -> ConsultFile:
    try:
        with received.open("rb") as fh:
            kind = sniff(fh.read(132))
        if kind is None:
            raise Unprocessable(
                f"Only {ALLOWED} can be attached.", errors=[FieldError("file", "type not allowed")]
            )
        if upload.size > kind.max_bytes:
            raise PayloadTooLarge(
                f"A {kind.content_type} attachment may be at most {kind.max_bytes} bytes.",
                errors=[FieldError("size", f"larger than {kind.max_bytes} bytes")],
            )
        digest = hashlib.sha256()
        with received.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        key = f"{FOLDER}/{upload.case_id}/{uuid.uuid4().hex}"
        target = data_dir / key
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(received, target)
        session.info.setdefault(_WRITTEN, []).append(target)
    finally:
        received.unlink(missing_ok=True)
    row = ConsultFile(
        case_id=upload.case_id,
        side=upload.side,
        filename=clean_filename(
            upload.filename, ChatKind(kind.content_type, kind.extensions, kind.magic)
        ),
        content_type=kind.content_type,
        size=upload.size,
        sha256=digest.hexdigest(),
        storage_key=key,
        uploaded_by_user_id=by_user_id,
        uploaded_at=utcnow(),
    )
    session.add(row)
    session.flush()
    upload.file_id = row.id
    session.flush()
    return row


@event.listens_for(Session, "after_commit")
def _kept(session: Session) -> None:
    # SQLAlchemy says after_commit of a savepoint released too: the files
    # are kept only once the whole transaction has committed.
    if session.in_nested_transaction():
        return
    session.info.pop(_WRITTEN, None)


@event.listens_for(Session, "after_soft_rollback")
def _remove_uncommitted(session: Session, previous: SessionTransaction) -> None:
    # Only the whole transaction's rollback: a savepoint that rolls back
    # (a twin insert) leaves the outer transaction, and its files, alive.
    if previous.parent is not None:
        return
    for path in session.info.pop(_WRITTEN, []):
        path.unlink(missing_ok=True)


def file_of(
    session: Session, *, case: ConsultCase, file_id: int, data_dir: Path
) -> tuple[ConsultFile, Path]:
    row = session.get(ConsultFile, file_id)
    if row is None or row.case_id != case.id:
        raise NotFound(
            f"No file {file_id} in this case.", errors=[FieldError("file_id", "unknown")]
        )
    path = data_dir / row.storage_key
    if not path.is_file():
        raise NotFound("The file is no longer stored.", errors=[FieldError("file_id", "missing")])
    return row, path
