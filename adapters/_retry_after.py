"""Parse the ``Retry-After`` header (RFC 9110 section 10.2.3).

Both contracts send whole seconds, but gateways and proxies may send an HTTP-date, so both
forms are accepted. Anything unparseable is treated as absent (fall back to backoff).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Return the number of seconds to wait (>= 0), or None when absent or unparseable.

    ``value`` is delay-seconds (``"30"``) or an HTTP-date (``"Wed, 21 Oct 2026 07:28:00
    GMT"``); a date in the past gives 0. ``now`` (aware) defaults to the current UTC time.
    Never raises.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isascii() and text.isdigit():
        seconds = float(int(text))
        return seconds if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:  # RFC 9110 dates are always GMT
        when = when.replace(tzinfo=UTC)
    current = now or datetime.now(UTC)
    try:
        delta = (when - current).total_seconds()
    except OverflowError:
        return None
    return max(0.0, delta)
