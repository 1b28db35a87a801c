"""The domain records the job works with, as both vendors' data is translated into them.

Only what the job needs is kept (domain.md, "Privacy"): no names, birth dates or phone numbers
of pupils and parents. An e-mail address is carried only to match records between the two
systems and is never stored or shown (`repr=False`), so a record can be logged safely.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum


class PupilStatus(StrEnum):
    ENROLLED = "ingeschreven"
    LEFT = "uitgeschreven"


# --- the pupil administration (PAS) ---------------------------------------------------------


@dataclass(frozen=True)
class Group:
    pas_id: str
    name: str  # "Groep 3/4": a class, not a person
    leerjaren: tuple[int, ...]
    teacher_ids: tuple[str, ...]  # PAS staff ids


@dataclass(frozen=True)
class StaffMember:
    pas_id: str
    roles: frozenset[str]
    group_ids: tuple[str, ...]
    werkdagen: tuple[str, ...]  # "ma" .. "vr"
    email: str | None = field(default=None, repr=False)
    name: str = ""  # a staff member's name is not pupil data: reports name the teacher


@dataclass(frozen=True)
class Guardian:
    pas_id: str
    huishouden_id: str
    gezag: bool
    ontvangt_informatie: bool
    email: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Pupil:
    pas_id: str
    group_id: str
    leerjaar: int
    status: PupilStatus
    uitschrijfdatum: date | None
    ondersteuningsniveau: int
    opp: bool
    guardians: tuple[Guardian, ...]
    changed_at: datetime

    @property
    def enrolled(self) -> bool:
        return self.status is PupilStatus.ENROLLED


@dataclass(frozen=True)
class NoteMeta:
    """A note's metadata: enough to check a verslag, never its text."""

    pas_id: str
    pupil_id: str
    category: str
    author_id: str
    created_at: datetime
    gespreksdatum: date | None
    visible_to_parents: bool


# --- the planner (parent app) ------------------------------------------------------------------


@dataclass(frozen=True)
class PlannerGroup:
    planner_id: str
    external_id: str | None
    teacher_ids: tuple[str, ...]


@dataclass(frozen=True)
class PlannerChild:
    planner_id: str
    external_id: str | None
    group_id: str
    guardian_ids: tuple[str, ...]


@dataclass(frozen=True)
class PlannerStaff:
    planner_id: str
    external_id: str | None
    email: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Booking:
    booking_id: str
    slot_id: str
    child_id: str
    guardian_id: str | None
    status: str  # booked | cancelled
    updated_at: datetime

    @property
    def active(self) -> bool:
        return self.status == "booked"
