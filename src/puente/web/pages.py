"""Pages of the shell: home."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from puente.access import service
from puente.access.gate import requires
from puente.access.policy import Permission
from puente.access.principal import Principal
from puente.deps import DB
from puente.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, db: DB, user: Annotated[Principal, requires(None)]) -> HTMLResponse:
    account = service.describe_user(db, service.get_user(db, username=user.username))
    can = {p.value for p in Permission if user.has(p)}
    return render(
        request, "home.html", account=account, can_audit=user.has(Permission.audit_read), can=can
    )
