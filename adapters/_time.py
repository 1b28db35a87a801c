"""Timestamps sent to the vendors must carry a UTC offset (both contracts, "Time").

A naive datetime would be read as an unknown zone (PAS: 400; planner: 422), and worse, an
off-by-one-or-two-hours watermark silently skips changes. We refuse them at the boundary.
"""

from __future__ import annotations

from datetime import datetime


def aware_isoformat(value: datetime | str, name: str) -> str:
    """Return ``value`` as ISO 8601 with its offset, e.g. ``2026-10-05T08:30:00+02:00``.

    Accepts an aware ``datetime`` or an ISO 8601 string with offset (such as a stored
    ``server_time`` watermark). Raises ``ValueError`` for naive or unparseable values and
    ``TypeError`` for other types.
    """
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{name} is not an ISO 8601 timestamp") from None
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime or ISO 8601 string")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must carry a UTC offset (naive datetimes are refused)")
    # isoformat() writes "+00:00", never "Z", and keeps fractional seconds.
    return value.isoformat()
