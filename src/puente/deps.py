"""Request dependencies shared by every route."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from sqlalchemy.orm import Session

from puente.config import Settings


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def keep_whatever_happens(request: Request, row: Any) -> None:
    """Store ``row`` even if the request fails: a refused sign-in or a denied
    access must stay on record although the request's own work is rolled back.
    It is written with the request's transaction when that commits, and in a
    transaction of its own after the rollback otherwise."""
    pending: list[Any] = request.state.__dict__.setdefault("durable_rows", [])
    pending.append(row)


def _durable(request: Request) -> list[Any]:
    rows: list[Any] = request.state.__dict__.get("durable_rows", [])
    return rows


def get_db(request: Request) -> Iterator[Session]:
    """One transaction per request: committed when the route returns,
    rolled back when it raises."""
    factory: Callable[[], Session] = request.app.state.sessionmaker
    session = factory()
    try:
        yield session
        session.add_all(_durable(request))
        session.commit()
    except BaseException:
        session.rollback()
        if _durable(request):
            with factory() as side:
                side.add_all(_durable(request))
                side.commit()
        raise
    finally:
        session.close()


# scope="function": the commit runs before the response is sent, so a client
# is never told "created" about a write that then failed to commit.
DB = Annotated[Session, Depends(get_db, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


class Paging:
    def __init__(
        self,
        request: Request,
        limit: Annotated[int | None, Query(ge=1, le=500)] = None,
        offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    ) -> None:
        settings: Settings = request.app.state.settings
        self.limit = min(limit or settings.page_size_default, settings.page_size_max)
        self.offset = offset


PagingDep = Annotated[Paging, Depends(Paging)]
