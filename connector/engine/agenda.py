"""One agenda of staff time for the whole school (issue W2-4).

Every slot of every planner the service made claims the staff on it, whatever group, round or
planner it belongs to (OPP and IB conversations included), so a new planner never offers a slot
that overlaps another slot of the same person: a teacher of two groups, duo teachers, the IB who
serves every group, the second colleague at advice conversations. Slots of a planner cancelled in
the planner free their staff again. Pure: `planners.py` loads what the store holds.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime


class Agenda:
    """Busy intervals per staff member (planner staff id), kept per day so a check looks at a day only."""

    def __init__(self) -> None:
        self._busy: dict[tuple[str, date], list[tuple[datetime, datetime]]] = defaultdict(list)

    def claim(self, start: datetime, end: datetime, staff: Iterable[str]) -> None:
        for person in staff:
            for day in _days(start, end):
                self._busy[(person, day)].append((start, end))

    def free(self, start: datetime, end: datetime, staff: Iterable[str]) -> bool:
        """Whether none of `staff` is in another slot that overlaps [start, end)."""
        days = _days(start, end)
        return not any(s < end and start < e for person in staff for day in days for s, e in self._busy[(person, day)])


def _days(start: datetime, end: datetime) -> set[date]:
    """The UTC days an interval touches: the same key whatever zone a caller's datetimes are in."""
    return {start.astimezone(UTC).date(), end.astimezone(UTC).date()}
