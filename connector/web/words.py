"""Dutch words for what the query layer returns in codes: jobs, outcomes, stages, levels, and
local times. A person on the page reads words and the school's local time, never a job key, a
UTC timestamp or a raw id where a word serves (issue W2-5)."""

from __future__ import annotations

from datetime import date, datetime, tzinfo

from connector.engine.jobs import JOBS
from connector.engine.messages import MONTHS  # the Dutch month names the parents' messages use

DAYS = ("ma", "di", "wo", "do", "vr", "za", "zo")

JOB_WORDS = {
    "roster": "leerlingen, groepen en leerkrachten inlezen",
    "planners": "planners openen",
    "bookings": "boekingen ophalen",
    "reminders": "herinneringen aan ouders",
    "close": "planners sluiten en leerkrachten informeren",
    "verslagen": "verslagen controleren",
    "missed": "gemiste planners melden",
    "retention": "oude gegevens opruimen",
    "overview": "weekoverzicht aan directie en IB",
}
DONE_WORDS = {
    "roster": "leerlingen, groepen en leerkrachten ingelezen",
    "planners": "planners geopend",
    "bookings": "boekingen opgehaald",
    "reminders": "herinneringen verstuurd",
    "close": "planners gesloten, leerkrachten geïnformeerd",
    "verslagen": "verslagen gecontroleerd",
    "missed": "gemiste planners gemeld",
    "retention": "oude gegevens opgeruimd",
    "overview": "weekoverzicht verstuurd",
}
OUTCOME_WORDS = {
    "ok": "gelukt",
    "partial": "deels gelukt",
    "failed": "mislukt",
    "interrupted": "onderbroken",
    "running": "bezig",
    "nothing due": "niets te doen",
    "held": "wacht op een persoon",
}
TRIGGER_WORDS = {
    "manual": "met de hand",
    "daemon": "automatisch",
    "run-due": "met de hand (run-due)",
    "retention": "opschonen",
    "demo": "demo",
    "schedule": "automatisch",
    "startup": "bij het starten",
}
LEVEL_WORDS = {"debug": "detail", "info": "info", "warning": "waarschuwing", "error": "fout"}
STATUS_WORDS = {
    "on_time": "op tijd",
    "late": "te laat geschreven",
    "missing": "ontbreekt",
    "not_visible": "niet zichtbaar voor ouders",
    "pending": "nog niet beoordeeld",
    "not_required": "geen verslag nodig",
    "not_seen": "niet gezien",
}
CONVERSATION_WORDS = {"main": "gesprek", "extra": "extra gesprek (ondersteuning)", "kindgesprek": "kindgesprek"}
ATTENTION_WORDS = {
    "failed_actions": "Acties bij de planner definitief mislukt",
    "not_linked": "Niet gekoppeld tussen PAS en de planner",
    "failed_runs": "Synchronisaties mislukt of niet afgemaakt",
    "needs_a_person": "Werk wacht op een persoon",
    "planners_short": "Planners met te weinig plekken",
    "records_pending": "Gegevens uit PAS nog niet bruikbaar",
    "verslagen_overdue": "Verslagen te laat",
    "not_seen": "Leerlingen niet gezien",
}
COUNT_WORDS = {
    "bookings seen": "boekingen gezien",
    "cancelled notices sent": "berichten over geannuleerde planners",
    "children assigned": "kinderen ingedeeld",
    "conversations held": "gesprekken gehouden",
    "conversations scheduled": "gesprekken ingepland",
    "families to contact": "gezinnen te benaderen",
    "needs a person": "wacht op een persoon",
    "not linked": "niet gekoppeld",
    "overviews sent": "weekoverzichten verstuurd",
    "planners cancelled": "planners geannuleerd",
    "planners opened": "planners geopend",
    "postponed": "uitgesteld",
    "pupils archived": "leerlingen uitgeschreven",
    "pupils changed": "leerlingen gewijzigd",
    "pupils not seen": "leerlingen niet gezien",
    "pupils restored": "leerlingen teruggezet",
    "records failed": "records mislukt",
    "reminders sent": "herinneringen verstuurd",
    "teacher notices sent": "berichten aan leerkrachten",
    "verslag reminders sent": "verslagherinneringen verstuurd",
    "error": "fouten",
    "warning": "waarschuwingen",
    "cannot be invited": "niet uit te nodigen (niet gekoppeld)",
    "verslagen on_time": "verslagen op tijd",
    "verslagen late": "verslagen te laat geschreven",
    "verslagen missing": "verslagen ontbreken",
    "verslagen not_visible": "verslagen niet zichtbaar voor ouders",
    "invited": "uitgenodigd",
}
PURGED_WORDS = {
    "pupils": "leerlingen",
    "guardians": "ouders",
    "conversations": "gesprekken",
    "verslag checks": "verslagcontroles",
    "planner invitees": "uitnodigingen",
    "bookings": "boekingen",
    "pupil guardians": "koppelingen leerling-ouder",
    "notes": "notitiegegevens",
    "identity links": "koppelingen PAS-planner",
    "sync events": "logregels",
    "sync runs": "synchronisaties",
    "intents": "vastgelegde acties",
    "reminders sent": "verstuurde herinneringen",
}
HOLDER_WORDS = {
    "the daemon": "de dienst zelf (de daemon)",
    "a manual sync": "een synchronisatie met de hand",
    "run-due": "een synchronisatie met de hand (run-due)",
    "a purge": "het opschonen van oude gegevens",
}
ACTION_WORDS = {
    "planner opened": "planner geopend",
    "planner cancelled": "planner geannuleerd in de app",
    "planner failed": "planner niet geopend",
    "planner skipped": "planner overgeslagen",
    "planner warning": "waarschuwing bij een planner",
    "planners failed": "planners niet geopend",
    "conversations recorded": "gesprekken vastgelegd",
    "not linked": "niet gekoppeld",
    "records pending": "gegevens uit PAS nog niet bruikbaar",
    "records resolved": "gegevens uit PAS weer bruikbaar",
    "record failed": "een record kon niet worden verwerkt",
    "reminder warning": "waarschuwing bij een herinnering",
    "schedule solved": "indeling gemaakt",
    "teacher notice failed": "bericht aan leerkracht niet verstuurd",
    "roster refused": "inlezen geweigerd (te veel verwijderingen)",
    "retention": "oude gegevens opgeruimd",
    "purge failed": "opruimen mislukt",
    "reminder sent": "herinnering verstuurd",
    "teacher notice sent": "bericht aan leerkracht verstuurd",
    "cancelled notice sent": "bericht over een geannuleerde planner verstuurd",
    "overview sent": "weekoverzicht verstuurd",
    "verslag reminder sent": "verslagherinnering verstuurd",
}
_ACTION_ENDINGS = {
    " postponed": "uitgesteld",
    " failed": "mislukt",
    " needs a person": "wacht op een persoon",
    " reconciled": "nagekeken bij de leverancier",
    " unknown": "uitkomst onbekend",
}
#: A job key's first part (`open` of `open:12AB00:2026-2027:start`) -> the job's name.
_PREFIX = {job.key.split(":", 1)[0]: job.name for job in JOBS}


def job_word(job: str) -> str:
    return JOB_WORDS.get(job, job)


def action_word(action: str) -> str:
    """What a run log event is about: `planner opened` -> "planner geopend", `bookings postponed` ->
    "boekingen ophalen: uitgesteld"; an action without a Dutch word as it is."""
    if action in ACTION_WORDS:
        return ACTION_WORDS[action]
    for ending, word in _ACTION_ENDINGS.items():
        if action.endswith(ending):
            what = action[: -len(ending)]
            return f"{JOB_WORDS.get(what, what)}: {word}"
    return action


def outcome_word(outcome: str | None) -> str:
    return OUTCOME_WORDS.get(outcome or "", outcome or "")


def trigger_word(trigger: str) -> str:
    return TRIGGER_WORDS.get(trigger, trigger)


def count_word(name: str) -> str:
    """A run's count in words: `reminders sent` -> "herinneringen verstuurd", `purged pupils` ->
    "opgeruimd: leerlingen"; a count without a word as it is."""
    if name in COUNT_WORDS:
        return COUNT_WORDS[name]
    what, _, rest = name.partition(" ")
    if what == "purged":
        return f"opgeruimd: {PURGED_WORDS.get(rest, rest)}"
    return name


def holder_word(description: str) -> str:
    if description.startswith("a sync from the web page"):
        return "een synchronisatie vanaf deze pagina"
    return HOLDER_WORDS.get(description, "een ander proces")


def task_words(key: str, round_names: dict[str, str]) -> str:
    """A done or postponed task in words: `open:12AB00:2026-2027:start` -> "planners geopend
    (Startgesprekken)"; a round's id is named by its name, a day or week key only by its job."""
    parts = key.split(":")
    job = _PREFIX.get(parts[0], parts[0])
    word = DONE_WORDS.get(job, job)
    if len(parts) >= 4 and parts[3] in round_names:
        return f"{word} ({round_names[parts[3]]})"
    return word


def _as_datetime(moment: datetime | str) -> datetime:
    return datetime.fromisoformat(moment) if isinstance(moment, str) else moment


def when(moment: datetime | str | None, zone: tzinfo, *, weekday: bool = True) -> str:
    """A moment in the school's time, in Dutch: "di 1 december 2026 om 18:02"."""
    if moment is None or moment == "":
        return "nooit"
    local = _as_datetime(moment).astimezone(zone)
    return f"{day(local.date(), weekday=weekday)} om {local:%H:%M}"


def day(value: date | str, *, weekday: bool = True) -> str:
    """A date in Dutch: "ma 7 september 2026"."""
    d = date.fromisoformat(value) if isinstance(value, str) else value
    text = f"{d.day} {MONTHS[d.month - 1]} {d.year}"
    return f"{DAYS[d.weekday()]} {text}" if weekday else text


def span(first: date | str, last: date | str) -> str:
    """A window of days: "7 t/m 11 september 2026", "28 september t/m 2 oktober 2026"."""
    a = date.fromisoformat(first) if isinstance(first, str) else first
    b = date.fromisoformat(last) if isinstance(last, str) else last
    if a == b:
        return day(a, weekday=False)
    if (a.year, a.month) == (b.year, b.month):
        return f"{a.day} t/m {b.day} {MONTHS[b.month - 1]} {b.year}"
    if a.year == b.year:
        return f"{a.day} {MONTHS[a.month - 1]} t/m {b.day} {MONTHS[b.month - 1]} {b.year}"
    return f"{day(a, weekday=False)} t/m {day(b, weekday=False)}"


def ago(seconds: float | None) -> str:
    """How long ago, in Dutch: "zojuist", "3 minuten geleden", "2 uur geleden", "4 dagen geleden"."""
    if seconds is None:
        return ""
    if seconds < 60:
        return "zojuist"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} {'minuut' if minutes == 1 else 'minuten'} geleden"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} uur geleden"
    return f"{hours // 24} dagen geleden"


def stage_words(stage: str, at: str, zone: tzinfo, *, has_planner: bool) -> str:
    """Where a round stands (`review.status.STAGES`), in a Dutch sentence."""
    if stage == "before_service":
        return "was al voorbij toen de dienst begon (niet beoordeeld)"
    if stage == "not_started":
        what = "de planner gaat open" if has_planner else "de gesprekken beginnen"
        return f"nog niet begonnen; {what} {when(at, zone)}"
    if stage == "released":
        return f"planner open voor gezinnen met meer kinderen, voor iedereen tot {when(at, zone)}"
    if stage == "open":
        return f"planner open tot {when(at, zone)}"
    if stage == "conversations":
        return f"gesprekken tot en met {day(at)}"
    if stage == "verslagen_due":
        return f"verslagen uiterlijk {day(at)}"
    if stage == "finished":
        return f"afgerond (verslagen waren uiterlijk {day(at)} nodig)"
    return stage
