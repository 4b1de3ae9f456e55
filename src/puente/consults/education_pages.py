"""The tele-education page: sessions ahead with attendance, teaching cases'
threads on the board. Same services as the JSON routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from puente.access.gate import requires
from puente.access.policy import Permission
from puente.access.principal import Principal
from puente.consults.education_api import list_sessions, list_threads
from puente.consults.pages import viewer_zone
from puente.deps import DB
from puente.web.templating import render

router = APIRouter(include_in_schema=False)

Reader = Annotated[Principal, requires(Permission.consult_read)]


@router.get("/training", response_class=HTMLResponse)
def training_page(request: Request, db: DB, user: Reader) -> HTMLResponse:
    return render(
        request,
        "consults/training.html",
        zone=viewer_zone(db, user),
        sessions=list_sessions(db, user, start=None, limit=100),
        threads=list_threads(db, user, specialty_code=None, limit=50),
    )
