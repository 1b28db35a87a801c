"""No names, contact details or secrets in any log line."""

from __future__ import annotations

import io
import logging
import re
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters._redact import Redactor
from connector.logging_setup import (
    ID_LIMIT,
    REDACTED,
    TEXT_LIMIT,
    clear_registered_secrets,
    configure_logging,
    get_logger,
    redact,
    redact_text,
    redact_value,
    register_secret,
    safe_id,
    safe_text,
)

from .conftest import Output, TTYStream


def test_sensitive_keys_are_masked_at_any_depth(json_out: Output) -> None:
    get_logger().info(
        "pupil_synced",
        pupil_id="581207",
        roepnaam="Noor",
        guardians=[{"id": "900311", "achternaam": "Hof", "Email": "x", "telefoon": None}],
        request={"headers": {"Authorization": "whatever"}, "client_secret": "abc"},
        pair=("ok", {"access_token": "t"}),
    )
    line = json_out.last()
    assert line["pupil_id"] == "581207"
    assert line["roepnaam"] == REDACTED
    assert line["guardians"] == [{"id": "900311", "achternaam": REDACTED, "Email": REDACTED, "telefoon": None}]
    assert line["request"] == {"headers": {"Authorization": REDACTED}, "client_secret": REDACTED}
    assert line["pair"] == ["ok", {"access_token": REDACTED}]


@pytest.mark.parametrize(
    "text",
    [
        "mail sanne.hof@example.nl now",
        "call 06-12345678",
        "call 0612345678",
        "call 06 12 34 56 78",
        "call 020-1234567",
        "call +31 6 12345678",
        "call +31 (0)6 1234 5678",
        "call 0031 20 123 4567",
        "call +44 20 7946 0958",
        "Authorization: Bearer 9f2c1e7a4b0d4c55a1e3b8d2f6c9a7e1",
        "token 9f2c1e7a4b0d4c55a1e3b8d2f6c9a7e1",
        "jwt eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abc",
        "key sk_live_4eC39HqLyjWDarjtT1zdp7dcXyZ",
        "url /oauth/token?client_id=my-integration&client_secret=s3cr3t-value",
    ],
)
def test_sensitive_values_are_masked_by_pattern(text: str) -> None:
    cleaned = redact_text(text)
    for secret in (
        "sanne.hof",
        "12345678",
        "1234 5678",
        "1234567",
        "123 4567",
        "7946 0958",
        "9f2c1e7a",
        "eyJhbGci",
        "4eC39Hq",
        "s3cr3t",
        "my-integration",
    ):
        assert secret not in cleaned, cleaned


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-20T09:00:00+01:00",
        "2026-11-23T13:30:00.012345Z",
        "run 6f1c2d3e-aaaa-4bbb-8ccc-123456789abc",
        "sync:12AB00:2026-2027:najaar:71003",
        "pupil 581207 leerlingnummer 1207 group 71003",
        "pln_3f8s0k2m9xqa slt_0a9s8d7f6g5h",
        'File "/work/main/.venv/lib/python3.11/site-packages/sqlalchemy/engine/base.py", line 1967',
        "counts {'created': 12, 'updated': 3}",
        "date 01-02-2026, 10 minutes",
    ],
)
def test_ordinary_values_are_left_alone(text: str) -> None:
    assert redact_text(text) == text


def test_the_event_string_is_redacted(json_out: Output) -> None:
    get_logger().info("could not reach sanne@example.nl")
    assert json_out.last()["event"] == "could not reach [email]"


def test_safe_identifier_keys_keep_their_hex(json_out: Output) -> None:
    digest = "a" * 64
    get_logger().info("intent_recorded", payload_hash=digest)
    assert json_out.last()["payload_hash"] == digest


def test_registered_secrets_are_masked_everywhere(json_out: Output) -> None:
    register_secret("s3cr3t-value")
    register_secret("plannerkey")
    register_secret("ab")  # too short to mask safely: ignored
    get_logger().info(
        "token request failed for s3cr3t-value",
        detail={"echo": ["plannerkey", "xs3cr3t-valuex"]},
        about="tab",
    )
    line = json_out.last()
    assert "s3cr3t-value" not in str(line) and "plannerkey" not in str(line)
    assert line["event"] == f"token request failed for {REDACTED}"
    assert line["detail"] == {"echo": [REDACTED, f"x{REDACTED}x"]}
    assert line["about"] == "tab"


def _fail_with_locals() -> None:
    password = "hunter2-local-variable"  # noqa: F841 - must never reach a log
    pupil = {"roepnaam": "Noor", "achternaam": "Hof"}  # noqa: F841
    raise RuntimeError("PAS rejected token for sanne@example.nl")


def test_exception_text_is_redacted_and_traceback_has_no_locals(json_out: Output) -> None:
    try:
        _fail_with_locals()
    except RuntimeError:
        get_logger().exception("sync_failed")
    line = json_out.last()
    (exc,) = line["exception"]
    assert exc["exc_type"] == "RuntimeError"
    assert exc["exc_value"] == "PAS rejected token for [email]"
    assert exc["frames"][-1]["name"] == "_fail_with_locals"  # function names survive
    assert all("locals" not in frame for frame in exc["frames"])
    assert "hunter2" not in json_out.text and "Noor" not in json_out.text


def test_console_tracebacks_are_plain_redacted_and_without_locals() -> None:
    stream = TTYStream()
    configure_logging(stream=stream)
    register_secret("hunter2-local-variable")
    try:
        _fail_with_locals()
    except RuntimeError:
        get_logger().exception("sync_failed")
    text = stream.getvalue()
    assert "Traceback" in text and "_fail_with_locals" in text
    assert "sanne@example.nl" not in text and "[email]" in text
    assert "Noor" not in text and "hunter2" not in text


def test_stdlib_records_are_redacted_too(json_out: Output) -> None:
    register_secret("plannerkey-123")
    logging.getLogger("apscheduler.executors").warning(
        "job failed for %s with key %s",
        "sanne@example.nl",
        "plannerkey-123",
        extra={"telefoon": "06-12345678"},
    )
    try:
        raise ValueError("call 06-12345678")
    except ValueError:
        logging.getLogger("alembic.runtime").exception("migration failed")
    first, second = json_out.lines()
    assert first["event"] == f"job failed for [email] with key {REDACTED}"
    assert first["telefoon"] == REDACTED
    assert second["exception"][0]["exc_value"] == "call [phone]"


def test_redact_processor_on_a_plain_event_dict() -> None:
    event = {
        "event": "hi 06-12345678",
        "email": "a@b.nl",
        "nested": ({"token": "x"},),
        "exception": [{"frames": [{"name": "fn"}]}],
    }
    assert redact(None, "info", event) == {
        "event": "hi [phone]",
        "email": REDACTED,
        "nested": ({"token": REDACTED},),
        "exception": [{"frames": [{"name": "fn"}]}],
    }


def test_objects_with_sensitive_reprs_are_replaced_by_their_redacted_repr() -> None:
    class Guardian:
        def __repr__(self) -> str:
            return "Guardian(email='sanne@example.nl')"

    assert redact_value(Guardian()) == "Guardian(email='[email]')"
    plain = object()
    assert redact_value(plain) is plain


def test_json_output_is_redacted_even_when_forced_on_a_terminal() -> None:
    stream = io.StringIO()
    configure_logging(stream=stream, json=True)
    get_logger().info("x", email="a@b.nl")
    assert Output(stream).last()["email"] == REDACTED


# --- vendor text made safe to store and print (issue W2-2) ----------------------------------------

UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ud800-\udfff]")


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("chd_\x1b[2J\r\nFAKE LINE", r"chd_\x1b[2J\r\nFAKE LINE"),
        ("a\tb\x00c\x7fd\x9be", r"a\tb\x00c\x7fd\x9be"),  # TAB, NUL, DEL, C1 CSI
        ("pln_\u202etxt.exe", r"pln_\u202etxt.exe"),  # right-to-left override
        ("\u202a\u202b\u202c\u202d \u2066\u2067\u2068\u2069", r"\u202a\u202b\u202c\u202d \u2066\u2067\u2068\u2069"),
        ("\u200e\u200f\u2028\u2029\ufeff\u200b", r"\u200e\u200f\u2028\u2029\ufeff\u200b"),  # marks, separators
        ("lone \ud800 surrogate", r"lone \ud800 surrogate"),  # could not even be written as UTF-8
        ("tag \U000e0041", r"tag \U000e0041"),
        (r"C:\data\x1b stays", r"C:\data\x1b stays"),  # a backslash itself is left alone
        ("Zoë 🙂 groep 3/4 — ok", "Zoë 🙂 groep 3/4 — ok"),
    ],
)
def test_safe_text_escapes_control_and_bidi_characters_visibly(text: str, shown: str) -> None:
    assert safe_text(text) == shown
    assert safe_text(shown) == shown  # cleaned where stored and again where shown: no change


def test_safe_text_cuts_a_long_text_with_a_visible_marker() -> None:
    message = "Errortext " * 10_000
    safe = safe_text(message)
    assert len(safe) == TEXT_LIMIT and safe.startswith("Errortext Errortext")
    assert safe.endswith("… (cut, 100,000 characters)")
    assert safe_text(safe) == safe
    identifier = safe_id("x" * 5000)
    assert len(identifier) == ID_LIMIT == 200 and identifier.endswith("… (cut, 5,000 characters)")
    assert safe_text("short", limit=10) == "short" and safe_text(None) == ""


def test_a_cut_never_splits_an_escape_sequence() -> None:
    for pad in range(10):
        safe = safe_id("x" * (160 + pad) + "\x1b" * 40)
        head = safe.split("…")[0]
        assert re.fullmatch(r"x+(\\x1b)*", head), head


def test_safe_text_redacts_as_redact_text_does_also_what_controls_would_hide() -> None:
    register_secret("s3cr3t-value")
    text = "title for jan.jansen@ouders-example.nl, 06-19283746, s3cr3t-value, Bearer abc.def"
    assert safe_text(text) == f"title for [email], [phone], {REDACTED}, Bearer {REDACTED}"
    # A newline inside a phone number, a soft hyphen before an address's "@": still masked.
    assert safe_text("call 06\n19283746") == "call [phone]"
    assert "ouders-example" not in safe_text("mail jan\u00ad@ouders-example.nl")
    # A secret at the bound is masked before the cut, never cut in half and shown.
    assert "s3cr3t" not in safe_id("y" * 190 + "s3cr3t-value")


@pytest.mark.parametrize("run", ["x", "a.", "x@", "http://", "+31", "Aa1", "\x1b"])
def test_safe_text_takes_linear_time_on_100_kb_of_one_pattern(run: str) -> None:
    # A run of address characters without "@" used to be scanned again from each character:
    # twenty seconds for 100 kB. The bound is far above linear time, far below that.
    text = run * (100_000 // len(run))
    started = time.perf_counter()
    safe_text(text)
    Redactor().redact(text)
    assert time.perf_counter() - started < 3


@given(st.text(), st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=4, max_size=30))
def test_safe_text_output_is_bounded_one_line_and_never_shows_a_registered_secret(text: str, secret: str) -> None:
    clear_registered_secrets()
    register_secret(secret)
    for limit in (ID_LIMIT, TEXT_LIMIT):
        safe = safe_text(text + secret + text, limit)
        assert len(safe) <= limit and not UNSAFE.search(safe) and secret not in safe.split("… (cut, ")[0]
