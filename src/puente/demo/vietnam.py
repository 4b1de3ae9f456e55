"""Viet Nam's remote-care network: 26 upper-level hubs (8 central) supporting
1,000 lower-level facilities, plus 2 hospitals in Laos and 1 in Cambodia, each
with a bridge point (telemedicine endpoint).

The facilities are fixed data (lower-level names are composed from common
place-name parts with a fixed generator); which hub supports which spoke,
enrolment dates and bridge-point status come from the seed.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from random import Random

from puente.demo.places import VN_DISTRICTS, VN_PROVINCES, district_code
from puente.demo.world import Site, World, day_between
from puente.enums import BridgePointKind, BridgePointStatus, FacilityKind, ProgramKind, Tier
from puente.network.models import BridgePoint, SupportLink, SupportLinkSpecialty

TZ = "Asia/Ho_Chi_Minh"
PROVINCES = {p.iso: p for p in VN_PROVINCES}
SPOKES = 1000

_SURGERY = frozenset(
    {
        "general_surgery", "neurosurgery", "traumatology_orthopedics", "urology",
        "plastic_surgery", "maxillofacial_surgery", "transplantation", "anesthesiology",
        "radiology", "surgical_oncology", "pediatric_surgery",
    }
)  # fmt: skip
_PEDS = frozenset(
    {
        "pediatrics",
        "pediatric_surgery",
        "genetics",
        "neurology",
        "infectious_diseases",
        "hematology",
    }
)
_ONCO = frozenset({"oncology", "medical_oncology", "surgical_oncology", "radiology", "hematology"})
_OBGYN = frozenset({"obstetrics", "gynecology", "genetics"})
_TROPICAL = frozenset({"infectious_diseases", "pulmonology", "internal_medicine"})

# (code, name, province, central?, specialties; None = every specialty)
HUBS: list[tuple[str, str, str, bool, frozenset[str] | None]] = [
    ("VN-BACHMAI", "Bệnh viện Bạch Mai", "VN-HN", True, None),
    ("VN-VIETDUC", "Bệnh viện Hữu nghị Việt Đức", "VN-HN", True, _SURGERY),
    ("VN-TWHUE", "Bệnh viện Trung ương Huế", "VN-26", True, None),
    ("VN-CHORAY", "Bệnh viện Chợ Rẫy", "VN-SG", True, None),
    ("VN-NHITW", "Bệnh viện Nhi Trung ương", "VN-HN", True, _PEDS),
    ("VN-K", "Bệnh viện K", "VN-HN", True, _ONCO),
    ("VN-PSTW", "Bệnh viện Phụ sản Trung ương", "VN-HN", True, _OBGYN),
    ("VN-NHIETDOI", "Bệnh viện Bệnh Nhiệt đới Trung ương", "VN-HN", True, _TROPICAL),
    ("VN-XANHPON", "Bệnh viện Đa khoa Xanh Pôn", "VN-HN", False, None),
    ("VN-VIETTIEP", "Bệnh viện Hữu nghị Việt Tiệp", "VN-HP", False, None),
    ("VN-QNINH", "Bệnh viện Đa khoa tỉnh Quảng Ninh", "VN-13", False, None),
    ("VN-PTHO", "Bệnh viện Đa khoa tỉnh Phú Thọ", "VN-68", False, None),
    ("VN-TBINH", "Bệnh viện Đa khoa tỉnh Thái Bình", "VN-20", False, None),
    ("VN-BGIANG", "Bệnh viện Đa khoa tỉnh Bắc Giang", "VN-54", False, None),
    ("VN-LCAI", "Bệnh viện Đa khoa tỉnh Lào Cai", "VN-02", False, None),
    ("VN-SONLA", "Bệnh viện Đa khoa tỉnh Sơn La", "VN-05", False, None),
    ("VN-THOA", "Bệnh viện Đa khoa tỉnh Thanh Hóa", "VN-21", False, None),
    ("VN-NGHEAN", "Bệnh viện Hữu nghị Đa khoa Nghệ An", "VN-22", False, None),
    ("VN-HTINH", "Bệnh viện Đa khoa tỉnh Hà Tĩnh", "VN-23", False, None),
    ("VN-DNANG", "Bệnh viện Đà Nẵng", "VN-DN", False, None),
    ("VN-BDINH", "Bệnh viện Đa khoa tỉnh Bình Định", "VN-31", False, None),
    ("VN-KHOA", "Bệnh viện Đa khoa tỉnh Khánh Hòa", "VN-34", False, None),
    ("VN-TAYNGUYEN", "Bệnh viện Đa khoa vùng Tây Nguyên", "VN-33", False, None),
    ("VN-ND115", "Bệnh viện Nhân dân 115", "VN-SG", False, None),
    ("VN-CANTHO", "Bệnh viện Đa khoa thành phố Cần Thơ", "VN-CT", False, None),
    ("VN-ANGIANG", "Bệnh viện Đa khoa Trung tâm An Giang", "VN-44", False, None),
]
# The general central hubs that back up each part of the country.
AREA_CENTRAL = {"N": ["VN-BACHMAI", "VN-VIETDUC"], "C": ["VN-TWHUE"], "S": ["VN-CHORAY"]}
SPECIALIST_CENTRAL = ["VN-NHITW", "VN-K", "VN-PSTW", "VN-NHIETDOI"]

# (code, name, region, time zone, rank-1 hub, rank-2 hub)
CROSS_BORDER = [
    ("LA-MITTAPHAB", "Mittaphab Hospital (ໂຮງໝໍມິດຕະພາບ)", "LA-VT", "Asia/Vientiane", "Vientiane", "VN-BACHMAI", "VN-VIETDUC"),
    ("LA-CHAMPASAK", "Champasak Provincial Hospital (ໂຮງໝໍແຂວງຈຳປາສັກ)", "LA-CH", "Asia/Vientiane", "Pakse", "VN-TWHUE", "VN-CHORAY"),
    ("KH-CHORAYPP", "Cho Ray Phnom Penh Hospital", "KH-12", "Asia/Phnom_Penh", "Phnom Penh", "VN-CHORAY", "VN-TWHUE"),
]  # fmt: skip

# Parts of common place names; pairs of them name generated districts and communes.
FIRST = ["Tân", "Hòa", "Phú", "An", "Bình", "Long", "Thạnh", "Xuân", "Đông", "Tây", "Nam", "Bắc", "Vĩnh", "Mỹ", "Thuận", "Hưng", "Quang", "Đại", "Phước", "Thanh", "Trung", "Hải", "Sơn", "Yên", "Kim", "Cẩm", "Đức", "Hồng", "Minh", "Gia"]  # fmt: skip
SECOND = ["An", "Bình", "Phú", "Lợi", "Hòa", "Thành", "Lộc", "Hưng", "Thịnh", "Sơn", "Hải", "Trung", "Lâm", "Phong", "Điền", "Mỹ", "Tiến", "Thắng", "Quý", "Xuân", "Nghĩa", "Khánh", "Tân", "Đông", "Lạc", "Vinh", "Châu", "Thủy", "Hiệp", "Long"]  # fmt: skip
COMMON_SPECIALTIES = [
    "internal_medicine", "cardiology", "pediatrics", "obstetrics", "general_surgery",
    "neurology", "infectious_diseases", "radiology", "emergency_medicine", "pulmonology",
    "traumatology_orthopedics", "oncology",
]  # fmt: skip
NETWORK_DAY = date(2020, 9, 24)  # 1,000 bridge points connected, as of the inauguration


def _names(rng: Random) -> list[str]:
    names = [f"{a} {b}" for a in FIRST for b in SECOND if a != b]
    rng.shuffle(names)
    return names


def _spoke(code: str, name: str, province: str, region: str, tier: Tier, kind: FacilityKind, city: str) -> Site:  # fmt: skip
    return Site(
        code=code,
        name=name,
        country="VN",
        region=region,
        province=province,
        tier=tier,
        kind=kind,
        group="vn_spoke",
        timezone=TZ,
        city=city,
        profile=frozenset({"family_medicine", "internal_medicine", "pediatrics", "obstetrics"}),
    )


def lower_level_facilities() -> list[Site]:
    """The 1,000 lower-level facilities: fixed, whatever the seed."""
    shape = Random(25092020)
    names = iter(_names(shape))
    hub_provinces = {p for _, _, p, _, _ in HUBS}
    specs: list[tuple[str, str, str, Tier, FacilityKind, str]] = []
    for p in VN_PROVINCES:
        if p.iso not in hub_provinces:
            specs.append((f"Bệnh viện Đa khoa tỉnh {p.name}", p.iso, p.iso, Tier.provincial, FacilityKind.general_hospital, p.name))  # fmt: skip
    for p in shape.sample([p for p in VN_PROVINCES if p.iso not in hub_provinces], 20):
        specs.append((f"Bệnh viện Sản – Nhi tỉnh {p.name}", p.iso, p.iso, Tier.provincial, FacilityKind.general_hospital, p.name))  # fmt: skip
    for province, district, island in VN_DISTRICTS:
        region = district_code(province, district)
        kind = "huyện đảo" if island else "huyện"
        specs.append((f"Trung tâm Y tế {kind} {district}", province, region, Tier.district, FacilityKind.general_hospital, district))  # fmt: skip
        for _ in range(2):
            specs.append((f"Trạm Y tế xã {next(names)}", province, region, Tier.commune, FacilityKind.health_station, district))  # fmt: skip
    order = [p.iso for p in VN_PROVINCES]
    shape.shuffle(order)
    kinds = [(Tier.district, FacilityKind.general_hospital, "Trung tâm Y tế huyện {}")] * 250
    kinds += [(Tier.district, FacilityKind.clinic, "Phòng khám Đa khoa khu vực {}")] * 60
    kinds += [(Tier.commune, FacilityKind.health_station, "Trạm Y tế xã {}")] * (SPOKES - len(specs) - 310)  # fmt: skip
    for i, (tier, kind, pattern) in enumerate(kinds):
        province = order[i % len(order)]
        place = next(names)
        specs.append((pattern.format(place), province, province, tier, kind, place))
    return [
        _spoke(f"VN-L{i:04d}", name, province, region, tier, kind, city)
        for i, (name, province, region, tier, kind, city) in enumerate(specs, start=1)
    ]


def load_vietnam(world: World) -> None:
    hubs = [
        Site(
            code=code,
            name=name,
            country="VN",
            region=province,
            province=province,
            tier=Tier.central if central else Tier.provincial,
            kind=FacilityKind.general_hospital
            if profile is None
            else FacilityKind.specialty_hospital,
            group="vn_hub",
            timezone=TZ,
            city=PROVINCES[province].name,
            profile=profile,
        )
        for code, name, province, central, profile in HUBS
    ]
    spokes = lower_level_facilities()
    assert len(spokes) == SPOKES
    abroad = [
        Site(
            code=code,
            name=name,
            country=region[:2],
            region=region,
            province=region,
            tier=Tier.provincial,
            kind=FacilityKind.general_hospital,
            group="xb_spoke",
            timezone=tz,
            city=city,
            profile=frozenset({"internal_medicine", "general_surgery", "pediatrics"}),
        )
        for code, name, region, tz, city, _, _ in CROSS_BORDER
    ]
    world.add_sites(hubs + spokes + abroad)

    rng = world.rng
    enrolled: dict[str, date] = {}
    for hub in hubs:
        first = date(2020, 6, 22) if hub.tier == Tier.central else date(2020, 7, 1)
        enrolled[hub.code] = day_between(rng, first, date(2020, 7, 31))
    start, span = date(2020, 7, 15).toordinal(), (NETWORK_DAY - date(2020, 7, 15)).days
    for spoke in spokes:
        # sqrt skews the days late: the network grew faster towards September.
        enrolled[spoke.code] = date.fromordinal(start + int(span * math.sqrt(rng.random())))
    for site in abroad:
        enrolled[site.code] = day_between(rng, date(2020, 9, 1), NETWORK_DAY)
    world.add_program(
        code="vn-remote-care",
        name="Đề án Khám, chữa bệnh từ xa giai đoạn 2020–2025",
        kind=ProgramKind.remote_care_network,
        country="VN",
        description=(
            "Ministry of Health remote consultation network: upper-level hospitals support "
            "lower-level bridge points (in Viet Nam, Laos and Cambodia) with remote "
            "consultation, urgent case conferences and training."
        ),
        enrolments=sorted(enrolled.items(), key=lambda kv: world.sites[kv[0]].id),
    )

    links = _links(world, hubs, spokes)
    links += [(code, r1, 1, ()) for code, *_, r1, _ in CROSS_BORDER]
    links += [(code, r2, 2, ()) for code, *_, r2 in CROSS_BORDER]
    _add_links(world, links, enrolled)
    _add_bridge_points(world, hubs + spokes + abroad)


Link = tuple[str, str, int, tuple[str, ...]]  # spoke, hub, rank, specialties


def _links(world: World, hubs: list[Site], spokes: list[Site]) -> list[Link]:
    rng = world.rng
    general_hubs = [h for h in hubs if h.profile is None]
    by_province: dict[str, list[str]] = {}
    by_area: dict[str, list[str]] = {}
    for h in general_hubs:
        by_province.setdefault(h.province, []).append(h.code)
        if h.tier == Tier.provincial:
            by_area.setdefault(PROVINCES[h.province].area, []).append(h.code)
    links: list[Link] = []
    for spoke in spokes:
        area = PROVINCES[spoke.province].area
        near = by_province.get(spoke.province)
        if near:
            first = rng.choice(near)
        elif rng.random() < 0.75:
            first = rng.choice(by_area[area])
        else:
            first = rng.choice(AREA_CENTRAL[area])
        links.append((spoke.code, first, 1, _specialties(world, first)))
        if spoke.region == district_code("VN-13", "Cô Tô"):
            # The seed's case: Nhi Trung ương consulted on a child at Cô Tô island.
            second: str | None = "VN-NHITW"
        elif rng.random() < 0.6:
            pool = [c for c in AREA_CENTRAL[area] if c != first]
            second = (
                rng.choice(pool + SPECIALIST_CENTRAL) if pool else rng.choice(SPECIALIST_CENTRAL)
            )
        else:
            second = None
        if second:
            links.append((spoke.code, second, 2, _specialties(world, second)))
    return links


def _specialties(world: World, hub: str) -> tuple[str, ...]:
    """A specialist hub supports its own specialties; a general hub every
    specialty, except on about a quarter of its links, which name a few."""
    profile = world.sites[hub].profile
    if profile is not None:
        return tuple(sorted(c for c in profile if c in world.specialties))
    if world.rng.random() < 0.25:
        known = [c for c in COMMON_SPECIALTIES if c in world.specialties]
        return tuple(sorted(world.rng.sample(known, min(len(known), world.rng.randint(1, 3)))))
    return ()


def _add_links(world: World, links: list[Link], enrolled: dict[str, date]) -> None:
    rows = [
        {
            "hub_id": world.sites[hub].id,
            "spoke_id": world.sites[spoke].id,
            "rank": rank,
            "active": True,
            "since": max(enrolled[spoke], enrolled[hub]),
        }
        for spoke, hub, rank, _ in links
    ]
    ids = world.insert_returning_ids(SupportLink, rows)
    world.insert(
        SupportLinkSpecialty,
        [
            {"link_id": link_id, "specialty_id": world.specialties[code]}
            for link_id, (*_, codes) in zip(ids, links, strict=True)
            for code in codes
        ],
    )
    world.counts["support_links"] += len(rows)


def _add_bridge_points(world: World, sites: list[Site]) -> None:
    rng = world.rng
    inauguration = datetime(2020, 9, 25, 7, 0, tzinfo=UTC)  # 14:00 in Hà Nội
    rows = []
    for site in sites:
        host = f"https://bridge.{site.code.lower()}.puente.invalid"
        rooms = [("Điểm cầu", "room")]
        if site.group == "vn_hub":
            rooms.append(("Hội trường hội chẩn", "conference"))
        for label, path in rooms:
            draw = rng.random()
            if draw < 0.93:
                status, seen = BridgePointStatus.active, inauguration - timedelta(minutes=rng.randint(0, 4320))  # fmt: skip
            else:
                status = BridgePointStatus.suspended if draw < 0.97 else BridgePointStatus.off
                seen = inauguration - timedelta(days=rng.randint(5, 40))
            rows.append(
                {
                    "facility_id": site.id,
                    "name": f"{label} – {site.name}"[:200],
                    "kind": BridgePointKind.video,
                    "address": f"{host}/{path}",
                    "status": status,
                    "last_seen_at": seen,
                }
            )
    world.insert(BridgePoint, rows)
    world.counts["bridge_points"] += len(rows)
