"""The schema the migrations build is the schema the models describe."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, select, text

from puente.catalog.models import Specialty
from puente.consults.education_models import (
    BoardPost,
    BoardThread,
    TeachingCase,
    TrainingAttendance,
    TrainingSession,
)
from puente.db import make_engine, make_sessionmaker, unit_of_work
from puente.enums import ConsultUrgency
from puente.migrate import downgrade, head_revisions, is_at_head, upgrade
from puente.models_all import Base
from tests import factories as f
from tests.conftest import migrated_url


def test_migrations_have_exactly_one_head(database_url: str) -> None:
    assert len(head_revisions(database_url)) == 1


def test_the_migrated_database_is_at_head(engine: Engine) -> None:
    assert is_at_head(engine)


def test_models_and_migrations_have_not_drifted_apart(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == [], f"models differ from migrations; run scripts/new_migration.py: {diff}"


def test_the_education_keys_migration_keeps_every_session_attendance_case_thread_and_post(
    backend: str, tmp_path: Path
) -> None:
    """Going down past the idempotency keys and up again keeps the network's
    teaching: a SQLite table rebuilt with foreign keys on would take the
    attendance and the posts with it (ON DELETE CASCADE), and refuse to drop
    a teaching case a thread names."""
    url = migrated_url(backend, tmp_path, suffix="migration_keys")
    engine = make_engine(url)
    try:
        with unit_of_work(make_sessionmaker(engine)) as db:
            bach_mai = f.facility(db, "VN-BACHMAI", region_code="VN-HN")
            con_dao = f.facility(db, "VN-CONDAO", region_code="VN-BV")
            cardiology = db.scalars(select(Specialty)).first() or f.specialty(db)
            when = datetime(2026, 12, 1, 2, tzinfo=UTC)
            session = TrainingSession(
                hub_facility_id=bach_mai.id, title="ECG", specialty_id=cardiology.id,
                starts_at=when, minutes=60, idempotency_key="u1:ecg",
            )  # fmt: skip
            db.add(session)
            db.flush()
            db.add(TrainingAttendance(session_id=session.id, facility_id=con_dao.id))
            case = TeachingCase(
                specialty_id=cardiology.id, title="STEMI", question="Thrombolyse?",
                clinical_summary="58, chest pain at sea", urgency=ConsultUrgency.emergency,
            )  # fmt: skip
            db.add(case)
            db.flush()
            thread = BoardThread(
                specialty_id=cardiology.id, title="STEMI", teaching_case_id=case.id
            )
            db.add(thread)
            db.flush()
            db.add(BoardPost(thread_id=thread.id, body="ST elevation in II, III, aVF"))
        before = _counts(engine)
        assert set(before.values()) == {1}
        engine.dispose()
        downgrade(url, "-1")
        upgrade(url)
        assert _counts(engine) == before
        assert is_at_head(engine)
    finally:
        engine.dispose()


def _counts(engine: Engine) -> dict[str, int]:
    tables = ("training_session", "training_attendance", "teaching_case", "board_thread")
    with engine.connect() as conn:
        return {
            t: int(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one())
            for t in (*tables, "board_post")
        }
