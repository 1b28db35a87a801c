"""Teachers are reminded of their verslagen, and the director and IB get a weekly overview.

Before a deadline (`sync.verslag_reminder_days_before`) a teacher hears which of their
conversations have no visible verslag yet; the day after it, which are missing or not visible.
Each message has its own intent key, so a catch-up after downtime sends it once and a repeat
never. Pupils are named in the message (read from the administration at sending time only).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import col, select

from connector.cycle.settings.templates import render
from connector.engine.attention import NeedsPerson
from connector.engine.context import Step
from connector.engine.followup import pupil_names
from connector.engine.messages import dutch_date
from connector.engine.outbox import Message
from connector.store.models import Conversation, Pupil, Round, Staff, VerslagCheck

AFTER_WINDOW = 7  # days after a deadline in which a late catch-up still sends the "after" reminder


def _today(step: Step) -> date:
    return step.now.astimezone(ZoneInfo(step.school.timezone)).date()


def plan_teacher_reminders(
    step: Step,
    school_id: int,
    judged: dict[int, str],
    new: list[tuple[Conversation, str | None]],
) -> list[Message]:
    """The verslag reminders due today, on the verdicts just made (`judged`: stored conversation id
    -> outcome) and the conversations about to be stored (`new`, with their outcome)."""
    today = _today(step)
    before = step.engine.settings.sync.verslag_reminder_days_before
    earliest, latest = today - timedelta(days=AFTER_WINDOW), today + timedelta(days=before)
    with step.store.read() as session:
        stored = list(
            session.exec(
                select(Conversation, VerslagCheck.outcome, Pupil.pas_id, Staff)
                .join(Pupil, col(Pupil.id) == Conversation.pupil_id)
                .join(Staff, col(Staff.id) == Conversation.staff_id)
                .outerjoin(VerslagCheck, col(VerslagCheck.conversation_id) == Conversation.id)
                .where(
                    Conversation.school_id == school_id,
                    Conversation.verslag_due_on >= earliest,
                    Conversation.verslag_due_on <= latest,
                    col(Staff.planner_id).is_not(None),
                )
            )
        )
        recent = [(c, outcome) for c, outcome in new if earliest <= c.verslag_due_on <= latest and c.staff_id]
        pupil_query = select(Pupil.id, Pupil.pas_id).where(col(Pupil.id).in_([c.pupil_id for c, _ in recent]))
        pas_of = dict(session.exec(pupil_query).all())
        linked = select(Staff).where(
            col(Staff.id).in_([c.staff_id for c, _ in recent]), col(Staff.planner_id).is_not(None)
        )
        staff_of = {s.id: s for s in session.exec(linked)}
    rows: list[tuple[Conversation, str | None, str, Staff]] = []
    for conversation, checked, pas_id, teacher in stored:
        assert conversation.id is not None  # read from the store
        rows.append((conversation, judged.get(conversation.id, checked), pas_id, teacher))
    rows += [(c, outcome, pas_of[c.pupil_id], staff_of[c.staff_id]) for c, outcome in recent if c.staff_id in staff_of]
    todo: dict[tuple[str, date, str], list[tuple[str, str, str]]] = defaultdict(list)  # (kind, due, staff) -> pupils
    staff_by_pas = {}
    for conversation, outcome, pupil, staff in rows:
        staff_by_pas[staff.pas_id] = staff
        due = conversation.verslag_due_on
        if outcome is None and due - timedelta(days=before) <= today <= due:
            todo[("voor", due, staff.pas_id)].append((pupil, conversation.category, "nog geen verslag"))
        elif outcome in ("missing", "not_visible") and due < today <= due + timedelta(days=AFTER_WINDOW):
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


def plan_overview(step: Step, school_id: int | None, week: str) -> Message | None:
    """The weekly overview for the director and IB: every round so far, and what is overdue per
    teacher. None when there is nothing to report on; NeedsPerson when there is nobody to report to."""
    if school_id is None:
        return None
    today = _today(step)
    with step.store.read() as session:
        rows = list(
            session.exec(
                select(Conversation, VerslagCheck.outcome, Round.round_key, Staff.planner_id)
                .join(Round, col(Round.id) == Conversation.round_id)
                .outerjoin(VerslagCheck, col(VerslagCheck.conversation_id) == Conversation.id)
                .outerjoin(Staff, col(Staff.id) == Conversation.staff_id)
                .where(Conversation.school_id == school_id)
            )
        )
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
            f"school {step.school.brin}: no directeur or intern begeleider is linked in the planner, so the weekly "
            "overview has nobody to go to: give them the role in the planner (or PAS) and link them"
        )
    if not rows:
        return None
    per_round: dict[str, Counter] = defaultdict(Counter)
    overdue: Counter = Counter()
    for conversation, outcome, round_key, teacher in rows:
        per_round[round_key][outcome or ("open" if conversation.verslag_due_on >= today else "missing")] += 1
        if outcome in ("missing", "not_visible") or (outcome is None and conversation.verslag_due_on < today):
            overdue[teacher] += 1
    staff_names = {s["id"]: s.get("name") or s["id"] for s in step.planner.staff()}
    rounds = "\n".join(
        f"- {key}: {sum(c.values())} gesprekken; "
        f"verslagen op tijd {c['on_time']}, te laat {c['late']}, ontbreekt {c['missing']}, "
        f"niet zichtbaar {c['not_visible']}, nog binnen de termijn {c['open']}"
        for key, c in sorted(per_round.items())
    )
    behind = (
        "\n".join(f"- {staff_names.get(t, 'onbekende leerkracht')}: {n}" for t, n in overdue.most_common())
        if overdue
        else "Er zijn geen verslagen over de termijn."
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
                "rondes": rounds,
                "achterstand": "Verslagen over de termijn per leerkracht:\n" + behind if overdue else behind,
                "school": step.school.name,
            },
        ),
    }
    return Message(
        f"overview:{step.school.brin}:{week}",
        body,
        "overview",
        f"{len(rows)} conversations, {sum(overdue.values())} verslagen overdue",
        count="overviews sent",
    )
