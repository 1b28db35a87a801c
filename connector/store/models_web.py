"""The web page's accounts and sessions (issue W2-5).

A person who reads the page has an account with a role (`director`, `ib`, `ict`) and an argon2
hash of their password; never the password itself. Failed logins are counted per account and
lock it for a while (`[web] max_failed_logins`, `lockout_minutes`). A session lives here, on the
server: the browser's cookie holds a random token, the table only its SHA-256 (a copy of the
database gives no usable cookie), with the session's CSRF token and its two expiries (idle and
absolute). Deleting the row ends the session at once (logout, a removed account).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint
from sqlmodel import Field

from connector.store.base import Timestamps, fk, utc_field

ROLES = ("director", "ib", "ict")


class WebUser(Timestamps, table=True):
    """An account of the web page; `name` is stored in lower case."""

    __tablename__ = "web_users"
    __table_args__ = (CheckConstraint("role IN ('director', 'ib', 'ict')", name="role"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    role: str
    password_hash: str
    failed_logins: int = 0  # since the last successful login
    locked_until: datetime | None = utc_field(nullable=True)
    last_login_at: datetime | None = utc_field(nullable=True)


class WebSession(Timestamps, table=True):
    """A logged-in browser. `id` is the SHA-256 (hex) of the cookie's token."""

    __tablename__ = "web_sessions"

    id: str = Field(primary_key=True)
    user_id: int = fk("web_users.id")
    csrf_token: str
    last_seen_at: datetime = utc_field()
    expires_at: datetime = utc_field(index=True)  # the absolute end; idle expiry is last_seen_at + idle


__all__ = ["ROLES", "WebSession", "WebUser"]
