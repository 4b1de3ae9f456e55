"""The ``puente`` command as an administrator uses it: accounts, tokens,
imports, against a SQLite file of its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from puente.app import create_app
from puente.cli import app as cli
from puente.config import Settings, get_settings
from puente.db import make_engine, make_sessionmaker
from puente.people.models import Patient

runner = CliRunner()


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("PUENTE_DATABASE_URL", url)
    get_settings.cache_clear()
    result = runner.invoke(cli, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    yield url
    get_settings.cache_clear()


def api(url: str, token: str) -> TestClient:
    settings = Settings(environment="test", database_url=url)
    app = create_app(settings, session_factory=make_sessionmaker(make_engine(url)))
    return TestClient(app, headers={"Authorization": f"Bearer {token}"})


def test_an_administrator_adds_rosa_with_a_password_from_stdin_and_gets_her_a_token(
    database: str,
) -> None:
    added = runner.invoke(
        cli,
        ["user", "add", "rosa", "--role", "national_admin", "--password-stdin"],
        input="a long enough secret\n",
    )
    assert added.exit_code == 0, added.output
    assert "Temporary password" not in added.output
    issued = runner.invoke(cli, ["token", "rosa", "--ttl", "1h"])
    assert issued.exit_code == 0, issued.output
    token = issued.stdout.strip().splitlines()[-1]
    me = api(database, token).get("/api/auth/me")
    assert me.status_code == 200
    assert me.json()["username"] == "rosa"


def test_a_user_added_without_a_password_gets_a_temporary_one_to_change_first(
    database: str,
) -> None:
    added = runner.invoke(
        cli, ["user", "add", "dr.ana", "--role", "clinician", "--scope", "NOWHERE"]
    )
    # An unknown scope is refused by name and nobody is created.
    assert added.exit_code == 1
    assert "scope" in added.output
    added = runner.invoke(cli, ["user", "add", "dr.ana", "--role", "program_manager"])
    assert added.exit_code == 0, added.output
    temporary = added.output.split("first sign-in): ")[1].split()[0]
    settings = Settings(environment="test", database_url=database)
    app = create_app(settings, session_factory=make_sessionmaker(make_engine(database)))
    client = TestClient(app)
    signed = client.post("/api/auth/token", json={"username": "dr.ana", "password": temporary})
    assert signed.status_code == 200, signed.text
    token = signed.json()["access_token"]
    held = client.get("/api/practitioners", headers={"Authorization": f"Bearer {token}"})
    assert held.status_code == 403
    assert held.json()["errors"][0]["field"] == "password"


def test_a_token_lifetime_that_is_not_a_duration_is_refused(database: str) -> None:
    runner.invoke(
        cli, ["user", "add", "rosa", "--role", "national_admin", "--password-stdin"], input="x" * 16
    )
    result = runner.invoke(cli, ["token", "rosa", "--ttl", "soon"])
    assert result.exit_code == 2
    assert "duration" in result.output


def test_a_bad_patient_file_is_reported_by_row_and_column_and_nothing_is_stored(
    database: str, tmp_path: Path
) -> None:
    csv = tmp_path / "patients.csv"
    csv.write_text(
        "identifier_system,identifier_value,family_name,given_names,birth_date,sex,"
        "citizenship,preferred_language,phone,email,home_facility_code\n"
        "urn:x,1,Hernández,Lucía,1980-04-02,female,MX,es,,,\n"
        "urn:x,2,Petrov,Ivan,1975-13-01,male,RU,ru,,,\n",
        encoding="utf-8",
    )
    result = runner.invoke(cli, ["import", "patients", str(csv)])
    assert result.exit_code == 1
    assert "row 3" in result.output and "birth_date" in result.output
    engine = make_engine(database)
    with make_sessionmaker(engine)() as session:
        assert session.scalar(select(func.count()).select_from(Patient)) == 0
