"""Russia: Moscow city polyclinics with the doctor–patient telemedicine
program, and Volgograd region clinics with the medical-services export program
(14 clinics enrolled in January 2019, 20 by the end of June 2019)."""

from __future__ import annotations

from datetime import date

from puente.demo.world import Site, World, day_between
from puente.enums import FacilityKind, ProgramKind, Tier

# Numbers of real Moscow adult city polyclinics.
MOSCOW_POLYCLINICS = [
    2, 3, 5, 6, 8, 9, 11, 12, 19, 22, 23, 36, 45, 46, 52, 62, 64, 66, 67, 68,
    69, 107, 109, 115, 121, 134, 166, 170, 175, 180, 191, 195, 209, 210, 212, 214, 218, 219, 220, 226,
]  # fmt: skip
POLYCLINIC_PROFILE = frozenset({"family_medicine", "internal_medicine", "infectious_diseases"})

K = FacilityKind
P, D = Tier.provincial, Tier.district
_ONCO = frozenset({"oncology", "medical_oncology", "surgical_oncology", "radiology", "hematology"})
_OBGYN = frozenset({"obstetrics", "gynecology", "anesthesiology"})
_GENERAL = frozenset(
    {
        "general_surgery", "internal_medicine", "traumatology_orthopedics", "neurosurgery",
        "emergency_medicine", "anesthesiology", "cardiology", "neurology", "urology",
        "radiology", "gastroenterology", "pulmonology", "ophthalmology", "otorhinolaryngology",
    }
)  # fmt: skip
_OUTPATIENT = frozenset(
    {"family_medicine", "internal_medicine", "ophthalmology", "endocrinology", "dermatology"}
)

# (code, name, city, tier, kind, specialties; None = all). The first 14 are the
# pilot clinics the regional health committee named; the next 6 joined in
# February–June 2019; the last ones are not in the export program.
VOLGOGRAD: list[tuple[str, str, str, Tier, FacilityKind, frozenset[str] | None]] = [
    ("BSMP25", "ГБУЗ «Городская клиническая больница скорой медицинской помощи № 25»", "Волгоград", D, K.general_hospital, _GENERAL),
    ("BSMP7", "ГУЗ «Клиническая больница скорой медицинской помощи № 7»", "Волгоград", D, K.general_hospital, _GENERAL),
    ("OKB1", "ГБУЗ «Волгоградская областная клиническая больница № 1»", "Волгоград", P, K.general_hospital, None),
    ("ODKB", "ГБУЗ «Волгоградская областная детская клиническая больница»", "Волгоград", P, K.specialty_hospital, frozenset({"pediatrics", "pediatric_surgery", "genetics", "neurology", "nephrology"})),
    ("KB12", "ГУЗ «Клиническая больница № 12»", "Волгоград", D, K.general_hospital, _GENERAL | {"plastic_surgery", "maxillofacial_surgery"}),
    ("ONKO", "ГБУЗ «Волгоградский областной клинический онкологический диспансер»", "Волгоград", P, K.specialty_hospital, _ONCO),
    ("PC2", "ГБУЗ «Волгоградский областной клинический перинатальный центр № 2»", "Волгоград", P, K.specialty_hospital, _OBGYN | {"genetics"}),
    ("CARDIO", "ГБУЗ «Волгоградский областной клинический кардиологический центр»", "Волгоград", P, K.specialty_hospital, frozenset({"cardiology", "angiology", "anesthesiology", "radiology"})),
    ("URONEPH", "ГБУЗ «Волгоградский областной уронефрологический центр»", "Волжский", P, K.specialty_hospital, frozenset({"urology", "nephrology", "transplantation"})),
    ("P28", "ГУЗ «Поликлиника № 28»", "Волгоград", D, K.polyclinic, _OUTPATIENT),
    ("P3", "ГУЗ «Поликлиника № 3»", "Волгоград", D, K.polyclinic, _OUTPATIENT),
    ("KDP2", "ГУЗ «Консультативно-диагностическая поликлиника № 2»", "Волгоград", D, K.diagnostic_center, frozenset({"radiology", "endocrinology", "gastroenterology", "cardiology", "neurology"})),
    ("STOM3", "ГАУЗ «Клиническая стоматологическая поликлиника № 3»", "Волгоград", D, K.clinic, frozenset({"dentistry", "maxillofacial_surgery"})),
    ("COSM", "ГАУЗ «Волгоградская областная клиническая косметологическая больница»", "Волгоград", P, K.clinic, frozenset({"dermatology", "plastic_surgery"})),
    ("BSMP15", "ГУЗ «Клиническая больница скорой медицинской помощи № 15»", "Волгоград", D, K.general_hospital, _GENERAL),
    ("OKB3", "ГБУЗ «Волгоградская областная клиническая больница № 3»", "Волгоград", P, K.general_hospital, None),
    ("KRD2", "ГУЗ «Клинический родильный дом № 2»", "Волгоград", D, K.specialty_hospital, _OBGYN),
    ("VLZ-GB1", "ГБУЗ «Городская больница № 1 им. С. З. Фишера»", "Волжский", D, K.general_hospital, _GENERAL),
    ("KB4", "ГУЗ «Клиническая больница № 4»", "Волгоград", D, K.general_hospital, _GENERAL),
    ("STOM9", "ГАУЗ «Стоматологическая поликлиника № 9»", "Волгоград", D, K.clinic, frozenset({"dentistry"})),
    ("DKB8", "ГУЗ «Детская клиническая больница № 8»", "Волгоград", D, K.general_hospital, frozenset({"pediatrics", "pediatric_surgery"})),
    ("OKIB1", "ГБУЗ «Волгоградская областная клиническая инфекционная больница № 1»", "Волгоград", P, K.specialty_hospital, frozenset({"infectious_diseases"})),
    ("KAM-CGB", "ГБУЗ «Камышинская центральная городская больница»", "Камышин", D, K.general_hospital, _GENERAL),
    ("MIH-CRB", "ГБУЗ «Михайловская центральная районная больница»", "Михайловка", D, K.general_hospital, _GENERAL),
]  # fmt: skip
PILOT = 14
JOINED_2019 = [
    date(2019, 2, 18),
    date(2019, 3, 11),
    date(2019, 4, 1),
    date(2019, 4, 22),
    date(2019, 5, 20),
    date(2019, 6, 10),
]


def load_russia(world: World) -> None:
    moscow = [
        Site(
            code=f"RU-MOW-GP{n:03d}",
            name=f"Городская поликлиника № {n}",
            country="RU",
            region="RU-MOW",
            province="RU-MOW",
            tier=Tier.district,
            kind=FacilityKind.polyclinic,
            group="ru_mow",
            timezone="Europe/Moscow",
            city="Москва",
            profile=POLYCLINIC_PROFILE,
        )
        for n in MOSCOW_POLYCLINICS
    ]
    volgograd = [
        Site(
            code=f"RU-VGG-{code}",
            name=name,
            country="RU",
            region="RU-VGG",
            province="RU-VGG",
            tier=tier,
            kind=kind,
            group="ru_vgg",
            timezone="Europe/Volgograd",
            city=city,
            profile=profile,
        )
        for code, name, city, tier, kind, profile in VOLGOGRAD
    ]
    world.add_sites(moscow + volgograd)

    rng = world.rng
    # A first wave in 2020–2021, then every polyclinic when omicron came (February 2022).
    starts = []
    for i, site in enumerate(moscow):
        if i < 8:
            start = day_between(rng, date(2020, 4, 1), date(2020, 12, 31))
        elif i < 16:
            start = day_between(rng, date(2021, 1, 11), date(2021, 12, 20))
        else:
            start = day_between(rng, date(2022, 2, 1), date(2022, 2, 28))
        starts.append((site.code, start))
    world.add_program(
        code="moscow-telemedicine",
        name="Телемедицинские консультации «врач — пациент» в поликлиниках Москвы",
        kind=ProgramKind.virtual_visits,
        country="RU",
        description=(
            "Doctor–patient video consultations for ARVI and COVID-19 patients in Moscow city "
            "polyclinics, extended to every polyclinic in February 2022."
        ),
        enrolments=starts,
    )

    enrolled = [(s.code, date(2019, 1, 1)) for s in volgograd[:PILOT]]
    enrolled += [
        (s.code, d) for s, d in zip(volgograd[PILOT : PILOT + 6], JOINED_2019, strict=True)
    ]
    world.add_program(
        code="volgograd-medical-export",
        name="Развитие экспорта медицинских услуг в Волгоградской области",
        kind=ProgramKind.medical_services_export,
        country="RU",
        description=(
            "Regional priority project: foreign patients treated in Volgograd region clinics; "
            "grew from 14 to 20 clinics in the first half of 2019."
        ),
        enrolments=enrolled,
    )
