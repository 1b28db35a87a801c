"""Adapter for the conversation planner / parent app API (``parro-style.openapi.yaml``).

Glossary: *organisation* = the school organisation owning the API key; *planner* =
gespreksplanner (slots, invitees, a lifecycle draft -> scheduled/open -> closed, or
cancelled by staff); *booking* = a child in a slot; *preferences* = slots a guardian is
available for (preferences mode); *assignment* = the school's choice of slot per child;
*external_id* = the PAS id of a group/child/staff member (link by it, never by name).

Public API: :class:`ParroClient`; request bodies :class:`PlannerCreate`,
:class:`PlannerPatch`, :class:`SlotInput`, :class:`AssignmentRequest`,
:class:`MessageCreate`, :class:`Recipients`; results :class:`PlannerResult`,
:class:`MessageResult`, :class:`AssignmentResult`; :class:`CursorPager`;
:class:`HttpPolicy`, :class:`SlidingWindowLimiter`; the errors of :mod:`adapters.errors`.

Design decisions:

* **Reads return plain dicts** (the vendor's JSON objects, unknown fields included) from a
  single-use :class:`CursorPager`, de-duplicated by ``id``. The envelope is checked strictly;
  records are converted one by one by ``mappings/`` so one bad record does not break a
  page. Single planners are dicts with at least a string ``id``.
* **Writes take strict pydantic bodies** (or mappings validated into them): the vendor
  rejects undocumented members and timestamps without offset, so we refuse them first.
* **Idempotency.** ``create_planner`` and ``send_message`` require an ``idempotency_key``;
  derive it from the intent (never random per attempt). Replays are surfaced as
  ``replayed=True``. Writes with a key are retried on timeouts/5xx/429; writes without one
  are sent once (except after 429 or a connect timeout, which were not executed).
  ``open_planner``/``close_planner`` are retried because the contract makes repeats no-ops.
* **Conflicts** are typed: :class:`~adapters.errors.DuplicateExternalRef` carries
  ``existing_id`` (``ParroClient.get_existing_planner(err)`` fetches it),
  :class:`~adapters.errors.InvalidState`, :class:`~adapters.errors.InvalidMode`,
  :class:`~adapters.errors.SlotUnavailable`, :class:`~adapters.errors.IdempotencyMismatch`.
"""

from adapters._http import HttpPolicy
from adapters._ratelimit import SlidingWindowLimiter
from adapters.parro.client import ParroClient
from adapters.parro.models import (
    Assignment,
    AssignmentRequest,
    AssignmentResult,
    MessageCreate,
    MessageResult,
    PlannerCreate,
    PlannerPatch,
    PlannerResult,
    Recipients,
    SlotInput,
)
from adapters.parro.pagination import CursorPager

__all__ = [
    "Assignment",
    "AssignmentRequest",
    "AssignmentResult",
    "CursorPager",
    "HttpPolicy",
    "MessageCreate",
    "MessageResult",
    "ParroClient",
    "PlannerCreate",
    "PlannerPatch",
    "PlannerResult",
    "Recipients",
    "SlidingWindowLimiter",
    "SlotInput",
]
