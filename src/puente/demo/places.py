"""Countries and regions of the demo world (ISO 3166-1 and 3166-2 codes).

Countries and regions that already exist (from an import, say) are reused,
not duplicated.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import NamedTuple

from sqlalchemy import select

from puente.demo.world import World
from puente.enums import RegionLevel
from puente.network.models import Country, Region

# code: (name, default time zone, default language)
COUNTRIES = {
    "MX": ("Mexico", "America/Mexico_City", "es"),
    "RU": ("Russia", "Europe/Moscow", "ru"),
    "VN": ("Viet Nam", "Asia/Ho_Chi_Minh", "vi"),
    "LA": ("Laos", "Asia/Vientiane", "lo"),
    "KH": ("Cambodia", "Asia/Phnom_Penh", "km"),
}


class MxState(NamedTuple):
    iso: str  # ISO 3166-2 suffix
    name: str
    timezone: str
    curp: str  # the state's two letters inside a CURP
    cities: tuple[str, ...]


MX_STATES = [
    MxState("AGU", "Aguascalientes", "America/Mexico_City", "AS", ("Aguascalientes", "Jesús María")),
    MxState("BCN", "Baja California", "America/Tijuana", "BC", ("Mexicali", "Tijuana", "Ensenada")),
    MxState("BCS", "Baja California Sur", "America/Mazatlan", "BS", ("La Paz", "San José del Cabo")),
    MxState("CAM", "Campeche", "America/Merida", "CC", ("San Francisco de Campeche", "Ciudad del Carmen")),
    MxState("CHP", "Chiapas", "America/Mexico_City", "CS", ("Tuxtla Gutiérrez", "Tapachula")),
    MxState("CHH", "Chihuahua", "America/Chihuahua", "CH", ("Chihuahua", "Delicias", "Cuauhtémoc")),
    MxState("CMX", "Ciudad de México", "America/Mexico_City", "DF", ("Ciudad de México",)),
    MxState("COA", "Coahuila de Zaragoza", "America/Monterrey", "CL", ("Saltillo", "Torreón", "Monclova")),
    MxState("COL", "Colima", "America/Mexico_City", "CM", ("Colima", "Manzanillo")),
    MxState("DUR", "Durango", "America/Monterrey", "DG", ("Victoria de Durango", "Gómez Palacio")),
    MxState("GUA", "Guanajuato", "America/Mexico_City", "GT", ("León", "Celaya", "Irapuato")),
    MxState("GRO", "Guerrero", "America/Mexico_City", "GR", ("Chilpancingo", "Acapulco")),
    MxState("HID", "Hidalgo", "America/Mexico_City", "HG", ("Pachuca", "Tulancingo")),
    MxState("JAL", "Jalisco", "America/Mexico_City", "JC", ("Guadalajara", "Zapopan", "Puerto Vallarta")),
    MxState("MEX", "Estado de México", "America/Mexico_City", "MC", ("Toluca", "Naucalpan", "Ecatepec", "Tlalnepantla")),
    MxState("MIC", "Michoacán de Ocampo", "America/Mexico_City", "MN", ("Morelia", "Uruapan")),
    MxState("MOR", "Morelos", "America/Mexico_City", "MS", ("Cuernavaca", "Cuautla")),
    MxState("NAY", "Nayarit", "America/Mazatlan", "NT", ("Tepic", "Santiago Ixcuintla")),
    MxState("NLE", "Nuevo León", "America/Monterrey", "NL", ("Monterrey", "San Nicolás de los Garza", "Guadalupe")),
    MxState("OAX", "Oaxaca", "America/Mexico_City", "OC", ("Oaxaca de Juárez", "Salina Cruz")),
    MxState("PUE", "Puebla", "America/Mexico_City", "PL", ("Puebla", "Tehuacán", "Atlixco")),
    MxState("QUE", "Querétaro", "America/Mexico_City", "QT", ("Santiago de Querétaro", "San Juan del Río")),
    MxState("ROO", "Quintana Roo", "America/Cancun", "QR", ("Chetumal", "Cancún")),
    MxState("SLP", "San Luis Potosí", "America/Mexico_City", "SP", ("San Luis Potosí", "Ciudad Valles")),
    MxState("SIN", "Sinaloa", "America/Mazatlan", "SL", ("Culiacán", "Mazatlán", "Los Mochis")),
    MxState("SON", "Sonora", "America/Hermosillo", "SR", ("Hermosillo", "Ciudad Obregón", "Nogales")),
    MxState("TAB", "Tabasco", "America/Mexico_City", "TC", ("Villahermosa", "Cárdenas")),
    MxState("TAM", "Tamaulipas", "America/Monterrey", "TS", ("Ciudad Victoria", "Tampico", "Reynosa")),
    MxState("TLA", "Tlaxcala", "America/Mexico_City", "TL", ("Tlaxcala", "Apizaco")),
    MxState("VER", "Veracruz de Ignacio de la Llave", "America/Mexico_City", "VZ", ("Xalapa", "Veracruz", "Poza Rica", "Coatzacoalcos")),
    MxState("YUC", "Yucatán", "America/Merida", "YN", ("Mérida", "Valladolid")),
    MxState("ZAC", "Zacatecas", "America/Mexico_City", "ZS", ("Zacatecas", "Fresnillo")),
]  # fmt: skip

RU_REGIONS = [
    ("RU-MOW", "Москва", "Europe/Moscow"),
    ("RU-VGG", "Волгоградская область", "Europe/Volgograd"),
]


class VnProvince(NamedTuple):
    iso: str  # ISO 3166-2 code
    name: str
    area: str  # N(orth), C(entre), S(outh): decides which hubs support it
    gso: str  # the three-digit province code that opens a citizen identity number


VN_PROVINCES = [
    VnProvince("VN-HN", "Hà Nội", "N", "001"),
    VnProvince("VN-03", "Hà Giang", "N", "002"),
    VnProvince("VN-04", "Cao Bằng", "N", "004"),
    VnProvince("VN-53", "Bắc Kạn", "N", "006"),
    VnProvince("VN-07", "Tuyên Quang", "N", "008"),
    VnProvince("VN-02", "Lào Cai", "N", "010"),
    VnProvince("VN-71", "Điện Biên", "N", "011"),
    VnProvince("VN-01", "Lai Châu", "N", "012"),
    VnProvince("VN-05", "Sơn La", "N", "014"),
    VnProvince("VN-06", "Yên Bái", "N", "015"),
    VnProvince("VN-14", "Hòa Bình", "N", "017"),
    VnProvince("VN-69", "Thái Nguyên", "N", "019"),
    VnProvince("VN-09", "Lạng Sơn", "N", "020"),
    VnProvince("VN-13", "Quảng Ninh", "N", "022"),
    VnProvince("VN-54", "Bắc Giang", "N", "024"),
    VnProvince("VN-68", "Phú Thọ", "N", "025"),
    VnProvince("VN-70", "Vĩnh Phúc", "N", "026"),
    VnProvince("VN-56", "Bắc Ninh", "N", "027"),
    VnProvince("VN-61", "Hải Dương", "N", "030"),
    VnProvince("VN-HP", "Hải Phòng", "N", "031"),
    VnProvince("VN-66", "Hưng Yên", "N", "033"),
    VnProvince("VN-20", "Thái Bình", "N", "034"),
    VnProvince("VN-63", "Hà Nam", "N", "035"),
    VnProvince("VN-67", "Nam Định", "N", "036"),
    VnProvince("VN-18", "Ninh Bình", "N", "037"),
    VnProvince("VN-21", "Thanh Hóa", "N", "038"),
    VnProvince("VN-22", "Nghệ An", "C", "040"),
    VnProvince("VN-23", "Hà Tĩnh", "C", "042"),
    VnProvince("VN-24", "Quảng Bình", "C", "044"),
    VnProvince("VN-25", "Quảng Trị", "C", "045"),
    VnProvince("VN-26", "Thừa Thiên Huế", "C", "046"),
    VnProvince("VN-DN", "Đà Nẵng", "C", "048"),
    VnProvince("VN-27", "Quảng Nam", "C", "049"),
    VnProvince("VN-29", "Quảng Ngãi", "C", "051"),
    VnProvince("VN-31", "Bình Định", "C", "052"),
    VnProvince("VN-32", "Phú Yên", "C", "054"),
    VnProvince("VN-34", "Khánh Hòa", "C", "056"),
    VnProvince("VN-36", "Ninh Thuận", "C", "058"),
    VnProvince("VN-40", "Bình Thuận", "S", "060"),
    VnProvince("VN-28", "Kon Tum", "C", "062"),
    VnProvince("VN-30", "Gia Lai", "C", "064"),
    VnProvince("VN-33", "Đắk Lắk", "C", "066"),
    VnProvince("VN-72", "Đắk Nông", "C", "067"),
    VnProvince("VN-35", "Lâm Đồng", "S", "068"),
    VnProvince("VN-58", "Bình Phước", "S", "070"),
    VnProvince("VN-37", "Tây Ninh", "S", "072"),
    VnProvince("VN-57", "Bình Dương", "S", "074"),
    VnProvince("VN-39", "Đồng Nai", "S", "075"),
    VnProvince("VN-43", "Bà Rịa – Vũng Tàu", "S", "077"),
    VnProvince("VN-SG", "Hồ Chí Minh", "S", "079"),
    VnProvince("VN-41", "Long An", "S", "080"),
    VnProvince("VN-46", "Tiền Giang", "S", "082"),
    VnProvince("VN-50", "Bến Tre", "S", "083"),
    VnProvince("VN-51", "Trà Vinh", "S", "084"),
    VnProvince("VN-49", "Vĩnh Long", "S", "086"),
    VnProvince("VN-45", "Đồng Tháp", "S", "087"),
    VnProvince("VN-44", "An Giang", "S", "089"),
    VnProvince("VN-47", "Kiên Giang", "S", "091"),
    VnProvince("VN-CT", "Cần Thơ", "S", "092"),
    VnProvince("VN-73", "Hậu Giang", "S", "093"),
    VnProvince("VN-52", "Sóc Trăng", "S", "094"),
    VnProvince("VN-55", "Bạc Liêu", "S", "095"),
    VnProvince("VN-59", "Cà Mau", "S", "096"),
]

# Real districts (remote, mountain and island ones first among them) that get a
# region row of level "district" under their province: (province, name, island).
VN_DISTRICTS = [
    ("VN-13", "Cô Tô", True), ("VN-13", "Vân Đồn", True), ("VN-13", "Tiên Yên", False),
    ("VN-71", "Mường Nhé", False), ("VN-71", "Tuần Giáo", False), ("VN-71", "Điện Biên Đông", False),
    ("VN-34", "Trường Sa", True), ("VN-34", "Cam Lâm", False), ("VN-34", "Vạn Ninh", False),
    ("VN-01", "Sìn Hồ", False), ("VN-01", "Mường Tè", False),
    ("VN-03", "Mèo Vạc", False), ("VN-03", "Đồng Văn", False), ("VN-03", "Yên Minh", False),
    ("VN-04", "Bảo Lạc", False), ("VN-04", "Trùng Khánh", False),
    ("VN-05", "Sốp Cộp", False), ("VN-05", "Mộc Châu", False),
    ("VN-02", "Bát Xát", False), ("VN-02", "Si Ma Cai", False),
    ("VN-21", "Mường Lát", False), ("VN-21", "Quan Sơn", False), ("VN-21", "Ngọc Lặc", False),
    ("VN-22", "Kỳ Sơn", False), ("VN-22", "Tương Dương", False), ("VN-22", "Con Cuông", False),
    ("VN-26", "A Lưới", False), ("VN-26", "Phú Lộc", False),
    ("VN-27", "Nam Trà My", False), ("VN-27", "Tây Giang", False),
    ("VN-28", "Đăk Glei", False), ("VN-28", "Sa Thầy", False),
    ("VN-29", "Lý Sơn", True), ("VN-29", "Ba Tơ", False),
    ("VN-30", "Chư Prông", False), ("VN-30", "Kbang", False),
    ("VN-33", "Ea Súp", False), ("VN-33", "Buôn Đôn", False),
    ("VN-43", "Côn Đảo", True), ("VN-43", "Xuyên Mộc", False),
    ("VN-47", "Phú Quốc", True), ("VN-47", "Kiên Hải", True), ("VN-47", "Giang Thành", False),
    ("VN-59", "Ngọc Hiển", False), ("VN-59", "U Minh", False),
    ("VN-HP", "Bạch Long Vĩ", True), ("VN-HP", "Cát Hải", True),
    ("VN-HN", "Ba Vì", False), ("VN-HN", "Mỹ Đức", False),
    ("VN-SG", "Cần Giờ", False), ("VN-SG", "Củ Chi", False),
    ("VN-25", "Cồn Cỏ", True), ("VN-25", "Hướng Hóa", False),
    ("VN-24", "Minh Hóa", False), ("VN-44", "Tịnh Biên", False), ("VN-44", "An Phú", False),
    ("VN-37", "Tân Biên", False), ("VN-58", "Lộc Ninh", False), ("VN-58", "Bù Gia Mập", False),
    ("VN-40", "Phú Quý", True), ("VN-72", "Tuy Đức", False), ("VN-35", "Đam Rông", False),
    ("VN-06", "Mù Cang Chải", False), ("VN-09", "Đình Lập", False), ("VN-53", "Pác Nặm", False),
]  # fmt: skip

FOREIGN_REGIONS = [
    ("LA-VT", "Vientiane Capital", "LA", "Asia/Vientiane"),
    ("LA-CH", "Champasak", "LA", "Asia/Vientiane"),
    ("KH-12", "Phnom Penh", "KH", "Asia/Phnom_Penh"),
]


def ascii_slug(text: str) -> str:
    """``"Cô Tô"`` → ``"COTO"``: the district part of a region code."""
    folded = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in folded if c.isascii() and c.isalnum()).upper()


def district_code(province: str, name: str) -> str:
    return f"{province}-{ascii_slug(name)}"


def load_places(world: World) -> None:
    s = world.session
    have = set(s.scalars(select(Country.code)))
    world.insert(
        Country,
        [
            {"code": c, "name": n, "default_timezone": tz, "default_language": lang}
            for c, (n, tz, lang) in COUNTRIES.items()
            if c not in have
        ],
    )
    world.counts["countries"] = len(COUNTRIES)

    first_level: list[tuple[str, str, str, str | None]] = [
        (f"MX-{st.iso}", st.name, "MX", st.timezone) for st in MX_STATES
    ]
    first_level += [(code, name, "RU", tz) for code, name, tz in RU_REGIONS]
    first_level += [(p.iso, p.name, "VN", "Asia/Ho_Chi_Minh") for p in VN_PROVINCES]
    first_level += [(code, name, cc, tz) for code, name, cc, tz in FOREIGN_REGIONS]
    _ensure_regions(world, first_level, RegionLevel.region, parents=None)

    districts = [
        (district_code(p, name), name, "VN", "Asia/Ho_Chi_Minh") for p, name, _ in VN_DISTRICTS
    ]
    parents = {district_code(p, name): p for p, name, _ in VN_DISTRICTS}
    _ensure_regions(world, districts, RegionLevel.district, parents=parents)


def _ensure_regions(
    world: World,
    rows: Sequence[tuple[str, str, str, str | None]],
    level: RegionLevel,
    parents: dict[str, str] | None,
) -> None:
    s = world.session
    codes = [code for code, *_ in rows]
    existing = dict(s.execute(select(Region.code, Region.id).where(Region.code.in_(codes))).all())
    world.regions.update(existing)
    new = [r for r in rows if r[0] not in existing]
    ids = world.insert_returning_ids(
        Region,
        [
            {
                "code": code,
                "name": name,
                "level": level,
                "country_code": country,
                "parent_id": world.regions[parents[code]] if parents else None,
                "timezone": tz,
            }
            for code, name, country, tz in new
        ],
    )
    world.regions.update({r[0]: i for r, i in zip(new, ids, strict=True)})


# The state capitals (latitude, longitude in degrees): each Mexican facility
# of the demo is placed near its state's capital, for travel limits.
MX_CAPITALS: dict[str, tuple[float, float]] = {
    "AGU": (21.88, -102.29), "BCN": (32.62, -115.45), "BCS": (24.14, -110.31),
    "CAM": (19.85, -90.53), "CHP": (16.75, -93.12), "CHH": (28.63, -106.09),
    "CMX": (19.43, -99.13), "COA": (25.42, -101.00), "COL": (19.24, -103.72),
    "DUR": (24.02, -104.66), "GUA": (21.02, -101.26), "GRO": (17.55, -99.50),
    "HID": (20.10, -98.76), "JAL": (20.67, -103.35), "MEX": (19.29, -99.66),
    "MIC": (19.70, -101.19), "MOR": (18.92, -99.23), "NAY": (21.50, -104.89),
    "NLE": (25.69, -100.32), "OAX": (17.07, -96.73), "PUE": (19.04, -98.21),
    "QUE": (20.59, -100.39), "ROO": (18.50, -88.30), "SLP": (22.15, -100.98),
    "SIN": (24.81, -107.39), "SON": (29.07, -110.96), "TAB": (17.99, -92.93),
    "TAM": (23.74, -99.15), "TLA": (19.32, -98.24), "VER": (19.54, -96.91),
    "YUC": (20.97, -89.62), "ZAC": (22.77, -102.58),
}  # fmt: skip
