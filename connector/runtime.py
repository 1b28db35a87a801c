"""What a command needs besides the settings: logging set up once, secrets known, the store."""

from __future__ import annotations

from dataclasses import dataclass

from connector.logging_setup import configure_logging, register_secret
from connector.settings import LoadedSettings, load_settings


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
