"""What a command needs besides the settings: logging set up once, secrets known, the store."""

from __future__ import annotations

import gc
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote_plus

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from connector.cycle.settings import LoadedSettings, load_settings
from connector.cycle.settings.models import SecretRef
from connector.logging_setup import configure_logging, get_logger, register_secret

if TYPE_CHECKING:
    from adapters._http import HttpPolicy
    from connector.cycle.settings.models import PasConnection, PlannerConnection
    from connector.engine.context import Engine


@dataclass(frozen=True)
class Runtime:
    loaded: LoadedSettings
    store_url: str


def store_url(loaded: LoadedSettings) -> str:
    """The database URL: an SQLAlchemy URL as given, or a file path relative to the settings file.

    `[store] url` may be a secret reference (`{ env = "VAR" }` or `{ file = "path" }`) holding the
    URL; raises SettingsError when it cannot be read. A password in the URL is registered for
    log redaction, however the URL was given.
    """
    url = loaded.settings.store.url
    if isinstance(url, SecretRef):
        url = loaded.read_secret(url)
    if "://" in url:
        for secret in _url_passwords(url):
            register_secret(secret)
        return url
    return str(loaded.resolve_path(url))


def _url_passwords(url: str) -> list[str]:
    """The URL's password as written (percent-encoded) and decoded: a log line may hold either."""
    try:
        password = make_url(url).password
    except (ArgumentError, ValueError):
        return []
    if not password:
        return []
    text = str(password)
    return list(dict.fromkeys((text, quote_plus(text), quote_plus(text).replace("+", "%20"))))


def display_url(url: str) -> str:
    """The database URL to show: its password masked; a file path, or a URL without one, unchanged."""
    if "://" not in url:
        return url
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return "(not a valid database URL)"  # the text may hold a password; never echo it
    if parsed.password is None:
        return url
    return parsed.render_as_string(hide_password=True)


def start(settings: str | None, *, json_logs: bool | None = None) -> Runtime:
    """Load and validate the settings, set up logging, and register every secret for redaction."""
    loaded = load_settings(settings)
    s = loaded.settings
    log_file = loaded.resolve_path(s.logging.file) if s.logging.file else None
    configure_logging(level=s.logging.level, json=json_logs, log_file=log_file)
    for warning in loaded.secret_warnings():
        get_logger().warning(warning)
    register_secret(loaded.read_secret(s.pas.client_secret))
    for school in s.schools:
        register_secret(loaded.read_secret(school.planner_api_key))
    return Runtime(loaded, store_url(loaded))


def build_engine(runtime: Runtime, *, allow_removals: bool = False, throttle: bool = True) -> Engine:
    """The engine with real vendor clients (one PAS client for the board, one planner client per school).

    Each client has its own rate limiter, shared by every thread of a run: the board's 300/min on
    the one PAS client, 120/min on each school's planner key, however many schools work at once.
    All clients share one bound on requests in flight: `sync.concurrency`.

    `throttle=False` lifts the client-side rate limits; only for the simulator, whose clock
    runs a school year in a minute while the vendors' limits are per real minute."""
    from adapters.parnassys import PasClient
    from adapters.parro import ParroClient
    from connector.engine.context import Engine
    from connector.store import Store, upgrade_to_head

    loaded = runtime.loaded
    s = loaded.settings
    unlimited = 1_000_000
    in_flight = threading.BoundedSemaphore(s.sync.concurrency)  # the board's requests in flight, all clients
    pas = PasClient(
        s.pas.base_url,
        s.pas.client_id,
        loaded.read_secret(s.pas.client_secret),
        policy=http_policy(s.pas),
        requests_per_minute=s.pas.requests_per_minute if throttle else unlimited,
        page_size=500,  # the contract's largest page: fewest requests against the 300/min limit
        max_pages=s.pas.max_pages,
        in_flight=in_flight,
    )
    planners: dict[str, ParroClient] = {}
    made = threading.Lock()  # one client, so one rate limiter, per key: pool workers ask at once

    def planner_for(brin: str) -> ParroClient:
        with made:
            if brin not in planners:
                school = s.school(brin)
                planners[brin] = ParroClient(
                    s.planner.base_url,
                    loaded.read_secret(school.planner_api_key),
                    policy=http_policy(s.planner),
                    requests_per_minute=s.planner.requests_per_minute if throttle else unlimited,
                    max_pages=s.planner.max_pages,
                    in_flight=in_flight,
                )
            return planners[brin]

    upgrade_to_head(runtime.store_url)
    engine = Engine(loaded, Store(runtime.store_url), pas, planner_for, allow_removals=allow_removals)
    freeze_start_up()
    return engine


def freeze_start_up() -> None:
    """Move what start-up made (modules, settings, table metadata: some 130,000 objects, alive as long
    as the process) out of the cyclic collector's reach, once per process, after collecting what is
    garbage already. Each full collection during a run would otherwise walk them all: a tenth of a
    second, once or twice in a board's roster sync (W2-6)."""
    if gc.get_freeze_count() == 0:
        gc.collect()
        gc.freeze()


def http_policy(connection: PasConnection | PlannerConnection) -> HttpPolicy:
    """The transport policy of a vendor connection: the defaults, with the settings' read bounds."""
    from adapters._http import MIB, HttpPolicy

    return HttpPolicy(
        request_deadline=float(connection.request_deadline_seconds),
        max_response_bytes=connection.max_response_mb * MIB,
    )
