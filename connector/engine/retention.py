"""Retention (domain.md, Privacy): data of pupils who left is purged after a configurable period.

`plan_purge` says which rows go (`purge_counts` counts them), `purge` deletes them in one write transaction and
records itself as a sync run (trigger "retention", counts only: the ids of purged pupils are not
written to the log that outlives them). What goes:

* pupils whose `archived_at` is older than `retention.left_pupils_days`, and what hangs off
  them: their conversations and verslag checks, planner invitations, bookings, guardian links,
  identity links (PAS id <-> planner id) and the metadata of their notes. The foreign keys
  cascade (ondelete CASCADE on pupil_guardians, planner_invitees, conversations, verslag_checks)
  but the rows are deleted explicitly, child tables first, so the counts are exact and the
  purge does not depend on `PRAGMA foreign_keys`;
* guardians no pupil links to any more (whoever they were, we no longer need them), with their
  identity links; bookings keep no pointer to them;
* sync events and sync runs older than `retention.sync_events_days` (the run log holds ids);
* the intents that name a pupil the store no longer keeps (a reminder's key holds the eldest
  child's PAS id, a late arrival's planner ref the pupils' PAS ids; a planner's and an
  assignment's stored request the planner child ids), once nothing can replay them: the intent
  is settled (confirmed, or failed for good) and its round's window is over. A pending or
  in-flight intent stays, whatever it names: it is what keeps the effect from happening twice;
* the reminders sent (`reminders_sent`: planner + huishouden id) to a household no guardian in
  the store belongs to any more, once the planner's round is over.

An intent or reminder whose round is still on stays until a later purge finds the round over.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import delete, exists, update
from sqlmodel import col, func, select

from connector.engine.runlog import RunLog, bound
from connector.store import Store
from connector.store.models import (
    Booking,
    Conversation,
    Guardian,
    IdentityLink,
    Intent,
    IntentState,
    JobMark,
    Note,
    Planner,
    PlannerInvitee,
    Pupil,
    PupilGuardian,
    ReminderSent,
    Round,
    School,
    SchoolYear,
    SyncEvent,
    SyncRun,
    TeacherNotice,
    UnlinkedRecord,
    VerslagCheck,
)

log = structlog.get_logger("connector.engine.retention")
_CHUNK = 500  # ids per IN (...)
COUNT_NAMES = (
    "pupils",
    "conversations",
    "verslag_checks",
    "planner_invitees",
    "bookings",
    "pupil_guardians",
    "notes",
    "identity_links",
    "guardians",
    "sync_events",
    "sync_runs",
    "intents",
    "reminders_sent",
)
SETTLED = (IntentState.CONFIRMED.value, IntentState.FAILED_PERMANENT.value)
SUPPORT = ("opp", "ib")  # a planner ref's suffixes besides appended PAS ids (engine/occasions.py)


@dataclass(frozen=True)
class PurgePlan:
    """What a purge at `now` removes: row ids per table, and the two cut-off instants."""

    pupils_before: datetime
    events_before: datetime
    pupil_ids: list[int]
    pupil_keys: list[tuple[int, str]]  # (school_id, PAS id) of those pupils
    guardian_ids: list[int]  # guardians left without any pupil once those pupils are gone
    intent_ids: list[int] = field(default_factory=list)  # settled, their round over, naming a pupil gone
    reminder_ids: list[int] = field(default_factory=list)  # to households gone, their round over


def plan_purge(store: Store, settings, now: datetime) -> PurgePlan:
    """Which pupils and guardians a purge at `now` removes (reads only). The run log is the
    evidence of what was done: it is kept `sync_events_days` measured against the real clock too,
    so that a `--now` far ahead (or a clock set wrong) cannot delete it early (issue W2-2)."""
    keep = settings.retention
    pupils_before = now - timedelta(days=keep.left_pupils_days)
    events_before = min(now, datetime.now(UTC)) - timedelta(days=keep.sync_events_days)
    with store.read() as session:
        leavers = list(
            session.exec(
                select(Pupil.id, Pupil.school_id, Pupil.pas_id).where(
                    col(Pupil.archived_at).is_not(None), col(Pupil.archived_at) < pupils_before
                )
            )
        )
        gone = {pupil_id for pupil_id, _, _ in leavers if pupil_id is not None}  # stored rows: never None
        linked = session.exec(select(PupilGuardian.guardian_id, PupilGuardian.pupil_id))
        still_needed = {guardian for guardian, pupil in linked if pupil not in gone}
        guardians = [g for g in session.exec(select(Guardian.id)) if g is not None and g not in still_needed]
        ended = _ended_rounds(session, now)
        intents = _intents_naming_pupils_gone(session, gone, set(ended.values()))
        reminders = _reminders_to_households_gone(session, set(guardians), set(ended))
    return PurgePlan(
        pupils_before,
        events_before,
        sorted(gone),
        [(school, pas) for _, school, pas in leavers],
        sorted(guardians),
        intents,
        reminders,
    )


def _ended_rounds(session, now: datetime) -> dict[int, tuple[str, str, str]]:
    """Per round whose window is over (none of its planners, reminders or assignments can be due
    again): its id and (BRIN, school year, round id)."""
    rows = session.exec(
        select(Round.id, School.brin, SchoolYear.pas_id, Round.round_key)
        .join(School, col(School.id) == Round.school_id)
        .join(SchoolYear, col(SchoolYear.id) == Round.school_year_id)
        .where(col(Round.window_end) < now.date())
    )
    return {round_id: (brin, year, key) for round_id, brin, year, key in rows}


def _round_and_pupils(key: str, payload: dict | None) -> tuple[tuple[str, ...] | None, set[str], set[str]]:
    """An intent's round (BRIN, year, round id), and the PAS ids and planner child ids it names.

    `remind:BRIN:YEAR:ROUND:PAS:moment`; `KIND:sync:BRIN:YEAR:ROUND:GROUP[:opp|:ib][:P1-P2]` (a
    planner's create, open, close and assignments); anything else names no pupil."""
    parts = key.split(":")
    children: set[str] = set()
    if payload:
        children |= {c for c in payload.get("invitee_child_ids") or [] if isinstance(c, str)}
        assigned = (a.get("child_id") for a in payload.get("assignments") or [] if isinstance(a, dict))
        children |= {c for c in assigned if isinstance(c, str)}
    if parts[0] == "remind" and len(parts) >= 6:
        return tuple(parts[1:4]), {parts[4]}, children
    if parts[1:2] == ["sync"] and len(parts) >= 6:
        named = {pas for part in parts[6:] if part not in SUPPORT for pas in part.split("-")}
        return tuple(parts[2:5]), named, children
    return None, set(), children


def _intents_naming_pupils_gone(session, gone: set[int], ended: set[tuple[str, ...]]) -> list[int]:
    """Settled intents of rounds that are over that name a pupil the store keeps no longer (or
    purges now): by PAS id in the key, or by planner child id in the stored request."""
    kept = [
        (brin, pas, child)
        for pid, brin, pas, child in session.exec(
            select(Pupil.id, School.brin, Pupil.pas_id, Pupil.planner_id).join(
                School, col(School.id) == Pupil.school_id
            )
        )
        if pid not in gone
    ]
    kept_pas = {(brin, pas) for brin, pas, _ in kept}
    kept_children = {child for _, _, child in kept if child}
    out = []
    for intent_id, key, payload in session.exec(
        select(Intent.id, Intent.natural_key, Intent.payload).where(col(Intent.state).in_(SETTLED))
    ):
        round_key, pas_ids, children = _round_and_pupils(key, payload)
        if round_key is None or round_key not in ended:
            continue
        if any((round_key[0], pas) not in kept_pas for pas in pas_ids) or (children - kept_children):
            out.append(intent_id)
    return sorted(out)


def _reminders_to_households_gone(session, guardians_gone: set[int], ended: set[int]) -> list[int]:
    """Reminders sent, for a planner of a round that is over, to a household of no guardian kept."""
    households = {h for g, h in session.exec(select(Guardian.id, Guardian.huishouden_id)) if g not in guardians_gone}
    rows = session.exec(
        select(ReminderSent.id, ReminderSent.huishouden_id, Planner.round_id).join(
            Planner, col(Planner.id) == ReminderSent.planner_id
        )
    )
    return sorted(r for r, house, round_id in rows if house not in households and round_id in ended)


def purge(
    store: Store, settings, now: datetime, *, run: RunLog | None = None, plan: PurgePlan | None = None
) -> dict[str, int]:
    """Purge what the retention settings no longer allow us to keep (what `plan`, or a plan made
    now, says); returns the rows deleted per table. Recorded as a run with trigger "retention",
    unless the caller passes its own `run` (then the events and counts go there and the caller
    finishes it)."""
    own = run is None
    run = run or RunLog(store, trigger="retention", school_id=None, now=now)
    with bound(run):
        try:
            plan = plan or plan_purge(store, settings, now)
            counts = _execute(store, plan, run.id)
        except Exception as exc:
            log.exception("purge crashed")
            run.event("purge failed", exc.__class__.__name__, level="error")
            if own:
                run.finish(now, failed=True)
            raise
        for name in COUNT_NAMES:
            run.counts[f"purged {name.replace('_', ' ')}"] += counts[name]
        run.event("retention", f"purged: {describe(counts, plan)}")
        if own:
            run.finish(now)
    return counts


def describe(counts: dict[str, int], plan: PurgePlan) -> str:
    """The counts that are not zero (or "nothing"), and the limits they follow from."""
    found = ", ".join(f"{counts[n]} {n.replace('_', ' ')}" for n in COUNT_NAMES if counts.get(n))
    return (found or "nothing") + (
        f" (pupils who left before {plan.pupils_before:%Y-%m-%d}, sync log before {plan.events_before:%Y-%m-%d})"
    )


def _rows(session, query) -> int:
    """How many rows `query` selects, counted by the database rather than loaded."""
    return session.exec(select(func.count()).select_from(query.subquery())).one()


def _chunks(ids: list) -> list[list]:
    return [ids[n : n + _CHUNK] for n in range(0, len(ids), _CHUNK)]


def _old_runs(plan: PurgePlan, current_run: str | None):
    return select(SyncRun.id).where(SyncRun.started_at < plan.events_before, SyncRun.id != (current_run or ""))


def purge_counts(store: Store, plan: PurgePlan) -> dict[str, int]:
    """What a purge of `plan` would delete, per table (reads only: `purge --dry-run`)."""
    counts = dict.fromkeys(COUNT_NAMES, 0)
    with store.read() as session:
        for part in _chunks(plan.pupil_ids):
            conversations = select(Conversation.id).where(col(Conversation.pupil_id).in_(part))
            counts["conversations"] += _rows(session, conversations)
            counts["verslag_checks"] += _rows(
                session, select(VerslagCheck.id).where(col(VerslagCheck.conversation_id).in_(conversations))
            )
            counts["planner_invitees"] += _rows(
                session, select(PlannerInvitee.pupil_id).where(col(PlannerInvitee.pupil_id).in_(part))
            )
            counts["bookings"] += _rows(session, select(Booking.id).where(col(Booking.pupil_id).in_(part)))
            counts["pupil_guardians"] += _rows(
                session, select(PupilGuardian.pupil_id).where(col(PupilGuardian.pupil_id).in_(part))
            )
        for school_id, pas_id in plan.pupil_keys:
            counts["notes"] += _rows(
                session, select(Note.id).where(Note.school_id == school_id, Note.pupil_pas_id == pas_id)
            )
            counts["identity_links"] += _rows(
                session,
                select(IdentityLink.id).where(
                    IdentityLink.school_id == school_id,
                    IdentityLink.kind == "child",
                    IdentityLink.pas_id == pas_id,
                ),
            )
        for part in _chunks(plan.guardian_ids):
            pas_ids = list(session.exec(select(Guardian.school_id, Guardian.pas_id).where(col(Guardian.id).in_(part))))
            for school_id, pas_id in pas_ids:
                counts["identity_links"] += _rows(
                    session,
                    select(IdentityLink.id).where(
                        IdentityLink.school_id == school_id,
                        IdentityLink.kind == "guardian",
                        IdentityLink.pas_id == pas_id,
                    ),
                )
        counts["pupils"], counts["guardians"] = len(plan.pupil_ids), len(plan.guardian_ids)
        counts["intents"], counts["reminders_sent"] = len(plan.intent_ids), len(plan.reminder_ids)
        counts["sync_events"] = _rows(session, select(SyncEvent.id).where(SyncEvent.at < plan.events_before))
        counts["sync_runs"] = _rows(session, _old_runs(plan, None))
    return counts


def _execute(store: Store, plan: PurgePlan, current_run: str) -> dict[str, int]:
    """Delete in one transaction, child tables first; returns the rows deleted per table."""
    counts = dict.fromkeys(COUNT_NAMES, 0)
    with store.write() as session:

        def gone(statement) -> int:
            return session.exec(statement).rowcount or 0

        for part in _chunks(plan.pupil_ids):
            conversations = select(Conversation.id).where(col(Conversation.pupil_id).in_(part))
            counts["verslag_checks"] += gone(
                delete(VerslagCheck).where(col(VerslagCheck.conversation_id).in_(conversations))
            )
            counts["conversations"] += gone(delete(Conversation).where(col(Conversation.pupil_id).in_(part)))
            counts["planner_invitees"] += gone(delete(PlannerInvitee).where(col(PlannerInvitee.pupil_id).in_(part)))
            counts["bookings"] += gone(delete(Booking).where(col(Booking.pupil_id).in_(part)))
            counts["pupil_guardians"] += gone(delete(PupilGuardian).where(col(PupilGuardian.pupil_id).in_(part)))
        for school_id, pas_id in plan.pupil_keys:
            counts["notes"] += gone(
                delete(Note).where(col(Note.school_id) == school_id, col(Note.pupil_pas_id) == pas_id)
            )
            counts["identity_links"] += gone(
                delete(IdentityLink).where(
                    col(IdentityLink.school_id) == school_id,
                    col(IdentityLink.kind) == "child",
                    col(IdentityLink.pas_id) == pas_id,
                )
            )
        for part in _chunks(plan.pupil_ids):
            counts["pupils"] += gone(delete(Pupil).where(col(Pupil.id).in_(part)))
        for part in _chunks(plan.guardian_ids):
            # Re-checked inside the write transaction: a roster sync may have linked one meanwhile.
            orphans = [
                g for g in part if not session.exec(select(exists().where(PupilGuardian.guardian_id == g))).one()
            ]
            for school_id, pas_id in session.exec(
                select(Guardian.school_id, Guardian.pas_id).where(col(Guardian.id).in_(orphans))
            ).all():
                counts["identity_links"] += gone(
                    delete(IdentityLink).where(
                        col(IdentityLink.school_id) == school_id,
                        col(IdentityLink.kind) == "guardian",
                        col(IdentityLink.pas_id) == pas_id,
                    )
                )
            session.exec(
                update(Booking)
                .where(col(Booking.guardian_id).in_(orphans))
                .values(guardian_id=None, guardian_planner_id=None)
            )
            counts["guardians"] += gone(delete(Guardian).where(col(Guardian.id).in_(orphans)))
        for part in _chunks(plan.reminder_ids):
            counts["reminders_sent"] += gone(delete(ReminderSent).where(col(ReminderSent.id).in_(part)))
        for part in _chunks(plan.intent_ids):
            # ondelete SET NULL, by hand as above; re-checked settled: a pending intent is never dropped
            for model in (ReminderSent, TeacherNotice):
                session.exec(update(model).where(col(model.intent_id).in_(part)).values(intent_id=None))
            counts["intents"] += gone(delete(Intent).where(col(Intent.id).in_(part), col(Intent.state).in_(SETTLED)))
        counts["sync_events"] += gone(delete(SyncEvent).where(col(SyncEvent.at) < plan.events_before))
        old_runs = list(session.exec(_old_runs(plan, current_run)))
        for part in _chunks(old_runs):
            counts["sync_events"] += gone(delete(SyncEvent).where(col(SyncEvent.run_id).in_(part)))
            for table in (JobMark, Intent, UnlinkedRecord):  # ondelete SET NULL, by hand for the same reason as above
                session.exec(update(table).where(col(table.run_id).in_(part)).values(run_id=None))
            counts["sync_runs"] += gone(delete(SyncRun).where(col(SyncRun.id).in_(part)))
    return counts
