"""Every invalid setting is reported with the file, its key path, its line and plain words."""

from __future__ import annotations

import pytest

from connector.cycle.settings import load_settings
from connector.errors import SettingsError
from tests.conftest import VALID_SETTINGS


def problems_of(write_settings, text: str) -> list[str]:
    path = write_settings(text)
    with pytest.raises(SettingsError) as caught:
        load_settings(path)
    assert caught.value.exit_code == 2
    return caught.value.lines


def changed(old: str, new: str) -> str:
    assert old in VALID_SETTINGS, old
    return VALID_SETTINGS.replace(old, new, 1)


def line_of(text: str, fragment: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), start=1) if fragment in line)


# (case id, replaced text, replacement, expected key path, expected words, fragment on the reported line)
CASES = [
    (
        "window end before start",
        "window = { start = 2027-02-08, end = 2027-02-12 }",
        "window = { start = 2027-02-14, end = 2027-02-10 }",
        "cycles.standaard.rounds[2].window",
        "end 2027-02-10 is before start 2027-02-14",
        "start = 2027-02-14",
    ),
    (
        "typo in a key",
        "slot_minutes = 10",
        "slot_minuten = 10",
        "cycles.standaard.rounds[0].slot_minuten",
        "unknown key (a typo?)",
        "slot_minuten",
    ),
    (
        "BRIN with lower case",
        'brin = "12AB00"',
        'brin = "12ab0"',
        "schools[0].brin",
        "'12ab0' is not a BRIN code",
        'brin = "12ab0"',
    ),
    (
        "unknown region",
        'region = "midden"',
        'region = "oost"',
        "schools[0].region",
        '\'oost\' is not one of "noord", "midden" or "zuid"',
        'region = "oost"',
    ),
    (
        "unknown round kind",
        'kind = "rapport"',
        'kind = "ouderavond"',
        "cycles.standaard.rounds[2].kind",
        "'ouderavond' is not one of",
        'kind = "ouderavond"',
    ),
    (
        "secret written in the file",
        'client_secret = { file = "secrets/pas" }',
        'client_secret = "s3cr3t"',
        "pas.client_secret",
        "a secret is never written in the settings file",
        "client_secret",
    ),
    (
        "secret from an unset environment variable",
        'client_secret = { file = "secrets/pas" }',
        'client_secret = { env = "CONNECTOR_TEST_UNSET_SECRET" }',
        "pas.client_secret",
        "environment variable CONNECTOR_TEST_UNSET_SECRET is not set or empty",
        "client_secret",
    ),
    (
        "secret file missing",
        'planner_api_key = { file = "secrets/planner" }',
        'planner_api_key = { file = "secrets/missing" }',
        "schools[0].planner_api_key",
        "cannot be read",
        "planner_api_key",
    ),
    (
        "slot too short",
        "slot_minutes = 10",
        "slot_minutes = 2",
        "cycles.standaard.rounds[0].slot_minutes",
        "2: input should be greater than or equal to 5",
        "slot_minutes = 2",
    ),
    (
        "hours reversed",
        "window = { school_week = 2 }",
        'window = { school_week = 2 }\nconversation_hours = { hours = ["17:00-15:00"] }',
        "cycles.standaard.rounds[0].conversation_hours.hours",
        "'17:00-15:00': the end is not after the start",
        "conversation_hours",
    ),
    (
        "planner opening in the DST hour",
        "window = { school_week = 2 }",
        "window = { school_week = 2 }\nplanner = { opens_at = 02:30:00 }",
        "cycles.standaard.rounds[0].planner.opens_at",
        "daylight saving time",
        "planner = ",
    ),
    (
        "weekend conversation day",
        'region = "midden"',
        'region = "midden"\nconversation_hours = { weekdays = ["ma", "za"] }',
        "schools[0].conversation_hours.weekdays",
        "za: no conversation is ever planned on a weekend",
        "weekdays",
    ),
    (
        "kindgesprek with a planner",
        'window = { month = "oktober" }',
        'window = { month = "oktober" }\nuses_planner = true',
        "cycles.standaard.rounds[1].uses_planner",
        "a kindgesprek is held in class without a planner",
        "uses_planner",
    ),
    (
        "window inside the Christmas holiday",
        "window = { start = 2027-02-08, end = 2027-02-12 }",
        "window = { start = 2026-12-21, end = 2027-01-01 }",
        "cycles.standaard.rounds[2].window",
        "no conversation day from 2026-12-21 to 2027-01-01",
        "2026-12-21",
    ),
    (
        "window outside the school year",
        "window = { start = 2027-02-08, end = 2027-02-12 }",
        "window = { start = 2027-08-02, end = 2027-08-06 }",
        "cycles.standaard.rounds[2].window",
        "is not within school year 2026-2027",
        "2027-08-02",
    ),
    (
        "compulsory vacation moved",
        'region = "midden"',
        'region = "midden"\nvacations = { kerstvakantie = { start = 2026-12-12, end = 2026-12-27 } }',
        "schools[0].vacations",
        "kerstvakantie has compulsory dates",
        "vacations",
    ),
    (
        "misspelt month",
        'window = { month = "oktober" }',
        'window = { month = "oktobr" }',
        "cycles.standaard.rounds[1].window",
        "month 'oktobr' is not a Dutch month name",
        "oktobr",
    ),
    (
        "optional groups outside the round",
        "window = { start = 2027-02-08, end = 2027-02-12 }",
        "window = { start = 2027-02-08, end = 2027-02-12 }\ngroups = [5, 6]\n"
        'participation = "optional"\nmandatory_groups = [7]',
        "cycles.standaard.rounds[2].mandatory_groups",
        "[7] are not among the round's groups [5, 6]",
        "mandatory_groups",
    ),
    (
        "planner closing before it opens",
        "window = { school_week = 2 }",
        "window = { school_week = 2 }\nplanner = { opens_days_before = 3, closes_days_before = 5 }",
        "cycles.standaard.rounds[0].planner",
        "the planner would close before it opens",
        "planner = ",
    ),
    (
        "unknown cycle",
        'planner_api_key = { file = "secrets/planner" }',
        'planner_api_key = { file = "secrets/planner" }\ncycle = "jaarplan"',
        "schools[0].cycle",
        "no cycle named 'jaarplan'; defined: standaard",
        'cycle = "jaarplan"',
    ),
    (
        "unknown template placeholder",
        'window = { month = "oktober" }',
        'window = { month = "oktober" }\ntemplates = { reminder = "Beste ${ouder}, kies een tijd voor ${ronde}." }',
        "cycles.standaard.rounds[1].templates.reminder",
        "unknown placeholder ${ouder}",
        "templates",
    ),
    (
        "between one vacation and itself",
        'window = { month = "oktober" }',
        'window = { after = "herfstvakantie", before = "herfstvakantie" }',
        "cycles.standaard.rounds[1].window",
        "after and before name the same vacation",
        "herfstvakantie",
    ),
    (
        "school week beyond the year",
        "window = { school_week = 2 }",
        "window = { school_week = 44, weeks = 2 }",
        "cycles.standaard.rounds[0].window.school_week",
        "has only",
        "school_week = 44",
    ),
    (
        "school year not consecutive",
        'school_year = { year = "2026-2027" }',
        'school_year = { year = "2026-2028" }',
        "schools[0].school_year",
        "'2026-2028' is not two consecutive years",
        "school_year",
    ),
    (
        "a second colleague that does not say who",
        "slot_minutes = 10\n",
        "slot_minutes = 10\nattendance = { second_colleague = true }\n",
        "cycles.standaard.rounds[0].attendance.second_colleague",
        'true does not say who: write "previous_teacher"',
        "second_colleague = true",
    ),
    (
        "an unknown planner mode",
        "slot_minutes = 10\n",
        'slot_minutes = 10\nplanner = { mode = "voorkeur" }\n',
        "cycles.standaard.rounds[0].planner.mode",
        '\'voorkeur\' is not one of "self_select" or "preferences"',
        'mode = "voorkeur"',
    ),
    (
        "missing base URL",
        'base_url = "http://127.0.0.1:8765"\nclient_id',
        "client_id",
        "pas.base_url",
        "required key is missing",
        "[pas]",
    ),
]


@pytest.mark.parametrize(("old", "new", "key", "words", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_it_names_the_key_the_line_and_the_problem(write_settings, monkeypatch, old, new, key, words, fragment):
    monkeypatch.delenv("CONNECTOR_TEST_UNSET_SECRET", raising=False)
    text = changed(old, new)
    problems = problems_of(write_settings, text)
    matching = [p for p in problems if f": {key}: " in p]
    assert matching, problems
    assert any(words in p for p in matching), problems
    assert any(f"settings.toml:{line_of(text, fragment)}: " in p for p in matching), problems


def test_it_reports_every_problem_at_once(write_settings):
    text = changed('region = "midden"', 'region = "oost"').replace("slot_minutes = 10", "slot_minuten = 10")
    problems = problems_of(write_settings, text)
    assert len(problems) == 2
    assert any("schools[0].region" in p for p in problems) and any("rounds[0].slot_minuten" in p for p in problems)


def test_it_reports_cross_key_problems_together(write_settings):
    text = changed(
        "window = { start = 2027-02-08, end = 2027-02-12 }", "window = { start = 2026-12-21, end = 2027-01-01 }"
    )
    text = text.replace('client_secret = { file = "secrets/pas" }', 'client_secret = { file = "secrets/nope" }')
    problems = problems_of(write_settings, text)
    assert [p.split(": ")[1] for p in problems] == ["pas.client_secret", "cycles.standaard.rounds[2].window"]


def test_broken_toml_names_its_line(write_settings):
    text = VALID_SETTINGS.replace('name = "Basisschool De Test"', 'name = "Basisschool De Test')
    problems = problems_of(write_settings, text)
    assert len(problems) == 1
    assert "not valid TOML" in problems[0] and f"line {line_of(text, 'Basisschool De Test')}" in problems[0]


def test_a_duplicate_brin_names_the_first_use(write_settings):
    second = VALID_SETTINGS[VALID_SETTINGS.index("[[schools]]") : VALID_SETTINGS.index("[cycles.standaard]")]
    problems = problems_of(write_settings, VALID_SETTINGS.replace("[cycles.standaard]", second + "[cycles.standaard]"))
    assert any("schools[1].brin: 12AB00 is already used by schools[0]" in p for p in problems), problems


def test_a_missing_settings_file_says_how_to_point_at_one(tmp_path):
    with pytest.raises(SettingsError) as caught:
        load_settings(tmp_path / "nowhere.toml")
    assert "no such settings file (give --settings PATH or set CONNECTOR_SETTINGS)" in caught.value.lines[0]


def test_the_valid_base_loads(write_settings):
    loaded = load_settings(write_settings())
    assert loaded.settings.schools[0].brin == "12AB00"
    assert loaded.read_secret(loaded.settings.pas.client_secret) == "test-pas-secret"


@pytest.mark.parametrize(
    ("old", "new", "key", "words"),
    [
        ("slot_minutes = 10", 'slot_minutes = "10"', "rounds[0].slot_minutes", "'10' is text: write a whole number"),
        ("slot_minutes = 10", "slot_minutes = 10.0", "rounds[0].slot_minutes", "10.0 is not a whole number: write 10"),
        ("slot_minutes = 10", "slot_minutes = true", "rounds[0].slot_minutes", "true is not a number"),
        ("slot_minutes = 10", 'slot_minutes = "tien"', "rounds[0].slot_minutes", "'tien' is not a whole number"),
        ("[pas]", '[sync]\nmax_removal_share = "0.2"\n\n[pas]', "sync.max_removal_share", "write a number"),
        ("[pas]", '[web]\nenabled = "true"\n\n[pas]', "web.enabled", "'true' is text: write true or false"),
        ("[pas]", "[web]\nenabled = 1\n\n[pas]", "web.enabled", "1: input should be a valid boolean"),
        (
            'kind = "rapport"',
            'kind = "rapport"\ngroups = ["5", 6]',
            "rounds[2].groups[0]",
            "'5' is text: write a whole number without quotes, 5",
        ),
    ],
)
def test_numbers_and_booleans_are_taken_as_written_only(write_settings, old, new, key, words):
    text = changed(old, new)
    problems = problems_of(write_settings, text)
    assert len(problems) == 1, problems
    where, message = problems[0].split(": ", 1)[0], problems[0].split(": ", 2)[2]
    assert problems[0].split(": ")[1].endswith(key) and words in message, problems
    assert where.endswith(f"settings.toml:{line_of(text, new.splitlines()[1 if '[' in new else 0])}"), problems


def test_a_quoted_number_shows_how_to_write_it(write_settings):
    [problem] = problems_of(write_settings, changed("slot_minutes = 10", 'slot_minutes = "10"'))
    assert problem.endswith("'10' is text: write a whole number without quotes, slot_minutes = 10"), problem


def test_a_duplicate_round_id_points_at_the_second_round(write_settings):
    text = VALID_SETTINGS.replace('id = "kind-okt"', 'id = "start"')
    [problem] = problems_of(write_settings, text)
    second = [i for i, line in enumerate(text.splitlines(), start=1) if line == 'id = "start"'][1]
    assert f"settings.toml:{second}: cycles.standaard.rounds[1].id: round id 'start' is already used by rounds[0]" in (
        problem
    ), problem


def test_problems_are_listed_in_the_order_of_their_lines(write_settings, monkeypatch):
    # The round's problem is found by the model pass, the secret's and the school's by later checks.
    monkeypatch.delenv("CONNECTOR_TEST_UNSET_SECRET", raising=False)
    text = changed(
        "window = { start = 2027-02-08, end = 2027-02-12 }", "window = { start = 2026-12-21, end = 2027-01-01 }"
    )
    text = text.replace('planner_api_key = { file = "secrets/planner" }', 'planner_api_key = { file = "secrets/no" }')
    text = text.replace(
        'client_secret = { file = "secrets/pas" }', 'client_secret = { env = "CONNECTOR_TEST_UNSET_SECRET" }'
    )
    text = text.replace('id = "kind-okt"', 'id = "start"')
    problems = problems_of(write_settings, text)
    lines = [int(p.split(":")[1]) for p in problems]
    assert len(problems) == 4 and lines == sorted(lines), problems
    assert [p.split(": ")[1] for p in problems] == [
        "pas.client_secret",
        "schools[0].planner_api_key",
        "cycles.standaard.rounds[1].id",
        "cycles.standaard.rounds[2].window",
    ]


VACATION_GUESSES = [
    'vacations = { herfstvakantie = "2026-10-19/2026-10-23" }',
    'vacations = { herfstvakantie = ["2026-10-19", "2026-10-23"] }',
    "vacations = [{ start = 2026-10-19, end = 2026-10-23 }]",
    "vacations = { herfstvakantie = { from = 2026-10-19, to = 2026-10-23 } }",
    'vacations = { herfstvakantie = { start = "19-10-2026", end = 2026-10-23 } }',
]


@pytest.mark.parametrize("guess", VACATION_GUESSES)
def test_a_wrong_vacations_guess_is_shown_the_right_form(write_settings, guess):
    text = changed('region = "midden"', f'region = "midden"\n{guess}')
    problems = problems_of(write_settings, text)
    assert problems and all("schools[0].vacations" in p for p in problems), problems
    assert all("vacations = { herfstvakantie = { start = 2026-10-17, end = 2026-10-25 } }" in p for p in problems)
    assert not any("valid dictionary" in p or "instance of DateRange" in p for p in problems), problems
    assert all(f"settings.toml:{line_of(text, 'vacations')}: " in p for p in problems), problems


def test_the_documented_vacations_form_is_valid(write_settings):
    text = changed(
        'region = "midden"',
        'region = "midden"\nvacations = { herfstvakantie = { start = 2026-10-17, end = 2026-10-25 } }',
    )
    loaded = load_settings(write_settings(text))
    dates = loaded.settings.schools[0].vacations["herfstvakantie"]
    assert (str(dates.start), str(dates.end)) == ("2026-10-17", "2026-10-25")


def test_a_template_file_not_utf8_names_its_line_and_column(write_settings, settings_dir):
    (settings_dir / "reminder.txt").write_bytes(
        "Beste ouder,\nkies een tijd voor ${ronde} op één dag.\n".encode("latin-1")
    )
    text = changed(
        'window = { month = "oktober" }',
        'window = { month = "oktober" }\ntemplates = { reminder = { file = "reminder.txt" } }',
    )
    [problem] = problems_of(write_settings, text)
    column = "kies een tijd voor ${ronde} op één dag.".index("é") + 1
    assert f"template file reminder.txt, line 2: byte 0xe9 at column {column} is not UTF-8" in problem, problem


def test_a_byte_that_is_not_utf8_is_named_by_line_and_column_in_characters(write_settings):
    # "Eëntje" is UTF-8 (ë is two bytes), the é after it Latin-1: the column counts ë once, as an editor does.
    path = write_settings()
    text = VALID_SETTINGS.replace('name = "Basisschool De Test"', 'name = "Eëntje café"')
    line = line_of(text, "Eëntje")
    before, after = text.split("café", 1)
    path.write_bytes(before.encode("utf-8") + "café".encode("latin-1") + after.encode("utf-8"))
    with pytest.raises(SettingsError) as caught:
        load_settings(path)
    column = 'name = "Eëntje café"'.index("é") + 1
    assert caught.value.lines == [
        f"{path}:{line}: byte 0xe9 at column {column} is not UTF-8; the file must be UTF-8 "
        "(saved as Latin-1 or Windows-1252? convert it, e.g. iconv -f windows-1252 -t utf-8)"
    ]
