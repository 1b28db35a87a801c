"""Slots for one group's planner: the round's days and hours, on the teachers' own working days.

Pure. A slot is `slot_minutes` long (changeover included, as the schools count it). A duo group
gets each teacher's slots on that teacher's days; on a day both work, both are listed. Staff who
join every conversation of the planner (the IB at a support conversation, the second colleague
at an advice conversation) are on every slot, so a day one of them does not work has none. Slots
are taken spread over the window (day by day, in turn), so parents keep a choice of days and no
teacher gets an over-full evening; or, with `concentrate`, evening after evening filled in turn
(a few full contact evenings). A slot whose staff the school's agenda has elsewhere is skipped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from connector.cycle.schooldays import WEEKDAY_CODES
from connector.cycle.yearplan import day_slots
from connector.engine.agenda import Agenda

MAX_SLOTS = 2000  # PlannerCreate.slots maxItems


@dataclass(frozen=True)
class SlotSpec:
    start: datetime
    end: datetime
    staff_ids: tuple[str, ...]  # planner staff ids


def slot_pool(
    *,
    days: tuple[date, ...],
    spans: tuple[tuple[time, time], ...],
    minutes: int,
    zone: ZoneInfo,
    teachers: dict[str, tuple[str, ...]],
    joining: dict[str, tuple[str, ...]] | None = None,
    concentrate: bool = False,
) -> tuple[list[SlotSpec], tuple[date, ...]]:
    """Every possible slot, in the order they are handed out, and the days on which none of the
    teachers works. `teachers` and `joining` map planner staff id to werkdagen; someone whose
    working days are unknown (empty) is taken to work every day."""
    joining = joining or {}
    per_day: list[list[SlotSpec]] = []
    missing: list[date] = []
    for day in days:
        code = WEEKDAY_CODES[day.weekday()]
        present = tuple(sorted(staff for staff, werkdagen in teachers.items() if not werkdagen or code in werkdagen))
        if not present:
            missing.append(day)
            continue
        if not all(not werkdagen or code in werkdagen for werkdagen in joining.values()):
            continue
        staff = tuple(sorted(set(present) | set(joining)))
        per_day.append([SlotSpec(start, end, staff) for start, end in day_slots(day, spans, minutes, zone)])
    if concentrate:
        return [slot for slots in per_day for slot in slots], tuple(missing)
    pool: list[SlotSpec] = []
    for turn in range(max((len(d) for d in per_day), default=0)):
        pool.extend(slots[turn] for slots in per_day if turn < len(slots))
    return pool, tuple(missing)


def wanted(invitees: int, margin: float) -> int:
    """Slots for `invitees` conversations plus the round's `margin` (parents keep a choice)."""
    return min(MAX_SLOTS, math.ceil(invitees * (1 + margin))) if invitees else 0


def take_slots(pool: list[SlotSpec], agenda: Agenda, count: int) -> list[SlotSpec]:
    """Up to `count` slots of the pool, in its order, each with staff the agenda has free; the
    slots taken are claimed in the agenda."""
    chosen: list[SlotSpec] = []
    for slot in pool:
        if len(chosen) == count:
            break
        if agenda.free(slot.start, slot.end, slot.staff_ids):
            agenda.claim(slot.start, slot.end, slot.staff_ids)
            chosen.append(slot)
    return chosen
