"""The web page's accounts and sessions on both backends: a login, the lockout, an expired
session, a removed account (`connector/web/accounts.py` on the `web_users`/`web_sessions` tables)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connector.cycle.settings.models import Web
from connector.web.accounts import Accounts

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
PASSWORD = "een-lang-wachtwoord"


def test_logins_lockout_and_sessions_on_both_backends(any_store):
    accounts = Accounts(any_store, Web(max_failed_logins=2, lockout_minutes=10, session_idle_minutes=30))
    assert accounts.add_user("Anna", "director", PASSWORD, now=NOW) is True
    token, visitor = accounts.login("anna", PASSWORD, now=NOW) or (None, None)
    assert token and visitor and visitor.role == "director" and visitor.may_sync
    assert accounts.visitor(token, now=NOW + timedelta(minutes=29)) == visitor
    assert accounts.visitor(token, now=NOW + timedelta(minutes=29 + 31)) is None  # idle too long
    assert accounts.login("anna", "fout", now=NOW) is None
    assert accounts.login("anna", "fout", now=NOW) is None  # the second failure locks it
    assert accounts.login("anna", PASSWORD, now=NOW + timedelta(minutes=9)) is None
    again = accounts.login("anna", PASSWORD, now=NOW + timedelta(minutes=11))
    assert again is not None
    assert accounts.remove_user("anna") is True
    assert accounts.visitor(again[0], now=NOW + timedelta(minutes=12)) is None  # its sessions went with it
    assert accounts.users() == []
