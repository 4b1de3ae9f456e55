"""Backup and restore of the whole database.

PostgreSQL: ``pg_dump --format=custom`` and ``pg_restore`` (one transaction,
no owners, so a dump restores into another server's database). SQLite: the
online-backup API, which copies a consistent snapshot while the server keeps
writing. :func:`table_checksums` gives every table's row count and a digest
of its rows, to compare a restored database with its source.
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import inspect, make_url, select, table, text
from sqlalchemy.engine import URL

from puente.db import make_engine
from puente.errors import BadRequest, FieldError

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_MAGIC = b"PGDMP"


class BackupError(BadRequest):
    title = "Backup or restore failed"


@dataclass(frozen=True)
class TableSum:
    rows: int
    digest: str


def _kind(url: str) -> str:
    name = make_url(url).get_backend_name()
    if name not in ("sqlite", "postgresql"):
        raise BackupError(f"Cannot back up a {name} database.")
    return name


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("An in-memory SQLite database has nothing to back up.")
    return Path(url.database)


def _libpq(url: URL) -> str:
    """The SQLAlchemy URL as libpq reads it (pg_dump, pg_restore)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} is not installed; install PostgreSQL's client tools "
            "(Debian: apt-get install postgresql-client)."
        )
    return found


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupError(f"{Path(command[0]).name} failed: {done.stderr.strip()[-2000:]}")


def backup(url: str, target: Path) -> None:
    """Write a consistent copy of the database at ``url`` to ``target``."""
    kind = _kind(url)
    parsed = make_url(url)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    if kind == "sqlite":
        source = sqlite3.connect(_sqlite_path(parsed))
        copy = sqlite3.connect(partial)
        try:
            with copy:
                source.backup(copy)
        finally:
            copy.close()
            source.close()
    else:
        pg_dump = _tool("pg_dump")
        _run([pg_dump, "--format=custom", "--no-owner", f"--file={partial}", _libpq(parsed)])
    partial.replace(target)  # a crash mid-backup never leaves a half file under the name


def _format_of(source: Path) -> str:
    try:
        head = source.open("rb").read(16)
    except OSError as exc:
        raise BackupError(
            f"Cannot read {source}: {exc.strerror}.", errors=[FieldError("file", "unreadable")]
        ) from None
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PG_MAGIC):
        return "postgresql"
    raise BackupError(
        f"{source} is neither a SQLite database nor a pg_dump archive.",
        errors=[FieldError("file", "unknown format")],
    )


def _has_tables(url: str) -> bool:
    engine = make_engine(url)
    try:
        return bool(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def restore(url: str, source: Path, *, force: bool = False) -> None:
    """Restore ``source`` into the database at ``url``, which must be empty
    unless ``force`` (then its tables are replaced)."""
    kind = _kind(url)
    made_by = _format_of(source)
    if made_by != kind:
        raise BackupError(
            f"{source} is a {made_by} backup; the database is {kind}.",
            errors=[FieldError("file", f"a {made_by} backup")],
        )
    parsed = make_url(url)
    if kind == "sqlite":
        path = _sqlite_path(parsed)
        if path.exists() and path.stat().st_size and _has_tables(url) and not force:
            raise BackupError(
                f"{path} already holds a database; restore into a new one or pass --force.",
                errors=[FieldError("database_url", "not empty")],
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        backup_file = sqlite3.connect(source)
        into = sqlite3.connect(path)
        try:
            with into:
                backup_file.backup(into)
        finally:
            into.close()
            backup_file.close()
        return
    if _has_tables(url) and not force:
        raise BackupError(
            "The database already has tables; restore into a new one or pass --force.",
            errors=[FieldError("database_url", "not empty")],
        )
    pg_restore = _tool("pg_restore")
    command = [pg_restore, "--no-owner", "--single-transaction", "--exit-on-error"]
    if force:
        command += ["--clean", "--if-exists"]
    _run([*command, f"--dbname={_libpq(parsed)}", str(source)])


def table_checksums(url: str) -> dict[str, TableSum]:
    """Every table's row count and a SHA-256 of its rows (sorted, so the
    physical order does not matter)."""
    engine = make_engine(url)
    out: dict[str, TableSum] = {}
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
            for name in sorted(inspect(conn).get_table_names()):
                columns = [c["name"] for c in inspect(conn).get_columns(name)]
                query = select(*(text(f'"{c}"') for c in columns)).select_from(table(name))
                rows = sorted(repr(tuple(r)) for r in conn.execute(query))
                sha = hashlib.sha256()
                for row in rows:
                    sha.update(row.encode())
                    sha.update(b"\n")
                out[name] = TableSum(len(rows), sha.hexdigest())
    finally:
        engine.dispose()
    return out
