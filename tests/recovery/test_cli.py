"""``puente waiting-list import`` and ``puente plan`` against a SQLite file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from puente.cli import app as cli
from puente.config import get_settings
from puente.db import make_engine, make_sessionmaker, unit_of_work
from puente.enums import CapacityKind
from puente.recovery import service
from puente.recovery.schemas import CampaignCreate, CapacityIn, LineIn
from tests.recovery import world as w

runner = CliRunner()
CODE = "imss-jornada-cli"


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("PUENTE_DATABASE_URL", url)
    get_settings.cache_clear()
    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
    engine = make_engine(url)
    with unit_of_work(make_sessionmaker(engine)) as db:
        w.network(db)
        days = w.campaign_days()
        campaign = service.create_campaign(
            db,
            data=CampaignCreate(
                code=CODE,
                name="Jornada",
                country="MX",
                starts_on=days[0],
                ends_on=days[-1],
                units=[w.JALISCO, w.NUEVO_LEON],
                lines=[
                    LineIn(service_code=w.CARDIOLOGY, capacity_kind=CapacityKind.consultation_slots)
                ],
            ),
        )
        service.set_capacity(
            db,
            campaign=campaign,
            rows=[
                CapacityIn(facility_code=u, day=d, service_code=w.CARDIOLOGY, amount=1)
                for u in (w.JALISCO, w.NUEVO_LEON)
                for d in days
            ],
        )
    engine.dispose()
    yield url
    get_settings.cache_clear()


def test_an_operator_imports_the_list_and_plans_the_day(database: str, tmp_path: Path) -> None:
    csv = tmp_path / "lista.csv"
    rows = [
        f"curp,CURP{n:04d},{w.CARDIOLOGY},{unit},2026-01-0{n % 9 + 1},p{n % 4 + 1}"
        for n in range(12)
        for unit in [w.JALISCO if n % 3 else w.NUEVO_LEON]
    ]
    csv.write_text(
        "identifier_system,identifier_value,service_code,referring_facility_code,referred_on,priority\n"
        + "\n".join(rows)
        + "\n",
        encoding="utf-8",
    )
    out = runner.invoke(cli, ["waiting-list", "import", str(csv)])
    assert out.exit_code == 0, out.output
    assert "Imported 12" in out.output
    out = runner.invoke(cli, ["plan", CODE, "--publish"])
    assert out.exit_code == 0, out.output
    last = json.loads(out.stdout.strip().splitlines()[-1])
    assert last["planned"] == 6 and last["status"] == "done"
    assert last["gap"] <= 0.01 and last["objective"] <= last["bound"] + 1e-6
    assert "published: 6 patients notified" in out.output


def test_a_bad_file_names_its_row_and_column_and_stores_nothing(
    database: str, tmp_path: Path
) -> None:
    csv = tmp_path / "mala.csv"
    csv.write_text(
        "identifier_system,identifier_value,service_code,referring_facility_code,referred_on,priority\n"
        f"curp,CURP0001,{w.CARDIOLOGY},{w.JALISCO},2026-13-01,p2\n",
        encoding="utf-8",
    )
    out = runner.invoke(cli, ["waiting-list", "import", str(csv)])
    assert out.exit_code == 1
    assert "row 2, referred_on" in out.output
    assert runner.invoke(cli, ["plan", "no-such-day"]).exit_code == 1
