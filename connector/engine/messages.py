"""The Dutch texts that parents and staff read: invitation, reminder, teacher notices.

The wording around the template's placeholders lives in the editable templates
(`connector/templates/`, or a school's own in its settings); this module only fills them in.
Dates are written out in Dutch here, so the result does not depend on the server's locale.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from string import Template

from connector.cycle.settings.models import Participation, PlannerMode, Round, RoundKind
from connector.cycle.settings.templates import render, template_text

DAYS = ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag")
MONTHS = (
    "januari",
    "februari",
    "maart",
    "april",
    "mei",
    "juni",
    "juli",
    "augustus",
    "september",
    "oktober",
    "november",
    "december",
)
DEFAULT_PURPOSE = {
    RoundKind.START: "Kennismaken en afspraken maken over de samenwerking dit schooljaar.",
    RoundKind.LUISTER: "Wij horen graag van u wat uw kind nodig heeft.",
    RoundKind.RAPPORT: "Het rapport en de ontwikkeling van uw kind.",
    RoundKind.ONTWIKKELING: "De ontwikkeling van uw kind.",
    RoundKind.VERVOLG: "De voortgang van uw kind en onze afspraken.",
    RoundKind.AFRONDING: "Terugblik op het schooljaar en de overdracht naar de volgende groep.",
    RoundKind.VERWIJZING: "De verwijzing naar het voortgezet onderwijs.",
    RoundKind.ADVIES: "Het schooladvies voor het voortgezet onderwijs.",
    RoundKind.HUISBEZOEK: "Kennismaken bij u thuis.",
    RoundKind.OVERIG: "Een gesprek over uw kind.",
    RoundKind.KIND: "Een gesprek met uw kind.",
}


CHOOSING = {
    PlannerMode.SELF_SELECT: "een tijd kiezen",
    PlannerMode.PREFERENCES: "aangeven wanneer u kunt (kies alle tijden die u passen); daarna plannen wij de "
    "gesprekken en ziet u uw tijd in de app",
}


NOT_YET = {PlannerMode.SELF_SELECT: "geen tijd gekozen", PlannerMode.PREFERENCES: "niet aangegeven wanneer u kunt"}
ASKED = {
    PlannerMode.SELF_SELECT: "Kiest u alstublieft een tijd die u past.",
    PlannerMode.PREFERENCES: "Geeft u alstublieft alle tijden aan die u passen; daarna plannen wij de gesprekken.",
}


def dutch_date(day: date) -> str:
    """`maandag 7 september`."""
    return f"{DAYS[day.weekday()]} {day.day} {MONTHS[day.month - 1]}"


def dutch_moment(moment: datetime) -> str:
    """`zondag 6 september om 17:00`."""
    return f"{dutch_date(moment.date())} om {moment:%H:%M}"


def period(days: tuple[date, ...]) -> str:
    """`maandag 7 september tot en met vrijdag 11 september`."""
    return f"{dutch_date(days[0])} tot en met {dutch_date(days[-1])}" if len(days) > 1 else dutch_date(days[0])


def _groups_text(groups: list[int]) -> str:
    return (
        "groep " + " en ".join(str(g) for g in groups)
        if len(groups) <= 2
        else "groep " + ", ".join(str(g) for g in groups[:-1]) + f" en {groups[-1]}"
    )


def attendance_text(rnd: Round, leerjaren: list[int], *, ib: bool = False, colleague: bool = False) -> str:
    """Who attends, as the invitation must say (domain.md: parents are told when experts join): the
    IB and the second colleague only to the families whose conversation they are on."""
    parts = ["u (beide ouders/verzorgers zijn welkom)", "de leerkracht"]
    child_from = rnd.attendance.child_from_leerjaar
    if child_from is not None:
        with_child = [g for g in leerjaren if g >= child_from]
        if with_child == leerjaren:
            parts.insert(1, "uw kind")
        elif with_child:
            parts.insert(1, f"uw kind (in {_groups_text(with_child)})")
    text = ", ".join(parts[:-1]) + " en " + parts[-1]
    if colleague:
        text += ". Er is ook een tweede collega bij het gesprek"
    if ib:
        text += ". Omdat uw kind extra ondersteuning krijgt, is ook de intern begeleider bij dit gesprek"
    return text


def participation_text(rnd: Round, leerjaren: list[int]) -> str:
    if rnd.participation is Participation.MANDATORY:
        return "Wij verwachten alle ouders."
    must = [g for g in leerjaren if rnd.is_mandatory_for(g)]
    text = "Dit gesprek is facultatief: u bent welkom als u of de leerkracht dat wenst."
    if must:
        text += f" Voor {_groups_text(must)} verwachten wij alle ouders."
    return text


def invitation(
    rnd: Round,
    base,
    *,
    group_name: str,
    leerjaren: list[int],
    days: tuple[date, ...],
    closes: datetime,
    school: str,
    ib: bool = False,
    colleague: bool = False,
) -> str:
    return render(
        "invitation",
        rnd.templates.invitation,
        base,
        {
            "ronde": rnd.name.lower(),
            "groep": group_name,
            "doel": rnd.purpose or DEFAULT_PURPOSE[rnd.kind],
            "duur": str(rnd.slot_minutes),
            "vorm": rnd.form,
            "aanwezig": attendance_text(rnd, leerjaren, ib=ib, colleague=colleague),
            "periode": period(days),
            "verplicht": participation_text(rnd, leerjaren),
            "sluiting": dutch_moment(closes),
            "kiezen": CHOOSING[rnd.planner.mode],
            "school": school,
        },
    )[:5000]


def time_left(now: datetime, closes: datetime) -> str:
    """`morgen`, `over 3 dagen`: how soon the planner closes, in the parents' words."""
    days = (closes.date() - now.astimezone(closes.tzinfo).date()).days
    return {0: "vandaag", 1: "morgen"}.get(days, f"over {days} dagen")


def _names(children: Sequence[str]) -> str:
    if not children:
        return ""
    return children[0] if len(children) == 1 else ", ".join(children[:-1]) + " en " + children[-1]


def reminder(
    rnd: Round,
    base,
    *,
    children: Sequence[str],
    now: datetime,
    closes: datetime,
    school: str,
    extra: Sequence[str] = (),
) -> str:
    """One family's reminder: `children` still have to book the round's conversation, `extra` the
    extra conversation about their support (the OPP planner, `planners._group_plans`). A child may
    be in both. `${gesprekken}` says which child has to book which (`reminder_round` and
    `reminder_extra`); `${kinderen}` names every child once."""
    rnd_name = rnd.name.lower()
    parts = [
        render(kind, None, base, {"ronde": rnd_name, "kinderen": _names(names)}).strip()
        for kind, names in (("reminder_round", children), ("reminder_extra", extra))
        if names
    ]
    values = {
        "ronde": rnd_name,
        "kinderen": _names(list(dict.fromkeys([*children, *extra]))),
        "gesprekken": ", en ".join(parts),
        "gekozen": NOT_YET[rnd.planner.mode],
        "vraag": ASKED[rnd.planner.mode],
        "nog": time_left(now, closes),
        "sluiting": dutch_moment(closes),
        "school": school,
    }
    template = None if extra and not names_conversations(rnd, base) else rnd.templates.reminder
    return render("reminder", template, base, values)[:10000]


def names_conversations(rnd: Round, base) -> bool:
    """Whether the round's reminder says which conversation a child has to book: the built-in one
    does; a school's own only with `${gesprekken}`. Without it, a reminder of the extra conversation
    takes the built-in text rather than call it "the ${ronde}" (a family that just booked that)."""
    template = rnd.templates.reminder
    return template is None or "gesprekken" in Template(template_text("reminder", template, base)).get_identifiers()


def _notice_values(rnd: Round, group_name: str, days: tuple[date, ...], families: list[str], school: str) -> dict:
    return {
        "ronde": rnd.name.lower(),
        "groep": group_name,
        "periode": period(days),
        "gezinnen": "\n".join(f"- {f}" for f in families),
        "aantal": str(len(families)),
        "school": school,
    }


def teacher_notice(
    rnd: Round, base, *, group_name: str, days: tuple[date, ...], families: list[str], school: str
) -> str:
    values = _notice_values(rnd, group_name, days, families, school)
    return render("teacher_notice", rnd.templates.teacher_notice, base, values)[:10000]


def cancelled_notice(
    rnd: Round,
    base,
    *,
    extra: bool,
    group_name: str,
    days: tuple[date, ...],
    families: list[str],
    school: str,
) -> str:
    """To a teacher: the group's planner (`extra`: its OPP extra planner) was cancelled in the
    planner; the invited families, to contact personally."""
    values = _notice_values(rnd, group_name, days, families, school)
    return render("cancelled_notice_extra" if extra else "cancelled_notice", None, base, values)[:10000]
