"""School reference data mirrored from the administration (PAS) and the planner.

Data minimisation (domain.md, Privacy): no names, birth dates, e-mail
addresses or phone numbers of pupils and parents are stored. They are addressed by
id only: the job talks to guardians through their planner ids. A staff member's
name is kept (it is not pupil data): the director's reports name the teacher.

``planner_id`` columns on groups/staff/pupils/guardians are a convenience copy
of :class:`IdentityLink`, which is the record of *how* two ids were matched.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, CheckConstraint, UniqueConstraint
from sqlmodel import Field, SQLModel

from connector.store.base import Timestamps, fk, utc_field


class PupilStatus(StrEnum):
    INGESCHREVEN = "ingeschreven"
    UITGESCHREVEN = "uitgeschreven"


class IdentityKind(StrEnum):
    GROUP = "group"
    CHILD = "child"
    STAFF = "staff"
    GUARDIAN = "guardian"


class School(Timestamps, table=True):
    """A school served by this installation, by BRIN code."""

    __tablename__ = "schools"

    id: int | None = Field(default=None, primary_key=True)
    brin: str = Field(unique=True)
    name: str = ""
    # The first successful roster sync: rounds whose window ended before it ran before the service.
    served_since: datetime | None = utc_field(nullable=True)


class SchoolYear(Timestamps, table=True):
    """A school year of one school, e.g. ``2026-2027`` (PAS group ids are per year)."""

    __tablename__ = "school_years"
    __table_args__ = (UniqueConstraint("school_id", "pas_id"),)

    id: int | None = Field(default=None, primary_key=True)
    school_id: int = fk("schools.id")
    pas_id: str  # "2026-2027"
    start_date: date
    end_date: date
    current: bool = False


class Group(Timestamps, table=True):
    """A class (groep) in one school year; a combination group has several leerjaren.

    Table name ``school_groups``: GROUPS is a keyword in SQLite and MySQL.
    """

    __tablename__ = "school_groups"
    __table_args__ = (UniqueConstraint("school_year_id", "pas_id"),)

    id: int | None = Field(default=None, primary_key=True)
    school_id: int = fk("schools.id")
    school_year_id: int = fk("school_years.id")
    pas_id: str
    planner_id: str | None = Field(default=None, index=True)
    name: str = ""
    leerjaren: list[int] = Field(default_factory=list, sa_type=JSON)
    archived_at: datetime | None = utc_field(nullable=True)


class Staff(Timestamps, table=True):
    """A staff member: roles (leerkracht, intern_begeleider, ...) and working days."""

    __tablename__ = "staff"
    __table_args__ = (UniqueConstraint("school_id", "pas_id"),)

    id: int | None = Field(default=None, primary_key=True)
    school_id: int = fk("schools.id")
    pas_id: str
    planner_id: str | None = Field(default=None, index=True)
    name: str = ""  # as PAS writes it (roepnaam, tussenvoegsel, achternaam), for the reports
    roles: list[str] = Field(default_factory=list, sa_type=JSON)
    werkdagen: list[str] = Field(default_factory=list, sa_type=JSON)  # ["ma", "di", ...]
    archived_at: datetime | None = utc_field(nullable=True)


class GroupStaff(SQLModel, table=True):
    """Which staff teach which group (duo-leerkrachten: two rows)."""

    __tablename__ = "group_staff"

    group_id: int = fk("school_groups.id", primary_key=True, index=False)
    staff_id: int = fk("staff.id", primary_key=True)
    role: str = "leerkracht"


class Pupil(Timestamps, table=True):
    """A pupil, by PAS id (stable across school years). No names, no birth date."""

    __tablename__ = "pupils"
    __table_args__ = (
        UniqueConstraint("school_id", "pas_id"),
        CheckConstraint("ondersteuningsniveau BETWEEN 1 AND 5", name="ondersteuningsniveau"),
    )

    id: int | None = Field(default=None, primary_key=True)
    school_id: int = fk("schools.id")
    pas_id: str
    planner_id: str | None = Field(default=None, index=True)
    group_id: int | None = fk("school_groups.id", ondelete="SET NULL", nullable=True)
    leerjaar: int
    status: str = PupilStatus.INGESCHREVEN.value
    ondersteuningsniveau: int = 1
    opp: bool = False  # ontwikkelingsperspectief
    pas_changed_at: datetime | None = utc_field(nullable=True)
    # Set when the pupil left; rows are purged after the retention period.
    archived_at: datetime | None = utc_field(nullable=True, index=True)


class Guardian(Timestamps, table=True):
    """A guardian (ouder/verzorger), by PAS id; same id for all their children.

    ``app_active`` is the planner's view: a guardian who never activated the
    app cannot book, so the teacher is told to contact them.
    """

    __tablename__ = "guardians"
    __table_args__ = (UniqueConstraint("school_id", "pas_id"),)

    id: int | None = Field(default=None, primary_key=True)
    school_id: int = fk("schools.id")
    pas_id: str
    huishouden_id: str = Field(index=True)
    planner_id: str | None = Field(default=None, index=True)
    app_active: bool | None = None  # None: not (yet) known in the planner
    archived_at: datetime | None = utc_field(nullable=True)


class PupilGuardian(SQLModel, table=True):
    """Pupil-guardian link: who belongs to one family (siblings book together). PAS's ``gezag`` and
    ``ontvangt_informatie`` are not kept: no feature uses them (the planner knows whom to message)."""

    __tablename__ = "pupil_guardians"

    pupil_id: int = fk("pupils.id", primary_key=True, index=False)
    guardian_id: int = fk("guardians.id", primary_key=True)


class IdentityLink(Timestamps, table=True):
    """How a PAS id maps to a planner id, and how that match was made.

    ``school_year`` scopes group ids (PAS group ids are unique per school year
    only); it is "" for kinds whose ids are stable across years.
    ``matched_by``: e.g. "external_id", "manual".
    """

    __tablename__ = "identity_map"
    __table_args__ = (
        UniqueConstraint("school_id", "kind", "school_year", "pas_id"),
        UniqueConstraint("school_id", "kind", "school_year", "planner_id"),
        CheckConstraint("kind IN ('group', 'child', 'staff', 'guardian')", name="kind"),
    )

    id: int | None = Field(default=None, primary_key=True)
    school_id: int = fk("schools.id", index=False)
    kind: str
    school_year: str = ""
    pas_id: str
    planner_id: str
    matched_by: str


class UnlinkedRecord(SQLModel, table=True):
    """A record of one system the other has no match for, as the latest roster sync found it (a
    PAS pupil the planner does not know, a planner child with no PAS id); `status` lists them.
    State, not a log: a roster sync writes only the records that appeared, went or changed
    reason, so one that finds the same as the last writes nothing here (W2-6). `since` is
    when it was first found; `run_id` the sync that found it (its event is in that run's log)."""

    __tablename__ = "unlinked_records"
    __table_args__ = (UniqueConstraint("school_id", "kind", "system", "record_id"),)

    id: int | None = Field(default=None, primary_key=True)
    school_id: int = fk("schools.id", index=False)
    kind: str  # group | child | staff
    system: str  # pas | planner: where the record lives
    record_id: str
    reason: str
    since: datetime = utc_field()
    run_id: str | None = fk("sync_runs.id", ondelete="SET NULL", nullable=True)


__all__ = [
    "Group",
    "GroupStaff",
    "Guardian",
    "IdentityKind",
    "IdentityLink",
    "Pupil",
    "PupilGuardian",
    "PupilStatus",
    "School",
    "SchoolYear",
    "Staff",
    "UnlinkedRecord",
]
