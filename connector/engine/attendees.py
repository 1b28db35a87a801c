"""Who joins a round's conversations besides the group's teachers (issue W2-4).

The IB (the staff member with role `intern_begeleider`; with several, the lowest PAS id) is on
every support conversation of a round with `ib_from_ondersteuningsniveau`. The second colleague
of a round with `second_colleague` is on every main conversation: a named PAS staff id, or
`previous_teacher`: the teacher of last school year's group of the leerjaar below, read from
PAS (group ids differ per school year, so last year's groups are asked for by year). Someone
who is not linked in the planner cannot be put on a slot; that is a problem for the run log.
Reads only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import col, select

from adapters.errors import NotFound
from connector.cycle.settings.models import PREVIOUS_TEACHER
from connector.cycle.yearplan import RoundPlan
from connector.store.models import Group, Staff

IB_ROLE = "intern_begeleider"


@dataclass(frozen=True)
class Person:
    pas_id: str
    planner_id: str
    werkdagen: tuple[str, ...]


def person(staff: Staff) -> Person:
    assert staff.planner_id is not None  # only linked staff can be on a slot
    return Person(staff.pas_id, staff.planner_id, tuple(staff.werkdagen))


def the_ib(session, school_id: int) -> Person | None:
    """The school's IB who is linked in the planner, if any."""
    found = session.exec(
        select(Staff)
        .where(Staff.school_id == school_id, col(Staff.archived_at).is_(None), col(Staff.planner_id).is_not(None))
        .order_by(col(Staff.pas_id))
    )
    for staff in found:
        if IB_ROLE in staff.roles:
            return person(staff)
    return None


@dataclass
class Colleagues:
    """The second colleague per group of one round; `problems` says where none could be found."""

    named: str | None
    staff: dict[str, Staff]  # PAS id -> staff row of the school
    last_year: dict[int, list[tuple[str, list[str]]]] = field(default_factory=dict)  # leerjaar -> (group, teachers)

    def for_group(self, group: Group, leerjaren: list[int], teachers: set[str]) -> tuple[Person | None, str | None]:
        """The colleague for `group`'s conversations with pupils of `leerjaren` (not one of its own
        `teachers`, PAS ids), or None and the problem."""
        if self.named is None:
            return None, None
        if self.named != PREVIOUS_TEACHER:
            return self._linked(self.named, f"second colleague {self.named}")
        below = sorted({year - 1 for year in leerjaren if year > 1})
        previous = {name: ids for year in below for name, ids in self.last_year.get(year, [])}
        if len(previous) != 1:
            which = ", ".join(sorted(previous)) or "none"
            return None, (
                f"group {group.pas_id}: the previous teacher is the teacher of last school year's group of "
                f"leerjaar {', '.join(map(str, below))}, and PAS lists {which}; name the second colleague by "
                "staff id in the settings"
            )
        ((name, ids),) = previous.items()
        others = sorted(set(ids) - teachers)
        if not others:
            return None, f"group {group.pas_id}: last school year's {name} had the same teacher; name the colleague"
        return self._linked(others[0], f"group {group.pas_id}: the previous teacher ({others[0]}, {name})")

    def _linked(self, pas_id: str, what: str) -> tuple[Person | None, str | None]:
        staff = self.staff.get(pas_id)
        if staff is None or staff.archived_at is not None:
            return None, f"{what} is not staff of this school in PAS"
        if staff.planner_id is None:
            return None, f"{what} is not linked in the planner, so cannot be put on the slots"
        return person(staff), None


def colleagues(step, plan: RoundPlan, school_id: int) -> Colleagues:
    """The round's second colleagues; last year's groups are read from PAS only for `previous_teacher`
    (before the store is read: no transaction is held across a request)."""
    named = plan.round.attendance.second_colleague
    last_year: dict[int, list[tuple[str, list[str]]]] = {}
    if named == PREVIOUS_TEACHER:
        start, end = (int(y) for y in plan.school_year.split("-"))
        try:
            groups = list(step.engine.pas.groups(step.school.brin, schoolyear=f"{start - 1}-{end - 1}"))
        except NotFound:  # the administration does not go back a year: no previous teacher to find
            groups = []
        for item in groups:
            if not isinstance(item, dict):
                continue
            teachers = [t for t in item.get("teacher_ids") or [] if isinstance(t, str)]
            for year in item.get("leerjaren") or []:
                if isinstance(year, int):
                    last_year.setdefault(year, []).append((str(item.get("name") or item.get("id")), teachers))
    with step.store.read() as session:
        staff = {s.pas_id: s for s in session.exec(select(Staff).where(Staff.school_id == school_id))}
    return Colleagues(named, staff, last_year)
