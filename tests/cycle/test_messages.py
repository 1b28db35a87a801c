"""The Dutch texts parents and teachers read are filled in from the templates."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from connector.cycle.settings.models import Round
from connector.engine import messages

ZONE = ZoneInfo("Europe/Amsterdam")


def rnd(**extra) -> Round:
    return Round.model_validate(
        {"id": "rapport-jun", "name": "Rapportgesprekken", "kind": "rapport", "window": {"month": "juni"}, **extra}
    )


def test_dates_are_written_in_dutch_whatever_the_locale():
    assert messages.dutch_date(date(2026, 9, 7)) == "maandag 7 september"
    assert messages.dutch_moment(datetime(2026, 9, 6, 17, 0, tzinfo=ZONE)) == "zondag 6 september om 17:00"


def test_the_invitation_states_purpose_duration_form_and_who_attends():
    text = messages.invitation(
        rnd(
            attendance={"child_from_leerjaar": 5, "ib_from_ondersteuningsniveau": 3},
            purpose="Het rapport.",
            participation="optional",
            mandatory_groups=[7],
        ),
        Path("."),
        group_name="Groep 6/7",
        leerjaren=[6, 7],
        days=(date(2027, 6, 21), date(2027, 7, 9)),
        closes=datetime(2027, 6, 20, 17, 0, tzinfo=ZONE),
        school="De Regenboog",
    )
    assert "Doel: Het rapport." in text and "Duur: 15 minuten" in text and "Vorm: op school" in text
    assert "uw kind en de leerkracht" in text  # every leerjaar of this group is 5 or higher
    assert "intern begeleider" not in text  # only the IB conversation's invitation says the IB joins
    assert "Dit gesprek is facultatief" in text and "Voor groep 7 verwachten wij alle ouders." in text
    assert "maandag 21 juni tot en met vrijdag 9 juli" in text and "zondag 20 juni om 17:00" in text


def test_only_the_families_whose_conversation_includes_the_ib_or_a_colleague_are_told():
    advice = rnd(attendance={"ib_from_ondersteuningsniveau": 3, "second_colleague": "3112"})
    common = {
        "group_name": "Groep 8",
        "leerjaren": [8],
        "days": (date(2027, 2, 8),),
        "closes": datetime(2027, 2, 1, 17, 0, tzinfo=ZONE),
        "school": "X",
    }
    with_ib = messages.invitation(advice, Path("."), ib=True, **common)
    with_colleague = messages.invitation(advice, Path("."), colleague=True, **common)
    assert "is ook de intern begeleider bij dit gesprek" in with_ib and "tweede collega" not in with_ib
    assert "tweede collega" in with_colleague and "intern begeleider" not in with_colleague


def test_a_preferences_round_asks_when_the_family_can_instead_of_a_time():
    text = messages.invitation(
        rnd(planner={"mode": "preferences"}),
        Path("."),
        group_name="Groep 5",
        leerjaren=[5],
        days=(date(2027, 2, 8),),
        closes=datetime(2027, 2, 1, 17, 0, tzinfo=ZONE),
        school="X",
    )
    assert "aangeven wanneer u kunt" in text and "een tijd kiezen" not in text


def test_a_preferences_reminder_asks_when_the_family_can():
    closes = datetime(2027, 6, 20, 17, 0, tzinfo=ZONE)
    now = datetime(2027, 6, 17, 17, 0, tzinfo=ZONE)
    text = messages.reminder(
        rnd(planner={"mode": "preferences"}), Path("."), children=["Noor"], now=now, closes=closes, school="X"
    )
    assert "nog niet aangegeven wanneer u kunt" in text and "alle tijden aan die u passen" in text
    assert "Kiest u" not in text


def test_a_reminder_names_every_child_and_how_soon_the_planner_closes():
    closes = datetime(2027, 6, 20, 17, 0, tzinfo=ZONE)
    text = messages.reminder(
        rnd(),
        Path("."),
        children=["Noor", "Daan"],
        now=datetime(2027, 6, 17, 17, 0, tzinfo=ZONE),
        closes=closes,
        school="X",
    )
    assert "Noor en Daan" in text and "sluit over 3 dagen" in text
    tomorrow = messages.reminder(
        rnd(), Path("."), children=["Noor"], now=datetime(2027, 6, 19, 17, 0, tzinfo=ZONE), closes=closes, school="X"
    )
    assert "sluit morgen" in tomorrow


def test_a_school_can_write_its_own_reminder(tmp_path):
    (tmp_path / "herinnering.txt").write_text("Nog even: ${kinderen}, ${ronde}.", encoding="utf-8")
    own = rnd(templates={"reminder": {"file": "herinnering.txt"}})
    text = messages.reminder(
        own,
        tmp_path,
        children=["Zoë"],
        now=datetime(2027, 6, 17, tzinfo=ZONE),
        closes=datetime(2027, 6, 20, tzinfo=ZONE),
        school="X",
    )
    assert text == "Nog even: Zoë, rapportgesprekken."


def test_in_a_combination_group_the_invitation_says_which_children_attend():
    text = messages.attendance_text(rnd(attendance={"child_from_leerjaar": 5}), [4, 5])
    assert text == "u (beide ouders/verzorgers zijn welkom), uw kind (in groep 5) en de leerkracht"
