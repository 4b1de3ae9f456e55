"""Database: declarative base, engine and the per-request unit of work.

Services never commit. The request dependency (``session_scope`` for the API,
``unit_of_work`` for commands) commits when the work succeeds and rolls back
when it raises, so one request is one transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    DateTime,
    Engine,
    Enum,
    Integer,
    MetaData,
    String,
    any_,
    cast,
    create_engine,
    event,
    false,
    func,
    literal,
    make_url,
    text,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always returned timezone-aware.

    SQLite keeps no zone; PostgreSQL's ``timestamptz`` does. Either way the
    value that comes back is aware and in UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; Puente stores aware UTC times")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def str_enum(cls: type, name: str) -> Enum:
    """An enum column stored as a plain string with a CHECK constraint, so
    adding a value later is a small migration on every database."""
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda e: [m.value for m in e],
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


def _unicode_lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Hand transaction control to SQLAlchemy (pysqlite's own is unreliable
    # with savepoints); see _sqlite_begin.
    dbapi_connection.isolation_level = None
    # SQLite's own lower() folds ASCII only; names here are Cyrillic and
    # Vietnamese too, so case-insensitive search needs Python's Unicode lower().
    dbapi_connection.create_function("lower", 1, _unicode_lower, deterministic=True)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    # IMMEDIATE takes the write lock up front: two writers queue on
    # busy_timeout instead of one failing at once with "database is locked"
    # when it upgrades a read lock. Readers still read (WAL) meanwhile.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    # psycopg prepares a statement run five times, and PostgreSQL then moves
    # to a generic plan that ignores the values of array parameters: figures
    # over a program's facilities went from 0.1 s to 1 s on their tenth run.
    # Plan each execution for its own values.
    connect_args = {"options": "-c plan_cache_mode=force_custom_plan"}
    connect_args.update(kwargs.pop("connect_args", {}))
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args, **kwargs)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def reset_postgres(url: str) -> None:
    """Drop and recreate the public schema: an empty database (tests, benches)."""
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def sibling_postgres_database(url: str, suffix: str, *, empty: bool = False) -> str:
    """A second database beside ``url``'s, named ``<name>_<suffix>`` (created
    when missing; emptied with ``empty``), for tests and benchmarks."""
    parsed = make_url(url)
    name = f"{parsed.database}_{suffix}"
    admin = make_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    sibling = parsed.set(database=name).render_as_string(hide_password=False)
    if empty:
        reset_postgres(sibling)
    return sibling


def analyze(url: str) -> None:
    """Refresh the planner's statistics after a bulk load (the demo world).

    Without them PostgreSQL plans a fresh table as if it held one row: the
    free-slot search of the demo world took 150 ms instead of 0.5 ms (an
    anti-join against every live appointment per slot) until ANALYZE ran.
    Autovacuum would get there in time where it is on; after a load of
    100,000 rows in one transaction nobody should wait for it."""
    engine = (
        make_engine(url, isolation_level="AUTOCOMMIT")
        if url.startswith("postgresql")
        else make_engine(url)
    )
    with engine.connect() as conn:
        conn.execute(text("ANALYZE"))
        conn.commit()
    engine.dispose()


T = TypeVar("T")


def insert_unless_twin(session: Session, row: object, twin: Callable[[], T | None]) -> T | None:
    """Insert ``row`` in a SAVEPOINT and return None; or, when a unique
    constraint refuses it because a parallel request with the same
    idempotency key committed first, return that request's row (found by
    ``twin``) so that the retry answers with it instead of a 500. Any other
    refusal is raised."""
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        found = twin()
        if found is None:
            raise
        return found
    return None


def among(session: Session, column: Any, ids: Sequence[int]) -> ColumnElement[bool]:
    """``column IN ids``; on PostgreSQL ``= ANY`` of one parameter (the ids
    as text, made an array by the server), which costs next to nothing to
    compile or send however many facilities there are."""
    if not ids:
        return false()
    found: ColumnElement[bool]
    if session.get_bind().dialect.name == "postgresql":
        # Sent as one text parameter ('3,5,8'): psycopg dumps a list of a
        # thousand ints element by element, a string at once.
        listed = literal(",".join(str(int(i)) for i in ids), String)
        found = column == any_(cast(func.string_to_array(listed, ","), ARRAY(Integer)))
    else:
        found = column.in_(ids)
    return found
