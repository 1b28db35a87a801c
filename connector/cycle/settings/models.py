"""Typed settings: one school or a whole school board, the vendor connections, the cycle.

The models are frozen: settings are validated once at start and read-only afterwards.
Every model forbids unknown keys, because an unknown key in a settings file is a typo.
Checks that need the school calendar (does a window hold any conversation day?) live in
`connector.cycle.settings.semantics`; checks here only need the value itself.
"""

from __future__ import annotations

import re
from datetime import date, time
from enum import StrEnum
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    Tag,
    field_validator,
    model_validator,
)

WEEKDAYS = ("ma", "di", "wo", "do", "vr", "za", "zo")
Weekday = Literal["ma", "di", "wo", "do", "vr", "za", "zo"]
Region = Literal["noord", "midden", "zuid"]
VacationName = Literal["herfstvakantie", "kerstvakantie", "voorjaarsvakantie", "meivakantie", "zomervakantie"]
ADVISORY_VACATIONS = ("herfstvakantie", "voorjaarsvakantie")
MONTHS = {
    "januari": 1,
    "februari": 2,
    "maart": 3,
    "april": 4,
    "mei": 5,
    "juni": 6,
    "juli": 7,
    "augustus": 8,
    "september": 9,
    "oktober": 10,
    "november": 11,
    "december": 12,
}
PREVIOUS_TEACHER = "previous_teacher"
_BRIN = re.compile(r"^[0-9]{2}[A-Z]{2}[0-9]{2}$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
_HOURS = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-3]):([0-5][0-9])$")


class RoundKind(StrEnum):
    """The kinds of conversation a round can hold (domain.md, "Words")."""

    START = "start"
    LUISTER = "luister"
    RAPPORT = "rapport"
    KIND = "kind"
    ONTWIKKELING = "ontwikkeling"
    VERVOLG = "vervolg"
    AFRONDING = "afronding"
    VERWIJZING = "verwijzing"
    ADVIES = "advies"
    HUISBEZOEK = "huisbezoek"
    OVERIG = "overig"


class PlannerMode(StrEnum):
    """How families get their time (contract: "Planner lifecycle")."""

    SELF_SELECT = "self_select"  # each family books a slot
    PREFERENCES = "preferences"  # families state when they can; at closing the service assigns the slots


class Participation(StrEnum):
    MANDATORY = "mandatory"  # every family of the round's groups is expected
    OPTIONAL = "optional"  # by invitation or on the parents' request


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def refuse_dst_gap(value: time, what: str) -> time:
    """Refuse 02:00-02:59: that hour is skipped or repeated on DST days (pitfalls.md)."""
    if value.hour == 2:
        raise ValueError(
            f"{what} {value:%H:%M} is in the hour that daylight saving time skips or repeats; "
            "choose a time outside 02:00-02:59"
        )
    return value


class SecretRef(_Strict):
    """Where a secret lives: an environment variable or a file, never the settings file itself."""

    env: str | None = None
    file: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        if (self.env is None) == (self.file is None):
            raise ValueError('give exactly one of env = "VARIABLE" or file = "path"')
        if self.env is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", self.env):
            raise ValueError(f"env {self.env!r} is not a valid environment variable name")
        return self


class DateRange(_Strict):
    start: date
    end: date
    reason: str | None = None

    @model_validator(mode="after")
    def _ordered(self) -> DateRange:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


class HoursWindow(_Strict):
    """When conversations may be planned: chosen weekdays and one or more time spans."""

    weekdays: tuple[Weekday, ...] = ("ma", "di", "wo", "do", "vr")
    hours: tuple[str, ...] = ("15:00-17:00",)

    @field_validator("weekdays")
    @classmethod
    def _school_days_only(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("list at least one weekday")
        weekend = [d for d in value if d in ("za", "zo")]
        if weekend:
            raise ValueError(f"{', '.join(weekend)}: no conversation is ever planned on a weekend")
        if len(set(value)) != len(value):
            raise ValueError("a weekday is listed twice")
        return value

    @field_validator("hours")
    @classmethod
    def _valid_spans(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError('list at least one time span such as "15:00-17:00"')
        spans = []
        for text in value:
            match = _HOURS.match(text)
            if not match:
                raise ValueError(f'{text!r} is not a time span like "15:00-17:00"')
            h1, m1, h2, m2 = (int(g) for g in match.groups())
            start, end = time(h1, m1), time(h2, m2)
            if end <= start:
                raise ValueError(f"{text!r}: the end is not after the start")
            refuse_dst_gap(start, f"{text!r} starts at")
            if time(2, 0) < end <= time(3, 0) or (start < time(2, 0) and end > time(2, 0)):
                raise ValueError(f"{text!r} runs into 02:00-02:59, the hour that daylight saving time skips or repeats")
            spans.append((start, end, text))
        spans.sort()
        for (_, end_a, a), (start_b, _, b) in zip(spans, spans[1:], strict=False):  # each with the next
            if start_b < end_a:
                raise ValueError(f"{a!r} and {b!r} overlap")
        return value

    def spans(self) -> list[tuple[time, time]]:
        """The time spans as (start, end) pairs, in order."""
        out = []
        for text in self.hours:
            h1, m1, h2, m2 = (int(g) for g in _HOURS.match(text).groups())  # type: ignore[union-attr]
            out.append((time(h1, m1), time(h2, m2)))
        return sorted(out)


class Window(_Strict):
    """A round's conversation window: explicit dates or a rule.

    Forms (exactly one):
    - `start` and `end`: explicit dates;
    - `school_week` (with optional `weeks`): the Nth week of the school year that has school days;
    - `month`: that month within the school year ("oktober" or 10);
    - `after` and/or `before` a vacation: between two vacations, or `weeks` weeks after or before one.
    """

    start: date | None = None
    end: date | None = None
    school_week: Annotated[StrictInt, Field(ge=1, le=45)] | None = None
    month: str | StrictInt | None = None
    after: VacationName | None = None
    before: VacationName | None = None
    weeks: Annotated[StrictInt, Field(ge=1, le=12)] | None = None

    @model_validator(mode="after")
    def _one_form(self) -> Window:
        forms = [
            name
            for name, given in (
                ("start/end", self.start is not None or self.end is not None),
                ("school_week", self.school_week is not None),
                ("month", self.month is not None),
                ("after/before", self.after is not None or self.before is not None),
            )
            if given
        ]
        if len(forms) != 1:
            found = ", ".join(forms) if forms else "none"
            raise ValueError(
                "give exactly one form of window: start/end, school_week, month, or after/before a vacation "
                f"(found: {found})"
            )
        form = forms[0]
        if form == "start/end":
            if self.start is None or self.end is None:
                raise ValueError("give both start and end")
            if self.end < self.start:
                raise ValueError(f"end {self.end} is before start {self.start}")
        if self.weeks is not None and form not in ("school_week", "after/before"):
            raise ValueError("weeks goes with school_week, after or before")
        if form == "after/before":
            both = self.after is not None and self.before is not None
            if both and self.weeks is not None:
                raise ValueError("weeks goes with only one of after or before")
            if not both and self.weeks is None:
                raise ValueError("with only after or before, also give weeks")
            if both and self.after == self.before:
                raise ValueError("after and before name the same vacation")
        if self.month is not None:
            self.month_number()  # raises on a bad month
        return self

    def month_number(self) -> int:
        """The month as 1-12; raises ValueError naming the bad value."""
        if isinstance(self.month, int):
            if 1 <= self.month <= 12:
                return self.month
            raise ValueError(f"month {self.month} is not between 1 and 12")
        number = MONTHS.get(str(self.month).strip().lower())
        if number is None:
            raise ValueError(f'month {self.month!r} is not a Dutch month name such as "oktober"')
        return number


class Weights(_Strict):
    """What a preferences round's schedule weighs besides placing every child (all soft): per minute
    between siblings' conversations beyond back to back, per minute between a child's main and its
    support conversation (OPP or IB), per evening a staff member is at school for the round."""

    sibling_gap: Annotated[StrictInt, Field(ge=0, le=1000)] = 10
    support_gap: Annotated[StrictInt, Field(ge=0, le=1000)] = 5
    evening: Annotated[StrictInt, Field(ge=0, le=10000)] = 60


PREFERENCES_MARGIN = 1.0


class PlannerTiming(_Strict):
    """When the planner opens and closes, relative to the round's first conversation day; how
    families get their time (`mode`), and for preferences, how the schedule is weighed and how long
    it may be searched for."""

    opens_days_before: Annotated[StrictInt, Field(ge=1, le=60)] = 7
    opens_at: time = time(8, 0)
    closes_days_before: Annotated[StrictInt, Field(ge=0, le=59)] = 1
    closes_at: time = time(17, 0)
    sibling_head_start_hours: Annotated[StrictInt, Field(ge=0, le=168)] = 24
    reminders_days_before_close: tuple[Annotated[StrictInt, Field(ge=0, le=30)], ...] = (3, 1)
    slot_margin: Annotated[StrictFloat, Field(ge=0, le=2)] = 0.1
    mode: PlannerMode = PlannerMode.SELF_SELECT
    weights: Weights = Weights()
    solve_seconds: Annotated[StrictFloat, Field(gt=0, le=120)] = 10.0

    @model_validator(mode="before")
    @classmethod
    def _room_to_state(cls, data: object) -> object:
        """A preferences planner offers twice its invitees by default: families state every time they
        can, and the schedule needs that room to place siblings together."""
        if isinstance(data, dict) and data.get("mode") == PlannerMode.PREFERENCES.value and "slot_margin" not in data:
            return {**data, "slot_margin": PREFERENCES_MARGIN}
        return data

    @field_validator("opens_at", "closes_at")
    @classmethod
    def _no_dst_hour(cls, value: time) -> time:
        return refuse_dst_gap(value, "time")

    @model_validator(mode="after")
    def _closes_after_open(self) -> PlannerTiming:
        if self.closes_days_before >= self.opens_days_before:
            raise ValueError(
                f"closes_days_before {self.closes_days_before} must be smaller than opens_days_before "
                f"{self.opens_days_before}: the planner would close before it opens"
            )
        too_early = [
            d for d in self.reminders_days_before_close if d >= self.opens_days_before - self.closes_days_before
        ]
        if too_early:
            raise ValueError(f"reminders_days_before_close {too_early[0]} falls before the planner opens")
        return self


class Attendance(_Strict):
    """Who attends besides the parents and the teacher."""

    child_from_leerjaar: Annotated[StrictInt, Field(ge=1, le=8)] | None = None
    ib_from_ondersteuningsniveau: Annotated[StrictInt, Field(ge=1, le=5)] | None = None
    # Who the second colleague at every conversation is: a PAS staff id, or "previous_teacher" (the
    # teacher of last school year's group of the leerjaar below).
    second_colleague: Annotated[str, Field(min_length=1, max_length=64)] | None = None

    @field_validator("second_colleague", mode="before")
    @classmethod
    def _say_who(cls, value: object) -> object:
        if isinstance(value, bool):
            raise ValueError(
                f'{str(value).lower()} does not say who: write "{PREVIOUS_TEACHER}" (the teacher of last school '
                "year's group of the leerjaar below) or the colleague's staff id in PAS, e.g. \"3112\""
            )
        return value


class SlotRules(_Strict):
    """How a planner's slots are chosen from the window: spread over the days (parents keep a choice of
    days) or, with `concentrate`, evening after evening filled in turn (few, full contact evenings)."""

    concentrate: StrictBool = False


class Verslag(_Strict):
    """What a conversation of the round leaves in the administration: a note of `category` within
    `deadline_days`, visible to parents when `visible_in_ouderportaal`; no note at all when not
    `required` (e.g. the written report or portfolio is the verslag)."""

    required: StrictBool = True
    category: str | None = None  # default: Kindgesprek for kind rounds, Oudergesprek otherwise
    deadline_days: Annotated[StrictInt, Field(ge=1, le=60)] = 7
    visible_in_ouderportaal: StrictBool = True


class TemplateRef(_Strict):
    file: str


Template = str | TemplateRef


class Templates(_Strict):
    """Dutch message templates; None means the built-in default text."""

    invitation: Template | None = None
    reminder: Template | None = None
    teacher_notice: Template | None = None


class Round(_Strict):
    id: Annotated[str, Field(pattern=_SLUG.pattern)]
    name: Annotated[str, Field(min_length=1, max_length=120)]
    kind: RoundKind
    window: Window
    groups: tuple[Annotated[StrictInt, Field(ge=1, le=8)], ...] = (1, 2, 3, 4, 5, 6, 7, 8)
    participation: Participation = Participation.MANDATORY
    mandatory_groups: tuple[Annotated[StrictInt, Field(ge=1, le=8)], ...] = ()
    slot_minutes: Annotated[StrictInt, Field(ge=5, le=120)] = 15
    slots: SlotRules = SlotRules()
    conversation_hours: HoursWindow | None = None  # default: the school's
    uses_planner: StrictBool | None = None  # default: every kind but kindgesprek
    planner: PlannerTiming = PlannerTiming()
    attendance: Attendance = Attendance()
    purpose: str | None = None
    form: str = "op school"
    verslag: Verslag = Verslag()
    opp_extra_conversation: StrictBool = False
    templates: Templates = Templates()

    @field_validator("groups")
    @classmethod
    def _groups_listed(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value:
            raise ValueError("list at least one groep (1-8)")
        if len(set(value)) != len(value):
            raise ValueError("a groep is listed twice")
        return value

    def problems(self) -> list[tuple[str, str]]:
        """Conflicts between this round's keys, as (key, message); the loader adds the path."""
        found = []
        outside = sorted(set(self.mandatory_groups) - set(self.groups))
        if outside:
            found.append(("mandatory_groups", f"{outside} are not among the round's groups {list(self.groups)}"))
        if self.mandatory_groups and self.participation is Participation.MANDATORY:
            found.append(
                ("mandatory_groups", "is for optional rounds; a mandatory round is mandatory for all its groups")
            )
        if self.kind is RoundKind.KIND and self.uses_planner:
            found.append(
                (
                    "uses_planner",
                    "a kindgesprek is held in class without a planner: drop uses_planner or set it to false",
                )
            )
        return found

    @property
    def has_planner(self) -> bool:
        return self.kind is not RoundKind.KIND if self.uses_planner is None else self.uses_planner

    @property
    def verslag_category(self) -> str:
        if self.verslag.category:
            return self.verslag.category
        return "Kindgesprek" if self.kind is RoundKind.KIND else "Oudergesprek"

    def is_mandatory_for(self, leerjaar: int) -> bool:
        return self.participation is Participation.MANDATORY or leerjaar in self.mandatory_groups


class Cycle(_Strict):
    rounds: tuple[Round, ...]

    @field_validator("rounds")
    @classmethod
    def _some_round(cls, value: tuple[Round, ...]) -> tuple[Round, ...]:
        # Two rounds of one id are refused by the loader, at the second one's line.
        if not value:
            raise ValueError("a cycle needs at least one round")
        return value


class SchoolYear(_Strict):
    """The school year, e.g. "2026-2027"; first and last day default to the summer holidays' edges."""

    year: Annotated[str, Field(pattern=r"^[0-9]{4}-[0-9]{4}$")]
    first_day: date | None = None
    last_day: date | None = None

    @model_validator(mode="after")
    def _consistent(self) -> SchoolYear:
        first, second = (int(part) for part in self.year.split("-"))
        if second != first + 1:
            raise ValueError(f'{self.year!r} is not two consecutive years such as "2026-2027"')
        if self.first_day and self.last_day and self.last_day <= self.first_day:
            raise ValueError(f"last_day {self.last_day} is not after first_day {self.first_day}")
        for name, day in (("first_day", self.first_day), ("last_day", self.last_day)):
            if day and not date(first, 7, 1) <= day <= date(second, 8, 31):
                raise ValueError(f"{name} {day} is not in school year {self.year}")
        return self

    @property
    def first_calendar_year(self) -> int:
        return int(self.year[:4])


class School(_Strict):
    brin: str
    name: Annotated[str, Field(min_length=1, max_length=200)]
    region: Region
    timezone: str = "Europe/Amsterdam"
    school_year: SchoolYear
    cycle: str | None = None  # default: the only cycle defined
    planner_api_key: SecretRef
    vacations: dict[str, DateRange] = {}  # own dates for the advisory herfst- and voorjaarsvakantie
    free_days: tuple[DateRange, ...] = ()
    conversation_hours: HoursWindow = HoursWindow()

    @field_validator("brin")
    @classmethod
    def _brin(cls, value: str) -> str:
        if not _BRIN.match(value):
            raise ValueError(
                f'{value!r} is not a BRIN code: two digits, two capital letters, two digits (e.g. "12AB00")'
            )
        return value

    @field_validator("vacations")
    @classmethod
    def _advisory_only(cls, value: dict[str, DateRange]) -> dict[str, DateRange]:
        for name in value:
            if name in ADVISORY_VACATIONS:
                continue
            if name in ("kerstvakantie", "meivakantie", "zomervakantie"):
                raise ValueError(
                    f"{name} has compulsory dates set by the government; only herfstvakantie and voorjaarsvakantie "
                    "can be moved (use free_days for extra days off)"
                )
            raise ValueError(
                f"{name!r} is not a vacation whose dates a school chooses; use herfstvakantie or voorjaarsvakantie"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f'{value!r} is not a known time zone such as "Europe/Amsterdam"') from None
        return value


class _ReadBounds(_Strict):
    """Bounds on every read from a vendor; hitting one postpones the work to a later tick.

    `request_deadline_seconds` is the total time of one request, body included (the read timeout
    is per socket read, which a server sending one byte a second never hits); at least 10, as
    PAS asks to allow 10 s per request. `max_response_mb` caps one response body;
    `max_pages` caps the pages of one listing.
    """

    request_deadline_seconds: Annotated[StrictFloat, Field(ge=10, le=600)] = 60
    max_response_mb: Annotated[StrictInt, Field(ge=1, le=500)] = 10
    max_pages: Annotated[StrictInt, Field(ge=1, le=1_000_000)] = 10_000


class PasConnection(_ReadBounds):
    """The pupil administration: one OAuth client for the whole board."""

    base_url: Annotated[str, Field(pattern=r"^https?://[^\s/]+(/[^\s]*)?$")]
    client_id: Annotated[str, Field(min_length=1)]
    client_secret: SecretRef
    requests_per_minute: Annotated[StrictInt, Field(ge=1, le=300)] = 300


class PlannerConnection(_ReadBounds):
    """The parent app; its API keys belong to one school organisation each (see [[schools]])."""

    base_url: Annotated[str, Field(pattern=r"^https?://[^\s/]+(/[^\s]*)?$")]
    requests_per_minute: Annotated[StrictInt, Field(ge=1, le=120)] = 120


class Sync(_Strict):
    """When the daemon does its daily work, and the engine's safety limits."""

    roster_at: time = time(6, 0)
    verslag_check_at: time = time(7, 0)
    booking_poll_minutes: Annotated[StrictInt, Field(ge=5, le=1440)] = 60
    max_removal_share: Annotated[StrictFloat, Field(gt=0, le=1)] = 0.15
    verslag_reminder_days_before: Annotated[StrictInt, Field(ge=0, le=14)] = 1
    overview_weekday: Weekday = "ma"
    overview_at: time = time(8, 0)
    concurrency: Annotated[StrictInt, Field(ge=1, le=16)] = 4
    # One run (a daemon tick, a `sync`) ends by then, whatever the vendors do: the run lock is never
    # held longer; what it did not reach is left for the next run.
    run_deadline_seconds: Annotated[StrictInt, Field(ge=1, le=86400)] = 300

    @field_validator("roster_at", "verslag_check_at", "overview_at")
    @classmethod
    def _no_dst_hour(cls, value: time) -> time:
        return refuse_dst_gap(value, "time")

    @field_validator("overview_weekday")
    @classmethod
    def _school_day(cls, value: str) -> str:
        if value in ("za", "zo"):
            raise ValueError("the overview goes out on a school day (ma-vr)")
        return value


def _url_form(value: object) -> str:
    return "SecretRef" if isinstance(value, dict | SecretRef) else "str"


class Store(_Strict):
    """Where the state lives: a file path (SQLite) or an SQLAlchemy URL (postgresql+psycopg://...).

    A URL with a password can be kept out of the settings file as a secret reference,
    `url = { env = "VARIABLE" }` or `{ file = "path" }`, whose value is the whole URL.
    """

    # Tagged by form, so that a bad reference is reported once, not also as "not a string".
    url: Annotated[
        Annotated[str, Tag("str")] | Annotated[SecretRef, Tag("SecretRef")],
        Discriminator(_url_form),
    ] = "var/connector.db"


class Logging(_Strict):
    level: Literal["debug", "info", "warning", "error"] = "info"
    file: str | None = "var/log/connector.jsonl"


class Retention(_Strict):
    """How long data is kept (domain.md, Privacy): pupils who left, and the sync log."""

    left_pupils_days: Annotated[StrictInt, Field(ge=1)] = 365  # after Pupil.archived_at
    sync_events_days: Annotated[StrictInt, Field(ge=1)] = 180


class Health(_Strict):
    """When `connector health` calls a job that keeps failing a problem for a person."""

    max_failure_minutes: Annotated[StrictInt, Field(ge=5, le=10080)] = 120


class Web(_Strict):
    """The web page for the director and the IB (`connector web`, or inside the daemon when enabled).

    Bound to loopback by default: the school's reverse proxy terminates TLS in front of it and
    passes `X-Forwarded-Proto`, which is believed from `trusted_proxies` only."""

    enabled: StrictBool = False  # whether `connector daemon` serves it too
    host: Annotated[str, Field(min_length=1, max_length=255)] = "127.0.0.1"
    port: Annotated[StrictInt, Field(ge=0, le=65535)] = 8080  # 0: any free port (tests)
    trusted_proxies: tuple[Annotated[str, Field(min_length=1)], ...] = ("127.0.0.1", "::1")
    session_idle_minutes: Annotated[StrictInt, Field(ge=5, le=1440)] = 60
    session_max_hours: Annotated[StrictInt, Field(ge=1, le=168)] = 12
    max_failed_logins: Annotated[StrictInt, Field(ge=1, le=100)] = 5
    lockout_minutes: Annotated[StrictInt, Field(ge=1, le=1440)] = 15
    sync_wait_seconds: Annotated[StrictInt, Field(ge=0, le=3600)] = 60  # "sync now" waits this long for the daemon
    refresh_seconds: Annotated[StrictInt, Field(ge=5, le=3600)] = 30  # figures refreshed without a reload


class Settings(_Strict):
    store: Store = Store()
    logging: Logging = Logging()
    sync: Sync = Sync()
    retention: Retention = Retention()
    health: Health = Health()
    web: Web = Web()
    pas: PasConnection
    planner: PlannerConnection
    cycles: dict[Annotated[str, Field(pattern=_SLUG.pattern)], Cycle]
    schools: tuple[School, ...]

    @field_validator("schools")
    @classmethod
    def _at_least_one(cls, value: tuple[School, ...]) -> tuple[School, ...]:
        if not value:
            raise ValueError("list at least one school as [[schools]]")
        return value

    def cycle_for(self, school: School) -> Cycle:
        """The cycle a school follows (validated to exist by the loader)."""
        if school.cycle is not None:
            return self.cycles[school.cycle]
        return next(iter(self.cycles.values()))

    def school(self, brin: str) -> School:
        for school in self.schools:
            if school.brin == brin:
                return school
        raise KeyError(brin)
