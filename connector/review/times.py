"""One way to write a moment for people, in every command: the school's local time to the minute
(`2026-11-23 08:00`), with the zone's abbreviation (`CET`, `CEST`) when the machine's clock is in
another zone, so a time on a UTC server is not read as UTC. Programs get ISO 8601 (`--json`)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo


def local_time(moment: datetime | str, zone: ZoneInfo | str) -> str:
    """`moment` (a datetime or an ISO 8601 text) in the school's zone, as people read it."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    zone = ZoneInfo(zone) if isinstance(zone, str) else zone
    there = moment.astimezone(zone)
    text = there.strftime("%Y-%m-%d %H:%M")
    return text if there.utcoffset() == moment.astimezone().utcoffset() else f"{text} {there:%Z}"


def due_time(moment: datetime | str, zone: ZoneInfo | str, now: datetime) -> str:
    """A next-due moment: its local time, or "overdue since …" when it has passed."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return f"overdue since {local_time(moment, zone)}" if moment <= now else local_time(moment, zone)
