"""Teachers are reminded of their verslagen, and the director and IB get a weekly overview.

Before a deadline (`sync.verslag_reminder_days_before`) a teacher hears which of their
conversations have no visible verslag yet; the day after it, which are missing or not visible.
Each message has its own intent key, so a catch-up after downtime sends it once and a repeat
never. Pupils are named in the message (read from the administration at sending time only).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, timedelta

from sqlmodel import col, select

from connector.cycle.settings.templates import render
from connector.engine.attention import NeedsPerson
from connector.engine.context import Step
from connector.engine.conversations import Record
from connector.engine.followup import pupil_names
from connector.engine.messages import dutch_date
from connector.engine.outbox import Message
from connector.review.verslagen import verslag_rows
from connector.store.models import Staff

AFTER_WINDOW = 7  # days after a deadline in which a late catch-up still sends the "after" reminder


def plan_teacher_reminders(step: Step, judged: list[tuple[Record, str | None, str]]) -> list[Message]:
    """The verslag reminders due today, on today's verdicts: (conversation, outcome or None while
    pending, the pupil's PAS id) of every open conversation. Only on a school day: a reminder whose
    day is not one goes out on the school day before it (the "after" one: on the first school day after
    the deadline)."""
    today = step.local_date()
    calendar = step.engine.school_plan(step.school).calendar
    if not calendar.is_school_day(today):
        return []
    before = step.engine.settings.sync.verslag_reminder_days_before
    with step.store.read() as session:
        staff_ids = {s for c, _, _ in judged for s in c.staff_ids}
        linked = select(Staff).where(col(Staff.id).in_(staff_ids), col(Staff.planner_id).is_not(None))
        staff_of = {s.id: s for s in session.exec(linked)}
    rows = [(c, outcome, pupil, staff_of[s]) for c, outcome, pupil in judged for s in c.staff_ids if s in staff_of]
    todo: dict[tuple[str, date, str], list[tuple[str, str, str]]] = defaultdict(list)  # (kind, due, staff) -> pupils
    staff_by_pas = {}
    for conversation, outcome, pupil, staff in rows:
        staff_by_pas[staff.pas_id] = staff
        due = conversation.verslag_due_on
        if outcome is None and (calendar.previous_school_day(due - timedelta(days=before)) or due) <= today <= due:
            todo[("voor", due, staff.pas_id)].append((pupil, conversation.category, "nog geen verslag"))
        elif outcome in ("missing", "not_visible") and due < today <= _first_school_day_after(
            calendar, due
        ) + timedelta(days=AFTER_WINDOW):
            todo[("na", due, staff.pas_id)].append(
                (pupil, conversation.category, "ontbreekt" if outcome == "missing" else "niet zichtbaar voor ouders")
            )
    if not todo:
        return []
    names = pupil_names(step)
    planned = []
    for (kind, due, staff_pas), pupils in sorted(todo.items()):
        staff = staff_by_pas[staff_pas]
        if kind == "voor":
            stand = f"Voor deze leerlingen staat nog geen zichtbaar verslag; de termijn loopt af op {dutch_date(due)}:"
        else:
            stand = f"De termijn voor deze verslagen liep af op {dutch_date(due)}:"
        lines = "\n".join(f"- {names.get(p, 'leerling ' + p)}: {state}" for p, _, state in sorted(pupils))
        body = {
            "recipients": {"staff_ids": [staff.planner_id]},
            "subject": f"Verslagen {'uiterlijk' if kind == 'voor' else 'te laat'}: {dutch_date(due)}",
            "body": render(
                "verslag_reminder",
                None,
                step.engine.loaded.path.parent,
                {
                    "stand": stand,
                    "leerlingen": lines,
                    "categorie": " of ".join(sorted({c for _, c, _ in pupils})),
                    "school": step.school.name,
                },
            ),
        }
        planned.append(
            Message(
                f"verslag_{kind}:{step.school.brin}:{staff_pas}:{due.isoformat()}",
                body,
                "verslag reminder",
                f"{len(pupils)} pupil(s)",
                ids=tuple(p for p, _, _ in pupils),
                count="verslag reminders sent",
            )
        )
    return planned


def _first_school_day_after(calendar, day: date) -> date:
    for ahead in range(1, 400):
        if calendar.is_school_day(day + timedelta(days=ahead)):
            return day + timedelta(days=ahead)
    return day + timedelta(days=1)


def plan_overview(step: Step, school_id: int | None, week: str) -> Message | None:
    """The weekly overview for the director and IB: every round so far, and per teacher what is
    overdue and who was not seen. None when there is nothing to report on; NeedsPerson when there
    is nobody to report to."""
    if school_id is None:
        return None
    today = step.local_date()
    with step.store.read() as session:
        readers = [
            s
            for s in session.exec(
                select(Staff).where(
                    Staff.school_id == school_id, col(Staff.archived_at).is_(None), col(Staff.planner_id).is_not(None)
                )
            )
            if {"directeur", "intern_begeleider"} & set(s.roles)
        ]
    if not readers:
        raise NeedsPerson(
            f"school {step.school.brin}: no staff member with the PAS role directeur or intern_begeleider is linked "
            "to the planner, so the weekly overview has nobody to go to: give the director and the IB that role in "
            "PAS (staff roles) and a planner account whose external_id is their PAS id (or with the same e-mail "
            "address); the next roster sync links them"
        )
    rows = verslag_rows(step.store, step.engine.settings, brin=step.school.brin)
    if not rows:
        return None
    names = {r.id: r.name for r in step.engine.settings.cycle_for(step.school).rounds}
    per_round: dict[str, Counter] = {}
    overdue: Counter = Counter()
    unseen: Counter = Counter()
    counted: set[tuple[str, str, str]] = set()  # a conversation of duo teachers is in both rows: counted once
    for row in rows:
        per = per_round.setdefault(row["round"], Counter())
        for item in row["items"]:
            one = (row["round"], item["pupil"], item["conversation"])
            if one not in counted:
                counted.add(one)
                per[item["status"]] += 1
        teacher = row["teacher_name"] or ("onbekende leerkracht" if row["teacher"] else "geen leerkracht gekoppeld")
        overdue[teacher] += sum(row[k] for k in ("missing", "not_visible"))
        unseen[teacher] += row["not_seen"]
    lines = []
    for key, c in per_round.items():
        held = sum(c.values()) - c["not_seen"]
        verslagen = (
            f"verslagen op tijd {c['on_time']}, te laat {c['late']}, ontbreekt {c['missing']}, "
            f"niet zichtbaar {c['not_visible']}, nog binnen de termijn {c['pending']}"
            if held > c["not_required"]
            else "geen verslag nodig"
        )
        lines.append(f"- {names.get(key, key)}: {held} gesprekken, niet gezien {c['not_seen']}; {verslagen}")
    behind = _per_teacher(
        "Verslagen over de termijn per leerkracht:", overdue, "Er zijn geen verslagen over de termijn."
    )
    missed = _per_teacher(
        "Niet gezien per leerkracht:", unseen, "Alle leerlingen van de verplichte rondes zijn gezien."
    )
    body = {
        # `readers` all have a planner id (see the query): the check only narrows the type.
        "recipients": {"staff_ids": sorted(s.planner_id for s in readers if s.planner_id is not None)},
        "subject": f"Overzicht gesprekkencyclus week {week.split('-W')[-1]}",
        "body": render(
            "overview",
            None,
            step.engine.loaded.path.parent,
            {
                "datum": dutch_date(today),
                "rondes": "\n".join(lines),
                "achterstand": behind,
                "niet_gezien": missed,
                "school": step.school.name,
            },
        ),
    }
    return Message(
        f"overview:{step.school.brin}:{week}",
        body,
        "overview",
        f"{len(counted)} conversations, {sum(overdue.values())} verslagen overdue, {sum(unseen.values())} not seen",
        count="overviews sent",
    )


def _per_teacher(title: str, counts: Counter, none: str) -> str:
    if not any(counts.values()):
        return none
    return title + "\n" + "\n".join(f"- {t}: {n}" for t, n in sorted(counts.items(), key=lambda x: (-x[1], x[0])) if n)
