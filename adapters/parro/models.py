"""Request bodies and write results of the planner API.

Request bodies are strict on the vendor side ("Compatibility": undocumented members give
``422 validation_error``), so they are strict here too: pydantic models with
``extra="forbid"`` and the contract's lengths, ranges and enums. Timestamps must be aware
and are sent as ISO 8601 with their offset (never ``Z``). Responses are *not* modelled
here; see the package docstring.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PlainSerializer, model_validator

Timestamp = Annotated[AwareDatetime, PlainSerializer(datetime.isoformat, return_type=str)]
Id = Annotated[str, Field(min_length=1)]
PlannerKind = Literal[
    "parent_meeting",
    "child_meeting",
    "parent_child_meeting",
    "report_meeting",
    "advice_meeting",
    "other",
]
PlannerMode = Literal["self_select", "preferences"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def to_json(self) -> dict[str, Any]:
        """Return the JSON body (documented members only)."""
        return self.model_dump(mode="json", exclude_unset=True)


def _unique(values: list[str], name: str) -> None:
    if len(set(values)) != len(values):
        raise ValueError(f"{name} must not contain duplicates")


class SlotInput(_Body):
    """One slot: ``start`` before ``end``, 1 to 5 distinct staff ids."""

    start: Timestamp
    end: Timestamp
    staff_ids: list[Id] = Field(min_length=1, max_length=5)

    @model_validator(mode="after")
    def _check(self) -> SlotInput:
        if self.start >= self.end:
            raise ValueError("slot start must be before end")
        _unique(self.staff_ids, "staff_ids")
        return self


class PlannerCreate(_Body):
    """Body of ``POST /planners`` (schema PlannerCreate). Every member is required;
    ``location`` may be None (sent as ``null``)."""

    external_ref: str = Field(min_length=1, max_length=128)
    group_id: Id
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(max_length=5000)
    location: str | None = Field(max_length=200)
    kind: PlannerKind
    mode: PlannerMode
    sibling_head_start_hours: int = Field(ge=0, le=168)
    opens_at: Timestamp
    closes_at: Timestamp
    invitee_child_ids: list[Id] = Field(min_length=1, max_length=1000)
    slots: list[SlotInput] = Field(min_length=1, max_length=2000)

    @model_validator(mode="after")
    def _check(self) -> PlannerCreate:
        if self.opens_at >= self.closes_at:
            raise ValueError("opens_at must be before closes_at")
        _unique(self.invitee_child_ids, "invitee_child_ids")
        return self

    def to_json(self) -> dict[str, Any]:
        # All members are required, including a null location: dump everything.
        return self.model_dump(mode="json")


class PlannerPatch(_Body):
    """Body of ``PATCH /planners/{id}``: at least one of the members."""

    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    closes_at: Timestamp | None = None
    add_slots: list[SlotInput] | None = Field(default=None, min_length=1, max_length=2000)

    @model_validator(mode="after")
    def _check(self) -> PlannerPatch:
        if not self.to_json():
            raise ValueError("a planner patch needs at least one member")
        return self

    def to_json(self) -> dict[str, Any]:
        # None is not a documented value of any member: leave those out.
        return self.model_dump(mode="json", exclude_none=True)


class Assignment(_Body):
    child_id: Id
    slot_id: Id


class AssignmentRequest(_Body):
    """Body of ``POST /planners/{id}/assignments``: 1 to 1000 assignments."""

    assignments: list[Assignment] = Field(min_length=1, max_length=1000)


class Recipients(_Body):
    """Exactly one of ``child_ids`` (their guardians with the app) or ``staff_ids``."""

    child_ids: list[Id] | None = Field(default=None, min_length=1, max_length=1000)
    staff_ids: list[Id] | None = Field(default=None, min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _check(self) -> Recipients:
        given = [ids for ids in (self.child_ids, self.staff_ids) if ids is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of child_ids or staff_ids")
        _unique(given[0], "recipient ids")
        return self

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class MessageCreate(_Body):
    """Body of ``POST /messages``: plain-text subject (1-200) and body (1-10000)."""

    recipients: Recipients
    subject: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=10000)

    def to_json(self) -> dict[str, Any]:
        return {"recipients": self.recipients.to_json(), "subject": self.subject, "body": self.body}


@dataclass(frozen=True)
class PlannerResult:
    """A planner returned by a write. ``planner`` is the vendor's JSON object (a dict with
    at least a string ``id``); ``replayed`` is True when the vendor answered from its
    idempotency store (``Idempotent-Replayed: true``) instead of executing again."""

    planner: dict[str, Any] = field(repr=False)
    replayed: bool
    status: int

    @property
    def id(self) -> str:
        return str(self.planner["id"])


@dataclass(frozen=True)
class MessageResult:
    """``202`` of ``POST /messages``: the message id, and whether it was a replay."""

    id: str
    replayed: bool


@dataclass(frozen=True)
class AssignmentResult:
    """``200`` of ``POST .../assignments``: ``{child_id, slot_id, booking_id}`` dicts."""

    data: list[dict[str, Any]] = field(repr=False)
    replayed: bool
