"""`puente backup` and `puente restore`: Ana, the national administrator,
backs up the database while it holds a national day's figures, restores it
into a fresh database, and every table comes back with the same rows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from puente.cli import app as cli
from puente.config import get_settings
from puente.db import (
    make_engine,
    make_sessionmaker,
    reset_postgres,
    sibling_postgres_database,
    unit_of_work,
)
from puente.enums import AccessRole
from puente.ops.backup import table_checksums
from tests import factories as f
from tests.conftest import migrated_url
from tests.reports.world import imss_day

runner = CliRunner()


@pytest.fixture
def use(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """Point the `puente` command at a database, as PUENTE_DATABASE_URL does."""

    def point(url: str) -> None:
        monkeypatch.setenv("PUENTE_DATABASE_URL", url)
        get_settings.cache_clear()

    yield point
    get_settings.cache_clear()


def _source(backend: str, tmp_path: Path) -> str:
    url = migrated_url(backend, tmp_path, "bk_src")
    engine = make_engine(url)
    with unit_of_work(make_sessionmaker(engine)) as db:
        imss_day(db, tmp_path)
        f.user(db, "ana", AccessRole.national_admin)
        f.patient(db, "Lazareva", "Galina", citizenship="RU")
    engine.dispose()
    return url


def _empty_target(backend: str, tmp_path: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'restored.db'}"
    from tests.conftest import PG_URL

    assert PG_URL
    url = sibling_postgres_database(PG_URL, "bk_dst")
    reset_postgres(url)
    return url


def test_ana_restores_a_backup_and_every_table_has_the_same_rows(
    backend: str, tmp_path: Path, use: object
) -> None:
    source = _source(backend, tmp_path)
    file = tmp_path / "puente.backup"
    use(source)  # type: ignore[operator]
    made = runner.invoke(cli, ["backup", str(file)])
    assert made.exit_code == 0, made.output
    assert "Backed up" in made.output and file.stat().st_size > 0

    target = _empty_target(backend, tmp_path)
    use(target)  # type: ignore[operator]
    restored = runner.invoke(cli, ["restore", str(file)])
    assert restored.exit_code == 0, restored.output

    before, after = table_checksums(source), table_checksums(target)
    assert before == after
    assert before["ledger_entry"].rows > 1000 and before["app_user"].rows >= 1
    assert "alembic_version" in after

    # A second restore into the now full database is refused, naming it.
    again = runner.invoke(cli, ["restore", str(file)])
    assert again.exit_code == 1 and "--force" in again.output
    forced = runner.invoke(cli, ["restore", str(file), "--force"])
    assert forced.exit_code == 0, forced.output
    assert table_checksums(target) == before

    if backend == "postgresql":
        # The audit log's append-only trigger came back with the tables.
        engine = make_engine(target)
        with pytest.raises(DBAPIError), engine.begin() as conn:
            conn.execute(text("TRUNCATE audit_event"))
        engine.dispose()


def test_a_file_that_is_no_backup_is_refused_and_nothing_changes(
    tmp_path: Path, use: object
) -> None:
    target = f"sqlite:///{tmp_path / 'target.db'}"
    use(target)  # type: ignore[operator]
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database", encoding="utf-8")
    refused = runner.invoke(cli, ["restore", str(notes)])
    assert refused.exit_code == 1 and "neither a SQLite database" in refused.output
    assert not (tmp_path / "target.db").exists()
