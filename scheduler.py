"""The daemon's scheduling: thin wiring of `connector.engine.run` into APScheduler (issue 5).

One job does the work: the **tick**, every `tick_seconds` (60) and once at start. A tick
takes the run lock (skipping when a manual sync holds it), and calls `run_due` school by
school. `schedule.due_tasks` is the reconcile step: it computes from the settings' year plan and the
JobMark table what is due and not done, so the same tick is the schedule, the start-up
catch-up after downtime, and the pick-up of state changed by a manual sync. What it does on
each kind of missed item (pitfalls, APScheduler; issue 5 "Downtime"):

* roster and verslag checks are keyed per local day (`roster:BRIN:2026-10-25`): after three
  days off only today's runs, once; the days missed collapse into it (each run reads all);
* a planner opening (`open:…`) is done late, never skipped, while its planner is open, and
  logged as late (`done late`), as is anything done more than `LATE_AFTER` after it was due;
* booking polls are keyed per interval bucket: missed polls collapse into one;
* each reminder moment that passed while its planner is still open is sent once, in order;
* a closing is done once, after the planner closed.

Business times are local wall-clock times computed by `due_tasks` on local dates, so the
interval trigger of the tick itself needs no time zone and cannot go wrong on DST days.

A second job writes the **heartbeat** (a JobMark row, `daemon:heartbeat`, real UTC time)
every `HEARTBEAT_SECONDS`, also during a long tick; `connector health` reads it.

SIGTERM/SIGINT set a stop flag: no new tick starts, a running tick stops after its current
school, and the process exits 0. A tick still running after `stop_grace` seconds is cut off
(its intents stay in flight and are reconciled at the next start, see engine/intents.py); its
run is closed as `interrupted` first. Each tick, once it holds the run lock, closes the runs a
dead process left `running` the same way (`runlog.close_interrupted`).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import structlog
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from adapters.deadline import overall as overall_deadline
from connector.cycle.settings import load_settings
from connector.cycle.settings.models import School
from connector.engine.context import Engine
from connector.engine.run import DEADLINE_SETTING, SchoolReport, next_due, run_due, tasks_due
from connector.engine.runlog import close_interrupted
from connector.errors import UserError
from connector.instance_lock import LockHeld, daemon_lock, run_lock
from connector.logging_setup import register_secret
from connector.runtime import Runtime, build_engine, display_url, store_url
from connector.store.models import JobMark

log = structlog.get_logger("connector.daemon")

TICK_SECONDS = 60
HEARTBEAT_SECONDS = 30
HEARTBEAT_KEY = "daemon:heartbeat"  # done_at: the daemon's last sign of life (real time, UTC)
STOPPED_KEY = "daemon:stopped"  # done_at: when it last stopped cleanly; removed at start
DAEMON_JOB = "daemon"  # JobMark.job of both rows; not a job kind of the engine
LATE_AFTER = timedelta(minutes=5)
STOP_GRACE = 8.0  # seconds; Docker sends SIGKILL 10 s after SIGTERM

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def shifted_clock(start: datetime, monotonic: Callable[[], float] = time.monotonic) -> Clock:
    """A clock that reads `start` now and then runs in real time (`connector daemon --now`)."""
    origin = monotonic()
    return lambda: (start + timedelta(seconds=monotonic() - origin)).astimezone(UTC)


class Daemon:
    """The daemon's state: settings, engine, stop flag; `tick` and `beat` are its jobs."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        clock: Clock = utc_now,
        wall: Clock = utc_now,
        engine_factory: Callable[[Runtime], Engine] = build_engine,
        run: Callable[..., list[SchoolReport]] = run_due,
        lock_alive: Callable[[], bool] = lambda: True,
    ) -> None:
        self.runtime = runtime
        self.clock = clock
        self.wall = wall
        self.engine_factory = engine_factory
        self.run = run
        self.lock_alive = lock_alive
        self.engine = engine_factory(runtime)
        self.mtime = _mtime(runtime)
        self.stop = threading.Event()
        self.busy = threading.Lock()  # held while a tick runs, and by `serve` once stopping
        self.in_run = threading.Event()  # set while a tick holds the run lock
        self.exit_code = 0

    # --- jobs ------------------------------------------------------------------------------

    def tick(self) -> list[SchoolReport] | None:
        """Do whatever is due now; None when skipped (stopping, or another run holds the lock)."""
        # Never wait for `busy`: only a stopping daemon holds it outside a tick (max_instances=1),
        # and a pool thread blocked on it would keep the process from exiting.
        if self.stop.is_set() or not self.busy.acquire(blocking=False):
            return None
        try:
            return self._tick()
        finally:
            self.busy.release()

    def _tick(self) -> list[SchoolReport] | None:
        # Pool threads do not inherit contextvars and may carry old ones: bind here (pitfalls).
        structlog.contextvars.clear_contextvars()
        with structlog.contextvars.bound_contextvars(tick_id=str(uuid.uuid4())[:8]):
            if not self.lock_alive():
                log.error("lost the daemon lock (database connection dropped): stopping")
                self.exit_code = 1
                self.stop.set()
                return None
            self.reload_if_changed()
            now = self.clock()
            try:
                with run_lock(self.runtime.store_url, holder="the daemon", wait=0):
                    self.in_run.set()  # from here, every run `running` in the store is this tick's
                    try:
                        close_interrupted(self.engine.store, now)  # left by a process that died
                        reports = self._run(now)
                    finally:
                        self.in_run.clear()
            except LockHeld as exc:
                log.info(
                    "tick skipped: another run holds the database; the next tick catches up", holder=str(exc.holder)
                )
                return None
            self.beat()
            return reports

    def beat(self) -> None:
        """Record that the daemon is alive (`connector health` reads it)."""
        if not self.stop.is_set():  # after the stop mark, a late beat would read as "died"
            self._mark(HEARTBEAT_KEY, self.wall())

    def _run(self, now: datetime) -> list[SchoolReport]:
        engine = self.engine
        reports = []
        seconds = engine.settings.sync.run_deadline_seconds
        # One deadline for the whole tick (each school's `run_due` may only shorten it): the run
        # lock is never held longer, whatever the vendors do; the rest is the next tick's.
        with overall_deadline(seconds, setting=DEADLINE_SETTING) as deadline:
            for school in engine.settings.schools:
                if self.stop.is_set():
                    log.info("stopping: the remaining schools are done by the next start's catch-up")
                    break
                if deadline.passed():
                    log.warning(
                        "tick deadline passed: the remaining schools are done by the next tick", seconds=seconds
                    )
                    break
                reports += self._run_school(engine, school, now)
        return reports

    def _run_school(self, engine: Engine, school: School, now: datetime) -> list[SchoolReport]:
        pending = {t.key: t for t in tasks_due(engine, school, now)}
        if not pending:
            return []
        reports = self.run(engine, now, trigger="daemon", schools=[school])
        for report in reports:
            for key in report.done:
                task = pending.get(key)
                if task is not None and now - task.at > LATE_AFTER:
                    log.warning(
                        "done late",
                        key=key,
                        run_id=report.run_id,
                        due_at=task.at.isoformat(),
                        late_minutes=int((now - task.at).total_seconds() // 60),
                    )
            log.info(
                "school done",
                brin=report.brin,
                run_id=report.run_id,
                outcome=report.outcome,
                done=len(report.done),
                postponed=len(report.postponed),
            )
        return reports

    # --- settings --------------------------------------------------------------------------

    def reload_if_changed(self) -> bool:
        """Reload the settings when their file changed; keep the old ones when the new are invalid."""
        mtime = _mtime(self.runtime)
        if mtime == self.mtime:
            return False
        self.mtime = mtime
        path = self.runtime.loaded.path
        try:
            loaded = load_settings(path)
            url = store_url(loaded)
            if url != self.runtime.store_url:
                raise UserError(f"store.url changed to {display_url(url)}: restart the daemon to use another database")
            for secret in (loaded.settings.pas.client_secret, *(s.planner_api_key for s in loaded.settings.schools)):
                register_secret(loaded.read_secret(secret))
            engine = self.engine_factory(Runtime(loaded, url))
        except UserError as exc:
            log.warning(
                "settings changed but cannot be used; keeping the previous settings", path=str(path), problems=exc.lines
            )
            return False
        old, self.engine, self.runtime = self.engine, engine, Runtime(loaded, url)
        _dispose(old)
        log.info("settings reloaded", path=str(path), schools=len(loaded.settings.schools))
        return True

    # --- start and stop --------------------------------------------------------------------

    def started(self) -> None:
        with self.engine.store.write() as session:
            mark = session.get(JobMark, STOPPED_KEY)
            if mark is not None:
                session.delete(mark)
        self.beat()

    def stopped(self) -> None:
        self._mark(STOPPED_KEY, self.wall())

    def cut_off(self) -> list[str]:
        """The tick is still at work when the process must exit: close its runs as interrupted,
        so that `logs`, `status` and `health` say so at once rather than after the next start.
        Only while the tick holds the run lock: otherwise a run `running` may be another
        process's (a manual sync). Never raises: the process exits next, whatever happens here."""
        if not self.in_run.is_set():
            return []
        try:
            closed = close_interrupted(self.engine.store, self.clock(), trigger="daemon")
            self.stopped()  # until a start clears it, `health` counts the interrupted run
            return closed
        except Exception:
            log.exception("could not mark the cut-off run as interrupted; the next start does")
            return []

    def _mark(self, key: str, at: datetime) -> None:
        with self.engine.store.write() as session:
            session.merge(JobMark(key=key, job=DAEMON_JOB, done_at=at, run_id=None))


def build_scheduler(daemon: Daemon, tick_seconds: int = TICK_SECONDS) -> BackgroundScheduler:
    """The tick (first run at once: the start-up catch-up) and the heartbeat, in memory."""
    scheduler = BackgroundScheduler(
        jobstores={"default": MemoryJobStore()},  # jobs come from the settings at each start
        executors={"default": ThreadPoolExecutor(2)},
        # In job_defaults: a top-level misfire_grace_time is ignored (apscheduler#146).
        job_defaults={"misfire_grace_time": max(tick_seconds // 2, 1), "coalesce": True, "max_instances": 1},
        timezone=UTC,
    )
    first = datetime.now(UTC)
    scheduler.add_job(
        daemon.tick, IntervalTrigger(seconds=tick_seconds), id="tick", name="do what is due", next_run_time=first
    )
    scheduler.add_job(
        daemon.beat,
        IntervalTrigger(seconds=HEARTBEAT_SECONDS),
        id="heartbeat",
        name="heartbeat",
        next_run_time=first + timedelta(seconds=HEARTBEAT_SECONDS),
    )
    scheduler.add_listener(_job_event, EVENT_JOB_MISSED | EVENT_JOB_ERROR | EVENT_JOB_MAX_INSTANCES)
    # "Running job"/"executed successfully" four times a minute says nothing the tick's own
    # lines do not; misses and crashes come through the listener above.
    logging.getLogger("apscheduler.executors").setLevel(logging.WARNING)
    return scheduler


def _job_event(event: JobExecutionEvent) -> None:
    if event.code == EVENT_JOB_ERROR:
        log.error(
            "job crashed; the next tick retries what is still due",
            job=event.job_id,
            exc_info=(type(event.exception), event.exception, event.exception.__traceback__),
        )
    elif event.code == EVENT_JOB_MISSED:
        log.warning(
            "job run missed; the next tick catches up", job=event.job_id, scheduled=event.scheduled_run_time.isoformat()
        )
    else:
        log.info("previous tick still running; this one skipped", job=event.job_id)


def serve(
    runtime: Runtime,
    *,
    tick_seconds: int = TICK_SECONDS,
    clock: Clock = utc_now,
    stop_grace: float = STOP_GRACE,
    ready: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
) -> int:
    """Run the daemon until SIGTERM/SIGINT; returns the exit code. Raises LockHeld (exit 3)
    when another daemon runs on this database."""
    with daemon_lock(runtime.store_url) as held:
        daemon = Daemon(runtime, clock=clock, lock_alive=held.alive)
        daemon.started()
        _on_signals(daemon.stop)
        web = _start_web(daemon)  # before the first tick: a port in use ends the start, nothing done yet
        scheduler = build_scheduler(daemon, tick_seconds)
        scheduler.start()
        moment = clock()
        for school in daemon.engine.settings.schools:
            jobs = next_due(daemon.engine, school, moment)
            log.info("next due", brin=school.brin, **{job: at.isoformat() for job, at in jobs.items()})
        ready(
            f"daemon running: pid {os.getpid()}, database {held.target}, a tick every {tick_seconds} s; "
            + (f"web page at {web.url}; " if web is not None else "")
            + "stop with SIGTERM"
        )
        while not daemon.stop.wait(0.5):
            pass
        log.info("stopping")
        scheduler.shutdown(wait=False)
        if web is not None:
            web.stop()
        if not daemon.busy.acquire(timeout=stop_grace):
            log.warning(
                "the tick is still running; exiting without it. Its intents stay in flight "
                "and are reconciled at the next start",
                grace_seconds=stop_grace,
            )
            daemon.cut_off()
            logging.shutdown()
            sys.stderr.flush()
            os._exit(daemon.exit_code)  # a pool thread would otherwise keep the process alive
        daemon.stopped()
        _dispose(daemon.engine)
    log.info("stopped", exit_code=daemon.exit_code)
    return daemon.exit_code


def _start_web(daemon: Daemon):
    """The web page in a thread of the daemon, when `[web] enabled = true` (issue W2-5). Only then is
    the web stack imported: the daemon without it loads no Starlette, uvicorn, Jinja2 or argon2.
    The page reads the settings the daemon has in force (it reloads them) and its clock."""
    web = daemon.runtime.loaded.settings.web
    if not web.enabled:
        return None
    from connector.web.server import start_in_thread

    page = start_in_thread(lambda: daemon.runtime, host=web.host, port=web.port, clock=daemon.clock)
    log.info("web page started", url=page.url)
    return page


def _on_signals(stop: threading.Event) -> None:
    def handle(signum: int, frame: object) -> None:
        if stop.is_set():  # a second signal: the operator insists
            os._exit(0)
        log.info("signal received", signal=signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


def _mtime(runtime: Runtime) -> tuple[int, int] | None:
    try:
        st = runtime.loaded.path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def _dispose(engine: object) -> None:
    store = getattr(engine, "store", None)
    if store is not None:
        store.dispose()
