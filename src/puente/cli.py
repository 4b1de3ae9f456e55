"""The ``puente`` command: database, server, demo world and imports."""

from __future__ import annotations

import importlib
import logging
import sys
import threading
import time
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.orm import Session, sessionmaker

from puente.config import Settings, get_settings
from puente.db import analyze, make_engine, make_sessionmaker, unit_of_work
from puente.enums import AccessRole
from puente.errors import PuenteError

app = typer.Typer(help="Puente: national care-network platform.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
user_app = typer.Typer(help="Accounts and their roles.", no_args_is_help=True)
app.add_typer(user_app, name="user")
console = Console()
err = Console(stderr=True)


def _prepare_sqlite_dir(url: str) -> None:
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)


def _upgrade() -> None:
    from puente.migrate import upgrade

    url = get_settings().database_url
    _prepare_sqlite_dir(url)
    upgrade(url)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Bring the database schema to the newest migration."""
    _upgrade()
    console.print("[green]Database is at the newest migration.[/green]")


def _start_background_work(
    settings: Settings, stop: threading.Event | None = None
) -> list[threading.Thread]:
    """Daemon threads of the server process: the outbox dispatcher, unless
    PUENTE_NOTIFY_IN_PROCESS=false (then run `puente notify run` on its own),
    and the consult escalation loop, unless PUENTE_ESCALATE_IN_PROCESS=false
    (then `puente consults escalate`). ``stop`` ends the escalation loop."""
    threads = []
    if settings.notify_in_process:
        notify = threading.Thread(target=_notify_work, args=(settings,), name="puente-notify")
        threads.append(notify)
    if settings.escalate_in_process:
        from puente.consults.cli import escalation_loop

        def escalate() -> None:
            escalation_loop(
                make_sessionmaker(make_engine(settings.database_url)),
                interval=settings.escalate_interval_seconds,
                report=lambda step: logging.getLogger("puente.consults").info(
                    "case %s: %s (hub %s)", step.case_id, step.kind, step.hub_id
                ),
                stop=stop,
            )

        threads.append(threading.Thread(target=escalate, name="puente-escalate"))
    for thread in threads:
        thread.daemon = True
        thread.start()
    return threads


def _notify_work(settings: Settings) -> None:
    from puente.notify.dispatcher import run
    from puente.notify.senders import senders_from

    factory = make_sessionmaker(make_engine(settings.database_url))
    while True:
        try:
            run(
                factory,
                senders=senders_from(settings),
                public_url=settings.public_url,
                interval=5.0,
                report=lambda r: console.print(f"notifications: {r}"),
            )
        except Exception:  # a database outage must not end the sending for good
            logging.getLogger("puente.notify").exception("notification pass failed")
            time.sleep(30)


def _serve(host: str, port: int, workers: int = 1) -> None:
    import uvicorn

    from puente.app import create_app
    from puente.ops.logs import configure

    settings = get_settings()
    log_config = configure(settings.log_format)
    _start_background_work(settings)
    if workers > 1:
        # Each worker process builds its own app (and pool) from the settings;
        # the notifications thread stays in this, the supervising process.
        uvicorn.run(
            "puente.app:create_app", factory=True, host=host, port=port, workers=workers,
            log_level="info", log_config=log_config,
        )  # fmt: skip
        return
    uvicorn.run(create_app(), host=host, port=port, log_level="info", log_config=log_config)


@app.command()
def serve(
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Worker processes (one core each, at most)")
    ] = 1,
) -> None:
    """Serve Puente over HTTP."""
    if workers > 1 and not get_settings().redis_url:
        # Each worker keeps its own visit rooms unless they meet in Redis:
        # two browsers of one call on two workers would never see each other.
        err.print(
            "[red]--workers above 1 needs PUENTE_REDIS_URL (visit rooms meet in Redis).[/red]"
        )
        raise typer.Exit(code=2)
    _serve(host, port, workers)


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    load_only: Annotated[bool, typer.Option("--load-only", help="Load, then exit")] = False,
    seed: Annotated[int, typer.Option(help="Seed of the generated world")] = 2021,
) -> None:
    """Migrate, load the demo world (once) and serve it."""
    from puente.demo import load_demo

    _upgrade()
    factory = make_sessionmaker(make_engine(get_settings().database_url))
    started = time.perf_counter()
    with _progress() as bar, unit_of_work(factory) as session:
        task = bar.add_task("Demo world", total=None)
        summary = load_demo(
            session, seed=seed, progress=lambda d, t: bar.update(task, completed=d, total=t)
        )
    analyze(get_settings().database_url)
    console.print(f"[green]{summary}[/green] ({time.perf_counter() - started:.1f} s)")
    _print_demo_accounts(factory)
    if not load_only:
        console.print(f"Serving on http://{host}:{port}")
        _serve(host, port)


def _print_demo_accounts(factory: sessionmaker[Session]) -> None:
    from rich.table import Table

    from puente.access.demo import DEMO_PASSWORD, create_demo_users

    with unit_of_work(factory) as session:
        accounts = create_demo_users(session)
    table = Table(title=f"Demo accounts (password for all: {DEMO_PASSWORD})")
    for column in ("user", "role", "scope", "sees"):
        table.add_column(column)
    for a in accounts:
        where = a.scope or ("own record" if a.role == AccessRole.patient else "whole system")
        table.add_row(a.username, a.role.value, where, a.description)
    console.print(table)


class ImportKind(StrEnum):
    facilities = "facilities"
    patients = "patients"
    practitioners = "practitioners"
    ledger = "ledger"


# kind -> (module, function); each takes (session, path, progress=...) -> ImportResult
IMPORTERS = {
    ImportKind.facilities: ("puente.network.imports", "import_facilities"),
    ImportKind.patients: ("puente.people.imports", "import_patients"),
    ImportKind.practitioners: ("puente.people.imports", "import_practitioners"),
    ImportKind.ledger: ("puente.ledger.imports", "import_ledger"),
}


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
    )


@app.command("import")
def import_(
    kind: Annotated[ImportKind, typer.Argument(help="What the file holds")],
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
) -> None:
    """Import a CSV file. All or nothing: any error names its row and column
    and nothing from the file is stored."""
    module, name = IMPORTERS[kind]
    importer = getattr(importlib.import_module(module), name)
    factory = make_sessionmaker(make_engine(get_settings().database_url))
    started = time.perf_counter()
    try:
        with _progress() as bar, unit_of_work(factory) as session:
            task = bar.add_task(f"Importing {kind.value}", total=None)
            result = importer(
                session, file, progress=lambda d, t: bar.update(task, completed=d, total=t)
            )
    except PuenteError as exc:
        err.print(f"[red]{exc.detail}[/red]")
        for e in exc.errors[:50]:
            where = f"row {e.row}, " if e.row is not None else ""
            err.print(f"  {where}column '{e.field}': {e.message}")
        if len(exc.errors) > 50:
            err.print(f"  … {len(exc.errors) - 50} more listed errors")
        raise typer.Exit(code=1) from None
    elapsed = time.perf_counter() - started
    console.print(
        f"[green]Imported {result.rows} rows from {file.name}[/green]: "
        f"{result.created} created, {result.updated} updated ({elapsed:.1f} s)."
    )


def _session_factory() -> sessionmaker[Session]:
    return make_sessionmaker(make_engine(get_settings().database_url))


def _fail(exc: PuenteError) -> NoReturn:
    err.print(f"[red]{exc.detail}[/red]")
    for e in exc.errors:
        err.print(f"  {e.field}: {e.message}")
    raise typer.Exit(code=1)


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="User name")],
    role: Annotated[AccessRole, typer.Option(help="Role to grant")],
    scope: Annotated[
        str | None, typer.Option(help="Facility or region code; omit for the whole system")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input")
    ] = False,
    display_name: Annotated[str | None, typer.Option(help="Name shown in pages")] = None,
) -> None:
    """Create an account with one role. Without --password-stdin a temporary
    password is printed, which the user must change at first sign-in."""
    from puente.access import service

    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    temporary = None if password else service.new_temporary_password()
    try:
        with unit_of_work(_session_factory()) as session:
            user = service.create_user(
                session,
                username=name,
                display_name=display_name,
                password=password or temporary,
                must_change_password=not password_stdin,
            )
            service.grant_role(session, user=user, role=role, scope_code=scope)
    except PuenteError as exc:
        _fail(exc)
    where = f"at {scope}" if scope else "system-wide"
    console.print(f"[green]Created {name}[/green]: {role.value} {where}.")
    if temporary:
        console.print(f"Temporary password (must be changed at first sign-in): {temporary}")


@user_app.command("grant")
def user_grant(
    name: Annotated[str, typer.Argument(help="User name")],
    role: Annotated[AccessRole, typer.Option(help="Role to grant")],
    scope: Annotated[str | None, typer.Option(help="Facility or region code")] = None,
) -> None:
    """Grant one more role to an existing account."""
    from puente.access import service

    try:
        with unit_of_work(_session_factory()) as session:
            user = service.get_user(session, username=name)
            service.grant_role(session, user=user, role=role, scope_code=scope)
    except PuenteError as exc:
        _fail(exc)
    console.print(f"[green]Granted {role.value} to {name}.[/green]")


@user_app.command("reset-password")
def user_reset_password(name: Annotated[str, typer.Argument(help="User name")]) -> None:
    """Give an account a temporary password that must be changed at sign-in."""
    from puente.access import service

    try:
        with unit_of_work(_session_factory()) as session:
            temporary = service.reset_password(
                session, user=service.get_user(session, username=name)
            )
    except PuenteError as exc:
        _fail(exc)
    console.print(f"Temporary password for {name}: {temporary}")


def parse_duration(text: str) -> timedelta:
    """'90s', '30m', '1h', '7d' → a timedelta."""
    units = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
    text = text.strip().lower()
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit() or int(text[:-1]) < 1:
        raise typer.BadParameter(f"'{text}' is not a duration like 30m, 1h or 7d")
    return timedelta(**{units[text[-1]]: int(text[:-1])})


@app.command()
def token(
    name: Annotated[str, typer.Argument(help="User name")],
    ttl: Annotated[str, typer.Option(help="Lifetime: 30m, 1h, 7d …")] = "1h",
) -> None:
    """Print a bearer token for the API, valid for --ttl."""
    from puente.access import service

    lifetime = parse_duration(ttl)
    try:
        with unit_of_work(_session_factory()) as session:
            value, _row = service.issue_token(
                session, user=service.get_user(session, username=name), ttl=lifetime, name="cli"
            )
    except PuenteError as exc:
        _fail(exc)
    print(value)


@app.command("backup")
def backup_command(
    file: Annotated[Path, typer.Argument(help="Where to write the backup")],
) -> None:
    """Back up the configured database: pg_dump (custom format) for PostgreSQL,
    the online-backup API for SQLite. The server may keep running."""
    from puente.ops.backup import backup, table_checksums

    url = get_settings().database_url
    try:
        backup(url, file)
    except PuenteError as exc:
        _fail(exc)
    tables = table_checksums(url)
    rows = sum(t.rows for t in tables.values())
    console.print(f"Backed up {len(tables)} tables, {rows:,} rows, to {file}")


@app.command("restore")
def restore_command(
    file: Annotated[Path, typer.Argument(help="A file written by `puente backup`")],
    force: Annotated[
        bool, typer.Option("--force", help="Replace the tables of a database that has some")
    ] = False,
) -> None:
    """Restore a backup into the configured database (empty, unless --force)."""
    from puente.ops.backup import restore, table_checksums

    url = get_settings().database_url
    try:
        restore(url, file, force=force)
    except PuenteError as exc:
        _fail(exc)
    tables = table_checksums(url)
    rows = sum(t.rows for t in tables.values())
    console.print(f"Restored {len(tables)} tables, {rows:,} rows, from {file}")


notify_app = typer.Typer(help="Notifications (the outbox).", no_args_is_help=True)
app.add_typer(notify_app, name="notify")


@notify_app.command("run")
def notify_run(
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between passes")] = 5.0,
) -> None:
    """Send due notifications (log, SMTP e-mail, SMS gateway), retrying failures."""
    from puente.notify.dispatcher import run
    from puente.notify.senders import senders_from

    settings = get_settings()
    total = run(
        _session_factory(),
        senders=senders_from(settings),
        public_url=settings.public_url,
        once=once,
        interval=interval,
        report=lambda r: console.print(f"notifications: {r}"),
    )
    console.print(f"notifications: {total}")


from puente.reports.cli import register as _register_reports  # noqa: E402

_register_reports(app)

from puente.recovery.cli import register as _register_recovery  # noqa: E402

_register_recovery(app)
from puente.consults.cli import register as _register_consults  # noqa: E402

_register_consults(app)

if __name__ == "__main__":  # pragma: no cover
    app()
