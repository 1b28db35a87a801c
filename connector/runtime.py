"""What a command needs besides the settings: logging set up once, secrets known, the store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from connector.cycle.settings import LoadedSettings, load_settings
from connector.logging_setup import configure_logging, register_secret

if TYPE_CHECKING:
    from connector.engine.context import Engine


@dataclass(frozen=True)
class Runtime:
    loaded: LoadedSettings
    store_url: str


def store_url(loaded: LoadedSettings) -> str:
    """The database URL: an SQLAlchemy URL as given, or a file path relative to the settings file."""
    url = loaded.settings.store.url
    if "://" in url:
        return url
    return str(loaded.resolve_path(url))


def start(settings: str | None, *, json_logs: bool | None = None) -> Runtime:
    """Load and validate the settings, set up logging, and register every secret for redaction."""
    loaded = load_settings(settings)
    s = loaded.settings
    log_file = loaded.resolve_path(s.logging.file) if s.logging.file else None
    configure_logging(level=s.logging.level, json=json_logs, log_file=log_file)
    register_secret(loaded.read_secret(s.pas.client_secret))
    for school in s.schools:
        register_secret(loaded.read_secret(school.planner_api_key))
    return Runtime(loaded, store_url(loaded))


def build_engine(runtime: Runtime, *, allow_removals: bool = False, throttle: bool = True) -> Engine:
    """The engine with real vendor clients (one PAS client for the board, one planner client per school).

    `throttle=False` lifts the client-side rate limits; only for the simulator, whose clock
    runs a school year in a minute while the vendors' limits are per real minute."""
    from adapters.parnassys import PasClient
    from adapters.parro import ParroClient
    from connector.engine.context import Engine
    from connector.store import Store, upgrade_to_head

    loaded = runtime.loaded
    s = loaded.settings
    unlimited = 1_000_000
    pas = PasClient(
        s.pas.base_url,
        s.pas.client_id,
        loaded.read_secret(s.pas.client_secret),
        requests_per_minute=s.pas.requests_per_minute if throttle else unlimited,
        page_size=500,
    )  # the contract's largest page: fewest requests against the 300/min limit
    planners: dict[str, ParroClient] = {}

    def planner_for(brin: str) -> ParroClient:
        if brin not in planners:
            school = s.school(brin)
            planners[brin] = ParroClient(
                s.planner.base_url,
                loaded.read_secret(school.planner_api_key),
                requests_per_minute=s.planner.requests_per_minute if throttle else unlimited,
            )
        return planners[brin]

    upgrade_to_head(runtime.store_url)
    return Engine(loaded, Store(runtime.store_url), pas, planner_for, allow_removals=allow_removals)
