"""The vendor read bounds in [pas] and [planner], and [store] url as a secret reference."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from adapters._http import MIB
from connector.cycle.settings import load_settings
from connector.cycle.settings.models import SecretRef
from connector.logging_setup import REDACTED, redact_text
from connector.review.health import health_report
from connector.runtime import Runtime, build_engine, display_url, store_url
from tests.conftest import VALID_SETTINGS
from tests.settings.test_invalid_settings import changed, line_of, problems_of

PAS_KEYS = 'client_secret = { file = "secrets/pas" }'
PLANNER_KEYS = '[planner]\nbase_url = "http://127.0.0.1:8765"'
STORE = 'url = "var/test.db"'
DB_ENV = "CONNECTOR_TEST_DB_URL"
PASSWORD = "korenbloemveld"
POSTGRES = f"postgresql+psycopg://connector:{PASSWORD}@127.0.0.1:1/connector"


def test_the_bounds_default_to_60_s_10_mb_and_10000_pages(write_settings):
    s = load_settings(write_settings()).settings
    for connection in (s.pas, s.planner):
        assert connection.request_deadline_seconds == 60
        assert connection.max_response_mb == 10
        assert connection.max_pages == 10_000


def test_the_bounds_can_be_set_per_vendor(write_settings):
    text = changed(PAS_KEYS, PAS_KEYS + "\nrequest_deadline_seconds = 120\nmax_response_mb = 25\nmax_pages = 500")
    text = text.replace(PLANNER_KEYS, PLANNER_KEYS + "\nrequest_deadline_seconds = 30.5\nmax_pages = 20", 1)
    s = load_settings(write_settings(text)).settings
    assert (s.pas.request_deadline_seconds, s.pas.max_response_mb, s.pas.max_pages) == (120, 25, 500)
    assert (s.planner.request_deadline_seconds, s.planner.max_response_mb, s.planner.max_pages) == (30.5, 10, 20)


# (case id, section's anchor, added line, key path, words)
BAD_BOUNDS = [
    (
        "deadline too short",
        PAS_KEYS,
        "request_deadline_seconds = 5",
        "pas.request_deadline_seconds",
        "5: input should be greater than or equal to 10",
    ),
    (
        "deadline too long",
        PLANNER_KEYS,
        "request_deadline_seconds = 3600",
        "planner.request_deadline_seconds",
        "3600: input should be less than or equal to 600",
    ),
    (
        "deadline not a number",
        PAS_KEYS,
        'request_deadline_seconds = "1 min"',
        "pas.request_deadline_seconds",
        "'1 min' is not a number",
    ),
    (
        "no response allowed",
        PAS_KEYS,
        "max_response_mb = 0",
        "pas.max_response_mb",
        "0: input should be greater than or equal to 1",
    ),
    (
        "response cap too large",
        PLANNER_KEYS,
        "max_response_mb = 4096",
        "planner.max_response_mb",
        "4096: input should be less than or equal to 500",
    ),
    (
        "no pages allowed",
        PLANNER_KEYS,
        "max_pages = 0",
        "planner.max_pages",
        "0: input should be greater than or equal to 1",
    ),
    (
        "half a page",
        PAS_KEYS,
        "max_pages = 2.5",
        "pas.max_pages",
        "2.5 is not a whole number",
    ),
    (
        "typo in a bound",
        PAS_KEYS,
        "max_page = 10",
        "pas.max_page",
        "unknown key (a typo?)",
    ),
]


@pytest.mark.parametrize(
    ("anchor", "line", "key", "words"), [c[1:] for c in BAD_BOUNDS], ids=[c[0] for c in BAD_BOUNDS]
)
def test_a_bound_outside_its_range_is_named_with_its_line(write_settings, anchor, line, key, words):
    text = changed(anchor, f"{anchor}\n{line}")
    problems = problems_of(write_settings, text)
    matching = [p for p in problems if f": {key}: " in p]
    assert matching, problems
    assert any(words in p for p in matching), problems
    assert any(f"settings.toml:{line_of(text, line)}: " in p for p in matching), problems


def test_the_bounds_reach_the_vendor_clients(write_settings):
    text = changed(PAS_KEYS, PAS_KEYS + "\nrequest_deadline_seconds = 120\nmax_response_mb = 25\nmax_pages = 500")
    text = text.replace(PLANNER_KEYS, PLANNER_KEYS + "\nrequest_deadline_seconds = 15\nmax_pages = 20", 1)
    loaded = load_settings(write_settings(text))
    engine = build_engine(Runtime(loaded, store_url(loaded)))
    try:
        pas, planner = engine.pas, engine.planner_for("12AB00")
        assert (pas._transport.policy.request_deadline, pas._transport.policy.max_response_bytes) == (120, 25 * MIB)
        assert pas.max_pages == 500 and pas.pupils("12AB00").max_pages == 500
        assert planner._transport.policy.request_deadline == 15
        assert planner._transport.policy.max_response_bytes == 10 * MIB
        assert planner.max_pages == 20 and planner.groups().max_pages == 20
    finally:
        engine.pas.close()
        engine.store.dispose()


# --- [store] url as a secret reference ----------------------------------------------------


def test_the_store_url_can_come_from_an_environment_variable(write_settings, monkeypatch):
    monkeypatch.setenv(DB_ENV, POSTGRES)
    loaded = load_settings(write_settings(changed(STORE, f'url = {{ env = "{DB_ENV}" }}')))
    assert loaded.settings.store.url == SecretRef(env=DB_ENV)
    assert store_url(loaded) == POSTGRES
    # Its password is masked in every log line from then on.
    assert redact_text(f"cannot connect as {PASSWORD}") == f"cannot connect as {REDACTED}"


def test_the_store_url_can_come_from_a_file(write_settings, settings_dir):
    (settings_dir / "secrets" / "db").write_text("var/from-file.db\n")
    loaded = load_settings(write_settings(changed(STORE, 'url = { file = "secrets/db" }')))
    assert store_url(loaded) == str(settings_dir / "var" / "from-file.db")


def test_a_percent_encoded_password_is_masked_as_written_and_decoded(write_settings):
    loaded = load_settings(
        write_settings(changed(STORE, 'url = "postgresql+psycopg://connector:slot%40gracht@db.example/connector"'))
    )
    store_url(loaded)
    assert REDACTED in redact_text("slot@gracht") and REDACTED in redact_text("slot%40gracht")


def test_an_unset_store_url_variable_is_named_with_its_line(write_settings, monkeypatch):
    monkeypatch.delenv(DB_ENV, raising=False)
    text = changed(STORE, f'url = {{ env = "{DB_ENV}" }}')
    problems = problems_of(write_settings, text)
    assert problems == [
        f"{write_settings(text)}:{line_of(text, DB_ENV)}: store.url: environment variable {DB_ENV} is not set or empty"
    ]


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ('{ env = "X", file = "y" }', 'give exactly one of env = "VARIABLE" or file = "path"'),
        ('{ path = "y" }', "unknown key (a typo?)"),
        ("5", '5: give a file path, an SQLAlchemy URL, or where the URL is kept: { env = "VARIABLE" }'),
    ],
    ids=["both env and file", "unknown key", "a number"],
)
def test_a_bad_store_url_is_reported_once(write_settings, value, words):
    problems = problems_of(write_settings, changed(STORE, f"url = {value}"))
    assert len(problems) == 1, problems
    assert ": store.url" in problems[0] and words in problems[0], problems


def test_health_shows_the_database_without_its_password(write_settings, monkeypatch):
    monkeypatch.setenv(DB_ENV, POSTGRES)
    loaded = load_settings(write_settings(changed(STORE, f'url = {{ env = "{DB_ENV}" }}')))
    now = datetime(2026, 11, 20, 8, tzinfo=UTC)
    report = health_report(loaded, now=now, wall=now, max_age=timedelta(minutes=5))
    assert report["database"] == "postgresql+psycopg://connector:***@127.0.0.1:1/connector"
    assert PASSWORD not in json.dumps(report)
    assert not report["healthy"]  # nothing listens on port 1


@pytest.mark.parametrize(
    "url",
    ["/srv/connector/var/connector.db", "sqlite:////srv/connector/var/connector.db", "postgresql://db.example/x"],
)
def test_a_url_without_a_password_is_shown_unchanged(url):
    assert display_url(url) == url


def test_the_valid_base_still_has_a_plain_store_path(write_settings):
    assert load_settings(write_settings(VALID_SETTINGS)).settings.store.url == "var/test.db"
