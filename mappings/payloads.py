"""Vendor payloads (one JSON item each) into domain records. Pure: no HTTP, no database.

Unknown fields are ignored and documented nulls accepted (contracts/README.md, "Both APIs may
add response fields"). A record that breaks the contract raises `MappingError` naming the
resource and the record's id; `map_items` collects those so one bad record never stops a page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Generic, Literal, NoReturn, TypeVar, overload

from connector.domain import (
    Booking,
    Group,
    Guardian,
    NoteMeta,
    PlannerChild,
    PlannerGroup,
    PlannerStaff,
    Pupil,
    PupilStatus,
    StaffMember,
)

T = TypeVar("T")
JSON = dict[str, Any]  # one decoded JSON object from a vendor response
WEEKDAYS = ("ma", "di", "wo", "do", "vr")


class MappingError(ValueError):
    """A vendor record that cannot be used; names the resource, the record id and the field."""

    def __init__(self, resource: str, record_id: str, reason: str) -> None:
        super().__init__(f"{resource} {record_id}: {reason}")
        self.resource = resource
        self.record_id = record_id
        self.reason = reason


@dataclass(frozen=True)
class Mapped(Generic[T]):
    records: list[T]
    errors: list[MappingError]


def map_items(resource: str, items: Iterable[Any], convert: Callable[[JSON], T]) -> Mapped[T]:
    """Convert every item; bad ones become errors and the rest go on."""
    records: list[T] = []
    errors: list[MappingError] = []
    for item in items:
        try:
            if not isinstance(item, dict):
                raise MappingError(resource, "?", f"expected an object, got {type(item).__name__}")
            records.append(convert(item))
        except MappingError as exc:
            errors.append(exc)
    return Mapped(records, errors)


class _Reader:
    """Typed access to one item's fields, raising MappingError that names the record."""

    def __init__(self, resource: str, item: JSON) -> None:
        self.resource = resource
        self.item = item
        raw_id = item.get("id")
        self.id = raw_id if isinstance(raw_id, str) and raw_id else "?"
        if self.id == "?":
            raise MappingError(resource, repr(raw_id)[:40], "missing or invalid id")

    def fail(self, name: str, what: str) -> MappingError:
        return MappingError(self.resource, self.id, f"{name}: {what}")

    @overload
    def text(self, name: str, *, nullable: Literal[False] = False) -> str: ...
    @overload
    def text(self, name: str, *, nullable: bool) -> str | None: ...
    def text(self, name: str, *, nullable: bool = False) -> str | None:
        value = self.item.get(name)
        if value is None and nullable:
            return None
        if not isinstance(value, str) or (not value and not nullable):
            raise self.fail(name, "expected a text")
        return value

    def flag(self, name: str) -> bool:
        value = self.item.get(name)
        if not isinstance(value, bool):
            raise self.fail(name, "expected true or false")
        return value

    def number(self, name: str, low: int, high: int) -> int:
        value = self.item.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise self.fail(name, f"expected a whole number from {low} to {high}")
        return value

    def texts(self, name: str) -> tuple[str, ...]:
        value = self.item.get(name)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(name, "expected a list of texts")
        return tuple(value)

    @overload
    def day(self, name: str, *, nullable: Literal[False] = False) -> date: ...
    @overload
    def day(self, name: str, *, nullable: bool) -> date | None: ...
    def day(self, name: str, *, nullable: bool = False) -> date | None:
        value = self.text(name, nullable=nullable)
        if value is None:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise self.fail(name, "expected a date YYYY-MM-DD") from None

    def instant(self, name: str) -> datetime:
        value = self.text(name)
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise self.fail(name, "expected an ISO 8601 timestamp") from None
        if parsed.tzinfo is None:
            raise self.fail(name, "timestamp has no UTC offset")
        return parsed


def _email(value: str | None) -> str | None:
    return value.strip().lower() if value and "@" in value else None


# --- PAS ---------------------------------------------------------------------------------------


def group_from_pas(item: JSON) -> Group:
    r = _Reader("PAS group", item)
    leerjaren = item.get("leerjaren")
    if (
        not isinstance(leerjaren, list)
        or not leerjaren
        or not all(isinstance(n, int) and 1 <= n <= 8 for n in leerjaren)
    ):
        raise r.fail("leerjaren", "expected a non-empty list of leerjaren 1-8")
    return Group(r.id, r.text("name"), tuple(sorted(set(leerjaren))), r.texts("teacher_ids"))


def staff_from_pas(item: JSON) -> StaffMember:
    r = _Reader("PAS staff member", item)
    roles = r.texts("roles")
    if not roles:
        raise r.fail("roles", "expected at least one role")
    # Unknown weekday values (a vendor may add "za") are ignored rather than fatal.
    werkdagen = tuple(d for d in r.texts("werkdagen") if d in WEEKDAYS)
    # A missing or odd name part leaves the name shorter, never the record unusable.
    parts = (item.get(key) for key in ("roepnaam", "tussenvoegsel", "achternaam"))
    name = " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip())
    return StaffMember(
        r.id, frozenset(roles), r.texts("group_ids"), werkdagen, _email(r.text("email", nullable=True)), name[:200]
    )


def guardian_from_pas(item: JSON) -> Guardian:
    r = _Reader("PAS guardian", item)
    return Guardian(
        r.id,
        r.text("huishouden_id"),
        r.flag("gezag"),
        r.flag("ontvangt_informatie"),
        _email(r.text("email", nullable=True)),
    )


def pupil_from_pas(item: JSON) -> Pupil:
    r = _Reader("PAS pupil", item)
    status_text = r.text("status")
    try:
        status = PupilStatus(status_text)
    except ValueError:
        raise r.fail("status", f"unknown status {status_text!r}") from None
    raw_guardians = item.get("guardians")
    if not isinstance(raw_guardians, list):
        raise r.fail("guardians", "expected a list")
    try:
        guardians = tuple(guardian_from_pas(g) if isinstance(g, dict) else _not_object() for g in raw_guardians)
    except MappingError as exc:
        raise r.fail("guardians", str(exc)) from None
    return Pupil(
        pas_id=r.id,
        group_id=r.text("group_id"),
        leerjaar=r.number("leerjaar", 1, 8),
        status=status,
        uitschrijfdatum=r.day("uitschrijfdatum", nullable=True),
        ondersteuningsniveau=r.number("ondersteuningsniveau", 1, 5),
        opp=r.flag("ontwikkelingsperspectief"),
        guardians=guardians,
        changed_at=r.instant("changed_at"),
    )


def _not_object() -> NoReturn:
    raise MappingError("PAS guardian", "?", "expected an object")


def note_from_pas(item: JSON) -> NoteMeta:
    """A note's metadata. A `body`, should a vendor send one anyway, is dropped here."""
    r = _Reader("PAS note", item)
    return NoteMeta(
        r.id,
        r.text("pupil_id"),
        r.text("category"),
        r.text("author_id"),
        r.instant("created_at"),
        r.day("gespreksdatum", nullable=True),
        r.flag("zichtbaar_ouderportaal"),
    )


# --- planner -----------------------------------------------------------------------------------


def group_from_planner(item: JSON) -> PlannerGroup:
    r = _Reader("planner group", item)
    return PlannerGroup(r.id, r.text("external_id", nullable=True), r.texts("teacher_ids"))


def child_from_planner(item: JSON) -> PlannerChild:
    r = _Reader("planner child", item)
    return PlannerChild(r.id, r.text("external_id", nullable=True), r.text("group_id"), r.texts("guardian_ids"))


def staff_from_planner(item: JSON) -> PlannerStaff:
    r = _Reader("planner staff member", item)
    return PlannerStaff(r.id, r.text("external_id", nullable=True), _email(r.text("email", nullable=True)))


def booking_from_planner(item: JSON) -> Booking:
    r = _Reader("booking", item)
    status = r.text("status")
    if status not in ("booked", "cancelled"):
        raise r.fail("status", f"unknown status {status!r}")
    return Booking(
        r.id,
        r.text("slot_id"),
        r.text("child_id"),
        r.text("guardian_id", nullable=True),
        status,
        r.instant("updated_at"),
    )
