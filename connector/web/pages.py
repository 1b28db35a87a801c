"""What each page shows, read through the query layer (`connector/review/`) and put in Dutch words.

Every figure comes from the function that gives it to the CLI: a school's rounds and what needs
attention from `status.school_status` (`connector status --json`), the conversations per teacher
from `verslagen.verslag_rows` (`report verslagen --format json`), families per teacher from
`contact.contact_rows`, the run log from `runs.find_runs` (`connector logs`), health from
`health.health_report` (`connector health`). Nothing here queries the store itself.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from urllib.parse import quote
from zoneinfo import ZoneInfo

from connector.engine.context import Engine
from connector.logging_setup import safe_id, safe_text
from connector.review.contact import contact_rows, per_teacher
from connector.review.health import health_report
from connector.review.runs import LEVELS, event_dict, find_runs, parse_since
from connector.review.status import school_status
from connector.review.verslagen import OVERDUE, STATUSES, verslag_rows
from connector.web import words

#: The parts of a round's conversations bar, in the order they are drawn.
BAR_PARTS = ("on_time", "late", "not_required", "pending", "not_visible", "missing", "not_seen")
PERIODS = {"1d": "het laatste etmaal", "7d": "de laatste 7 dagen", "30d": "de laatste 30 dagen", "": "alles"}
HEALTH_MAX_AGE = timedelta(minutes=5)  # as `connector health`'s default --max-age


def zone_of(school) -> ZoneInfo:
    return ZoneInfo(school.timezone)


def school_url(brin: str) -> str:
    return f"/school/{quote(brin)}"


def round_url(brin: str, round_id: str) -> str:
    return f"{school_url(brin)}/ronde/{quote(round_id)}"


def teacher_name(row: dict) -> str:
    """A teacher as the page names them: the name PAS gives; the PAS number only without a name."""
    if row["teacher"] is None:
        return "geen leerkracht gekoppeld"
    if row["teacher_name"]:
        return safe_text(row["teacher_name"], 200)
    return f"leerkracht zonder naam in PAS (nummer {safe_id(row['teacher'])})"


def pupil(item: dict) -> dict:
    """A pupil as the page shows them: leerlingnummer and group, never a name."""
    return {
        "number": safe_id(item["pupil"]),
        "group": safe_text(item["group"], 100) if item.get("group") else "",
        "conversation": words.CONVERSATION_WORDS.get(item["conversation"], item["conversation"]),
        "held_on": words.day(item["held_on"]) if item["held_on"] else "",
        "due_on": words.day(item["verslag_due_on"]),
        "status": item["status"],
        "status_word": words.STATUS_WORDS.get(item["status"], item["status"]),
    }


# --- rounds ----------------------------------------------------------------------------------


def bar(parts: list[tuple[str, str, int]]) -> list[dict]:
    """The segments of a bar (x and width in percent of the whole) for (key, label, count) parts."""
    total = sum(count for _, _, count in parts)
    out, x = [], 0.0
    for key, label, count in parts:
        if not count:
            continue
        width = 100.0 * count / total
        out.append({"key": key, "label": label, "count": count, "x": round(x, 3), "width": round(width, 3)})
        x += width
    return out


def round_view(summary: dict, school) -> dict:
    """One round of `school_status`'s rounds, for the timeline and the round's page."""
    zone = zone_of(school)
    verslagen = {key: summary.get("verslagen", {}).get(key, 0) for key in STATUSES if key != "not_seen"}
    figures = {
        "invited": summary.get("invited", 0),
        "booked": summary.get("booked", 0),
        "reminders_sent": summary.get("reminders_sent", 0),
        "families_to_contact": summary.get("families_to_contact", 0),
        "conversations": summary.get("conversations", 0),
        "not_seen": summary.get("not_seen", 0),
        "planners_opened": summary.get("planners_opened", 0),
        **verslagen,
    }
    counts = {**verslagen, "not_seen": figures["not_seen"]}
    booked = min(figures["booked"], figures["invited"])
    return {
        "id": summary["round"],
        "name": safe_text(summary.get("name") or summary["round"], 120),
        "url": round_url(school.brin, summary["round"]),
        "window": words.span(summary["window_start"], summary["window_end"]),
        "deadline": words.day(summary["verslag_deadline"]),
        "planner_opens": words.when(summary["planner_opens_at"], zone) if summary.get("planner_opens_at") else None,
        "planner_closes": words.when(summary["planner_closes_at"], zone) if summary.get("planner_closes_at") else None,
        "stage": summary["stage"],
        "stage_words": words.stage_words(
            summary["stage"], summary["stage_at"], zone, has_planner=bool(summary.get("uses_planner"))
        ),
        "active": summary["active"],
        "uses_planner": bool(summary.get("uses_planner")),
        "figures": figures,
        "overdue": summary["verslagen_overdue"],
        "booking_bar": bar([("booked", "geboekt", booked), ("open", "nog niet geboekt", figures["invited"] - booked)]),
        "bar": bar([(key, words.STATUS_WORDS[key], counts[key]) for key in BAR_PARTS]),
    }


def attention_view(items: list[dict]) -> list[dict]:
    return [
        {
            "kind": item["kind"],
            "title": words.ATTENTION_WORDS.get(item["kind"], item["kind"]),
            "count": item["count"],
            "detail": safe_text(item["message"], 2000),
        }
        for item in items
    ]


def last_run_view(run: dict | None, zone: ZoneInfo) -> dict | None:
    if run is None:
        return None
    return {
        "id": run["run_id"],
        "url": f"/synchronisaties/{quote(run['run_id'])}",
        "when": words.when(run["started_at"], zone),
        "outcome": run["outcome"],
        "outcome_word": words.outcome_word(run["outcome"]),
        "trigger_word": words.trigger_word(run["trigger"]),
    }


# --- pages -----------------------------------------------------------------------------------


def board(engine: Engine, now: datetime) -> dict:
    """The board: one row per school, with its active rounds and what needs attention."""
    rows = []
    for school in engine.settings.schools:
        status = school_status(engine, school, now)
        zone = zone_of(school)
        attention = {a["kind"]: a["count"] for a in status["attention"]}
        rounds = [round_view(r, school) for r in status["rounds"]]
        upcoming = status["next_round"]
        names = {r.id: r.name for r in engine.settings.cycle_for(school).rounds}
        rows.append(
            {
                "brin": school.brin,
                "name": school.name,
                "url": school_url(school.brin),
                "school_year": status["school_year"],
                "rounds": rounds,
                "next_round": (
                    {
                        "name": names.get(upcoming["round"], upcoming["round"]),
                        "when": words.when(upcoming["starts_at"], zone),
                    }
                    if upcoming
                    else None
                ),
                "overdue": attention.get("verslagen_overdue", 0),
                "not_seen": attention.get("not_seen", 0),
                "families_to_contact": sum(r["figures"]["families_to_contact"] for r in rounds),
                "attention": len(status["attention"]),
                "last_run": last_run_view(status["last_run"], zone),
            }
        )
    return {"schools": rows}


def school_year(engine: Engine, school, now: datetime) -> dict:
    """A school's year: every round on the timeline with its stage and bars, and what needs attention."""
    status = school_status(engine, school, now, all_rounds=True)
    zone = zone_of(school)
    return {
        "school": {"brin": school.brin, "name": school.name, "url": school_url(school.brin)},
        "school_year": status["school_year"],
        "rounds": [round_view(r, school) for r in status["rounds"]],
        "attention": attention_view(status["attention"]),
        "last_run": last_run_view(status["last_run"], zone),
        "now": words.when(now, zone),
    }


def round_page(engine: Engine, school, round_id: str, now: datetime) -> dict | None:
    """One round: its figures, and per teacher the conversations, verslagen, pupils not seen and
    families to contact. None when the school has no such round."""
    year = school_year(engine, school, now)
    view = next((r for r in year["rounds"] if r["id"] == round_id), None)
    if view is None:
        return None
    rows = verslag_rows(engine.store, engine.settings, brin=school.brin, round_key=round_id)
    families = per_teacher(
        contact_rows(engine.store, engine.settings, brin=school.brin, round_key=round_id), school.brin, round_id
    )
    teachers = []
    for row in rows:
        items = sorted((pupil(i) for i in row["items"]), key=lambda p: (p["number"], p["conversation"]))
        teachers.append(
            {
                "key": row["teacher"] or "",
                "name": teacher_name(row),
                "figures": {
                    "conversations": row["conversations"],
                    **{key: row[key] for key in STATUSES},
                    "families_to_contact": families.get(row["teacher"] or "", {}).get("families", 0),
                },
                "to_act_on": [p for p in items if p["status"] in (*OVERDUE, "not_seen")],
                "pupils": items,
            }
        )
    listed = {t["key"] for t in teachers}
    for pas_id, entry in sorted(families.items()):  # a teacher with families to contact and no conversation yet
        if pas_id not in listed:
            teachers.append(
                {
                    "key": pas_id,
                    "name": teacher_name({"teacher": pas_id, "teacher_name": entry["name"]}),
                    "figures": {
                        "conversations": 0,
                        **dict.fromkeys(STATUSES, 0),
                        "families_to_contact": entry["families"],
                    },
                    "to_act_on": [],
                    "pupils": [],
                }
            )
    return {**year, "round": view, "teachers": teachers}


def overdue(engine: Engine, brin: str | None) -> dict:
    """Verslagen overdue (missing, or not visible in the ouderportaal) per teacher, over the rounds."""
    rows = verslag_rows(engine.store, engine.settings, brin=brin)
    schools = {s.brin: s for s in engine.settings.schools}
    # A round by its name and window: two rounds may share a name (the February and July rapportgesprekken).
    names = {
        (s.brin, rp.round_id): f"{safe_text(rp.round.name, 120)}, {words.span(rp.window_start, rp.window_end)}"
        for s in engine.settings.schools
        for rp in engine.school_plan(s).rounds
    }
    per: dict[tuple[str, str], dict] = {}
    for row in rows:
        late = [pupil(i) for i in row["items"] if i["status"] in OVERDUE]
        if not late:
            continue
        key = (row["brin"], row["teacher"] or "")
        entry = per.setdefault(
            key,
            {
                "name": teacher_name(row),
                "school": schools[row["brin"]].name,
                "key": row["teacher"] or "",
                "brin": row["brin"],
                "missing": 0,
                "not_visible": 0,
                "rounds": defaultdict(list),
            },
        )
        entry["missing"] += row["missing"]
        entry["not_visible"] += row["not_visible"]
        entry["rounds"][names.get((row["brin"], row["round"]), row["round"])].extend(
            sorted(late, key=lambda p: p["number"])
        )
    teachers = sorted(per.values(), key=lambda t: (-(t["missing"] + t["not_visible"]), t["name"]))
    for t in teachers:
        t["rounds"] = dict(t["rounds"])
    return {"teachers": teachers, "brin": brin}


def runs(engine: Engine, *, brin: str | None, level: str | None, period: str, now: datetime, limit: int) -> dict:
    """The sync runs, newest first, filtered as `connector logs --school --level --since` does."""
    settings = engine.settings
    zone = zone_of(settings.schools[0])
    since = parse_since(period, now, zone) if period else None
    found = find_runs(
        engine.store,
        [s.brin for s in settings.schools],
        brin=brin,
        level=level if level in LEVELS else None,
        since=since,
        limit=limit,
        with_events=False,
    )
    schools = {s.brin: s.name for s in settings.schools}
    return {
        "runs": [
            {
                **(last_run_view(r.as_dict(), zone) or {}),
                "school": schools.get(r.brin or "", "alle scholen"),
                "level": r.level,
                "level_word": words.LEVEL_WORDS.get(r.level, r.level),
                "counts": [(words.count_word(k), v) for k, v in sorted(r.counts.items()) if v],
                "events": sum(r.levels.values()),
            }
            for r in found
        ],
        "filters": {"school": brin or "", "level": level or "", "period": period},
        "schools": [(s.brin, s.name) for s in settings.schools],
        "periods": PERIODS,
        "levels": [("", "alle"), ("warning", "waarschuwing of erger"), ("error", "alleen fouten")],
        "limit": limit,
        "zone": zone.key,
    }


def run_page(engine: Engine, run_id: str) -> dict | None:
    """One run with its events; None when there is no such run."""
    from connector.errors import UsageError

    settings = engine.settings
    zone = zone_of(settings.schools[0])
    try:
        [found] = find_runs(engine.store, [s.brin for s in settings.schools], run_id=run_id)
    except (UsageError, ValueError):
        return None
    if found.id != run_id:
        return None  # a prefix: the page links full ids only
    schools = {s.brin: s.name for s in settings.schools}
    events = [event_dict(e) for e in found.events]
    return {
        "run": {
            **(last_run_view(found.as_dict(), zone) or {}),
            "school": schools.get(found.brin or "", "alle scholen"),
            "ended": words.when(found.ended_at, zone) if found.ended_at else "nog niet",
            "counts": [(words.count_word(k), v) for k, v in sorted(found.counts.items()) if v],
        },
        "events": [
            {
                "when": words.when(e["at"], zone),
                "level": e["level"],
                "level_word": words.LEVEL_WORDS.get(e["level"], e["level"]),
                "what": words.action_word(e["action"]),
                "detail": e["message"],
            }
            for e in events
        ],
    }


def health(engine: Engine, *, now: datetime, wall: datetime) -> dict:
    """`connector health`'s report, in words and local times. Its problems are English sentences for
    the ICT coordinator: the page says in Dutch what its structured parts show, and keeps the
    sentences as technical details."""
    report = health_report(engine.loaded, now=now, wall=wall, max_age=HEALTH_MAX_AGE)
    settings = engine.settings
    zone = zone_of(settings.schools[0])
    daemon = report.get("daemon") or {}
    schools = {s.brin: s.name for s in settings.schools}
    last = report.get("last_run")
    return {
        "healthy": report["healthy"],
        "reasons": [] if report["healthy"] else health_reasons(report, zone),
        "problems": [safe_text(p, 2000) for p in report["problems"]],
        "heartbeat": words.when(daemon["heartbeat"], zone) if daemon.get("heartbeat") else None,
        "heartbeat_ago": words.ago(daemon.get("heartbeat_age_seconds")),
        "stopped": words.when(daemon["stopped_at"], zone) if daemon.get("stopped_at") else None,
        "last_success": [(words.job_word(job), words.when(at, zone)) for job, at in report["last_success"].items()],
        "next_due": [
            {
                "school": schools.get(brin, brin),
                "jobs": [
                    (words.job_word(job), "nu" if datetime.fromisoformat(at) <= now else words.when(at, zone))
                    for job, at in sorted(jobs.items(), key=lambda kv: kv[1])
                ],
            }
            for brin, jobs in report["next_due"].items()
        ],
        "failures": [
            {
                "when": words.when(f["started_at"], zone),
                "trigger_word": words.trigger_word(f["trigger"]),
                "outcome_word": words.outcome_word(f["outcome"]),
                "url": f"/synchronisaties/{quote(f['run_id'])}",
            }
            for f in (report.get("failures") or {}).get("recent", [])
        ],
        "last_run": last_run_view(last, zone),
    }


def health_reasons(report: dict, zone: ZoneInfo) -> list[str]:
    """Why the service is unwell, in Dutch, from the report's structured parts."""
    daemon = report.get("daemon") or {}
    reasons = []
    if not daemon:
        reasons.append("De database van de dienst kan niet worden gelezen.")
    elif not daemon.get("heartbeat"):
        reasons.append("De dienst (daemon) draait niet op deze database: er is nog nooit een teken van leven gezien.")
    elif daemon.get("stopped_at") and daemon["stopped_at"] >= daemon["heartbeat"]:
        reasons.append(f"De dienst is gestopt, {words.when(daemon['stopped_at'], zone)}.")
    elif (daemon.get("heartbeat_age_seconds") or 0) > daemon.get("max_age_seconds", 300):
        reasons.append(
            f"Het laatste teken van leven van de dienst is {words.ago(daemon['heartbeat_age_seconds'])}: "
            "hij hangt of is gestopt."
        )
    last = report.get("last_run")
    if last and last["outcome"] == "failed":
        reasons.append(f"De laatste synchronisatie, {words.when(last['started_at'], zone)}, is mislukt.")
    elif last and last["outcome"] == "interrupted":
        reasons.append(f"De laatste synchronisatie, {words.when(last['started_at'], zone)}, is onderbroken.")
    rest = len(report["problems"]) - len(reasons)
    if rest > 0:
        reasons.append(
            f"Er {'is' if rest == 1 else 'zijn'} {rest} {'andere melding' if rest == 1 else 'andere meldingen'}, "
            "bijvoorbeeld werk dat wacht op een persoon of een taak die steeds mislukt: zie de technische details."
        )
    return reasons
