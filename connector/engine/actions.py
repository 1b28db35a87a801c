"""A run's plan: the actions each due task will take, computed before any of them is taken.

A job's plan function reads (the store, the vendors) and returns a `TaskPlan`: the actions, as
lines a person can check, and `execute`, which takes exactly those actions. `connector sync
--dry-run` prints the plans and stops; a real run executes each plan right after making it, so
that a task is planned on what the task before it stored (vdirsyncer's "plan, then execute").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from connector.engine.context import Step
    from connector.engine.schedule import Task


@dataclass(frozen=True)
class Action:
    """One thing a task does: a write at a vendor, a message, or storing what it read."""

    verb: str  # "create and release planner", "send reminder", "store roster", …
    key: str  # what it acts on: the intent key, the planner's external_ref, the job key
    detail: str = ""  # counts and reasons, never names

    def line(self) -> str:
        return f"{self.verb} {self.key}" + (f": {self.detail}" if self.detail else "")


def _nothing(step: Step) -> None:
    return None


@dataclass
class TaskPlan:
    """The plan of one due task; `execute(step)` carries it out with the real run log."""

    task: Task
    actions: list[Action] = field(default_factory=list)
    execute: Callable[[Step], None] = _nothing
