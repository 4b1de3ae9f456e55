"""Every indicator Puente reports, defined once, with its meaning in the
four languages.

An indicator is a measure (what is counted) over a selection of the ledger
(which services, which patients). Every figure — dashboards, bulletins,
exports, FHIR MeasureReport, the ``puente report`` command — names one of
these codes and is computed by :mod:`puente.reports.service` from this
table; nothing else decides what "surgeries" or "foreign patients" means.

Measures:

``count``      sum of ledger counts (read from the rollup: live and fast)
``patients``   distinct patients of the ledger entries that name one
``enrolled``   facilities enrolled in a program on a date
``goal``       delivered ÷ goal of a campaign (``campaign`` filter required; its goals
               per unit × service line, the ledger rows tagged with it)
``response``   remote consultation cases, by the statistic in ``extra``: median or
               90th-percentile hours from request to answer, deadline breaches, breach
               rate (puente.consults.metrics.consult_indicator)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from puente.enums import Mode, ServiceKind


class Measure(StrEnum):
    count = "count"  # type: ignore[assignment]
    patients = "patients"
    enrolled = "enrolled"
    goal = "goal"
    response = "response"


@dataclass(frozen=True)
class Indicator:
    code: str
    measure: Measure
    # name and meaning by language: en, es, ru, vi
    name: dict[str, str]
    meaning: dict[str, str]
    services: tuple[str, ...] = ()  # service codes (any of); "code*" a family of codes
    kinds: tuple[ServiceKind, ...] = ()  # service kinds (any of)
    specialties: tuple[str, ...] = ()  # specialty codes (any of)
    not_specialties: tuple[str, ...] = ()
    not_services: tuple[str, ...] = ()
    mode: Mode | None = None
    foreign: bool | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def label(self, lang: str) -> str:
        return self.name.get(lang) or self.name["en"]

    def explain(self, lang: str) -> str:
        return self.meaning.get(lang) or self.meaning["en"]

    @property
    def selects_services(self) -> bool:
        return bool(self.services or self.kinds or self.specialties)


K = ServiceKind
VISITS_AVOIDED = "in-person-visit-avoided"
TELECONSULTATIONS = ("virtual-visit", "virtual-ari-covid")


def _i(code: str, measure: Measure, name: tuple[str, str, str, str],
       meaning: tuple[str, str, str, str], **kw: object) -> Indicator:  # fmt: skip
    langs = ("en", "es", "ru", "vi")
    return Indicator(
        code,
        measure,
        dict(zip(langs, name, strict=True)),
        dict(zip(langs, meaning, strict=True)),
        **kw,  # type: ignore[arg-type]
    )


C, P, E, G, R = Measure.count, Measure.patients, Measure.enrolled, Measure.goal, Measure.response

INDICATORS: dict[str, Indicator] = {
    i.code: i
    for i in [
        _i("services", C,
           ("Services delivered", "Servicios otorgados", "Оказано услуг", "Dịch vụ đã cung cấp"),
           ("Every service counted in the ledger, of any kind.",
            "Todos los servicios registrados en el libro de servicios, de cualquier tipo.",
            "Все услуги, учтённые в реестре, любого вида.",
            "Mọi dịch vụ được ghi trong sổ dịch vụ, thuộc bất kỳ loại nào.")),
        _i("surgeries", C,
           ("Surgeries", "Cirugías", "Операции", "Ca phẫu thuật"),
           ("Surgical operations (services of kind surgery).",
            "Intervenciones quirúrgicas (servicios de tipo cirugía).",
            "Хирургические операции (услуги вида «операция»).",
            "Các ca phẫu thuật (dịch vụ loại phẫu thuật)."),
           kinds=(K.surgery,)),
        _i("specialty-consultations", C,
           ("Specialty consultations", "Consultas de especialidad",
            "Консультации специалистов", "Lượt khám chuyên khoa"),
           ("Consultations of every specialty except family medicine.",
            "Consultas de todas las especialidades salvo Medicina Familiar.",
            "Консультации всех специальностей, кроме общей врачебной практики.",
            "Lượt khám của mọi chuyên khoa trừ y học gia đình."),
           kinds=(K.consultation,), not_specialties=("family_medicine",)),
        _i("family-medicine-consultations", C,
           ("Family medicine consultations", "Consultas de Medicina Familiar",
            "Приёмы врача общей практики", "Lượt khám y học gia đình"),
           ("In-person family medicine consultations.",
            "Consultas de Medicina Familiar.",
            "Приёмы врача общей практики (семейного врача).",
            "Lượt khám y học gia đình."),
           kinds=(K.consultation,), specialties=("family_medicine",)),
        _i("screenings", C,
           ("Screenings", "Detecciones", "Скрининги", "Lượt sàng lọc"),
           ("Screening tests and examinations of every kind.",
            "Pruebas y exploraciones de detección de todo tipo.",
            "Скрининговые исследования и осмотры всех видов.",
            "Các xét nghiệm và khám sàng lọc mọi loại."),
           kinds=(K.screening,)),
        _i("mammographies", C,
           ("Mammographies", "Mastografías", "Маммографии", "Lượt chụp X-quang tuyến vú"),
           ("Screening mammographies.", "Mastografías de detección.",
            "Скрининговые маммографии.", "Chụp X-quang tuyến vú sàng lọc."),
           services=("screen-mammography",)),
        _i("breast-examinations", C,
           ("Clinical breast examinations", "Exploraciones clínicas de mama",
            "Клинические осмотры молочных желёз", "Lượt khám lâm sàng tuyến vú"),
           ("Clinical breast examinations.", "Exploraciones clínicas de mama.",
            "Клинические осмотры молочных желёз.", "Khám lâm sàng tuyến vú."),
           services=("screen-breast-exam",)),
        _i("diabetes-screenings", C,
           ("Diabetes mellitus screenings", "Detecciones de diabetes mellitus",
            "Скрининги сахарного диабета", "Lượt sàng lọc đái tháo đường"),
           ("Diabetes mellitus screenings.", "Detecciones de diabetes mellitus.",
            "Скрининги сахарного диабета.", "Sàng lọc đái tháo đường."),
           services=("screen-diabetes",)),
        _i("hypertension-screenings", C,
           ("Arterial hypertension screenings", "Detecciones de hipertensión arterial",
            "Скрининги артериальной гипертензии", "Lượt sàng lọc tăng huyết áp"),
           ("Arterial hypertension screenings.", "Detecciones de hipertensión arterial.",
            "Скрининги артериальной гипертензии.", "Sàng lọc tăng huyết áp."),
           services=("screen-hypertension",)),
        _i("cervical-cancer-screenings", C,
           ("Cervical cancer screenings", "Detecciones de cáncer cérvico-uterino",
            "Скрининги рака шейки матки", "Lượt sàng lọc ung thư cổ tử cung"),
           ("Cervical cancer screenings.", "Detecciones de cáncer cérvico-uterino.",
            "Скрининги рака шейки матки.", "Sàng lọc ung thư cổ tử cung."),
           services=("screen-cervical-cancer",)),
        _i("transplants", C,
           ("Transplants", "Trasplantes", "Трансплантации", "Ca ghép tạng"),
           ("Organ and tissue transplants; broken down by service, by organ.",
            "Trasplantes de órganos y tejidos; por servicio, por órgano.",
            "Трансплантации органов и тканей; в разбивке по услугам — по органам.",
            "Ghép tạng và mô; chia theo dịch vụ là theo từng tạng."),
           kinds=(K.transplant,)),
        _i("teleconsultations", C,
           ("Teleconsultations (doctor to patient)", "Teleconsultas (médico a paciente)",
            "Телемедицинские консультации «врач — пациент»",
            "Lượt khám từ xa (bác sĩ với người bệnh)"),
           ("Virtual visits in which a doctor sees a patient by video.",
            "Consultas virtuales en las que un médico atiende a un paciente por video.",
            "Видеоконсультации, на которых врач принимает пациента дистанционно.",
            "Lượt khám trực tuyến bác sĩ khám cho người bệnh qua video."),
           services=TELECONSULTATIONS),
        _i("visits-avoided", C,
           ("In-person visits avoided", "Consultas presenciales evitadas",
            "Визитов в поликлинику не потребовалось", "Lượt khám trực tiếp được tránh"),
           ("Virtual visits closed without sending the patient to the clinic.",
            "Consultas virtuales resueltas sin enviar al paciente a la unidad.",
            "Телемедицинские консультации, после которых пациенту не пришлось идти в "
            "поликлинику.",
            "Lượt khám từ xa kết thúc mà người bệnh không phải đến cơ sở y tế."),
           services=(VISITS_AVOIDED,)),
        _i("remote-consultations", C,
           ("Remote consultations (doctor to doctor)", "Teleconsultas de especialidad",
            "Телемедицинские консультации «врач — врач»", "Lượt tư vấn khám chữa bệnh từ xa"),
           ("Remote specialist consultations and case conferences between facilities.",
            "Teleconsultas de especialidad y sesiones clínicas a distancia entre unidades.",
            "Дистанционные консультации специалистов и консилиумы между медорганизациями.",
            "Tư vấn chuyên môn và hội chẩn từ xa giữa các cơ sở y tế."),
           services=("remote-consultation*", "remote-case-conference")),
        _i("tele-education", C,
           ("Tele-education sessions", "Sesiones de teleeducación",
            "Сеансы дистанционного обучения", "Buổi đào tạo từ xa"),
           ("Remote training sessions for health workers.",
            "Sesiones de capacitación a distancia para el personal de salud.",
            "Дистанционное обучение медицинских работников.",
            "Các buổi đào tạo từ xa cho nhân viên y tế."),
           services=("tele-education",)),
        _i("virtual-services", C,
           ("Services delivered remotely", "Servicios a distancia",
            "Услуги, оказанные дистанционно", "Dịch vụ cung cấp từ xa"),
           ("Every service delivered in virtual mode.",
            "Todos los servicios otorgados en modalidad virtual.",
            "Все услуги, оказанные в дистанционном формате.",
            "Mọi dịch vụ được cung cấp theo hình thức từ xa."),
           mode=Mode.virtual),
        _i("foreign-patients", C,
           ("Foreign patients", "Pacientes extranjeros", "Иностранные пациенты",
            "Người bệnh nước ngoài"),
           ("Services delivered to patients whose citizenship differs from the facility's "
            "country; each counted service is one attendance of a foreign patient.",
            "Servicios a pacientes cuya ciudadanía difiere del país de la unidad; cada "
            "servicio contado es una atención a un paciente extranjero.",
            "Услуги пациентам, чьё гражданство отличается от страны медорганизации; каждая "
            "учтённая услуга — одно обращение иностранного пациента.",
            "Dịch vụ cho người bệnh có quốc tịch khác quốc gia của cơ sở y tế; mỗi dịch vụ "
            "được tính là một lượt khám của người bệnh nước ngoài."),
           foreign=True),
        _i("unique-patients", P,
           ("Unique patients", "Pacientes únicos", "Уникальные пациенты", "Số người bệnh"),
           ("Distinct patients among the ledger entries that name a patient "
            "(aggregate imports name none and are not counted).",
            "Pacientes distintos entre los registros que identifican al paciente "
            "(las importaciones agregadas no lo identifican y no cuentan).",
            "Число разных пациентов среди записей реестра, где пациент указан "
            "(сводные загрузки пациента не указывают и не учитываются).",
            "Số người bệnh khác nhau trong các bản ghi có ghi người bệnh "
            "(dữ liệu tổng hợp không ghi người bệnh nên không được tính).")),
        _i("unique-foreign-patients", P,
           ("Unique foreign patients", "Pacientes extranjeros únicos",
            "Уникальные иностранные пациенты", "Số người bệnh nước ngoài"),
           ("Distinct named patients whose citizenship differs from the facility's country.",
            "Pacientes identificados distintos cuya ciudadanía difiere del país de la unidad.",
            "Разные указанные пациенты с гражданством другой страны, чем медорганизация.",
            "Số người bệnh có ghi tên, quốc tịch khác quốc gia của cơ sở y tế."),
           foreign=True),
        _i("facilities-enrolled", E,
           ("Facilities enrolled", "Unidades participantes", "Медорганизаций в программе",
            "Cơ sở tham gia"),
           ("Facilities enrolled in the program on the last day of the period.",
            "Unidades inscritas en el programa el último día del periodo.",
            "Медорганизации, участвующие в программе на последний день периода.",
            "Số cơ sở tham gia chương trình vào ngày cuối của kỳ báo cáo.")),
        _i("goal-attainment", G,
           ("Goal attainment", "Cumplimiento de la meta", "Выполнение плана",
            "Mức đạt mục tiêu"),
           ("Services delivered divided by the campaign's goal; empty when no goal is set.",
            "Servicios otorgados entre la meta de la jornada; vacío si no hay meta.",
            "Оказанные услуги, делённые на план кампании; пусто, если план не задан.",
            "Số dịch vụ đã cung cấp chia cho mục tiêu chiến dịch; trống khi chưa có mục tiêu.")),
        _i("response-time", R,
           ("Remote consultation response time (median, hours)",
            "Tiempo de respuesta de teleconsulta (mediana, horas)",
            "Время ответа на телеконсультацию (медиана, ч)",
            "Thời gian phản hồi tư vấn từ xa (trung vị, giờ)"),
           ("Median hours from a remote consultation request to its answer, over the cases "
            "answered by the hubs in view and requested in the period; by hub when broken down "
            "by facility.",
            "Mediana de horas entre la solicitud de teleconsulta y su respuesta, de los casos "
            "respondidos por las unidades consultoras a la vista y solicitados en el periodo; "
            "por unidad consultora al desglosar por unidad.",
            "Медиана часов от запроса телеконсультации до ответа по случаям, на которые "
            "ответили видимые консультирующие центры, запрошенным в периоде; по центрам при "
            "разбивке по учреждениям.",
            "Trung vị số giờ từ khi yêu cầu tư vấn từ xa đến khi trả lời, với các ca do bệnh "
            "viện tuyến trên đang xem trả lời và được yêu cầu trong kỳ; theo từng bệnh viện khi "
            "chia theo cơ sở."),
           extra={"statistic": "median"}),
        _i("response-time-p90", R,
           ("Remote consultation response time (90th percentile, hours)",
            "Tiempo de respuesta de teleconsulta (percentil 90, horas)",
            "Время ответа на телеконсультацию (90-й процентиль, ч)",
            "Thời gian phản hồi tư vấn từ xa (bách phân vị 90, giờ)"),
           ("Hours within which nine in ten remote consultation requests of the period were "
            "answered, over the cases answered by the hubs in view.",
            "Horas en las que se respondieron nueve de cada diez solicitudes de teleconsulta del "
            "periodo, de los casos respondidos por las unidades consultoras a la vista.",
            "Число часов, за которое получили ответ девять из десяти запросов телеконсультаций "
            "периода, по случаям, на которые ответили видимые консультирующие центры.",
            "Số giờ mà trong đó chín trên mười yêu cầu tư vấn từ xa của kỳ được trả lời, với các "
            "ca do bệnh viện tuyến trên đang xem trả lời."),
           extra={"statistic": "p90"}),
        _i("deadline-breaches", R,
           ("Response deadlines breached", "Plazos de respuesta incumplidos",
            "Нарушено сроков ответа", "Số ca quá hạn phản hồi"),
           ("Remote consultation cases requested in the period that were answered after their "
            "first response deadline (30 minutes, 4 hours or 72 hours by urgency, unless the "
            "program sets others), or are still unanswered past it; counted at the hub that "
            "answered or holds the case.",
            "Casos de teleconsulta solicitados en el periodo que se respondieron después de su "
            "primer plazo de respuesta (30 minutos, 4 horas o 72 horas según la urgencia, salvo "
            "que el programa fije otros), o que siguen sin respuesta pasado ese plazo; contados "
            "en la unidad consultora que respondió o que tiene el caso.",
            "Случаи телеконсультаций, запрошенные в периоде, на которые ответили позже первого "
            "срока ответа (30 минут, 4 часа или 72 часа по срочности, если программа не задала "
            "иные), или до сих пор без ответа после него; учитываются в центре, который ответил "
            "или ведёт случай.",
            "Các ca tư vấn từ xa được yêu cầu trong kỳ được trả lời sau hạn phản hồi đầu tiên "
            "(30 phút, 4 giờ hoặc 72 giờ theo mức khẩn, trừ khi chương trình đặt khác), hoặc vẫn "
            "chưa được trả lời khi đã quá hạn; tính tại bệnh viện đã trả lời hoặc đang giữ ca."),
           extra={"statistic": "breaches"}),
        _i("breach-rate", R,
           ("Deadline breach rate (%)", "Tasa de plazos incumplidos (%)",
            "Доля нарушенных сроков (%)", "Tỷ lệ quá hạn (%)"),
           ("Percentage of the remote consultation cases of the period whose first deadline has "
            "come (answered, or unanswered past it) that breached it.",
            "Porcentaje de los casos de teleconsulta del periodo cuyo primer plazo ya llegó "
            "(respondidos, o sin respuesta pasado el plazo) que lo incumplieron.",
            "Процент случаев телеконсультаций периода, у которых первый срок уже наступил "
            "(получен ответ или срок истёк без ответа), в которых этот срок нарушен.",
            "Phần trăm số ca tư vấn từ xa của kỳ đã đến hạn đầu tiên (đã trả lời, hoặc chưa trả "
            "lời khi quá hạn) mà bị quá hạn."),
           extra={"statistic": "breach_rate"}),
    ]
}  # fmt: skip


def get(code: str) -> Indicator | None:
    return INDICATORS.get(code)


# The breakdowns any count indicator can be split by.
class Breakdown(StrEnum):
    country = "country"
    region = "region"
    facility = "facility"
    tier = "tier"
    service = "service"
    specialty = "specialty"
    kind = "kind"
    citizenship = "citizenship"
    mode = "mode"
    campaign = "campaign"
    day = "day"
    week = "week"
    month = "month"
