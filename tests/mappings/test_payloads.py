"""Vendor payloads become domain records; bad records are named and the rest go on."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.domain import PupilStatus
from mappings.payloads import (
    MappingError,
    booking_from_planner,
    child_from_planner,
    map_items,
    note_from_pas,
    pupil_from_pas,
    staff_from_pas,
)

PUPIL = {
    "id": "581207",
    "leerlingnummer": 1207,
    "roepnaam": "Noor",
    "tussenvoegsel": "van 't",
    "achternaam": "Hof",
    "geboortedatum": "2019-03-14",
    "group_id": "71003",
    "leerjaar": 4,
    "status": "uitgeschreven",
    "uitschrijfdatum": "2026-11-06",
    "ondersteuningsniveau": 3,
    "handelingsplan": True,
    "ontwikkelingsperspectief": False,
    "guardians": [
        {
            "id": "900311",
            "roepnaam": "Sanne",
            "tussenvoegsel": "van 't",
            "achternaam": "Hof",
            "email": None,
            "telefoon": "06-12345678",
            "relatie": "moeder",
            "gezag": True,
            "ontvangt_informatie": True,
            "huishouden_id": "HH-4411",
        }
    ],
    "changed_at": "2026-11-06T15:40:00+01:00",
}


def test_it_reads_the_contract_example_and_keeps_no_names():
    pupil = pupil_from_pas(PUPIL)
    assert pupil.pas_id == "581207" and pupil.status is PupilStatus.LEFT and pupil.uitschrijfdatum == date(2026, 11, 6)
    assert pupil.guardians[0].huishouden_id == "HH-4411" and pupil.guardians[0].email is None
    text = repr(pupil)
    assert "Noor" not in text and "Hof" not in text and "06-12345678" not in text


def test_it_ignores_unknown_fields():
    pupil = pupil_from_pas({**PUPIL, "nieuw_veld": {"x": 1}, "status": "ingeschreven", "uitschrijfdatum": None})
    assert pupil.enrolled and pupil.uitschrijfdatum is None


def test_a_bad_record_names_its_id_and_field():
    bad = {**PUPIL, "leerjaar": 9}
    with pytest.raises(MappingError) as err:
        pupil_from_pas(bad)
    assert str(err.value) == "PAS pupil 581207: leerjaar: expected a whole number from 1 to 8"


def test_one_bad_record_does_not_stop_the_page():
    items = [PUPIL, {**PUPIL, "id": "2", "changed_at": "2026-11-06T15:40:00"}, {**PUPIL, "id": "3"}, "garbage"]
    mapped = map_items("PAS pupil", items, pupil_from_pas)
    assert [p.pas_id for p in mapped.records] == ["581207", "3"]
    assert [e.record_id for e in mapped.errors] == ["2", "?"]
    assert "timestamp has no UTC offset" in str(mapped.errors[0])


def test_staff_e_mail_is_normalised_for_matching_and_unknown_weekdays_ignored():
    staff = staff_from_pas(
        {
            "id": "3106",
            "roepnaam": "M",
            "tussenvoegsel": None,
            "achternaam": "L",
            "email": " M.Linden@School.example ",
            "roles": ["leerkracht"],
            "group_ids": ["71005"],
            "werkdagen": ["ma", "di", "za"],
        }
    )
    assert staff.email == "m.linden@school.example" and staff.werkdagen == ("ma", "di")
    assert "linden" not in repr(staff).lower()


def test_a_note_never_carries_its_body():
    note = note_from_pas(
        {
            "id": "N-1",
            "pupil_id": "581207",
            "category": "Oudergesprek",
            "title": "Gesprek",
            "author_id": "3106",
            "created_at": "2026-11-10T16:00:00+01:00",
            "gespreksdatum": None,
            "zichtbaar_ouderportaal": True,
            "changed_at": "2026-11-10T16:00:00+01:00",
            "body": "vertrouwelijk",
        }
    )
    assert note.visible_to_parents and note.gespreksdatum is None
    assert "vertrouwelijk" not in repr(note) and not hasattr(note, "body")


def test_planner_nulls_are_accepted():
    child = child_from_planner(
        {
            "id": "chd_1",
            "first_name": "Zoë",
            "last_name": "de Vries",
            "external_id": None,
            "group_id": "grp_1",
            "guardian_ids": [],
        }
    )
    assert child.external_id is None
    booking = booking_from_planner(
        {
            "id": "bkg_1",
            "slot_id": "slt_1",
            "child_id": "chd_1",
            "guardian_id": None,
            "status": "booked",
            "created_at": "2026-11-10T16:00:00+01:00",
            "updated_at": "2026-11-10T16:00:00+01:00",
        }
    )
    assert booking.active and booking.guardian_id is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


@given(st.dictionaries(st.sampled_from(list(PUPIL)), json_values, max_size=6))
def test_any_damage_to_a_record_is_a_mapping_error_never_a_crash(damage):
    error: MappingError | None = None
    try:
        pupil_from_pas({**PUPIL, **damage})
    except MappingError as exc:
        error = exc
    assert error is None or error.resource == "PAS pupil"


@given(st.dictionaries(st.text(min_size=1, max_size=20).filter(lambda k: k not in PUPIL), json_values, max_size=5))
def test_unknown_fields_of_any_shape_are_ignored(extra):
    assert pupil_from_pas({**PUPIL, **extra}).pas_id == "581207"
