"""The vendors' clock decides (issue W2-2): a run asked for a moment well ahead of PAS's clock
(`sync --now 2030-…`) would open planners, send messages and purge data years early. Such a run
is refused before anything is written, the run log included; `--dry-run` may still look ahead.
The simulator and the test fakes follow `--now`, so rehearsals on them agree with their vendor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from adapters.errors import AdapterError
from connector.engine.context import Engine
from connector.errors import UserError

AHEAD_LIMIT = timedelta(minutes=15)


class ClockAhead(UserError):
    """The moment asked for lies ahead of the vendor's clock; nothing was done."""

    exit_code = 1


def refuse_if_ahead(engine: Engine, now: datetime, *, wall: datetime | None = None) -> None:
    """Raise ClockAhead when `now` is more than AHEAD_LIMIT ahead of PAS's clock. PAS is asked
    only when `now` is that far ahead of this machine's clock too (the daemon's own ticks never)."""
    if now - (wall or datetime.now(UTC)) <= AHEAD_LIMIT:
        return
    brin = engine.settings.schools[0].brin
    try:
        vendor = engine.pas.server_time(brin)
    except AdapterError as exc:
        raise ClockAhead(
            f"--now {now.isoformat()} lies ahead of this machine's clock, and PAS's clock could not be read to "
            f"compare ({exc}); nothing was done"
        ) from None
    ahead = now - vendor
    if ahead > AHEAD_LIMIT:
        raise ClockAhead(
            f"--now {now.isoformat()} is {_span(ahead)} ahead of PAS's clock ({vendor.isoformat()}): nothing was "
            "done (no write at either vendor, no purge, no run recorded). `--dry-run` shows what would be done then."
        )


def _span(delta: timedelta) -> str:
    days = delta.days
    if days >= 2:
        return f"{days} days"
    return f"{delta.total_seconds() / 3600:.1f} hours"
