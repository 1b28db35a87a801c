"""A PAS token revoked in the middle of a paginated read costs exactly one new token, and the
read still completes with every record."""

from __future__ import annotations

import threading

from adapters.simulator import FaultConfig

from .conftest import (
    KEYS,
    by_id,
    control,
    counters,
    make_config,
    pas_client,
    running,
    world_pas,
)


def test_it_fetches_one_new_token_when_the_token_is_revoked_between_two_pages(clock):
    with running(make_config()) as sim, pas_client(sim, clock) as pas:
        sweep = pas.pupils("12AB00", limit=10)
        items = iter(sweep)
        first_page = [next(items) for _ in range(10)]
        assert sweep.pages == 1 and pas.tokens_fetched == 1

        assert control(sim, "POST", "/tokens/revoke") == {"revoked": 1}
        rest = list(items)

        assert pas.tokens_fetched == 2
        assert sweep.complete and sweep.pages >= 8
        assert by_id(first_page + rest) == world_pas(sim, "12AB00")["pupils"]
        seen = counters(sim)
        assert seen["events"]["tokens_issued"] == 2
        assert seen["statuses"]["GET /api/v1/schools/{brin}/pupils 401"] == 1


def test_it_survives_the_simulators_own_revocation_during_a_faulty_board_read(clock):
    faults = FaultConfig(rate=0.2, revoke_token_after=9)
    with running(make_config(faults=faults)) as sim, pas_client(sim, clock) as pas:
        read = {brin: (list(pas.groups(brin)), list(pas.pupils(brin))) for brin in KEYS}

        assert pas.tokens_fetched == 2
        for brin, (groups, pupils) in read.items():
            expected = world_pas(sim, brin)
            assert by_id(groups) == expected["groups"] and by_id(pupils) == expected["pupils"]
        seen = counters(sim)
        assert seen["events"]["tokens_revoked"] == 1 and seen["events"]["tokens_issued"] == 2
        assert sum(n for k, n in seen["statuses"].items() if k.endswith(" 401")) == 1
        assert sum(seen["faults"].values()) > 0


def test_it_fetches_one_new_token_for_all_threads_that_hit_the_revocation_together(clock):
    """Four threads share one client; each has read a page when the token is revoked."""
    jobs = [(brin, resource) for brin in KEYS for resource in ("pupils", "notes")]
    barrier = threading.Barrier(len(jobs) + 1, timeout=30)
    results: dict[tuple[str, str], list[dict]] = {}
    failures: list[BaseException] = []

    with running(make_config()) as sim, pas_client(sim, clock) as pas:
        pas.get_school("12AB00")  # one token for everybody

        def read(brin: str, resource: str) -> None:
            try:
                items = iter(getattr(pas, resource)(brin, limit=5))
                first = [next(items) for _ in range(5)]
                barrier.wait()  # every thread has its first page
                barrier.wait()  # the token is revoked now
                results[brin, resource] = first + list(items)
            except BaseException as exc:
                failures.append(exc)
                barrier.abort()

        threads = [threading.Thread(target=read, args=job) for job in jobs]
        for thread in threads:
            thread.start()
        barrier.wait()
        assert control(sim, "POST", "/tokens/revoke") == {"revoked": 1}
        barrier.wait()
        for thread in threads:
            thread.join(timeout=30)

        assert failures == []
        assert pas.tokens_fetched == 2
        for (brin, resource), records in results.items():
            assert by_id(records) == world_pas(sim, brin)[resource], (brin, resource)
        assert counters(sim)["events"]["tokens_issued"] == 2
