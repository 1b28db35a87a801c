""" "Sync now" from the web page (issue W2-5): one school's manual sync in a worker thread.

It is `connector sync --school BRIN`: the same clock check (`engine.clock.refuse_if_ahead`), the
same run lock (`engine.run.locked_run`: it waits up to `[web] sync_wait_seconds` while the daemon
or another sync runs, then says the service is busy) and the same entry (`engine.run.sync_school`).
The request that starts it returns at once; the job's page follows it until it ends and then
shows the new run. One job runs at a time per process: a second press joins the running one.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import structlog

from connector.engine.run import SchoolReport, locked_run, sync_school
from connector.errors import UserError
from connector.instance_lock import Holder, LockHeld
from connector.runtime import Runtime, build_engine

if TYPE_CHECKING:
    from connector.engine.context import Engine

log = structlog.get_logger("connector.web")
KEEP = 20  # finished jobs remembered, for their pages

Clock = Callable[[], datetime]


@dataclass
class SyncJob:
    """One press of "sync now": `state` is `waiting` (for the run lock), `running`, `done`,
    `busy` (the lock stayed held) or `failed`."""

    id: str
    brin: str
    user: str
    started_at: datetime  # real time
    state: str = "waiting"
    holder: str | None = None  # who held the run lock while it waited
    reports: list[SchoolReport] = field(default_factory=list)
    problem: list[str] = field(default_factory=list)  # a UserError's lines (the engine's English)
    ended_at: datetime | None = None

    @property
    def finished(self) -> bool:
        return self.state in ("done", "busy", "failed")

    @property
    def run_id(self) -> str | None:
        return next((r.run_id for r in self.reports if r.run_id), None)


class SyncJobs:
    """The jobs of one web app. `runtime` gives the settings in force (the daemon reloads them)."""

    def __init__(
        self,
        runtime: Callable[[], Runtime],
        *,
        clock: Clock,
        engine_factory: Callable[[Runtime], Engine] = build_engine,
        wall: Clock = lambda: datetime.now(UTC),
    ) -> None:
        self.runtime = runtime
        self.clock = clock
        self.wall = wall
        self.engine_factory = engine_factory
        self._lock = threading.Lock()
        self._jobs: dict[str, SyncJob] = {}
        self._threads: dict[str, threading.Thread] = {}

    def start(self, brin: str, user: str) -> tuple[SyncJob, bool]:
        """Start a sync of the school; returns the job and whether it is new (False: one was
        already running, and this is that one)."""
        with self._lock:
            running = next((j for j in self._jobs.values() if not j.finished), None)
            if running is not None:
                return running, False
            job = SyncJob(str(uuid.uuid4()), brin, user, self.wall())
            self._jobs[job.id] = job
            for old in [j.id for j in self._jobs.values() if j.finished][:-KEEP]:
                del self._jobs[old]
                self._threads.pop(old, None)
            thread = threading.Thread(target=self._work, args=(job,), name=f"sync-now-{brin}", daemon=True)
            self._threads[job.id] = thread
        thread.start()
        return job, True

    def get(self, job_id: str) -> SyncJob | None:
        with self._lock:
            return self._jobs.get(job_id)

    def join(self, job_id: str, timeout: float | None = None) -> None:
        """Wait for a job's thread (tests, and a clean stop)."""
        thread = self._threads.get(job_id)
        if thread is not None:
            thread.join(timeout)

    def _work(self, job: SyncJob) -> None:
        runtime = self.runtime()
        wait = runtime.loaded.settings.web.sync_wait_seconds
        engine: Engine | None = None
        try:
            from connector.engine.clock import refuse_if_ahead

            engine = self.engine_factory(runtime)
            school = runtime.loaded.settings.school(job.brin)
            moment = self.clock()
            refuse_if_ahead(engine, moment)

            def waiting(who: Holder) -> None:
                job.holder = who.description

            holder = f"a sync from the web page ({job.user})"
            with locked_run(
                runtime.store_url,
                engine.store,
                holder=holder,
                wait=wait,
                moment=moment,
                on_wait=waiting,
            ):
                job.state = "running"
                log.info("sync now from the web page", brin=job.brin, user=job.user)
                job.reports = sync_school(engine, moment, school)
            job.state = "done"
        except LockHeld as exc:
            job.holder, job.state = exc.holder.description, "busy"
        except UserError as exc:  # the clock check, the removal guard, an unreadable database
            job.problem, job.state = exc.lines, "failed"
        except Exception:
            log.exception("sync now from the web page crashed", brin=job.brin)
            job.state = "failed"
        finally:
            job.ended_at = self.wall()
            if engine is not None:
                engine.store.dispose()
