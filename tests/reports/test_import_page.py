"""The aggregate import from the pages: a facility administrator uploads the
CSV that `puente import ledger` reads; all or nothing, inside their scope,
errors by row and column, a second upload of the same file adds nothing."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from puente.catalog.service import sync_catalog
from puente.enums import AccessRole
from puente.ledger.models import LedgerEntry
from tests import factories as f

GOOD = (
    "facility_code,date,service_code,count,campaign\n"
    "MX-JAL-HGZ46,2021-05-14,screen-diabetes,120,imss-jornada-2021-05\n"
    "MX-JAL-HGZ46,2021-05-15,screen-hypertension,75,imss-jornada-2021-05\n"
)


def _network(db: Session) -> None:
    sync_catalog(db)
    f.region(db, "MX-JAL", "Jalisco")
    f.facility(db, "MX-JAL-HGZ46", "HGZ 46 Guadalajara", region_code="MX-JAL")
    f.facility(db, "MX-JAL-HGZ89", "HGZ 89 Guadalajara", region_code="MX-JAL")


def _as(client: TestClient, db: Session, name: str, role: AccessRole, scope: str | None) -> None:
    client.headers.update(f.bearer(db, f.user(db, name, role, scope)))


def _entries(db: Session) -> int:
    return int(db.scalar(select(func.count()).select_from(LedgerEntry)) or 0)


def _upload(client: TestClient, text: str, name: str = "jornada.csv", lang: str = "en") -> object:
    return client.post(
        f"/figures/import?lang={lang}",
        files={"file": (name, text.encode(), "text/csv")},
    )


def test_olivia_imports_her_units_counts_and_the_figures_move(
    client: TestClient, db: Session
) -> None:
    _network(db)
    _as(client, db, "olivia", AccessRole.facility_admin, "MX-JAL-HGZ46")
    form = client.get("/figures/import?lang=es")
    assert form.status_code == 200 and "Importar conteos agregados" in form.text
    assert 'name="file"' in form.text and "facility_code" in form.text

    r = _upload(client, GOOD)
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    assert 'id="import-result"' in r.text  # type: ignore[attr-defined]
    assert _entries(db) == 2
    figures = client.get("/api/reports/screenings?campaign=imss-jornada-2021-05")
    assert figures.status_code == 200, figures.text
    assert figures.json()["total"] == 195


def test_the_same_file_twice_adds_nothing(client: TestClient, db: Session) -> None:
    _network(db)
    _as(client, db, "olivia", AccessRole.facility_admin, "MX-JAL-HGZ46")
    assert _upload(client, GOOD).status_code == 200  # type: ignore[attr-defined]
    again = _upload(client, GOOD)
    assert again.status_code == 200  # type: ignore[attr-defined]
    assert "already imported" in again.text  # type: ignore[attr-defined]
    assert _entries(db) == 2


def test_a_file_with_bad_rows_stores_nothing_and_names_each_row(
    client: TestClient, db: Session
) -> None:
    _network(db)
    _as(client, db, "olivia", AccessRole.facility_admin, "MX-JAL-HGZ46")
    bad = GOOD + (
        "MX-JAL-HGZ46,2021-05-15,no-such-service,3,\nMX-JAL-HGZ89,2021-05-15,screen-diabetes,3,\n"
    )
    r = _upload(client, bad, lang="ru")
    assert r.status_code == 400  # type: ignore[attr-defined]
    page = r.text  # type: ignore[attr-defined]
    assert "ничего не импортировано" in page
    assert "no-such-service" in page and "outside your scope" in page
    assert '<td class="num">4</td>' in page and '<td class="num">5</td>' in page
    assert _entries(db) == 0

    unreadable = _upload(client, GOOD + "MX-JAL-HGZ46,2021-05-15,screen-diabetes,many,\n")
    assert unreadable.status_code == 400  # type: ignore[attr-defined]
    assert '<td class="num">4</td><td><code>count</code>' in unreadable.text  # type: ignore[attr-defined]
    assert _entries(db) == 0


def test_a_program_manager_may_read_figures_but_not_import(client: TestClient, db: Session) -> None:
    _network(db)
    _as(client, db, "marta", AccessRole.program_manager, None)
    assert client.get("/figures").status_code == 200
    assert "import-link" not in client.get("/figures").text
    assert client.get("/figures/import").status_code == 403
    assert _upload(client, GOOD).status_code == 403  # type: ignore[attr-defined]
    assert _entries(db) == 0
