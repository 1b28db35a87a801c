"""Loopback simulator of both vendor APIs, for the demo and the integration tests.

    with Simulator(SimConfig(schools=(SimSchool("12AB00", "De Regenboog", "midden", "key-1"),),
                             pas_client_id="client", pas_client_secret="secret")) as sim:
        sim.base_url          # http://127.0.0.1:<free port>
        sim.world             # in-process handle (hold sim.world.lock when mutating)

PAS (shared/contracts/parnassys-style.openapi.yaml) is served under `{base_url}/api/v1`, the
planner (parro-style.openapi.yaml) under `{base_url}/v1`. Time is simulated (`SimConfig.start_time`,
frozen unless `clock_rate` > 0): token expiry, planner status, enrolments and deregistrations
follow the simulated clock. `run(config, host, port)` serves until SIGINT/SIGTERM (CLI), and
`parse_fault_spec("rate=0.2,latency=50ms,revoke_token_after=30,maintenance=01:00-01:30")` builds
a FaultConfig for `--faults`.

The generated world (per school, deterministic from `seed` via random.Random, never global
random): groups 1/2A, 1/2B, 3..8 plus one combination group (3/4 for the first school), one or
two teachers per group (duos with split `werkdagen`), an IB, a directeur and an assistant;
`pupils_per_school` pupils in families (siblings across groups, split households with two
`huishouden_id`, step-parents without information rights, guardians without e-mail), support
levels 1-5 with handelingsplan/OPP, 1 in 3 pupils with an older note, a pupil deregistered on
1 Aug + 97 days (15:40) and one registered on 1 Aug + 72 days, both reaching the planner later,
and three guardian updates during the autumn. The planner side has its own ids (grp_, chd_,
gdn_, stf_), a "Hele school" group and an "Administratie" staff member without external_id,
two unlinked children, two children whose first name is typed without diacritics, and ~10%
guardians with `app_active: false` (incl. one child no guardian of which has the app).

Control endpoints (JSON; never faulted, not counted as API requests). Errors are
`{"error": {"code", "message"}}` (400 bad input, 404 unknown id, 409 refused action).

  GET  /_sim/clock                      -> {"now": ISO, "rate": float}
  POST /_sim/clock {"now": ISO} | {"advance_seconds": N}   -> {"now", "rate"}; 409 when backwards
  GET  /_sim/schools                    -> {"data": [school info]}
  GET  /_sim/schools/{brin}             -> {"brin","name","region","api_key","counts":{...},"facts":{...}}
       facts: leaver_pupil_id, arrival_pupil_id, unlinked_child_ids, app_inactive_guardian_ids,
       no_app_child_id, split_household_pupil_id, duo_group_ids, combination_group_ids,
       ib_staff_id, directeur_staff_id, opp_pupil_ids, niveau3plus_pupil_ids, ...
  POST /_sim/schools/{brin}/notes {"pupil_id", "category", "gespreksdatum"?: "YYYY-MM-DD",
       "created_at"?: ISO (default now), "zichtbaar_ouderportaal"?: true, "title"?, "author_id"?,
       "body"?}                          -> 201 note (with body)
  PATCH /_sim/schools/{brin}/notes/{id} {"zichtbaar_ouderportaal"?, "category"?, "title"?} -> note
  POST /_sim/schools/{brin}/pupils {"group_id"?: PAS group id, "leerjaar"?, "linked"?: true,
       "planner_delay_hours"?}          -> 201 {"pupil", "child_id", "planner_visible_from"}
  POST /_sim/schools/{brin}/pupils/{id}/deregister {"uitschrijfdatum"?, "planner_delay_hours"?}
                                        -> {"pupil"}
  POST /_sim/schools/{brin}/guardians/{gdn_id}/app {"app_active": bool} -> {"id", "app_active"}
  POST /_sim/planners/{pln_id}/book {"child_id", "guardian_id"?, "slot_id"? (first free)}
                                        -> booking; 409 {code: app_inactive|invalid_state|
                                           invalid_mode|already_booked|slot_unavailable|...}
  POST /_sim/planners/{pln_id}/cancel-booking {"child_id"}          -> booking (cancelled)
  POST /_sim/planners/{pln_id}/preferences {"child_id", "available_slot_ids", "guardian_id"?}
                                        -> preference
  POST /_sim/planners/{pln_id}/cancel   -> planner (status cancelled: staff cancelled it)
  POST /_sim/parents/behave {"planner_id"?}  -> {"counts": {...}, "booked": [child ids],
       "preferences", "already_done", "late_waiting", "never", "cannot", "not_yet_bookable",
       "no_free_slot"}. Families are fixed per seed as prompt (70%), late (15%: act after a
       message naming their child, or after 60% of the window) or never (15%); "cannot" means no
       guardian has the app. Sibling guardians may act from opens_at - sibling_head_start_hours
       and pick slots close to, but not overlapping, their other children's bookings.
  POST /_sim/tokens/revoke              -> {"revoked": n}
  GET  /_sim/counters | POST /_sim/counters/reset -> {"requests": {"GET /v1/groups": n, ...},
       "statuses": {"POST /v1/planners 201": n}, "writes": {...}, "writes_total", "faults",
       "events" (tokens_issued, idempotent_replays, parent_bookings...), "messages_sent",
       "duplicate_messages", "notifications_sent"}
  GET  /_sim/messages?brin=&kind=message|notification -> {"data": [message]}
  GET  /_sim/faults | PUT /_sim/faults {"spec": "rate=0.2"} -> {"config", "scripted"}
  POST /_sim/faults/next {"status": 429|502|503|504, "executed"?: false, "api"?: "pas"|"planner",
       "method"?, "path"?, "count"?: 1, "html"?: false, "retry_after"?} -> {"scripted"}
       (`executed: true` on a write: the request runs, then the client gets the 502/504)
  GET  /_sim/warnings                   -> {"data": [tolerated oddities, e.g. a body on /open]}
"""

from .config import FaultConfig, FaultSpecError, SimConfig, SimSchool, demo_config, parse_fault_spec
from .server import Simulator, run

__all__ = [
    "FaultConfig",
    "FaultSpecError",
    "SimConfig",
    "SimSchool",
    "Simulator",
    "demo_config",
    "parse_fault_spec",
    "run",
]
