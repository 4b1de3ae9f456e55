"""Every query of `consults`."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime
from typing import TypeVar

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.orm import Session

from puente.access.models import PatientShare, RoleGrant, User
from puente.access.policy import Permission, roles_with
from puente.catalog.models import Service, Specialty
from puente.consults.models import (
    ConsultCase,
    ConsultDeadline,
    ConsultEvent,
    ConsultFile,
    ConsultMessage,
    ConsultUpload,
)
from puente.enums import ConsultStatus, ProgramKind, ServiceKind, Tier
from puente.network.models import (
    Facility,
    Program,
    ProgramEnrolment,
    SupportLink,
    SupportLinkSpecialty,
)

OPEN = (ConsultStatus.open, ConsultStatus.assigned)
Keyed = TypeVar("Keyed")


def case(session: Session, case_id: int) -> ConsultCase | None:
    return session.get(ConsultCase, case_id)


def case_by_key(session: Session, key: str) -> ConsultCase | None:
    return session.scalar(select(ConsultCase).where(ConsultCase.idempotency_key == key))


def message_by_key(session: Session, key: str) -> ConsultMessage | None:
    return session.scalar(select(ConsultMessage).where(ConsultMessage.idempotency_key == key))


def upload_by_key(session: Session, key: str) -> ConsultUpload | None:
    return session.scalar(select(ConsultUpload).where(ConsultUpload.idempotency_key == key))


def by_key(session: Session, model: type[Keyed], key: str) -> Keyed | None:
    """The row of ``model`` created with this Idempotency-Key (any table
    with an ``idempotency_key`` column)."""
    column = model.idempotency_key  # type: ignore[attr-defined]
    return session.scalar(select(model).where(column == key))


def support_hubs(session: Session, spoke_id: int, specialty_id: int) -> list[int]:
    """Hubs with an active link to the spoke covering the specialty (an
    empty specialty list covers all), by rank."""
    listed = select(SupportLinkSpecialty.link_id).where(
        SupportLinkSpecialty.link_id == SupportLink.id
    )
    covers = select(SupportLinkSpecialty.link_id).where(
        SupportLinkSpecialty.link_id == SupportLink.id,
        SupportLinkSpecialty.specialty_id == specialty_id,
    )
    rows = session.execute(
        select(SupportLink.hub_id)
        .join(Facility, Facility.id == SupportLink.hub_id)
        .where(
            SupportLink.spoke_id == spoke_id,
            SupportLink.active.is_(True),
            Facility.active.is_(True),
            or_(~listed.exists(), covers.exists()),
        )
        .order_by(SupportLink.rank, SupportLink.id)
    )
    return [int(r[0]) for r in rows]


def _covers(specialty_id: int) -> ColumnElement[bool]:
    listed = select(SupportLinkSpecialty.link_id).where(
        SupportLinkSpecialty.link_id == SupportLink.id
    )
    covers = select(SupportLinkSpecialty.link_id).where(
        SupportLinkSpecialty.link_id == SupportLink.id,
        SupportLinkSpecialty.specialty_id == specialty_id,
    )
    return or_(~listed.exists(), covers.exists())


def hubs_of_hubs(session: Session, spoke_id: int, specialty_id: int) -> list[int]:
    """One level up through the links: the hubs that support the spoke's own
    hubs (a provincial hub's central hubs) for the specialty."""
    first = select(SupportLink.hub_id).where(
        SupportLink.spoke_id == spoke_id, SupportLink.active.is_(True)
    )
    rows = session.execute(
        select(SupportLink.hub_id)
        .join(Facility, Facility.id == SupportLink.hub_id)
        .where(
            SupportLink.spoke_id.in_(first.scalar_subquery()),
            SupportLink.active.is_(True),
            Facility.active.is_(True),
            _covers(specialty_id),
        )
        .order_by(SupportLink.rank, SupportLink.id)
    )
    return list(dict.fromkeys(int(r[0]) for r in rows))


def central_hubs(session: Session, country_code: str, specialty_id: int) -> list[int]:
    """The top of the chain: central-tier hubs of the spoke's own country
    that support some spoke for the specialty. Another country's hubs are
    reached only through a support link agreed with them (a case — and its
    patient — never crosses a border the network has not set up)."""
    rows = session.execute(
        select(Facility.id)
        .join(SupportLink, SupportLink.hub_id == Facility.id)
        .where(
            Facility.tier == Tier.central,
            Facility.country_code == country_code,
            Facility.active.is_(True),
            SupportLink.active.is_(True),
            _covers(specialty_id),
        )
        .group_by(Facility.id)
        .order_by(Facility.id)
    )
    return [int(i) for (i,) in rows]


def active_facility_ids(session: Session, ids: Collection[int]) -> set[int]:
    if not ids:
        return set()
    rows = session.scalars(
        select(Facility.id).where(Facility.id.in_(list(ids)), Facility.active.is_(True))
    )
    return {int(i) for i in rows}


def visited_hubs(session: Session, case_id: int) -> set[int]:
    rows = session.scalars(
        select(ConsultEvent.hub_facility_id).where(
            ConsultEvent.case_id == case_id,
            ConsultEvent.kind.in_(("routed", "escalated_hub")),
            ConsultEvent.hub_facility_id.is_not(None),
        )
    )
    return {int(i) for i in rows if i is not None}


def program_of(session: Session, facility_id: int, on: date) -> int | None:
    """The remote-care-network program the facility takes part in on ``on``."""
    found = session.scalar(
        select(ProgramEnrolment.program_id)
        .join(Program, Program.id == ProgramEnrolment.program_id)
        .where(
            Program.kind == ProgramKind.remote_care_network,
            ProgramEnrolment.facility_id == facility_id,
            ProgramEnrolment.start_date <= on,
            or_(ProgramEnrolment.end_date.is_(None), ProgramEnrolment.end_date >= on),
        )
        .order_by(ProgramEnrolment.start_date.desc(), ProgramEnrolment.id)
        .limit(1)
    )
    return int(found) if found is not None else None


def deadlines(session: Session, program_id: int) -> list[ConsultDeadline]:
    return list(
        session.scalars(select(ConsultDeadline).where(ConsultDeadline.program_id == program_id))
    )


def consult_service_id(session: Session, specialty_id: int) -> int | None:
    """A remote-consultation service of this specialty, when the catalog has one."""
    found = session.scalar(
        select(Service.id)
        .where(
            Service.kind == ServiceKind.remote_consultation,
            Service.specialty_id == specialty_id,
            Service.code.like("remote-consultation%"),
        )
        .order_by(Service.id)
        .limit(1)
    )
    return int(found) if found is not None else None


def service_id_by_code(session: Session, code: str) -> int | None:
    found = session.scalar(select(Service.id).where(Service.code == code))
    return int(found) if found is not None else None


def specialty_codes(session: Session, ids: Collection[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(select(Specialty.id, Specialty.code).where(Specialty.id.in_(ids)))
    return {int(i): str(c) for i, c in rows}


def facilities(session: Session, ids: Collection[int]) -> dict[int, Facility]:
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    return {f.id: f for f in session.scalars(select(Facility).where(Facility.id.in_(wanted)))}


def usernames(session: Session, ids: Collection[int | None]) -> dict[int, str]:
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    rows = session.execute(select(User.id, User.username).where(User.id.in_(wanted)))
    return {int(i): str(n) for i, n in rows}


def coordinators(session: Session, hub_id: int) -> list[User]:
    """The active users who coordinate consultations at the hub itself (a
    role granted at that facility; national and regional roles are not
    alerted for every hub's case)."""
    roles = sorted(roles_with(Permission.consult_coordinate))
    return list(
        session.scalars(
            select(User)
            .where(
                User.active.is_(True),
                User.id.in_(
                    select(RoleGrant.user_id).where(
                        RoleGrant.facility_id == hub_id, RoleGrant.role.in_(roles)
                    )
                ),
            )
            .order_by(User.id)
        )
    )


def events(session: Session, case_id: int) -> list[ConsultEvent]:
    return list(
        session.scalars(
            select(ConsultEvent)
            .where(ConsultEvent.case_id == case_id)
            .order_by(ConsultEvent.at, ConsultEvent.id)
        )
    )


def messages(session: Session, case_id: int) -> list[ConsultMessage]:
    return list(
        session.scalars(
            select(ConsultMessage)
            .where(ConsultMessage.case_id == case_id)
            .order_by(ConsultMessage.sent_at, ConsultMessage.id)
        )
    )


def files(session: Session, case_id: int) -> list[ConsultFile]:
    return list(
        session.scalars(
            select(ConsultFile)
            .where(ConsultFile.case_id == case_id)
            .order_by(ConsultFile.uploaded_at, ConsultFile.id)
        )
    )


def queue(session: Session, hub_ids: Collection[int] | None, limit: int) -> list[ConsultCase]:
    """Open cases at these hubs (all hubs for None), the nearest deadline first."""
    query = select(ConsultCase).where(ConsultCase.status.in_(OPEN))
    if hub_ids is not None:
        query = query.where(ConsultCase.hub_facility_id.in_(list(hub_ids)))
    return list(session.scalars(query.order_by(ConsultCase.due_at, ConsultCase.id).limit(limit)))


def cases_where(
    session: Session, where: list[ColumnElement[bool]], limit: int, offset: int = 0
) -> tuple[int, list[ConsultCase]]:
    total = session.scalar(select(func.count()).select_from(ConsultCase).where(*where)) or 0
    rows = session.scalars(
        select(ConsultCase)
        .where(*where)
        .order_by(ConsultCase.requested_at.desc(), ConsultCase.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return int(total), list(rows)


def due(session: Session, now: datetime) -> list[ConsultCase]:
    """Open cases whose deadline at their hub has passed, oldest deadline first."""
    return list(
        session.scalars(
            select(ConsultCase)
            .where(ConsultCase.status.in_(OPEN), ConsultCase.due_at <= now)
            .order_by(ConsultCase.due_at, ConsultCase.id)
            .with_for_update(skip_locked=True)
        )
    )


def answered_since(
    session: Session, start: datetime | None, end: datetime | None, hub_ids: Collection[int] | None
) -> list[ConsultCase]:
    query = select(ConsultCase)
    if start is not None:
        query = query.where(ConsultCase.requested_at >= start)
    if end is not None:
        query = query.where(ConsultCase.requested_at < end)
    if hub_ids is not None:
        query = query.where(
            or_(
                ConsultCase.answer_facility_id.in_(list(hub_ids)),
                ConsultCase.hub_facility_id.in_(list(hub_ids)),
            )
        )
    return list(session.scalars(query))


def end_consult_shares(
    session: Session, case_id: int, *, at: datetime, keep_user_id: int | None = None
) -> None:
    """A specialist who no longer holds the case (reassigned, declined, sent
    on to another hub) stops seeing its patient from ``at``; ``keep_user_id``
    keeps the one who holds it now."""
    condition = [
        PatientShare.reference == f"consult:{case_id}",
        (PatientShare.expires_at.is_(None)) | (PatientShare.expires_at > at),
    ]
    if keep_user_id is not None:
        condition.append(PatientShare.user_id != keep_user_id)
    session.execute(
        update(PatientShare).where(*condition).values(expires_at=at),
        execution_options={"synchronize_session": False},
    )


def consult_share_of(session: Session, case_id: int, user_id: int, at: datetime) -> bool:
    """Whether ``user_id`` still sees the case's patient through the consult."""
    found = session.scalar(
        select(PatientShare.id).where(
            PatientShare.reference == f"consult:{case_id}",
            PatientShare.user_id == user_id,
            (PatientShare.expires_at.is_(None)) | (PatientShare.expires_at > at),
        )
    )
    return found is not None


def close_consult_shares(session: Session, case_id: int, *, until: datetime) -> None:
    """A closed case keeps its specialist's access for the follow-up window
    only (``until``), not for ever."""
    session.execute(
        update(PatientShare)
        .where(
            PatientShare.reference == f"consult:{case_id}",
            (PatientShare.expires_at.is_(None)) | (PatientShare.expires_at > until),
        )
        .values(expires_at=until),
        execution_options={"synchronize_session": False},
    )
