"""Mexico: the social-security institute (IMSS), its 35 state offices, its 25
high-specialty units (UMAE), and general hospitals and family-medicine units
under each state office; the deferred-care recovery program.

The shape of this network is fixed data (it does not move with the seed).
"""

from __future__ import annotations

import zlib
from datetime import date
from random import Random

from sqlalchemy import update

from puente.demo.places import MX_CAPITALS, MX_STATES, MxState
from puente.demo.world import MARKER_FACILITY, Site, World
from puente.enums import FacilityKind, ProgramKind, Tier
from puente.network.models import Facility

STATES = {s.iso: s for s in MX_STATES}

# (code suffix, name, state, cities this office serves). Ciudad de México,
# Estado de México and Veracruz each have two offices: 32 + 3 = 35.
OFFICES = [
    (s.iso, s.name, s.iso, s.cities) for s in MX_STATES if s.iso not in {"CMX", "MEX", "VER"}
]
OFFICES += [
    ("CMXN", "Ciudad de México Norte", "CMX", ("Ciudad de México",)),
    ("CMXS", "Ciudad de México Sur", "CMX", ("Ciudad de México",)),
    ("MEXO", "Estado de México Oriente", "MEX", ("Ecatepec", "Tlalnepantla")),
    ("MEXP", "Estado de México Poniente", "MEX", ("Toluca", "Naucalpan")),
    ("VERN", "Veracruz Norte", "VER", ("Xalapa", "Poza Rica")),
    ("VERS", "Veracruz Sur", "VER", ("Veracruz", "Coatzacoalcos")),
]
OFFICES.sort()

CARDIO = frozenset({"cardiology", "angiology", "anesthesiology", "radiology", "nutrition"})
ONCO = frozenset(
    {"oncology", "medical_oncology", "surgical_oncology", "radiology", "hematology", "nutrition"}
)
PEDS = frozenset(
    {"pediatrics", "pediatric_surgery", "genetics", "neurology", "hematology", "nephrology"}
)
OBGYN = frozenset({"gynecology", "obstetrics", "genetics", "anesthesiology", "pediatrics"})
TRAUMA = frozenset(
    {"traumatology_orthopedics", "plastic_surgery", "neurosurgery", "anesthesiology", "radiology"}
)
INFECTO = frozenset({"infectious_diseases", "internal_medicine", "pulmonology"})

# (code, name, state, city, specialties; None = every specialty)
UMAES: list[tuple[str, str, str, str, frozenset[str] | None]] = [
    ("CMNSXXI-HE", "UMAE Hospital de Especialidades «Dr. Bernardo Sepúlveda Gutiérrez», Centro Médico Nacional Siglo XXI", "CMX", "Ciudad de México", None),
    ("CMNSXXI-CAR", "UMAE Hospital de Cardiología, Centro Médico Nacional Siglo XXI", "CMX", "Ciudad de México", CARDIO),
    ("CMNSXXI-ONC", "UMAE Hospital de Oncología, Centro Médico Nacional Siglo XXI", "CMX", "Ciudad de México", ONCO),
    ("CMNSXXI-PED", "UMAE Hospital de Pediatría «Dr. Silvestre Frenk Freund», Centro Médico Nacional Siglo XXI", "CMX", "Ciudad de México", PEDS),
    ("CMNLR-HE", "UMAE Hospital de Especialidades «Dr. Antonio Fraga Mouret», Centro Médico Nacional La Raza", "CMX", "Ciudad de México", None),
    ("CMNLR-HG", "UMAE Hospital General «Dr. Gaudencio González Garza», Centro Médico Nacional La Raza", "CMX", "Ciudad de México", None),
    ("CMNLR-GO3", "UMAE Hospital de Gineco Obstetricia No. 3, Centro Médico Nacional La Raza", "CMX", "Ciudad de México", OBGYN),
    ("GO4", "UMAE Hospital de Gineco Obstetricia No. 4 «Luis Castelazo Ayala»", "CMX", "Ciudad de México", OBGYN),
    ("TO-MS", "UMAE Hospital de Traumatología y Ortopedia «Dr. Victorio de la Fuente Narváez», Magdalena de las Salinas", "CMX", "Ciudad de México", TRAUMA),
    ("TO-LV", "UMAE Hospital de Traumatología y Ortopedia Lomas Verdes", "MEX", "Naucalpan", TRAUMA),
    ("CMNO-HE", "UMAE Hospital de Especialidades, Centro Médico Nacional de Occidente", "JAL", "Guadalajara", None),
    ("CMNO-PED", "UMAE Hospital de Pediatría, Centro Médico Nacional de Occidente", "JAL", "Guadalajara", PEDS),
    ("CMNO-GO", "UMAE Hospital de Gineco Obstetricia, Centro Médico Nacional de Occidente", "JAL", "Guadalajara", OBGYN),
    ("HE25", "UMAE Hospital de Especialidades No. 25", "NLE", "Monterrey", None),
    ("CAR34", "UMAE Hospital de Cardiología No. 34", "NLE", "Monterrey", CARDIO),
    ("TO21", "UMAE Hospital de Traumatología y Ortopedia No. 21", "NLE", "Monterrey", TRAUMA),
    ("GO23", "UMAE Hospital de Gineco Obstetricia No. 23 «Dr. Ignacio Morones Prieto»", "NLE", "Monterrey", OBGYN),
    ("HE71", "UMAE Hospital de Especialidades No. 71", "COA", "Torreón", None),
    ("HE2-CMNN", "UMAE Hospital de Especialidades No. 2 «Lic. Luis Donaldo Colosio Murrieta», Centro Médico Nacional del Noroeste", "SON", "Ciudad Obregón", None),
    ("HE14", "UMAE Hospital de Especialidades No. 14, Centro Médico Nacional «Adolfo Ruiz Cortines»", "VER", "Veracruz", None),
    ("HE-PUE", "UMAE Hospital de Especialidades, Centro Médico Nacional «Gral. de Div. Manuel Ávila Camacho»", "PUE", "Puebla", None),
    ("TO-PUE", "UMAE Hospital de Traumatología y Ortopedia, Puebla", "PUE", "Puebla", TRAUMA),
    ("HE1-CMNB", "UMAE Hospital de Especialidades No. 1, Centro Médico Nacional del Bajío", "GUA", "León", None),
    ("GP48", "UMAE Hospital de Gineco Pediatría No. 48, Centro Médico Nacional del Bajío", "GUA", "León", OBGYN | PEDS),
    ("HE-MER", "UMAE Hospital de Especialidades «Lic. Ignacio García Téllez», Centro Médico Nacional del Sureste", "YUC", "Mérida", INFECTO | CARDIO | ONCO | {"internal_medicine", "general_surgery", "nephrology", "transplantation", "ophthalmology", "urology"}),
]  # fmt: skip

# What a zone or regional general hospital (second level) practises.
SECOND_LEVEL = frozenset(
    {
        "internal_medicine", "general_surgery", "pediatrics", "gynecology", "obstetrics",
        "traumatology_orthopedics", "ophthalmology", "urology", "cardiology", "angiology",
        "pulmonology", "nephrology", "psychiatry", "psychology", "otorhinolaryngology",
        "anesthesiology", "emergency_medicine", "radiology", "endocrinology", "gastroenterology",
        "dermatology", "neurology", "maxillofacial_surgery", "plastic_surgery", "dentistry",
        "nutrition", "social_work", "infectious_diseases", "preventive_medicine",
    }
)  # fmt: skip
FIRST_LEVEL = frozenset(
    {
        "family_medicine",
        "dentistry",
        "nutrition",
        "social_work",
        "psychology",
        "preventive_medicine",
    }
)
BIG_STATES = {"JAL", "NLE", "CMX", "MEX", "VER", "GUA", "PUE", "BCN", "CHH", "SON"}

PROGRAM_START = date(2021, 3, 1)


def _place(sites: list[Site], world: World) -> None:
    """Put each facility within about 40 km of its state's capital (a fixed
    offset from its code, so the same on every load)."""
    rows = []
    for site in sites:
        lat, lon = MX_CAPITALS[site.province.removeprefix("MX-")]
        h = zlib.crc32(site.code.encode())
        rows.append({"id": site.id, "latitude": round(lat + (h % 700 - 350) / 1000, 4),
                     "longitude": round(lon + (h // 700 % 700 - 350) / 1000, 4)})  # fmt: skip
    world.session.execute(update(Facility), rows)


def load_mexico(world: World) -> None:
    imss = Site(
        code=MARKER_FACILITY,
        name="Instituto Mexicano del Seguro Social",
        country="MX",
        region="MX-CMX",
        province="MX-CMX",
        tier=Tier.level3,
        kind=FacilityKind.institute,
        group="mx_national",
        timezone="America/Mexico_City",
        city="Ciudad de México",
        address="Av. Paseo de la Reforma 476, Juárez, Cuauhtémoc, 06600 Ciudad de México",
        profile=frozenset(),
    )
    world.add_sites([imss])

    offices = [_office(code, name, STATES[state], cities) for code, name, state, cities in OFFICES]
    umaes = [_umae(*row) for row in UMAES]
    world.add_sites(offices + umaes)

    # Numbers of the units under each office come from fixed data, not the seed.
    numbers = Random(1943)  # the year IMSS was founded
    units: list[Site] = []
    for office, (_, _, state_iso, cities) in zip(offices, OFFICES, strict=True):
        units += _units_of(office, STATES[state_iso], cities, numbers)
    world.add_sites(units)
    _place([imss, *offices, *umaes, *units], world)

    world.add_program(
        code="imss-recovery",
        name="Jornadas Nacionales para la Recuperación de los Servicios de Salud",
        kind=ProgramKind.deferred_care_recovery,
        country="MX",
        description=(
            "IMSS weekend national days to recover the care deferred by COVID-19 in the "
            "35 state offices and the 25 high-specialty units (UMAE)."
        ),
        enrolments=[(s.code, PROGRAM_START) for s in offices + umaes],
    )


def _office(code: str, name: str, state: MxState, cities: tuple[str, ...]) -> Site:
    return Site(
        code=f"MX-IMSS-{code}",
        name=f"Representación del IMSS en {name}",
        country="MX",
        region=f"MX-{state.iso}",
        province=f"MX-{state.iso}",
        tier=Tier.level2,
        kind=FacilityKind.state_office,
        group="mx_office",
        timezone=state.timezone,
        city=cities[0],
        parent=MARKER_FACILITY,
        profile=frozenset(),
    )


def _umae(code: str, name: str, state: str, city: str, profile: frozenset[str] | None) -> Site:
    return Site(
        code=f"MX-UMAE-{code}",
        name=name,
        country="MX",
        region=f"MX-{state}",
        province=f"MX-{state}",
        tier=Tier.level3,
        kind=FacilityKind.high_specialty_unit,
        group="mx_umae",
        timezone=STATES[state].timezone,
        city=city,
        parent=MARKER_FACILITY,
        profile=profile,
    )


def _units_of(office: Site, state: MxState, cities: tuple[str, ...], numbers: Random) -> list[Site]:
    big = state.iso in BIG_STATES
    hospital_numbers = sorted(numbers.sample(range(1, 60), 3 if big else 2))
    umf_numbers = sorted(numbers.sample(range(1, 99), 6 if big else 4))
    common = {
        "country": "MX",
        "region": office.region,
        "province": office.province,
        "timezone": state.timezone,
        "parent": office.code,
    }
    units = []
    for i, n in enumerate(hospital_numbers):
        regional = big and i == 0
        units.append(
            Site(
                code=f"{office.code}-{'HGR' if regional else 'HGZ'}{n}",
                name=f"Hospital General {'Regional' if regional else 'de Zona'} No. {n}",
                tier=Tier.level2,
                kind=FacilityKind.general_hospital,
                group="mx_hospital",
                city=cities[i % len(cities)],
                profile=SECOND_LEVEL,
                **common,  # type: ignore[arg-type]
            )
        )
    for i, n in enumerate(umf_numbers):
        units.append(
            Site(
                code=f"{office.code}-UMF{n}",
                name=f"Unidad de Medicina Familiar No. {n}",
                tier=Tier.level1,
                kind=FacilityKind.family_medicine_unit,
                group="mx_umf",
                city=cities[i % len(cities)],
                profile=FIRST_LEVEL,
                **common,  # type: ignore[arg-type]
            )
        )
    return units
