"""Practitioners for every specialty at suitable facilities, and patients with
identifiers and a citizenship mix that makes foreign-patient figures mean
something (many foreigners in Volgograd, Lao and Cambodian citizens in the
Vietnamese network, a few Central Americans and US citizens in Mexico)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from functools import partial
from itertools import count
from random import Random
from typing import Any

from puente.demo import identifiers as ids
from puente.demo.mexico import STATES
from puente.demo.names import draw, language_of
from puente.demo.places import VN_PROVINCES
from puente.demo.world import Site, World, day_between
from puente.enums import PractitionerRoleCode, Sex
from puente.people.models import Patient, PatientIdentifier, Practitioner, PractitionerRole

# Specialties whose practitioners hold the general "physician" role.
PHYSICIAN_SPECIALTIES = {
    "family_medicine", "internal_medicine", "emergency_medicine", "preventive_medicine",
}  # fmt: skip
# country: (facility groups, practitioners per specialty)
SPECIALISTS = {"MX": (("mx_umae", "mx_hospital", "mx_umf"), 3), "VN": (("vn_hub",), 3), "RU": (("ru_vgg",), 1)}  # fmt: skip
SPOKE_GENERALISTS = ("family_medicine", "internal_medicine", "pediatrics")

# group: (patients, {citizenship: weight}); homes are drawn among the group's facilities.
PATIENTS: list[tuple[tuple[str, ...], int, dict[str, int]]] = [
    (("mx_umf", "mx_hospital"), 2400, {"MX": 970, "US": 10, "GT": 8, "HN": 6, "SV": 3, "VE": 3}),
    (("ru_mow",), 1500, {"RU": 960, "UZ": 10, "KZ": 8, "TJ": 8, "BY": 6, "AM": 4, "AZ": 4}),
    (
        ("ru_vgg",),
        900,
        {
            "RU": 600,
            "KZ": 90,
            "AZ": 40,
            "UZ": 40,
            "TJ": 35,
            "TM": 30,
            "AM": 25,
            "UA": 25,
            "IN": 20,
            "IQ": 15,
        },
    ),
    (("vn_spoke", "vn_hub"), 1080, {"VN": 950, "LA": 30, "KH": 20}),
]
ABROAD_PATIENTS = 40  # at each hospital in Laos and Cambodia
EAEU = {"KZ", "AM", "BY", "KG"}  # insured under Russian OMS when they work there
OKATO = {"RU-MOW": "45", "RU-VGG": "18"}
GSO = {p.iso: p.gso for p in VN_PROVINCES}
REFERENCE_DAY = date(2021, 1, 1)


def _licence(rng: Random, country: str, taken: set[str]) -> str:
    while True:
        if country == "MX":  # cédula profesional
            value = str(rng.randint(1_000_000, 12_999_999))
        elif country == "RU":  # accreditation certificate
            value = f"{rng.randint(10**11, 10**12 - 1)}"
        elif country == "VN":  # chứng chỉ hành nghề
            value = f"{rng.randint(1, 99_999):06d}/{rng.choice(['BYT', 'HNO', 'HCM'])}-CCHN"
        else:
            value = f"{country}-MD-{rng.randint(1, 99_999):05d}"
        if value not in taken:
            taken.add(value)
            return value


def _languages(rng: Random, country: str) -> str:
    native = {"MX": "es", "RU": "ru", "VN": "vi", "LA": "lo,vi", "KH": "km,vi"}[country]
    return f"{native},en" if rng.random() < 0.2 else native


def load_practitioners(world: World) -> None:
    rng, known = world.rng, world.specialties
    plan: list[tuple[Site, str]] = []
    for code in sorted(known):
        for groups, per_specialty in SPECIALISTS.values():
            sites = world.in_group(*groups)
            suited = [s for s in sites if s.profile is not None and code in s.profile]
            suited = suited or [s for s in sites if s.profile is None]
            plan += [(rng.choice(suited), code) for _ in range(per_specialty) if suited]
    plan += [
        (site, code)
        for site in world.in_group("ru_mow")
        for code in sorted(site.profile or ())
        if code in known
    ]
    plan += [(site, "family_medicine") for site in world.in_group("mx_umf")]
    spokes = world.in_group("vn_spoke")
    plan += [(site, SPOKE_GENERALISTS[i % 3]) for i, site in enumerate(spokes) if i % 5 == 0]
    plan += [(site, "internal_medicine") for site in world.in_group("xb_spoke")]
    plan = [(site, code) for site, code in plan if code in known]

    taken: set[str] = set()
    rows = []
    for site, _ in plan:
        sex = Sex.female if rng.random() < 0.55 else Sex.male
        family, given = draw(rng, "VN" if site.country == "VN" else site.country, sex)
        rows.append(
            {
                "family_name": family,
                "given_names": given,
                "sex": sex,
                "license_number": _licence(rng, site.country, taken),
                "email": None,
                "phone": None,
                "languages": _languages(rng, site.country),
                "active": True,
            }
        )
    new_ids = world.insert_returning_ids(Practitioner, rows)

    roles = []
    for practitioner_id, (site, code) in zip(new_ids, plan, strict=True):
        places = [site]
        if rng.random() < 0.12:  # some also consult at a second facility of the country
            others = [s for s in world.in_group(site.group) if s is not site]
            if others:
                places.append(rng.choice(others))
        for place in places:
            roles.append(
                {
                    "practitioner_id": practitioner_id,
                    "facility_id": place.id,
                    "specialty_id": known[code],
                    "role": PractitionerRoleCode.physician
                    if code in PHYSICIAN_SPECIALTIES
                    else PractitionerRoleCode.specialist,
                    "active": True,
                    "start_date": day_between(rng, date(2005, 1, 1), date(2020, 6, 30)),
                    "end_date": None,
                }
            )
    world.insert(PractitionerRole, roles)
    world.counts["practitioners"] += len(rows)


def _birth_date(rng: Random) -> date:
    draw_ = rng.random()
    age = rng.randint(0, 17) if draw_ < 0.2 else rng.randint(18, 64) if draw_ < 0.75 else rng.randint(65, 95)  # fmt: skip
    start = date(REFERENCE_DAY.year - 1 - age, 1, 1).toordinal()
    return date.fromordinal(start + rng.randint(0, 364))


def load_patients(world: World) -> None:
    rng = world.rng
    people: list[tuple[Site, str]] = []
    for groups, size, mix in PATIENTS:
        homes = world.in_group(*groups)
        # Hubs, hospitals and the clinics of the export program see more patients.
        weights = [3 if s.group in ("mx_umf", "vn_spoke") or _exporting(world, s) else 1 for s in homes]  # fmt: skip
        citizenships = rng.choices(list(mix), weights=list(mix.values()), k=size)
        people += list(zip(rng.choices(homes, weights=weights, k=size), citizenships, strict=True))
    for site in world.in_group("xb_spoke"):
        people += [(site, site.country if rng.random() < 0.9 else "VN") for _ in range(ABROAD_PATIENTS)]  # fmt: skip

    rows: list[dict[str, Any]] = []
    born: list[date] = []
    for home, citizenship in people:
        sex = Sex.female if rng.random() < 0.52 else Sex.male
        family, given = draw(rng, citizenship, sex)
        born.append(_birth_date(rng))
        rows.append(
            {
                "family_name": family,
                "given_names": given,
                "birth_date": born[-1],
                "sex": sex,
                "citizenship": citizenship,
                "preferred_language": language_of(citizenship),
                "phone": None,
                "email": None,
                "home_facility_id": home.id,
                "active": True,
                "version": 1,
            }
        )
    patient_ids = world.insert_returning_ids(Patient, rows)

    taken: set[tuple[str, str]] = set()
    identifiers: list[dict[str, Any]] = []

    def add(patient_id: int, system: str, make: Callable[[], str]) -> None:
        value = make()
        while (system, value) in taken:
            value = make()
        taken.add((system, value))
        identifiers.append({"patient_id": patient_id, "system": system, "value": value})

    for patient_id, row, day, (home, citizenship) in zip(patient_ids, rows, born, people, strict=True):  # fmt: skip
        female = row["sex"] == Sex.female
        if home.country == "MX":
            state = STATES[home.province[3:]].curp if citizenship == "MX" else "NE"
            paternal, _, maternal = row["family_name"].partition(" ")
            homonyms = count(rng.randint(0, 9))
            curp = partial(ids.curp, paternal, maternal, row["given_names"], day, female, state)
            add(patient_id, ids.SYSTEMS["curp"], _next_of(curp, homonyms))
            add(patient_id, ids.SYSTEMS["nss"], partial(ids.nss, rng, day))
        elif home.country == "RU" and citizenship == "RU":
            add(patient_id, ids.SYSTEMS["snils"], partial(ids.snils, rng))
            add(patient_id, ids.SYSTEMS["oms"], partial(ids.oms, rng, OKATO[home.province]))
        elif citizenship == "VN":
            gso = GSO.get(home.province, "001")
            add(patient_id, ids.SYSTEMS["cccd"], partial(ids.cccd, rng, gso, day, female))
        else:
            system = ids.passport_system(citizenship)
            add(patient_id, system, partial(ids.passport, rng, citizenship))
            if home.country == "RU" and citizenship in EAEU and rng.random() < 0.5:
                add(patient_id, ids.SYSTEMS["oms"], partial(ids.oms, rng, OKATO[home.province]))
    world.insert(PatientIdentifier, identifiers)
    world.counts["patients"] += len(rows)


def _exporting(world: World, site: Site) -> bool:
    """A Volgograd clinic in the export program, or an upper-level hospital."""
    return site.group in ("vn_hub", "mx_hospital") or (
        site.group == "ru_vgg" and site.code in _export_codes(world)
    )


def _export_codes(world: World) -> set[str]:
    from puente.demo.russia import JOINED_2019, PILOT, VOLGOGRAD

    return {f"RU-VGG-{row[0]}" for row in VOLGOGRAD[: PILOT + len(JOINED_2019)]}


def _next_of(make: Callable[[int], str], numbers: Iterator[int]) -> Callable[[], str]:
    """A CURP maker that takes the next homonym number on each call."""
    return lambda: make(next(numbers))
