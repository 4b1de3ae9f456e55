"""A small piece of the Vietnamese remote-care network for the consult tests.

- Bạch Mai (VN-BACHMAI, central, Hà Nội) supports every specialty: Dr. Minh
  (``dr.minh``) is its specialist, Chị Hoa (``coord.bachmai``) its hub
  coordinator.
- Nhi Trung ương (VN-NHITW, central children's hospital) supports pediatrics
  only: Dr. Thu (``dr.thu``) and ``coord.nhi``.
- The Cô Tô island district medical centre (VN-COTO, Quảng Ninh) asks Nhi
  Trung ương first for children (rank 1), Bạch Mai otherwise (rank 2): Dr.
  Hương (``dr.huong``) works there.
- The Côn Đảo island district medical centre (VN-CONDAO) is supported by
  Bạch Mai: Dr. Lan (``dr.lan``) works there. Its parent in the tier chain
  is the Bà Rịa–Vũng Tàu provincial hospital (VN-BRVT).
- Mittaphab Hospital in Vientiane (LA-MITTAPHAB) is supported across the
  border by Bạch Mai: Dr. Somphone (``dr.somphone``).
- Mường Nhé district (VN-MUONGNHE) has no support link; its parent is the
  Điện Biên provincial hospital (VN-DIENBIEN), where ``coord.dienbien`` is
  the hub coordinator.
- ``analyst`` is a ministry analyst (program manager); ``admin`` a national
  administrator.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from puente.catalog.service import specialty_ids_by_code, sync_catalog
from puente.enums import AccessRole, FacilityKind, ProgramKind, Sex, Tier
from puente.network.models import Program, ProgramEnrolment, SupportLink, SupportLinkSpecialty
from tests import factories as f


@dataclass
class Net:
    db: Session
    ids: dict[str, int]
    users: dict[str, int]
    headers: dict[str, dict[str, str]]
    program: str

    def client(self, app: Any, who: str) -> TestClient:
        return TestClient(app, raise_server_exceptions=False, headers=self.headers[who])


def build(db: Session) -> Net:
    sync_catalog(db)
    hn = dict(region_code="VN-HN", timezone="Asia/Ho_Chi_Minh")
    bachmai = f.facility(db, "VN-BACHMAI", "Bệnh viện Bạch Mai", tier=Tier.central, **hn)
    nhi = f.facility(
        db,
        "VN-NHITW",
        "Bệnh viện Nhi Trung ương",
        tier=Tier.central,
        kind=FacilityKind.specialty_hospital,
        **hn,
    )
    qn = f.facility(
        db,
        "VN-QNINH",
        "Bệnh viện Đa khoa tỉnh Quảng Ninh",
        tier=Tier.provincial,
        region_code="VN-13",
    )
    coto = f.facility(
        db,
        "VN-COTO",
        "Trung tâm Y tế huyện đảo Cô Tô",
        tier=Tier.district,
        region_code="VN-13",
        parent=qn,
    )
    brvt = f.facility(db, "VN-BRVT", "Bệnh viện Bà Rịa", tier=Tier.provincial, region_code="VN-43")
    condao = f.facility(
        db,
        "VN-CONDAO",
        "Trung tâm Y tế huyện Côn Đảo",
        tier=Tier.district,
        region_code="VN-43",
        parent=brvt,
    )
    dienbien = f.facility(
        db,
        "VN-DIENBIEN",
        "Bệnh viện Đa khoa tỉnh Điện Biên",
        tier=Tier.provincial,
        region_code="VN-71",
    )
    muongnhe = f.facility(
        db,
        "VN-MUONGNHE",
        "Trung tâm Y tế huyện Mường Nhé",
        tier=Tier.district,
        region_code="VN-71",
        parent=dienbien,
    )
    mittaphab = f.facility(
        db,
        "LA-MITTAPHAB",
        "Mittaphab Hospital",
        tier=Tier.provincial,
        region_code="LA-VT",
        timezone="Asia/Vientiane",
    )
    peds = specialty_ids_by_code(db, ["pediatrics"])["pediatrics"]
    links = [
        SupportLink(hub_id=nhi.id, spoke_id=coto.id, rank=1),
        SupportLink(hub_id=bachmai.id, spoke_id=coto.id, rank=2),
        SupportLink(hub_id=bachmai.id, spoke_id=condao.id, rank=1),
        SupportLink(hub_id=bachmai.id, spoke_id=mittaphab.id, rank=1),
    ]
    db.add_all(links)
    db.flush()
    db.add(SupportLinkSpecialty(link_id=links[0].id, specialty_id=peds))
    program = Program(
        code="vn-telehealth", name="Khám chữa bệnh từ xa", kind=ProgramKind.remote_care_network
    )
    db.add(program)
    db.flush()
    for facility in (bachmai, nhi, coto, condao, mittaphab, muongnhe, dienbien):
        db.add(
            ProgramEnrolment(
                program_id=program.id, facility_id=facility.id, start_date=date(2020, 9, 25)
            )
        )
    ids = {
        "bachmai": bachmai.id,
        "nhi": nhi.id,
        "qninh": qn.id,
        "coto": coto.id,
        "brvt": brvt.id,
        "condao": condao.id,
        "dienbien": dienbien.id,
        "muongnhe": muongnhe.id,
        "mittaphab": mittaphab.id,
    }
    ids["tuan"] = f.patient(
        db, "Nguyễn", "Văn Tuấn", citizenship="VN", sex=Sex.male, home_facility_id=condao.id
    ).id
    ids["bao"] = f.patient(
        db,
        "Trần",
        "Gia Bảo",
        citizenship="VN",
        birth_date=date(2022, 5, 1),
        sex=Sex.male,
        home_facility_id=coto.id,
    ).id
    ids["noy"] = f.patient(
        db, "Sisavath", "Noy", citizenship="LA", home_facility_id=mittaphab.id
    ).id
    people = {
        "dr.lan": (AccessRole.clinician, "VN-CONDAO"),
        "dr.huong": (AccessRole.clinician, "VN-COTO"),
        "dr.somphone": (AccessRole.clinician, "LA-MITTAPHAB"),
        "dr.vinh": (AccessRole.clinician, "VN-MUONGNHE"),
        "dr.minh": (AccessRole.hub_specialist, "VN-BACHMAI"),
        "coord.bachmai": (AccessRole.hub_coordinator, "VN-BACHMAI"),
        "dr.thu": (AccessRole.hub_specialist, "VN-NHITW"),
        "coord.nhi": (AccessRole.hub_coordinator, "VN-NHITW"),
        "coord.dienbien": (AccessRole.hub_coordinator, "VN-DIENBIEN"),
        "dr.dienbien": (AccessRole.hub_specialist, "VN-DIENBIEN"),
        "analyst": (AccessRole.program_manager, None),
        "admin": (AccessRole.national_admin, None),
    }
    users = {name: f.user(db, name, role, scope) for name, (role, scope) in people.items()}
    db.flush()
    headers = {name: f.bearer(db, u) for name, u in users.items()}
    db.commit()
    return Net(
        db=db,
        ids=ids,
        users={n: u.id for n, u in users.items()},
        headers=headers,
        program=program.code,
    )


@pytest.fixture
def net(db: Session) -> Net:
    return build(db)


def case_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "spoke_facility_code": "VN-CONDAO",
        "specialty_code": "cardiology",
        "urgency": "emergency",
        "question": "Chest pain 2 h, ST elevation in II, III, aVF: thrombolyse here or evacuate?",
        "clinical_summary": "Male, 58, smoker; pain started at sea; no previous ECG.",
        "vitals": {"heart_rate": 112, "systolic_bp": 92, "diastolic_bp": 60, "spo2": 93},
        "answer_language": "vi",
    }
    body.update(overrides)
    return body
