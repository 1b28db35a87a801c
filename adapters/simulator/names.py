"""Fictional Dutch name material, with tussenvoegsels, apostrophes and diacritics."""

import unicodedata

GIRLS = [
    "Noor",
    "Zoë",
    "Emma",
    "Julia",
    "Mila",
    "Tess",
    "Sara",
    "Fleur",
    "Anaïs",
    "Lotte",
    "Sophie",
    "Chloë",
    "Yara",
    "Nina",
    "Liv",
    "Isa",
    "Fenna",
    "Maud",
    "Eline",
    "Esmée",
    "Ayşe",
    "Fatima",
    "Hannah",
    "Roos",
    "Jasmijn",
    "Lieke",
    "Noëlle",
    "Elif",
    "Amira",
    "Lynn",
]
BOYS = [
    "Daniël",
    "Sem",
    "Daan",
    "Lucas",
    "Finn",
    "Levi",
    "Noah",
    "Bram",
    "Joël",
    "Thijs",
    "Luuk",
    "Milan",
    "Jesse",
    "Ruben",
    "Mohammed",
    "Emre",
    "Gijs",
    "Stijn",
    "Raphaël",
    "Tim",
    "Jurriën",
    "Mats",
    "Sven",
    "Yusuf",
    "Teun",
    "Olivier",
    "Niels",
    "Michaël",
    "Bas",
    "Jan",
]
ADULT_F = [
    "Sanne",
    "Marieke",
    "Anouk",
    "Linda",
    "Ilse",
    "Mirjam",
    "Femke",
    "Nadia",
    "Hatice",
    "Esther",
    "Karin",
    "Inge",
    "Renée",
    "Petra",
    "Saskia",
    "Ingrid",
    "Meryem",
    "Annelies",
]
ADULT_M = [
    "Erik",
    "Mark",
    "Jeroen",
    "Rob",
    "Dennis",
    "Hüseyin",
    "Karim",
    "Pieter",
    "Bart",
    "Wouter",
    "Sander",
    "Martijn",
    "René",
    "Kees",
    "Johan",
    "Ahmed",
    "Frank",
    "Maarten",
]

# (tussenvoegsel or None, achternaam)
SURNAMES = [
    ("van 't", "Hof"),
    ("de", "Vries"),
    ("van der", "Linden"),
    ("van den", "Berg"),
    (None, "Çelik"),
    (None, "Jansen"),
    (None, "Bakker"),
    ("van", "Dijk"),
    ("de", "Jong"),
    (None, "Smit"),
    ("ter", "Horst"),
    ("in 't", "Veld"),
    (None, "Yılmaz"),
    (None, "El Amrani"),
    (None, "Visser"),
    ("van", "Leeuwen"),
    (None, "Öztürk"),
    ("de", "Boer"),
    (None, "Mulder"),
    ("van der", "Meer"),
    (None, "Nguyen"),
    (None, "Peeters"),
    ("van", "Beek"),
    (None, "Brouwer"),
    ("'t", "Hart"),
    (None, "Kuijpers"),
    ("van", "Wijk"),
    (None, "Doğan"),
    ("de", "Groot"),
    (None, "Hendriks"),
    (None, "Wiśniewski"),
    ("van der", "Heijden"),
    (None, "Bouzid"),
    ("van", "Vliet"),
    (None, "Kok"),
]

CATEGORIES_OTHER = ["Zorg", "Verzuim", "Algemeen"]


def ascii_fold(text: str) -> str:
    """Strip diacritics: 'Zoë' -> 'Zoe' (the planner's names may be typed differently)."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def full_surname(tussenvoegsel: str | None, achternaam: str) -> str:
    return f"{tussenvoegsel} {achternaam}" if tussenvoegsel else achternaam


def email_local(first: str, tussenvoegsel: str | None, achternaam: str) -> str:
    raw = f"{first}.{(tussenvoegsel or '')}{achternaam}".lower()
    return "".join(c for c in ascii_fold(raw) if c.isalnum() or c == ".").replace("ı", "i")
