"""Name lists for generated people, each in the script its owners write it in.

A name is drawn with :func:`draw`, which returns ``(family_name, given_names)``
in the order the country writes them: Spanish two surnames, Russian first name
and patronymic, Vietnamese middle and given name.
"""

from __future__ import annotations

from random import Random
from typing import NamedTuple

from puente.enums import Sex

ES_SURNAMES = [
    "García",
    "Hernández",
    "Martínez",
    "López",
    "González",
    "Pérez",
    "Rodríguez",
    "Sánchez",
    "Ramírez",
    "Cruz",
    "Flores",
    "Gómez",
    "Morales",
    "Vázquez",
    "Jiménez",
    "Reyes",
    "Díaz",
    "Torres",
    "Gutiérrez",
    "Ruiz",
    "Mendoza",
    "Aguilar",
    "Ortiz",
    "Moreno",
    "Castillo",
    "Romero",
    "Álvarez",
    "Méndez",
    "Chávez",
    "Rivera",
    "Juárez",
    "Ramos",
    "Domínguez",
    "Herrera",
    "Medina",
    "Castro",
    "Vargas",
    "Guzmán",
    "Velázquez",
    "Rojas",
    "Contreras",
    "Salazar",
    "Luna",
    "Ortega",
    "Cortés",
    "Guerrero",
    "Estrada",
    "Bautista",
    "Núñez",
    "Sandoval",
]
ES_MALE = [
    "José",
    "Juan",
    "Luis",
    "Carlos",
    "Jorge",
    "Miguel",
    "Francisco",
    "Alejandro",
    "Manuel",
    "Jesús",
    "Ricardo",
    "Fernando",
    "Roberto",
    "Eduardo",
    "Javier",
    "Antonio",
    "Sergio",
    "Arturo",
    "Raúl",
    "Héctor",
    "Daniel",
    "Diego",
    "Emiliano",
    "Santiago",
    "Mateo",
]
ES_FEMALE = [
    "María",
    "Guadalupe",
    "Juana",
    "Margarita",
    "Verónica",
    "Leticia",
    "Rosa",
    "Patricia",
    "Elizabeth",
    "Alejandra",
    "Gabriela",
    "Adriana",
    "Claudia",
    "Laura",
    "Mónica",
    "Silvia",
    "Teresa",
    "Ana",
    "Sofía",
    "Valentina",
    "Ximena",
    "Fernanda",
    "Daniela",
    "Camila",
    "Regina",
]

RU_SURNAMES = [
    "Иванов",
    "Смирнов",
    "Кузнецов",
    "Попов",
    "Васильев",
    "Петров",
    "Соколов",
    "Михайлов",
    "Новиков",
    "Фёдоров",
    "Морозов",
    "Волков",
    "Алексеев",
    "Лебедев",
    "Семёнов",
    "Егоров",
    "Павлов",
    "Козлов",
    "Степанов",
    "Николаев",
    "Орлов",
    "Андреев",
    "Макаров",
    "Никитин",
    "Захаров",
    "Зайцев",
    "Соловьёв",
    "Борисов",
    "Яковлев",
    "Григорьев",
    "Романов",
    "Воробьёв",
    "Сергеев",
    "Кузьмин",
    "Фролов",
    "Александров",
    "Дмитриев",
    "Королёв",
    "Гусев",
    "Киселёв",
    "Ильин",
    "Максимов",
    "Поляков",
    "Сорокин",
    "Виноградов",
    "Ковалёв",
    "Белов",
    "Медведев",
    "Антонов",
    "Тарасов",
    "Жуков",
    "Баранов",
    "Филиппов",
    "Комаров",
    "Давыдов",
    "Беляев",
    "Герасимов",
    "Богданов",
    "Осипов",
    "Сидоров",
    "Матвеев",
    "Титов",
    "Марков",
    "Миронов",
    "Крылов",
    "Куликов",
    "Карпов",
    "Власов",
    "Мельников",
    "Денисов",
    "Гаврилов",
    "Тихонов",
    "Казаков",
    "Афанасьев",
    "Данилов",
    "Калинин",
    "Быков",
    "Маслов",
    "Лазарев",
    "Воронин",
    "Климов",
    "Филатов",
    "Голубев",
    "Прохоров",
    "Наумов",
    "Потапов",
    "Журавлёв",
    "Соболев",
    "Ермаков",
    "Колесников",
    "Гончаров",
    "Котов",
    "Громов",
    "Кириллов",
    "Малышев",
    "Панов",
    "Румянцев",
    "Бирюков",
    "Горбунов",
    "Лукьянов",
    "Скворцов",
    "Нестеров",
    "Симонов",
    "Цветков",
    "Краснов",
    "Демидов",
    "Рыбаков",
    "Жданов",
    "Покровский",
    "Островский",
    "Вишневский",
    "Руденко",
    "Шевченко",
]
RU_MALE = [
    "Александр",
    "Алексей",
    "Андрей",
    "Дмитрий",
    "Сергей",
    "Михаил",
    "Иван",
    "Николай",
    "Владимир",
    "Евгений",
    "Артём",
    "Максим",
    "Павел",
    "Юрий",
    "Виктор",
    "Олег",
    "Игорь",
    "Константин",
    "Роман",
    "Денис",
    "Антон",
    "Кирилл",
    "Григорий",
    "Пётр",
    "Василий",
]
RU_FEMALE = [
    "Анна",
    "Мария",
    "Елена",
    "Ольга",
    "Наталья",
    "Татьяна",
    "Ирина",
    "Светлана",
    "Екатерина",
    "Юлия",
    "Анастасия",
    "Марина",
    "Людмила",
    "Галина",
    "Валентина",
    "Надежда",
    "Дарья",
    "Ксения",
    "Полина",
    "Вера",
    "Софья",
    "Алина",
    "Виктория",
    "Любовь",
    "Евгения",
]
# father's name: (son's patronymic, daughter's patronymic)
RU_PATRONYMICS = [
    ("Александрович", "Александровна"), ("Алексеевич", "Алексеевна"), ("Андреевич", "Андреевна"),
    ("Дмитриевич", "Дмитриевна"), ("Сергеевич", "Сергеевна"), ("Михайлович", "Михайловна"),
    ("Иванович", "Ивановна"), ("Николаевич", "Николаевна"), ("Владимирович", "Владимировна"),
    ("Евгеньевич", "Евгеньевна"), ("Юрьевич", "Юрьевна"), ("Викторович", "Викторовна"),
    ("Олегович", "Олеговна"), ("Игоревич", "Игоревна"), ("Павлович", "Павловна"),
    ("Петрович", "Петровна"), ("Васильевич", "Васильевна"), ("Геннадьевич", "Геннадьевна"),
    ("Анатольевич", "Анатольевна"), ("Борисович", "Борисовна"),
]  # fmt: skip

# Nguyễn is the family name of about four in ten Vietnamese.
VI_FAMILY = ["Nguyễn"] * 14 + [
    "Trần",
    "Trần",
    "Lê",
    "Lê",
    "Phạm",
    "Phạm",
    "Hoàng",
    "Huỳnh",
    "Phan",
    "Vũ",
    "Võ",
    "Đặng",
    "Bùi",
    "Đỗ",
    "Hồ",
    "Ngô",
    "Dương",
    "Lý",
    "Đinh",
    "Trương",
    "Lương",
    "Mai",
    "Tạ",
    "Cao",
    "Lâm",
    "Hà",
    "Trịnh",
]
VI_MIDDLE_MALE = [
    "Văn",
    "Văn",
    "Văn",
    "Đức",
    "Minh",
    "Quốc",
    "Hữu",
    "Công",
    "Thanh",
    "Gia",
    "Xuân",
    "Quang",
]
VI_MIDDLE_FEMALE = [
    "Thị",
    "Thị",
    "Thị",
    "Ngọc",
    "Thu",
    "Thanh",
    "Kim",
    "Thùy",
    "Minh",
    "Bảo",
    "Phương",
    "Mỹ",
]
VI_MALE = [
    "An",
    "Bình",
    "Cường",
    "Dũng",
    "Dương",
    "Hải",
    "Hiếu",
    "Hùng",
    "Huy",
    "Khánh",
    "Khoa",
    "Long",
    "Minh",
    "Nam",
    "Phong",
    "Phúc",
    "Quân",
    "Sơn",
    "Tài",
    "Thắng",
    "Thành",
    "Trung",
    "Tuấn",
    "Việt",
    "Vinh",
]
VI_FEMALE = [
    "Anh",
    "Chi",
    "Dung",
    "Giang",
    "Hà",
    "Hằng",
    "Hạnh",
    "Hoa",
    "Hương",
    "Huyền",
    "Lan",
    "Linh",
    "Loan",
    "Mai",
    "My",
    "Ngân",
    "Nhung",
    "Oanh",
    "Phương",
    "Quỳnh",
    "Thảo",
    "Trang",
    "Tuyết",
    "Vân",
    "Yến",
]


class Names(NamedTuple):
    family: list[str]
    male: list[str]
    female: list[str]
    language: str


# Foreign patients, by citizenship. Citizens of former Soviet republics appear
# in Russian records in Cyrillic; others as in their passports (Latin script).
FOREIGN: dict[str, Names] = {
    "KZ": Names(
        ["Абенов", "Ахметов", "Сулейменов", "Жумабаев", "Касымов", "Омаров", "Искаков", "Нурланов"],
        ["Нурлан", "Ерлан", "Асхат", "Даурен", "Бауыржан", "Серик"],
        ["Айгерим", "Динара", "Гульнара", "Жанар", "Асель", "Сауле"],
        "ru",
    ),
    "AZ": Names(
        ["Алиев", "Мамедов", "Гусейнов", "Гасанов", "Исмаилов", "Керимов"],
        ["Рашад", "Эльчин", "Самир", "Фарид", "Тофиг"],
        ["Айгюн", "Севиндж", "Гюнай", "Лейла", "Нармин"],
        "az",
    ),
    "UZ": Names(
        ["Каримов", "Рахимов", "Юсупов", "Абдуллаев", "Хасанов", "Турсунов"],
        ["Жасур", "Бахтиёр", "Шерзод", "Улугбек", "Фаррух"],
        ["Дилноза", "Гулноза", "Нилуфар", "Шахноза", "Мадина"],
        "uz",
    ),
    "TJ": Names(
        ["Рахмонов", "Сафаров", "Назаров", "Шарипов", "Давлатов"],
        ["Фирдавс", "Сухроб", "Далер", "Рустам", "Бехруз"],
        ["Зарина", "Мехрона", "Фарангис", "Нигина", "Шахло"],
        "tg",
    ),
    "TM": Names(
        ["Бердыев", "Атаев", "Мурадов", "Овезов", "Аннаев"],
        ["Мерген", "Батыр", "Довлет", "Атамырат", "Сердар"],
        ["Огулджан", "Айна", "Бахар", "Дженнет", "Гозель"],
        "tk",
    ),
    "AM": Names(
        ["Петросян", "Саргсян", "Акопян", "Григорян", "Карапетян", "Оганесян"],
        ["Арам", "Давид", "Тигран", "Армен", "Гор"],
        ["Ануш", "Мариам", "Лилит", "Нарине", "Гаяне"],
        "hy",
    ),
    "UA": Names(
        ["Коваленко", "Бондаренко", "Ткаченко", "Кравченко", "Мельник", "Савчук"],
        ["Олександр", "Андрій", "Микола", "Тарас", "Богдан"],
        ["Оксана", "Олена", "Наталія", "Ірина", "Тетяна"],
        "uk",
    ),
    "BY": Names(
        ["Лукашевич", "Ковалевич", "Жук", "Климович", "Новик"],
        ["Алесь", "Павел", "Андрей", "Виталий", "Игорь"],
        ["Анастасия", "Алеся", "Ольга", "Ирина", "Янина"],
        "ru",
    ),
    "IN": Names(
        ["Sharma", "Patel", "Singh", "Kumar", "Reddy", "Nair", "Gupta", "Iyer"],
        ["Rahul", "Arjun", "Vikram", "Rohan", "Aditya"],
        ["Priya", "Ananya", "Sneha", "Kavya", "Divya"],
        "en",
    ),
    "IQ": Names(
        ["Al-Saadi", "Al-Jubouri", "Hussein", "Abbas", "Kadhim", "Al-Obaidi"],
        ["Ahmed", "Mustafa", "Ali", "Hassan", "Omar"],
        ["Zainab", "Fatima", "Noor", "Maryam", "Sara"],
        "ar",
    ),
    "LA": Names(
        ["Phommachanh", "Vongsa", "Sisavath", "Keomany", "Souvannavong", "Inthavong"],
        ["Somphone", "Bounmy", "Khamla", "Vilay", "Souksavanh"],
        ["Manivanh", "Chansouk", "Phonesavanh", "Noy", "Vanhdy"],
        "lo",
    ),
    "KH": Names(
        ["Sok", "Chan", "Kim", "Heng", "Chea", "Meas"],
        ["Dara", "Sokha", "Vuthy", "Rithy", "Sovann"],
        ["Sophea", "Sreymom", "Channary", "Bopha", "Pisey"],
        "km",
    ),
    "US": Names(
        ["Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson"],
        ["James", "Michael", "Robert", "David", "William"],
        ["Mary", "Jennifer", "Linda", "Elizabeth", "Susan"],
        "en",
    ),
}
SPANISH_SPEAKING = {"MX", "GT", "HN", "SV", "VE"}
CYRILLIC_FEMININE = (("ский", "ская"), ("ов", "ова"), ("ев", "ева"), ("ёв", "ёва"), ("ин", "ина"))


def feminine(surname: str) -> str:
    """Russian-style surnames take a feminine ending; others do not change."""
    for male, female in CYRILLIC_FEMININE:
        if surname.endswith(male):
            return surname[: -len(male)] + female
    return surname


def language_of(citizenship: str) -> str:
    if citizenship in SPANISH_SPEAKING:
        return "es"
    if citizenship == "RU":
        return "ru"
    if citizenship == "VN":
        return "vi"
    return FOREIGN[citizenship].language


def draw(rng: Random, citizenship: str, sex: Sex) -> tuple[str, str]:
    """A (family name, given names) pair as a person of ``citizenship`` writes it."""
    female = sex == Sex.female
    if citizenship in SPANISH_SPEAKING:
        given = rng.choice(ES_FEMALE if female else ES_MALE)
        if rng.random() < 0.3:
            given = f"{given} {rng.choice(ES_FEMALE if female else ES_MALE)}"
        paternal, maternal = rng.sample(ES_SURNAMES, 2)
        return f"{paternal} {maternal}", given
    if citizenship == "RU":
        family = rng.choice(RU_SURNAMES)
        son, daughter = rng.choice(RU_PATRONYMICS)
        if female:
            return feminine(family), f"{rng.choice(RU_FEMALE)} {daughter}"
        return family, f"{rng.choice(RU_MALE)} {son}"
    if citizenship == "VN":
        middle = rng.choice(VI_MIDDLE_FEMALE if female else VI_MIDDLE_MALE)
        given = rng.choice(VI_FEMALE if female else VI_MALE)
        return rng.choice(VI_FAMILY), f"{middle} {given}"
    names = FOREIGN[citizenship]
    family = rng.choice(names.family)
    if female and names.family[0][0] >= "А":  # Cyrillic list
        family = feminine(family)
    return family, rng.choice(names.female if female else names.male)
