"""The schema the migrations build is the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

from puente.migrate import head_revisions, is_at_head
from puente.models_all import Base


def test_migrations_have_exactly_one_head(database_url: str) -> None:
    assert len(head_revisions(database_url)) == 1


def test_the_migrated_database_is_at_head(engine: Engine) -> None:
    assert is_at_head(engine)


def test_models_and_migrations_have_not_drifted_apart(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == [], f"models differ from migrations; run scripts/new_migration.py: {diff}"
