"""Each school's status (`connector status`, the web page): its active rounds, each job's last
completion and next due time, and what needs a person. Texts meant for a person are plain
English with the Dutch domain words (verslag, ronde, leerkracht); ids only, never names.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import col, select

from connector.engine import schedule
from connector.engine.context import Engine
from connector.engine.jobs import next_due
from connector.engine.occasions import is_support
from connector.engine.schedule import release_at
from connector.logging_setup import safe_id, safe_text
from connector.review.contact import contact_rows
from connector.review.held import held_attention
from connector.review.pending import pending_attention
from connector.review.rounds import round_summaries
from connector.review.runs import RunView, _iso, _local, find_runs, job_marks
from connector.review.verslagen import OVERDUE, verslag_rows
from connector.store import Store
from connector.store.models import Group, Intent, IntentState, JobMark, Planner, Round, School, UnlinkedRecord

ACTIVE_AFTER_DEADLINE = timedelta(days=14)  # a round stays on `status` this long after its verslag deadline
FAILED_RUNS_WINDOW = timedelta(days=7)
STUCK_AFTER = timedelta(hours=1)  # a run still "running" after this never finished
SHORT_SHOWN = timedelta(days=14)  # a planner short of slots stays on `status` this long after closing


# --- status ---------------------------------------------------------------------------------


def school_status(engine: Engine, school, now: datetime, *, all_rounds: bool = False) -> dict:
    """One school's status: its active rounds, its jobs (last done, next due), and what needs a
    person's attention, each as a plain sentence. `engine` needs no vendor clients."""
    store, settings = engine.store, engine.settings
    plan = engine.school_plan(school)
    zone = ZoneInfo(school.timezone)
    summaries = {s["round"]: s for s in round_summaries(store, _one_school(settings, school))}
    contact = contact_rows(store, settings, brin=school.brin)
    served = served_since(store, school.brin)
    rounds = []
    for rp in plan.rounds:
        summary = dict(summaries.get(rp.round_id) or {})
        phase, active = round_phase(rp, now, zone, served)
        if not (active or all_rounds):
            continue
        stage, stage_at, _ = round_stage(rp, now, zone, served)
        summary.update(
            phase=phase,
            stage=stage,
            stage_at=stage_at,
            active=active,
            verslagen_overdue=sum(summary.get("verslagen", {}).get(k, 0) for k in OVERDUE),
            # Per teacher, the families on their list (`report contact`): PAS ids and reasons, no names.
            to_contact=[
                {k: r[k] for k in ("teacher", "teacher_name", "count", "families")}
                for r in contact
                if r["round"] == rp.round_id
            ],
            **round_dates(rp),
        )
        rounds.append(summary)
    upcoming = min(
        (rp for rp in plan.rounds if _start_of(rp, zone) > now), key=lambda rp: _start_of(rp, zone), default=None
    )
    done, latest = job_marks(store, school.brin, until=now)
    first = school is settings.schools[0]
    due = next_due(schedule.Agenda(school, plan, settings.sync, frozenset(done), first_school=first), now)
    jobs = []
    for job in sorted(
        set(due) | set(latest), key=lambda j: (_JOB_ORDER.index(j) if j in _JOB_ORDER else len(_JOB_ORDER), j)
    ):
        mark = latest.get(job)
        at = due.get(job)
        jobs.append(
            {
                "job": job,
                "last_done_at": _iso(mark.done_at) if mark else None,
                "last_run_id": mark.run_id if mark else None,
                "next_due_at": _iso(at),
                "overdue": bool(at and at <= now),
            }
        )
    runs = [
        r
        for r in find_runs(store, [s.brin for s in settings.schools], brin=school.brin, with_events=False)
        if r.started_at <= now
    ]
    last_ok = next((r for r in runs if r.outcome == "ok"), None)
    return {
        "brin": school.brin,
        "name": school.name,
        "school_year": school.school_year.year,
        "now": _iso(now),
        "rounds": rounds,
        "next_round": {"round": upcoming.round_id, "starts_at": _iso(_start_of(upcoming, zone))} if upcoming else None,
        "jobs": jobs,
        "last_run": runs[0].as_dict() if runs else None,
        "last_successful_run": last_ok.as_dict() if last_ok else None,
        "attention": attention(store, settings, school, now, runs, latest.get("roster")),
    }


_JOB_ORDER = ("roster", "planners", "bookings", "reminders", "close", "verslagen")


def _one_school(settings, school):
    return settings.model_copy(update={"schools": (school,)})


def _start_of(rp, zone: ZoneInfo) -> datetime:
    """When a round begins for the connector: its planner's release, or its window's first day."""
    return release_at(rp) if rp.planner_opens is not None else datetime.combine(rp.window_start, time(0), tzinfo=zone)


def served_since(store: Store, brin: str) -> datetime | None:
    """When the service first read the school's roster (None: not yet)."""
    with store.read() as session:
        return session.exec(select(School.served_since).where(School.brin == brin)).first()


#: Where a round stands, as a code (the web page words it; `round_phase` says it in English):
#: `before_service`, `not_started`, `released` (to families with several children first), `open`,
#: `conversations` (until its window's last day), `verslagen_due`, `finished`.
STAGES = ("before_service", "not_started", "released", "open", "conversations", "verslagen_due", "finished")


def round_stage(rp, now: datetime, zone: ZoneInfo, served: datetime | None = None) -> tuple[str, str, bool]:
    """Where a round stands at `now`: its stage (`STAGES`), the moment or date the stage names
    (ISO: when it starts, until when it lasts, when the verslagen are or were due) and whether
    `status` shows the round (active)."""
    if served is not None and rp.window_end < served.astimezone(zone).date():
        return "before_service", rp.window_end.isoformat(), False
    start = _start_of(rp, zone)
    deadline_end = datetime.combine(rp.verslag_deadline + timedelta(days=1), time(0), tzinfo=zone)
    if now < start:
        return "not_started", _iso(start) or "", False
    if rp.planner_opens is not None and now < rp.planner_closes:
        return ("open" if now >= rp.planner_opens else "released"), _iso(rp.planner_closes) or "", True
    if now.astimezone(zone).date() <= rp.window_end:
        return "conversations", rp.window_end.isoformat(), True
    if now < deadline_end:
        return "verslagen_due", rp.verslag_deadline.isoformat(), True
    return "finished", rp.verslag_deadline.isoformat(), now < deadline_end + ACTIVE_AFTER_DEADLINE


def round_phase(rp, now: datetime, zone: ZoneInfo, served: datetime | None = None) -> tuple[str, bool]:
    """Where a round stands at `now` in plain words, and whether `status` shows it (active)."""
    stage, at, active = round_stage(rp, now, zone, served)
    if stage == "before_service":
        assert served is not None  # only then
        return (
            f"before the service (its window ended {at}, before the first roster sync {_local(served, zone)}): "
            "not judged",
            active,
        )
    if stage == "not_started":
        what = "its planner is released" if rp.planner_opens else "its window starts"
        return f"not started; {what} {_local(datetime.fromisoformat(at), zone)}", active
    if stage in ("open", "released"):
        when = "open" if stage == "open" else "released to families with several children first"
        return f"planner {when} until {_local(datetime.fromisoformat(at), zone)}", active
    if stage == "conversations":
        return f"conversations until {at}", active
    if stage == "verslagen_due":
        return f"verslagen due by {at}", active
    return f"finished (verslagen were due by {at})", active


def round_dates(rp) -> dict:
    """A round's moments on the year plan (ISO): its window, its planner, its verslag deadline."""
    return {
        "window_start": rp.window_start.isoformat(),
        "window_end": rp.window_end.isoformat(),
        "planner_opens_at": _iso(rp.planner_opens),
        "planner_closes_at": _iso(rp.planner_closes),
        "verslag_deadline": rp.verslag_deadline.isoformat(),
    }


# --- what needs a person ------------------------------------------------------------------

_KIND_WORDS = {
    "open_planner": "opening a planner",
    "close_planner": "closing a planner",
    "assign_slots": "posting a preferences round's schedule",
    "send_message": "sending a message",
}


def attention(
    store: Store, settings, school, now: datetime, runs: list[RunView], roster_mark: JobMark | None
) -> list[dict]:
    """What needs a person: failed actions, unlinked records, failed runs, verslagen overdue.

    The vendor ids and error texts in these sentences go through `safe_id`/`safe_text`: an intent's
    error and old events may hold raw vendor text (ANSI escapes, CR LF, any length)."""
    items: list[dict] = []
    brin = school.brin
    zone = ZoneInfo(school.timezone)
    with store.read() as session:
        failed = list(
            session.exec(
                select(Intent)
                .where(Intent.state == IntentState.FAILED_PERMANENT.value, col(Intent.natural_key).contains(f"{brin}:"))
                .order_by(col(Intent.updated_at).desc())
            )
        )
        unlinked = list(
            session.exec(
                select(UnlinkedRecord)
                .join(School, col(School.id) == UnlinkedRecord.school_id)
                .where(School.brin == brin)
                .order_by(col(UnlinkedRecord.id))
            )
        )
    if failed:
        lines = [
            f"{_KIND_WORDS.get(i.kind, i.kind)} ({safe_id(i.natural_key)}): {safe_text(i.error or 'refused')}"
            for i in failed[:5]
        ]
        more = f"; and {len(failed) - 5} more" if len(failed) > 5 else ""
        items.append(
            {
                "kind": "failed_actions",
                "count": len(failed),
                "ids": [safe_id(i.natural_key) for i in failed],
                "message": f"{len(failed)} action(s) at the planner failed for good and will not be retried: "
                + "; ".join(lines)
                + more,
            }
        )
    if unlinked:
        ids = [safe_id(u.record_id) for u in unlinked]
        shown = ", ".join(ids[:8]) + (f" and {len(ids) - 8} more" if len(ids) > 8 else "")
        latest = f" in the latest roster sync ({_local(roster_mark.done_at, zone)})" if roster_mark else ""
        found = max(unlinked, key=lambda u: u.since)
        where = f" (the sync that found the latest: `connector logs --run {found.run_id}`)" if found.run_id else ""
        items.append(
            {
                "kind": "not_linked",
                "count": len(unlinked),
                "ids": ids,
                "run_id": found.run_id,
                "message": f"{len(unlinked)} record(s) are not linked between PAS and the planner{latest}: "
                f"{shown}. Pupils who are not linked cannot be invited; link them in the planner's administration"
                f"{where}.",
            }
        )
    bad = [
        r
        for r in runs
        if (
            r.outcome in ("failed", "partial", "interrupted")
            and r.started_at >= now - FAILED_RUNS_WINDOW
            and r.started_at <= now
        )
        or (r.outcome == "running" and r.started_at < now - STUCK_AFTER)
    ]
    if bad:
        words = {
            "failed": "failed",
            "partial": "partly failed",
            "interrupted": "was interrupted (its process ended before it finished)",
            "running": "never finished",
        }
        lines = [f"run {r.id} ({r.trigger}, {_local(r.started_at, zone)}) {words[r.outcome]}" for r in bad[:5]]
        items.append(
            {
                "kind": "failed_runs",
                "count": len(bad),
                "ids": [r.id for r in bad],
                "message": f"{len(bad)} run(s) in the last {FAILED_RUNS_WINDOW.days} days failed or did not finish: "
                + "; ".join(lines)
                + f". `connector logs --school {brin} --level warning` shows why.",
            }
        )
    items += held_attention(store, brin, zone)
    items += short_attention(store, brin, now)
    pending = pending_attention(store, brin)
    if pending is not None:
        items.append(pending)
    items += verslag_attention(verslag_rows(store, settings, brin=brin), brin)
    return items


def short_attention(store: Store, brin: str, now: datetime) -> list[dict]:
    """Planners of this school year that have fewer slots than invitees (not cancelled), until their
    conversations are over: those families cannot book, and are on the teacher's list at closing."""
    with store.read() as session:
        rows = list(
            session.exec(
                select(Planner, Round.round_key, Group.name)
                .join(School, col(School.id) == Planner.school_id)
                .join(Round, col(Round.id) == Planner.round_id)
                .join(Group, col(Group.id) == Planner.group_id)
                .where(School.brin == brin, col(Planner.short) > 0, col(Planner.status) != "cancelled")
                .order_by(col(Planner.external_ref))
            )
        )
    late = [(p, key, name) for p, key, name in rows if p.closes_at >= now - SHORT_SHOWN]
    if not late:
        return []
    what = "; ".join(
        f"{key} {safe_text(name)}{' (support conversation)' if is_support(p.external_ref) else ''}: {p.short}"
        for p, key, name in late
    )
    return [
        {
            "kind": "planners_short",
            "count": len(late),
            "ids": [safe_id(p.external_ref) for p, _, _ in late],
            "message": f"{len(late)} planner(s) have fewer slots than invitees, so some families cannot book "
            f"(invitees without a slot per planner: {what}). The window cannot hold these conversations with "
            f"the people they need; `connector check-config` says who is short. The families are on the "
            "teacher's list when the planner closes.",
        }
    ]


def _teacher(row: dict) -> str:
    """A teacher as a person reads it: the name, with the PAS id when there is no name."""
    if row["teacher"] is None:
        return "no teacher linked"
    return safe_text(row["teacher_name"]) if row["teacher_name"] else f"PAS id {safe_id(row['teacher'])}"


def verslag_attention(rows: list[dict], brin: str) -> list[dict]:
    """Verslagen overdue, and pupils not seen, per teacher."""
    items = []
    per_teacher: Counter[str] = Counter()
    not_seen: Counter[str] = Counter()
    for row in rows:
        per_teacher[_teacher(row)] += sum(row[name] for name in OVERDUE)
        not_seen[_teacher(row)] += row["not_seen"]
    # A conversation credited to two teachers is in both their rows: the totals count it once.
    statuses = {(r["round"], i["pupil"], i["conversation"]): i["status"] for r in rows for i in r["items"]}
    overdue = Counter(status for status in statuses.values())
    total = sum(overdue[name] for name in OVERDUE)
    both = " (one of a duo group is listed for both its teachers)"
    if total:
        teachers = ", ".join(f"{t}: {n}" for t, n in sorted(per_teacher.items(), key=lambda x: (-x[1], x[0])) if n)
        items.append(
            {
                "kind": "verslagen_overdue",
                "count": total,
                "ids": sorted({r["teacher"] for r in rows if r["teacher"] and any(r[k] for k in OVERDUE)}),
                "message": f"{total} verslag(en) are overdue ({overdue['missing']} missing, "
                f"{overdue['not_visible']} not visible in the ouderportaal); per leerkracht: {teachers}"
                f"{both if sum(per_teacher.values()) > total else ''}. "
                f"`connector report verslagen --school {brin}` lists the pupils.",
            }
        )
    unseen = overdue["not_seen"]
    if unseen:
        teachers = ", ".join(f"{t}: {n}" for t, n in sorted(not_seen.items(), key=lambda x: (-x[1], x[0])) if n)
        items.append(
            {
                "kind": "not_seen",
                "count": unseen,
                "ids": sorted({r["teacher"] for r in rows if r["teacher"] and r["not_seen"]}),
                "message": f"{unseen} conversation(s) of mandatory rounds did not take place (no booking, and no "
                f"verslag dated in the round to show the teacher planned it by hand); per leerkracht: {teachers}"
                f"{both if sum(not_seen.values()) > unseen else ''}. "
                f"`connector report verslagen --school {brin}` lists the pupils.",
            }
        )
    return items
