"""Idempotent planner writes take effect exactly once, also when a 502/504 came back after
the write was executed (the client cannot tell, so it repeats with the same key)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from adapters.errors import DuplicateExternalRef, IdempotencyMismatch
from adapters.parro import MessageCreate
from adapters.simulator import FaultConfig, Simulator

from .conftest import (
    KEYS,
    FakeClock,
    control,
    counters,
    linked_groups,
    make_config,
    parro_client,
    planner_body,
    running,
)


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with running(make_config()) as simulator:
        yield simulator


def fail_next(sim: Simulator, status: int, method: str, path: str, **extra: Any) -> None:
    """The next matching request runs, and then the client only sees the gateway error."""
    control(sim, "POST", "/faults/next", {"status": status, "executed": True, "method": method, "path": path, **extra})


def message_to(children: list[str], subject: str) -> MessageCreate:
    return MessageCreate.model_validate(
        {
            "recipients": {"child_ids": children},
            "subject": subject,
            "body": "Plan via de app een gesprek met de leerkracht.",
        }
    )


def test_it_creates_a_planner_once_when_the_gateway_fails_after_executing_it(sim, clock):
    with parro_client(sim, clock) as parro:
        body = planner_body(parro, "12AB00", linked_groups(parro)[2])
        key = f"create:{body.external_ref}"
        fail_next(sim, 502, "POST", "/v1/planners", html=True)
        fail_next(sim, 504, "POST", "/v1/planners")

        created = parro.create_planner(body, idempotency_key=key)
        repeated = parro.create_planner(body, idempotency_key=key)
        with pytest.raises(DuplicateExternalRef) as duplicate:
            parro.create_planner(body, idempotency_key=f"{key}:another-attempt")
        existing = parro.get_existing_planner(duplicate.value)
        with pytest.raises(IdempotencyMismatch):
            parro.create_planner(body.model_copy(update={"title": "Ander gesprek"}), idempotency_key=key)
        listed = list(parro.planners(external_ref=body.external_ref))

    # The first attempt created it; the retries after the 502 and the 504 were replays.
    assert created.replayed and created.status == 200 and created.planner["status"] == "draft"
    assert repeated.replayed and repeated.id == created.id
    assert duplicate.value.existing_id == created.id == existing["id"]
    assert [p["id"] for p in listed] == [created.id]
    assert len(created.planner["slots"]) == len(body.slots)
    seen = counters(sim)
    assert seen["writes"] == {"POST /v1/planners": 1}
    assert seen["faults"] == {"502 after_execution": 1, "504 after_execution": 1}
    assert seen["events"]["idempotent_replays"] == 3
    assert clock.sleeps == [1.0, 1.0]  # Retry-After honoured on the fake clock only


def test_it_releases_a_planner_once_and_a_repeated_release_is_a_no_op(sim, clock):
    with parro_client(sim, clock) as parro:
        body = planner_body(parro, "12AB00", linked_groups(parro)[3])
        planner_id = parro.create_planner(body, idempotency_key=f"create:{body.external_ref}").id
        fail_next(sim, 504, "POST", f"/v1/planners/{planner_id}/open")

        opened = parro.open_planner(planner_id)
        again = parro.open_planner(planner_id)

    assert opened["status"] == again["status"] == "scheduled"
    assert again["updated_at"] == opened["updated_at"]
    seen = counters(sim)
    assert seen["writes"]["POST /v1/planners/{planner_id}/open"] == 1
    assert seen["statuses"]["POST /v1/planners/{planner_id}/open 200"] == 2
    assert seen["faults"] == {"504 after_execution": 1}


def test_it_sends_a_message_once_when_the_same_key_is_used_twice_under_gateway_faults(sim, clock):
    with parro_client(sim, clock) as parro:
        group = linked_groups(parro)[1]
        children = [c["id"] for c in parro.children(group_id=group["id"])]
        message = message_to(children, f"Gesprekken {group['name']}")
        fail_next(sim, 502, "POST", "/v1/messages")
        fail_next(sim, 504, "POST", "/v1/messages", html=True)

        first = parro.send_message(message, idempotency_key="msg:12AB00:invite:71003")
        second = parro.send_message(message, idempotency_key="msg:12AB00:invite:71003")

    assert first.replayed and second.replayed and second.id == first.id
    seen = counters(sim)
    assert seen["messages_sent"] == 1 and seen["duplicate_messages"] == 0
    assert seen["writes"] == {"POST /v1/messages": 1}
    sent = control(sim, "GET", "/messages?brin=12AB00&kind=message")["data"]
    assert [m["id"] for m in sent] == [first.id]
    assert sent[0]["recipients"] == {"child_ids": children} and sent[0]["delivered_guardian_ids"]


def test_it_keeps_every_write_single_under_random_faults_that_hit_after_execution():
    faults = FaultConfig(rate=0.3, kinds=(429, 502, 503, 504), executed_share=0.5)
    with running(make_config(faults=faults, seed=3)) as sim:
        clock = FakeClock()
        intents = 0

        def one_tick() -> None:
            """What the engine would do per school: one planner per group, released, announced."""
            nonlocal intents
            for brin in KEYS:
                with parro_client(sim, clock, brin) as parro:
                    for group in linked_groups(parro):
                        body = planner_body(parro, brin, group)
                        planner_id = parro.create_planner(body, idempotency_key=f"create:{body.external_ref}").id
                        parro.open_planner(planner_id)
                        parro.send_message(
                            message_to(list(body.invitee_child_ids), body.title),
                            idempotency_key=f"announce:{body.external_ref}",
                        )
                        intents += 1

        one_tick()
        one_tick()  # a second run of the same intents changes nothing
        n = intents // 2
        seen = counters(sim)
        sent = control(sim, "GET", "/messages?kind=message")["data"]
        with sim.world.lock:
            refs = [p.external_ref for s in sim.world.schools.values() for p in s.planners.values()]

    assert n >= 18  # nine or more groups per school
    assert seen["writes"] == {"POST /v1/planners": n, "POST /v1/planners/{planner_id}/open": n, "POST /v1/messages": n}
    assert len(refs) == len(set(refs)) == n
    assert len(sent) == seen["messages_sent"] == n and seen["duplicate_messages"] == 0
    assert sum(v for k, v in seen["faults"].items() if k.endswith("after_execution")) > 0
    assert seen["faults"].get("429 rejected", 0) > 0 and seen["events"]["idempotent_replays"] > n
