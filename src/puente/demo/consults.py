"""Remote consultation in the demo world: Vietnam's hub-and-spoke network.

* History: 300 cases over the six months before the demo is loaded, asked by
  spokes across the network — island districts (Cô Tô, Vân Đồn, Côn Đảo, …),
  the Laos and Cambodia hospitals and the other lower-level facilities —
  routed along the real support links, assigned, answered (ICD-10
  diagnoses, transfer decisions), counted in the ledger and closed with an
  outcome. About one in eight answers came after its deadline.
* In flight: a dozen cases asked in the last hours, some still within their
  deadline (the queue's countdown runs), some already breached and
  escalated to the hub coordinator or on to the next hub.
* Tele-education: two past training sessions with attendance from island
  and cross-border spokes, three ahead, and one teaching case on the board.
* Case conferences: Bạch Mai's rounds tomorrow and next week and the island
  hub's rounds in two days, each with open cases of that hub on its agenda
  and the hub's staff and the doctors of those cases' spokes invited; and
  last week's rounds, held, with the decisions recorded.
* Demo accounts (see :func:`_accounts`): ``dr.island`` at Cô Tô island's
  district medical centre, ``dr.laos`` at Mittaphab Hospital (Vientiane),
  ``island.hub.coord`` / ``island.hub.doctor`` at the island's first hub;
  ``hub.coord`` and ``hub.doctor`` (Bạch Mai) already exist.

Like the visits phase, this one reads the clock: in-flight deadlines must
run from now. Every case is made through the consult services, so routing,
events and ledger rows are those of real use.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from puente.access import service as access
from puente.access.demo import DEMO_PASSWORD
from puente.access.models import RoleGrant, User
from puente.consults import conferences, deadlines, education, service
from puente.consults.models import ConsultCase
from puente.consults.schemas import Answer, CaseCreate, Vitals
from puente.db import utcnow
from puente.demo.world import World
from puente.enums import (
    AccessRole,
    ConferenceProvider,
    ConferenceStatus,
    ConsultOutcome,
    ConsultStatus,
    ConsultUrgency,
    Sex,
)
from puente.network.models import Facility, Region, SupportLink
from puente.people.models import Patient
from puente.scheduling import service as scheduling

HISTORY = 300
HISTORY_DAYS = 182
ISLANDS = (
    "Cô Tô",
    "Vân Đồn",
    "Côn Đảo",
    "Lý Sơn",
    "Phú Quốc",
    "Cồn Cỏ",
    "Bạch Long Vĩ",
    "Cát Hải",
    "Trường Sa",
    "Hoàng Sa",
    "Phú Quý",
    "Kiên Hải",
    "Cô Tô",
)

# (specialty, question, summary, ICD-10, assessment, plan, vitals)
CASES: list[tuple[str, str, str, str, str, str, dict[str, Any]]] = [
    (
        "pediatrics",
        "Trẻ 3 tuổi sốt cao 40 °C, co giật toàn thân 10 phút. Xử trí tiếp thế nào?",
        "Co giật lần đầu, đã cắt cơn bằng diazepam; gáy mềm.",
        "R56.0",
        "Co giật do sốt phức tạp; cần loại trừ viêm màng não.",
        "Hạ sốt, theo dõi tri giác; chọc dịch não tủy nếu co giật lại.",
        {"temperature_c": 40.1, "heart_rate": 150, "spo2": 96},
    ),
    (
        "cardiology",
        "Đau ngực 2 giờ, ST chênh lên DII, DIII, aVF. Tiêu sợi huyết tại chỗ hay chuyển viện?",
        "Nam 58 tuổi, hút thuốc lá; đau khi đang đánh cá.",
        "I21.1",
        "Nhồi máu cơ tim cấp thành dưới.",
        "Tiêu sợi huyết tại chỗ nếu không có chống chỉ định, sau đó chuyển viện.",
        {"heart_rate": 112, "systolic_bp": 92, "diastolic_bp": 60, "spo2": 93},
    ),
    (
        "neurology",
        "Liệt nửa người phải, nói khó từ 90 phút. Có chỉ định tiêu sợi huyết không?",
        "Nữ 67 tuổi, tăng huyết áp; chưa có CT.",
        "I63.9",
        "Đột quỵ nhồi máu não cấp, trong cửa sổ điều trị.",
        "Chuyển ngay đến cơ sở có CT và đơn vị đột quỵ.",
        {"systolic_bp": 178, "diastolic_bp": 96, "glasgow": 13},
    ),
    (
        "obstetrics",
        "Sản phụ 34 tuần, huyết áp 170/110, đau đầu. Xử trí và có chuyển viện không?",
        "Con so; protein niệu 3+.",
        "O14.1",
        "Tiền sản giật nặng.",
        "Magie sulfat, hạ áp, chuyển tuyến có hồi sức sơ sinh.",
        {"systolic_bp": 170, "diastolic_bp": 110},
    ),
    (
        "general_surgery",
        "Đau hố chậu phải 24 giờ, sốt 38,5 °C. Mổ tại chỗ được không?",
        "Nam 22 tuổi; Mc Burney (+); bạch cầu 15 G/L.",
        "K35.8",
        "Viêm ruột thừa cấp.",
        "Mổ cắt ruột thừa tại chỗ; kháng sinh dự phòng.",
        {"temperature_c": 38.5, "heart_rate": 104},
    ),
    (
        "infectious_diseases",
        "Sốt 5 ngày, tiểu cầu 40 G/L, chấm xuất huyết. Có cần truyền dịch không?",
        "Nữ 19 tuổi; NS1 dương tính.",
        "A91",
        "Sốt xuất huyết Dengue có dấu hiệu cảnh báo.",
        "Truyền dịch theo phác đồ, theo dõi hematocrit mỗi 4 giờ.",
        {"temperature_c": 38.2, "heart_rate": 108, "systolic_bp": 100},
    ),
    (
        "pulmonology",
        "Khó thở tăng dần, SpO2 88 %. Xử trí đợt cấp như thế nào?",
        "Nam 71 tuổi, COPD 10 năm; ho đờm mủ.",
        "J44.1",
        "Đợt cấp COPD mức độ nặng.",
        "Thở oxy mục tiêu 88–92 %, khí dung, corticoid, kháng sinh.",
        {"spo2": 88, "respiratory_rate": 28},
    ),
    (
        "traumatology_orthopedics",
        "Gãy kín 1/3 giữa xương đùi sau tai nạn. Cố định và chuyển như thế nào?",
        "Nam 35 tuổi; mạch mu chân bắt rõ.",
        "S72.3",
        "Gãy kín thân xương đùi.",
        "Kéo liên tục, giảm đau, chuyển tuyến chấn thương chỉnh hình.",
        {"heart_rate": 98, "systolic_bp": 118},
    ),
    (
        "endocrinology",
        "Đường huyết 32 mmol/L, thở nhanh, lơ mơ. Xử trí ban đầu?",
        "Nữ 24 tuổi, đái tháo đường típ 1 bỏ insulin 3 ngày.",
        "E10.1",
        "Nhiễm toan ceton do đái tháo đường.",
        "Bù dịch, insulin truyền tĩnh mạch, bù kali theo xét nghiệm.",
        {"respiratory_rate": 30, "heart_rate": 120, "glasgow": 13},
    ),
    (
        "internal_medicine",
        "Nôn ra máu 2 lần, phân đen. Có cần chuyển viện không?",
        "Nam 52 tuổi, uống rượu nhiều năm.",
        "K92.2",
        "Xuất huyết tiêu hóa trên, nghi do giãn tĩnh mạch thực quản.",
        "Hồi sức, octreotide, chuyển tuyến có nội soi cấp cứu.",
        {"heart_rate": 118, "systolic_bp": 90},
    ),
]
# Outcome shares of closed cases: most are treated where the patient is.
OUTCOMES = [
    (ConsultOutcome.treated_locally, 70),
    (ConsultOutcome.transferred, 22),
    (ConsultOutcome.died, 3),
    (ConsultOutcome.unknown, 5),
]
URGENCY = [
    (ConsultUrgency.emergency, 25),
    (ConsultUrgency.urgent, 40),
    (ConsultUrgency.routine, 35),
]


def _pick(rng: Any, weighted: list[tuple[Any, int]]) -> Any:
    return rng.choices([v for v, _w in weighted], weights=[w for _v, w in weighted])[0]


def _island_spokes(world: World) -> list[Facility]:
    session = world.session
    names = set(ISLANDS)
    regions = [
        r
        for r in session.scalars(select(Region).where(Region.country_code == "VN"))
        if r.name in names
    ]
    if not regions:
        return []
    return list(
        session.scalars(
            select(Facility)
            .where(
                Facility.region_id.in_([r.id for r in regions]),
                Facility.tier.notin_(["central", "provincial"]),
            )
            .order_by(Facility.code)
        )
    )


def _linked(session: Any, spokes: list[Facility]) -> list[Facility]:
    ids = set(
        session.scalars(
            select(SupportLink.spoke_id).where(SupportLink.spoke_id.in_([f.id for f in spokes]))
        )
    )
    return [f for f in spokes if f.id in ids]


def load_consults(world: World) -> None:
    session = world.session
    rng = world.rng
    spokes = [world.sites[s.code].id for s in world.in_group("vn_spoke", "xb_spoke")]
    if not spokes:
        return
    facilities = {f.id: f for f in session.scalars(select(Facility).where(Facility.id.in_(spokes)))}
    islands = _linked(session, _island_spokes(world))
    abroad = [f for f in facilities.values() if f.country_code in ("LA", "KH")]
    others = _linked(session, sorted(facilities.values(), key=lambda f: f.code))
    patients: dict[int, list[int]] = {}
    for pid, home in session.execute(  # homes are spokes here, never None
        select(Patient.id, Patient.home_facility_id).where(Patient.home_facility_id.in_(spokes))
    ):
        patients.setdefault(int(home or 0), []).append(pid)
    specialties = world.specialties or {}
    users = _accounts(world, islands, abroad)
    now = utcnow()

    def spoke() -> Facility:
        roll = rng.random()
        if roll < 0.25 and islands:
            return rng.choice(islands)
        if roll < 0.35 and abroad:
            return rng.choice(abroad)
        return rng.choice(others)

    def ask(at: datetime, site: Facility, urgency: ConsultUrgency | None = None) -> Any:
        template = rng.choice(CASES)
        specialty_id = specialties.get(template[0])
        if specialty_id is None:
            return None, template
        with_patient = patients.get(site.id) and rng.random() < 0.6
        data = CaseCreate(
            spoke_facility_code=site.code,
            patient_id=rng.choice(patients[site.id]) if with_patient else None,
            patient_age_years=None if with_patient else rng.randint(1, 85),
            patient_sex=None if with_patient else rng.choice([Sex.female, Sex.male]),
            specialty_code=template[0],
            urgency=urgency or _pick(rng, URGENCY),
            question=template[1],
            clinical_summary=template[2],
            vitals=Vitals(**template[6]),
            answer_language="en" if site.country_code in ("LA", "KH") else "vi",
        )
        case, _ = service.create_case(
            session,
            data=data,
            spoke_facility_id=site.id,
            specialty_id=specialty_id,
            by_user_id=users.get(site.id),
            now=at,
        )
        return case, template

    answered = 0
    hubs: dict[int, str] = {}
    for _ in range(HISTORY):
        at = now - timedelta(days=rng.uniform(2, HISTORY_DAYS))
        case, template = ask(at, spoke())
        if case is None or case.hub_facility_id is None:
            continue
        transfer = rng.random() < 0.25
        if case.hub_facility_id not in hubs:
            hubs[case.hub_facility_id] = session.get(Facility, case.hub_facility_id).code  # type: ignore[union-attr]
        window = deadlines.window(session, case)
        late = rng.random() < 0.12
        delay = window * rng.uniform(1.05, 1.6) if late else window * rng.uniform(0.08, 0.9)
        if late:
            deadlines.escalate_due(session, case.due_at + timedelta(seconds=1))
        service.answer(
            session,
            case=case,
            data=Answer(
                assessment=template[4],
                diagnoses=[template[3]],
                plan=template[5],
                transfer=transfer,
                transfer_facility_code=hubs[case.hub_facility_id] if transfer else None,
                transfer_urgency=case.urgency if transfer else None,
            ),
            transfer_facility_id=case.hub_facility_id if transfer else None,
            by_user_id=None,
            now=case.requested_at + delay,
        )
        outcome = _pick(rng, OUTCOMES)
        if case.transfer and outcome == ConsultOutcome.treated_locally:
            outcome = ConsultOutcome.transferred
        service.record_outcome(
            session,
            case=case,
            outcome=outcome,
            note=None,
            by_user_id=None,
            now=case.answered_at + timedelta(days=rng.randint(1, 5)),
        )
        answered += 1
    # In flight: some with time left, some past their deadline.
    for n in range(12):
        site = (
            islands[n % len(islands)]
            if islands and n % 3 == 0
            else (abroad[n % len(abroad)] if abroad and n % 3 == 1 else spoke())
        )
        minutes_ago = rng.choice([5, 12, 20, 45, 90, 200, 300, 600])
        case, _template = ask(now - timedelta(minutes=minutes_ago), site)
        if case is not None and case.due_at < now:
            deadlines.escalate_due(session, now)
    _education(world, islands + abroad, now)
    # Routine cases of the spokes with a demo doctor, kept for the rounds.
    for site in facilities.values():
        if site.id in users:
            for hours in (3, 5):
                ask(now - timedelta(hours=hours), site, ConsultUrgency.routine)
    _conferences(world, now)
    session.flush()
    world.counts["consult_cases"] += HISTORY + 12 + 2 * len(users)
    world.counts["consults_answered"] += answered


def _accounts(world: World, islands: list[Facility], abroad: list[Facility]) -> dict[int, int]:
    """Demo accounts of the consult flow; returns spoke facility id → user id.

    ``dr.island`` works at the first island district facility (Cô Tô's
    district medical centre), ``dr.laos`` at Mittaphab Hospital; the island's
    first hub gets a coordinator and a specialist (``island.hub.coord``,
    ``island.hub.doctor``), Bạch Mai has ``hub.coord`` and ``hub.doctor``.
    """
    session = world.session
    island = islands[0] if islands else None
    laos = next((f for f in abroad if f.code == "LA-MITTAPHAB"), abroad[0] if abroad else None)
    plan: list[tuple[str, AccessRole, str, str]] = []
    if island is not None:
        plan.append(("dr.island", AccessRole.clinician, island.code, "vi"))
        first = session.scalar(
            select(Facility.code)
            .join(SupportLink, SupportLink.hub_id == Facility.id)
            .where(SupportLink.spoke_id == island.id)
            .order_by(SupportLink.rank, SupportLink.id)
            .limit(1)
        )
        if first is not None:
            plan.append(("island.hub.coord", AccessRole.hub_coordinator, first, "vi"))
            plan.append(("island.hub.doctor", AccessRole.hub_specialist, first, "vi"))
    if laos is not None:
        plan.append(("dr.laos", AccessRole.clinician, laos.code, "en"))
    out: dict[int, int] = {}
    codes = {f.code: f.id for f in [*islands, *abroad]}
    for username, role, scope, language in plan:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            user = access.create_user(
                session,
                username=username,
                display_name=username,
                password=DEMO_PASSWORD,
                must_change_password=False,
                preferred_language=language,
            )
            access.grant_role(session, user=user, role=role, scope_code=scope)
        if role == AccessRole.clinician:
            out[codes[scope]] = user.id
    return out


TRAININGS = [
    ("VN-BACHMAI", "Đọc điện tâm đồ trong hội chứng vành cấp", "cardiology"),
    ("VN-NHITW", "Xử trí co giật do sốt ở trẻ em", "pediatrics"),
    ("VN-BACHMAI", "Thở máy cơ bản cho tuyến huyện", "internal_medicine"),
    ("VN-NHIETDOI", "Sốt xuất huyết Dengue: phân độ và truyền dịch", "infectious_diseases"),
    ("VN-PSTW", "Tiền sản giật nặng: xử trí trước chuyển viện", "obstetrics"),
]


def _education(world: World, spokes: list[Facility], now: datetime) -> None:
    """Two past training sessions with attendance, three ahead, and one
    teaching case discussed on the board."""
    session = world.session
    hubs = dict(session.execute(select(Facility.code, Facility.id)).all())
    for n, (hub, title, specialty) in enumerate(TRAININGS):
        if hub not in hubs:
            continue
        starts = (
            now + timedelta(days=7 * (n - 1), hours=2)
            if n >= 2
            else now - timedelta(days=30 * (2 - n))
        )
        row, _new = education.schedule_session(
            session,
            hub_facility_id=hubs[hub],
            title=title,
            specialty_id=world.specialties.get(specialty),
            starts_at=starts.replace(minute=0, second=0, microsecond=0),
            minutes=90,
            video_url=None,
            by_user_id=None,
        )
        if starts < now:
            for place in spokes[: 6 + 3 * n]:
                education.attend(
                    session,
                    training=row,
                    facility_id=place.id,
                    practitioner_id=None,
                    by_user_id=None,
                )
    closed = session.scalar(
        select(ConsultCase)
        .where(ConsultCase.status == ConsultStatus.closed)
        .order_by(ConsultCase.id)
        .limit(1)
    )
    if closed is not None:
        teaching, _new = education.teaching_case(
            session, case=closed, title="Ca bệnh từ tuyến đảo", by_user_id=None
        )
        education.open_thread(
            session,
            specialty_id=teaching.specialty_id,
            title="Kinh nghiệm xử trí tại tuyến đảo",
            body="Chia sẻ cách chúng tôi xử trí ca này trước khi có ý kiến tuyến trên.",
            teaching_case_id=teaching.id,
            by_user_id=None,
        )


CONFERENCES = [
    # (chair, days ahead, local hour, title, open cases?)
    ("hub.coord", 1, 9, "Giao ban hội chẩn tuyến đảo và biên giới", True),
    ("island.hub.coord", 2, 14, "Hội chẩn các ca từ huyện đảo", True),
    ("hub.coord", 7, 9, "Hội chẩn lại các ca đã trả lời", False),
    ("hub.coord", -6, 9, "Giao ban hội chẩn tuần trước", False),
]
DECISIONS = [
    "Điều trị tại chỗ theo phác đồ; tuyến trên theo dõi qua tin nhắn 24 giờ.",
    "Chuyển tuyến trên khi thời tiết cho phép; duy trì điều trị hiện tại.",
    "Làm thêm xét nghiệm, gửi kết quả để hội chẩn lại.",
]


def _conferences(world: World, now: datetime) -> None:
    """Conferences at the hubs, built with the checks of real scheduling:
    only the hub's staff and the doctors of the agenda's spokes, nobody
    booked twice."""
    session = world.session
    users = {u.username: u for u in session.scalars(select(User))}
    used: set[int] = set()
    # Spokes with a demo doctor: their cases go first, so that someone of
    # the spoke is there to present them.
    with_doctor = set(
        session.scalars(select(RoleGrant.facility_id).where(RoleGrant.role == AccessRole.clinician))
    )
    for chair_name, days, hour, title, open_cases in CONFERENCES:
        chair = users.get(chair_name)
        if chair is None:
            continue
        grant_hub = session.scalar(
            select(Facility)
            .join(RoleGrant, RoleGrant.facility_id == Facility.id)
            .where(RoleGrant.user_id == chair.id)
            .limit(1)
        )
        if grant_hub is None:
            continue
        statuses = (
            (ConsultStatus.open, ConsultStatus.assigned)
            if open_cases
            else (ConsultStatus.answered, ConsultStatus.closed)
        )
        at_hub = (
            ConsultCase.hub_facility_id == grant_hub.id
            if open_cases
            else ConsultCase.answer_facility_id == grant_hub.id
        )
        cases = [
            c
            for c in session.scalars(
                select(ConsultCase)
                .where(at_hub, ConsultCase.status.in_(statuses))
                .order_by(ConsultCase.due_at if open_cases else ConsultCase.answered_at.desc())
            )
            if c.id not in used
        ]
        cases = sorted(cases, key=lambda c: c.spoke_facility_id not in with_doctor)[:3]
        if not cases:
            continue
        used |= {c.id for c in cases}
        zone = conferences.zone(grant_hub.timezone)
        local = (now + timedelta(days=days)).astimezone(zone)
        starts_at = local.replace(hour=hour, minute=0, second=0, microsecond=0)
        spokes = {c.spoke_facility_id for c in cases}
        candidates = [chair] + [
            u
            for u in users.values()
            if u.id != chair.id and u.active and u.username.startswith(("hub.", "island.", "dr."))
        ]
        people = []
        for user in candidates:
            place = conferences.place_of(session, user, grant_hub.id, spokes)
            if place is not None and (user is chair or place[0] in spokes | {grant_hub.id}):
                people.append((user, *place))
        people = people[:4]  # a mesh conference
        busy = scheduling.commitments(
            session, [u.id for u, _f, _s in people], starts_at, starts_at + timedelta(hours=1)
        )
        people = [p for p in people if p[0].id not in busy]
        if not people or people[0][0] is not chair:
            continue
        row = conferences.insert(
            session,
            hub=grant_hub,
            title=title,
            starts_at=starts_at,
            minutes=60,
            timezone=grant_hub.timezone,
            provider=ConferenceProvider.mesh,
            chair=chair,
            case_ids=[c.id for c in cases],
            people=people,
            by_user_id=chair.id,
            now=now,
        )
        if days < 0:
            found = conferences.load(session, row.id)
            assert found is not None
            for n, case in enumerate(cases):
                conferences.decide(session, found, case.id, DECISIONS[n % len(DECISIONS)], chair.id)
            row.status = ConferenceStatus.held
        world.counts["conferences"] += 1
