"""Slots for one group's planner: the round's days and hours, on the teachers' own working days.

Pure. A slot is `slot_minutes` long (changeover included, as the schools count it). A duo group
gets each teacher's slots on that teacher's days; on a day both work, both are listed. Slots
are taken spread over the window (day by day, in turn) until every invitee has one plus the
round's margin, so parents keep a choice of days and no teacher gets an over-full evening.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from connector.cycle.schooldays import WEEKDAY_CODES

MAX_SLOTS = 2000  # PlannerCreate.slots maxItems


@dataclass(frozen=True)
class SlotSpec:
    start: datetime
    end: datetime
    staff_ids: tuple[str, ...]  # planner staff ids


@dataclass(frozen=True)
class SlotPlan:
    slots: tuple[SlotSpec, ...]
    wanted: int
    shortfall: int  # slots wanted but not available in the window


def day_slots(
    day: date, spans: tuple[tuple[time, time], ...], minutes: int, zone: ZoneInfo
) -> list[tuple[datetime, datetime]]:
    """Every whole slot of `minutes` that fits in the day's time spans."""
    out = []
    step = timedelta(minutes=minutes)
    for span_start, span_end in spans:
        start = datetime.combine(day, span_start, tzinfo=zone)
        end = datetime.combine(day, span_end, tzinfo=zone)
        while start + step <= end:
            out.append((start, start + step))
            start += step
    return out


def slot_pool(
    *,
    days: tuple[date, ...],
    spans: tuple[tuple[time, time], ...],
    minutes: int,
    zone: ZoneInfo,
    teachers: dict[str, tuple[str, ...]],
) -> tuple[list[SlotSpec], tuple[date, ...]]:
    """Every possible slot, in the order they are handed out (spread over the days), and the
    days on which none of the teachers works. `teachers` maps planner staff id to werkdagen;
    a teacher whose working days are unknown (empty) is taken to work every day."""
    per_day: list[list[SlotSpec]] = []
    missing: list[date] = []
    for day in days:
        code = WEEKDAY_CODES[day.weekday()]
        present = tuple(sorted(staff for staff, werkdagen in teachers.items() if not werkdagen or code in werkdagen))
        if not present:
            missing.append(day)
            continue
        per_day.append([SlotSpec(start, end, present) for start, end in day_slots(day, spans, minutes, zone)])
    pool: list[SlotSpec] = []
    for turn in range(max((len(d) for d in per_day), default=0)):
        pool.extend(slots[turn] for slots in per_day if turn < len(slots))
    return pool, tuple(missing)


def take_slots(
    pool: list[SlotSpec], used: set[tuple[datetime, tuple[str, ...]]], invitees: int, margin: float
) -> SlotPlan:
    """Slots for `invitees` conversations plus `margin`, skipping slots already `used`."""
    wanted = min(MAX_SLOTS, math.ceil(invitees * (1 + margin))) if invitees else 0
    chosen = [slot for slot in pool if (slot.start, slot.staff_ids) not in used][:wanted]
    chosen.sort(key=lambda s: s.start)
    return SlotPlan(tuple(chosen), wanted, max(0, wanted - len(chosen)))
