"""What the engine needs from each vendor; `adapters.parnassys.PasClient` and
`adapters.parro.ParroClient` provide exactly this. Items are the vendor's JSON objects; the
engine turns them into domain records with `mappings.payloads`.

Errors are those of `adapters.errors`: a `TemporaryError` leaves the work for the next run,
a `PermanentError` is reported and the rest goes on.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol


class Sweep(Protocol):
    """A complete read of a list; `watermark` is the vendor's time at its first page."""

    def __iter__(self) -> Iterator[dict[str, Any]]: ...

    @property
    def watermark(self) -> datetime: ...


class Administration(Protocol):
    """The pupil administration (read-only)."""

    def server_time(self, brin: str) -> datetime: ...

    def groups(self, brin: str, *, schoolyear: str | None = None) -> Sweep: ...

    def staff(self, brin: str, *, schoolyear: str | None = None) -> Sweep: ...

    def pupils(self, brin: str, *, schoolyear: str | None = None, changed_since: datetime | None = None) -> Sweep: ...

    def notes(self, brin: str, *, categories: Sequence[str] = (), created_since: datetime | None = None) -> Sweep: ...


class PlannerResult(Protocol):
    @property
    def planner(self) -> dict[str, Any]: ...

    @property
    def replayed(self) -> bool: ...


class MessageResult(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def replayed(self) -> bool: ...


class PlannerApi(Protocol):
    """The parent app of one school organisation."""

    def groups(self) -> Iterable[dict[str, Any]]: ...

    def children(self, *, group_id: str | None = None) -> Iterable[dict[str, Any]]: ...

    def guardians(self) -> Iterable[dict[str, Any]]: ...

    def staff(self) -> Iterable[dict[str, Any]]: ...

    def find_planner(self, external_ref: str) -> dict[str, Any] | None: ...

    def get_planner(self, planner_id: str) -> dict[str, Any]: ...

    def create_planner(self, planner: Mapping[str, Any], *, idempotency_key: str) -> PlannerResult: ...

    def open_planner(self, planner_id: str) -> dict[str, Any]: ...

    def close_planner(self, planner_id: str) -> dict[str, Any]: ...

    def bookings(self, planner_id: str) -> Iterable[dict[str, Any]]: ...

    def preferences(self, planner_id: str) -> Iterable[dict[str, Any]]: ...

    def assign(
        self, planner_id: str, assignments: Sequence[Mapping[str, str]], *, idempotency_key: str | None = None
    ) -> Any: ...

    def send_message(self, message: Mapping[str, Any], *, idempotency_key: str) -> MessageResult: ...
