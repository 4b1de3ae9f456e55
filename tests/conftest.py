"""Shared fixtures.

Every database test runs on SQLite and, when ``PUENTE_TEST_DATABASE_URL`` is
set, again on PostgreSQL. The schema is built by running the real migrations
once per backend; each test then runs inside a transaction that is rolled back,
so tests never see each other's rows.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from puente.app import create_app
from puente.config import Settings
from puente.db import make_engine, reset_postgres, sibling_postgres_database
from puente.migrate import upgrade

warnings.filterwarnings("ignore", message=".*httpx2.*")

PG_URL = os.environ.get("PUENTE_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


def migrated_url(backend: str, tmp_dir: Path, suffix: str = "") -> str:
    """A fresh, migrated database for ``backend``: a file for SQLite, the
    test database (or a sibling of it, for ``suffix``) for PostgreSQL."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_dir / f'puente-test{suffix}.db'}"
    else:
        assert PG_URL
        # Parallel workers (pytest -n) each get their own sibling database.
        worker = os.environ.get("PYTEST_XDIST_WORKER", "")
        suffix = "_".join(part for part in (worker, suffix) if part)
        url = sibling_postgres_database(PG_URL, suffix) if suffix else PG_URL
        reset_postgres(url)
    upgrade(url)
    return url


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    return migrated_url(backend, tmp_path_factory.mktemp(backend))


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> Iterator[sessionmaker[Session]]:
    """Sessions bound to one outer transaction that is rolled back at the end.
    Code under test commits as usual; its commits only release savepoints."""
    yield from rollback_factory(engine)


@pytest.fixture
def db(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    session = session_factory()
    yield session
    session.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(environment="test", database_url="sqlite://", data_dir=tmp_path)


@pytest.fixture
def app(settings: Settings, session_factory: sessionmaker[Session]) -> FastAPI:
    return create_app(settings, session_factory=session_factory)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def rollback_factory(engine: Engine) -> Iterator[sessionmaker[Session]]:
    connection = engine.connect()
    outer = connection.begin()
    yield sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    outer.rollback()
    connection.close()


# The demo world: loaded once per backend into its own database and committed;
# each test that uses it runs in a transaction rolled back afterwards.

DEMO_SEED = 2021


@pytest.fixture(scope="session")
def demo_engine(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    from puente.db import unit_of_work
    from puente.demo import load_demo

    url = migrated_url(backend, tmp_path_factory.mktemp(f"demo-{backend}"), suffix="demo")
    engine = make_engine(url)
    with unit_of_work(sessionmaker(bind=engine, expire_on_commit=False)) as session:
        load_demo(session, seed=DEMO_SEED)
    yield engine
    engine.dispose()


@pytest.fixture
def demo_session_factory(demo_engine: Engine) -> Iterator[sessionmaker[Session]]:
    yield from rollback_factory(demo_engine)


@pytest.fixture
def demo_db(demo_session_factory: sessionmaker[Session]) -> Iterator[Session]:
    session = demo_session_factory()
    yield session
    session.close()


@pytest.fixture
def demo_client(
    settings: Settings, demo_session_factory: sessionmaker[Session]
) -> Iterator[TestClient]:
    app = create_app(settings, session_factory=demo_session_factory)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def registrar(app: FastAPI, db: Session) -> Iterator[TestClient]:
    """Rosa, the national registrar: a national administrator for the whole
    system, signed in with a bearer token."""
    from puente.enums import AccessRole
    from tests import factories as f

    rosa = f.user(db, "rosa.registrar", AccessRole.national_admin)
    with TestClient(app, raise_server_exceptions=False, headers=f.bearer(db, rosa)) as c:
        yield c
