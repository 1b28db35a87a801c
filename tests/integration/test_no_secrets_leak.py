"""No secret (the PAS client secret, any access token issued, the planner API keys) appears in
any log line or in the text or repr of any exception raised during a faulty run."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from structlog.testing import capture_logs

from adapters.errors import AdapterError, AuthError, RetriesExhausted, TokenEndpointError
from adapters.simulator import FaultConfig, Simulator

from .conftest import (
    KEYS,
    PAS_SECRET,
    FakeClock,
    control,
    linked_groups,
    make_config,
    parro_client,
    pas_client,
    planner_body,
    running,
)

WRONG_SECRET = "pas-secret-WRONG-Jd93Kf02Pq"
WRONG_KEY = "pk-unknown-Rt55Nc81Vx"


@pytest.fixture
def recording_sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Simulator, list[str]]]:
    """A faulty simulator, and the list of every access token it hands out."""
    with running(make_config(faults=FaultConfig(rate=0.2, revoke_token_after=6))) as simulator:
        issued: list[str] = []
        new_token = simulator.world.new_token

        def remembering() -> str:
            issued.append(new_token())
            return issued[-1]

        monkeypatch.setattr(simulator.world, "new_token", remembering)
        yield simulator, issued


def texts_of(errors: list[BaseException]) -> str:
    """str and repr of each error and of everything chained to it."""
    parts = []
    for error in errors:
        seen: BaseException | None = error
        while seen is not None:
            parts += [str(seen), repr(seen), repr(getattr(seen, "details", ""))]
            seen = seen.__cause__ or seen.__context__
    return "\n".join(parts)


def caught(call: Any, kind: type[AdapterError]) -> AdapterError:
    with pytest.raises(kind) as error:
        call()
    return error.value


def faulty_run(sim: Simulator, clock: FakeClock, reprs: list[str]) -> list[AdapterError]:
    """Reads and writes through 20% faults and a token revocation, then four failures."""
    errors: list[AdapterError] = []
    with pas_client(sim, clock) as pas:
        reprs.append(repr(pas))
        for brin in KEYS:
            assert list(pas.pupils(brin)) and list(pas.notes(brin))
        control(sim, "PUT", "/faults", {"spec": "rate=1,kinds=503"})
        errors.append(caught(lambda: list(pas.groups("12AB00")), RetriesExhausted))
        control(sim, "PUT", "/faults", {"spec": "rate=0.2"})
        assert pas.tokens_fetched == 2
        reprs += [repr(pas), repr(pas._auth)]
    with pas_client(sim, clock, secret=WRONG_SECRET) as wrong:
        errors.append(caught(lambda: wrong.get_school("12AB00"), TokenEndpointError))
    for brin in KEYS:
        with parro_client(sim, clock, brin) as parro:
            body = planner_body(parro, brin, linked_groups(parro)[0])
            parro.open_planner(parro.create_planner(body, idempotency_key=body.external_ref).id)
            reprs.append(repr(parro))
    with parro_client(sim, clock, key=WRONG_KEY) as unknown:
        errors.append(caught(lambda: list(unknown.staff()), AuthError))
    control(sim, "PUT", "/faults", {"spec": "rate=1,kinds=502/504"})
    with parro_client(sim, clock, "34CD01") as parro:
        errors.append(caught(lambda: list(parro.children()), RetriesExhausted))
    return errors


def test_it_keeps_every_secret_out_of_logs_and_exceptions_during_a_faulty_run(recording_sim, clock, caplog):
    sim, tokens = recording_sim
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="urllib3")  # it logs every URL at DEBUG
    reprs: list[str] = []
    with capture_logs() as events:
        errors = faulty_run(sim, clock, reprs)

    secrets = [PAS_SECRET, WRONG_SECRET, WRONG_KEY, *KEYS.values(), *tokens]
    assert len(tokens) == 2 and all(len(t) >= 16 for t in tokens)
    assert control(sim, "GET", "/counters")["events"]["tokens_issued"] == len(tokens)
    assert any(e["event"] == "http_retry" for e in events)
    assert any(e["event"] == "http_reauthenticate" for e in events)
    assert any(r.name.startswith("urllib3") and r.levelno == logging.DEBUG for r in caplog.records)

    texts = {
        "structlog events": "\n".join(repr(e) for e in events),
        "stdlib log records": caplog.text + "\n".join(repr(r.__dict__) for r in caplog.records),
        "exceptions": texts_of(errors),
        "client reprs": "\n".join(reprs),
    }
    for where, text in texts.items():
        assert [s for s in secrets if s in text] == [], where
    assert [e.status for e in errors[:3]] == [503, 401, 401] and errors[3].status in (502, 504)
