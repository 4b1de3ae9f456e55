"""``puente report`` and ``puente bulletin`` on the IMSS national day."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from puente.cli import app as cli
from puente.config import get_settings
from puente.db import make_engine, make_sessionmaker, unit_of_work
from tests.reports.world import CAMPAIGN, imss_day

runner = CliRunner()


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("PUENTE_DATABASE_URL", url)
    get_settings.cache_clear()
    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
    engine = make_engine(url)
    with unit_of_work(make_sessionmaker(engine)) as db:
        imss_day(db, tmp_path)
    engine.dispose()
    yield url
    get_settings.cache_clear()


def test_report_prints_surgeries_by_tier_as_json_and_csv(database: str) -> None:
    out = runner.invoke(
        cli, ["report", "surgeries", "--campaign", CAMPAIGN, "--by", "tier", "--format", "json"]
    )
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["total"] == 3729
    csv = runner.invoke(
        cli,
        ["report", "surgeries", "--from", "2021-05-14", "--to", "2021-05-16", "--format", "csv"],
    )
    assert csv.output.strip().splitlines()[-1] == "3729"
    table = runner.invoke(cli, ["report", "surgeries", "--campaign", CAMPAIGN, "--by", "region"])
    assert "3,729" in table.output


def test_bulletin_prints_the_spanish_text(database: str) -> None:
    out = runner.invoke(cli, ["bulletin", "--campaign", CAMPAIGN, "--lang", "es", "--press"])
    assert out.exit_code == 0, out.output
    assert "3 mil 729 cirugías" in out.output


def test_an_unknown_indicator_fails_with_a_message(database: str) -> None:
    out = runner.invoke(cli, ["report", "nope"])
    assert out.exit_code == 1
