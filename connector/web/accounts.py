"""Accounts and sessions of the web page (issue W2-5), on the store's `web_users` and `web_sessions`.

* Passwords are kept as argon2id hashes (argon2-cffi's defaults), never as text; a hash made
  with older parameters is replaced at the next successful login.
* A failed login counts against the account; at `[web] max_failed_logins` in a row it is locked
  for `lockout_minutes`, during which even the right password is refused. A name that does not
  exist costs the same hashing work and gets the same answer: nothing tells which names exist.
* Sessions are server-side: the cookie carries 32 random bytes, the table their SHA-256. A
  session ends after `session_idle_minutes` without a request, `session_max_hours` after login,
  at logout, or when its account is removed. Each carries its own CSRF token.

Times are real (wall-clock) UTC, whatever moment the page shows figures for.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete
from sqlmodel import col, or_, select

from connector.cycle.settings.models import Web
from connector.errors import UsageError
from connector.store import Store
from connector.store.models import ROLES, WebSession, WebUser

log = structlog.get_logger("connector.web")
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024  # argon2 hashes any length; a bound keeps a login request cheap
TOUCH_AFTER = timedelta(minutes=1)  # a session's last_seen_at is written at most this often
#: Who may press "sync now"; everyone who logs in may read.
MAY_SYNC = frozenset({"director", "ict"})
ROLE_WORDS = {"director": "directeur", "ib": "intern begeleider", "ict": "ICT-coördinator"}


@dataclass(frozen=True)
class Visitor:
    """Who a session belongs to, as the pages need it."""

    name: str
    role: str
    csrf: str
    session_id: str

    @property
    def may_sync(self) -> bool:
        return self.role in MAY_SYNC

    @property
    def role_word(self) -> str:
        return ROLE_WORDS.get(self.role, self.role)


def normal_name(name: str) -> str:
    return name.strip().lower()


def check_new_user(name: str, role: str, password: str) -> str:
    """The account's name as stored; a UsageError saying what is wrong with name, role or password."""
    normal = normal_name(name)
    if not NAME.match(normal):
        raise UsageError(
            f"user name {name!r}: 2 to 64 characters, letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    if role not in ROLES:
        raise UsageError(f"--role: {role!r} is not one of {', '.join(ROLES)}")
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise UsageError(f"the password must be {MIN_PASSWORD} to {MAX_PASSWORD} characters long")
    return normal


def session_key(token: str) -> str:
    """What the table keeps of a session's cookie token."""
    return hashlib.sha256(token.encode()).hexdigest()


class Accounts:
    """Accounts, logins and sessions on one store, with the `[web]` limits."""

    def __init__(self, store: Store, web: Web) -> None:
        self.store = store
        self.web = web
        self.hasher = PasswordHasher()
        # Verified against for a name that does not exist or is locked: the same work as a real check.
        self._decoy = self.hasher.hash(secrets.token_urlsafe(16))

    # --- accounts (the CLI) --------------------------------------------------------------

    def add_user(self, name: str, role: str, password: str, *, now: datetime, update: bool = False) -> bool:
        """Create the account, or with `update` set its role and password (and unlock it, ending its
        sessions). Returns True when it was created. A UsageError when it exists and `update` is off."""
        normal = check_new_user(name, role, password)
        hashed = self.hasher.hash(password)
        with self.store.write() as session:
            user = session.exec(select(WebUser).where(WebUser.name == normal)).first()
            if user is not None and not update:
                raise UsageError(
                    f"there is already a user {normal!r}; `connector web add-user {normal} --role {role} --update` "
                    "sets a new password and role"
                )
            created = user is None
            if user is None:
                user = WebUser(name=normal, role=role, password_hash=hashed)
            else:
                user.role, user.password_hash, user.failed_logins, user.locked_until = role, hashed, 0, None
                session.exec(delete(WebSession).where(col(WebSession.user_id) == user.id))
            user.updated_at = now
            session.add(user)
        return created

    def remove_user(self, name: str) -> bool:
        """Remove the account and its sessions; False when there is none by that name."""
        with self.store.write() as session:
            user = session.exec(select(WebUser).where(WebUser.name == normal_name(name))).first()
            if user is None:
                return False
            session.exec(delete(WebSession).where(col(WebSession.user_id) == user.id))
            session.delete(user)
        return True

    def users(self) -> list[WebUser]:
        with self.store.read() as session:
            return list(session.exec(select(WebUser).order_by(col(WebUser.name))))

    # --- logging in ----------------------------------------------------------------------

    def login(self, name: str, password: str, *, now: datetime) -> tuple[str, Visitor] | None:
        """A new session (its cookie token and visitor) when the name and password are right and the
        account is not locked; None otherwise, after the same work either way."""
        normal = normal_name(name)[:64]
        password = password[:MAX_PASSWORD]
        with self.store.read() as session:
            user = session.exec(select(WebUser).where(WebUser.name == normal)).first()
        if user is None or (user.locked_until is not None and user.locked_until > now):
            self._verify(self._decoy, password)
            # The name typed is logged only when it is an account's: a password typed in the name
            # field must not end up in the log.
            if user is not None:
                log.info("web login refused: the account is locked", user=user.name)
            return None
        if not self._verify(user.password_hash, password):
            self._failed(user, now)
            return None
        log.info("web login", user=user.name, role=user.role)
        token = secrets.token_urlsafe(32)
        visitor = Visitor(user.name, user.role, secrets.token_urlsafe(32), session_key(token))
        rehash = self.hasher.check_needs_rehash(user.password_hash)
        new_hash = self.hasher.hash(password) if rehash else None
        with self.store.write() as session:
            row = session.get(WebUser, user.id)
            if row is None or row.id is None:  # removed meanwhile
                return None
            row.failed_logins, row.locked_until, row.last_login_at = 0, None, now
            if new_hash is not None:
                row.password_hash = new_hash
            session.add(row)
            self._drop_expired(session, now)
            session.add(
                WebSession(
                    id=visitor.session_id,
                    user_id=row.id,
                    csrf_token=visitor.csrf,
                    created_at=now,
                    updated_at=now,
                    last_seen_at=now,
                    expires_at=now + timedelta(hours=self.web.session_max_hours),
                )
            )
        return token, visitor

    def _verify(self, hashed: str, password: str) -> bool:
        try:
            return self.hasher.verify(hashed, password)
        except (VerificationError, InvalidHashError):
            return False

    def _failed(self, user: WebUser, now: datetime) -> None:
        with self.store.write() as session:
            row = session.get(WebUser, user.id, with_for_update=True)
            if row is None:
                return
            row.failed_logins += 1
            if row.failed_logins >= self.web.max_failed_logins:
                row.failed_logins = 0
                row.locked_until = now + timedelta(minutes=self.web.lockout_minutes)
                log.warning(
                    "web account locked after failed logins",
                    user=row.name,
                    failed=self.web.max_failed_logins,
                    minutes=self.web.lockout_minutes,
                )
            session.add(row)

    # --- sessions ------------------------------------------------------------------------

    def visitor(self, token: str | None, *, now: datetime) -> Visitor | None:
        """The visitor of a session cookie's token, or None when it is unknown or expired (an
        expired session is deleted). Moves the idle expiry on."""
        if not token or len(token) > 200:
            return None
        key = session_key(token)
        with self.store.read() as session:
            found = session.exec(
                select(WebSession, WebUser)
                .join(WebUser, col(WebUser.id) == WebSession.user_id)
                .where(WebSession.id == key)
            ).first()
        if found is None:
            return None
        row, user = found
        if self._expired(row, now):
            self.logout(token)
            return None
        if now - row.last_seen_at >= TOUCH_AFTER:
            with self.store.write() as session:
                fresh = session.get(WebSession, key)
                if fresh is not None:
                    fresh.last_seen_at = now
                    session.add(fresh)
        return Visitor(user.name, user.role, row.csrf_token, key)

    def logout(self, token: str) -> None:
        with self.store.write() as session:
            session.exec(delete(WebSession).where(col(WebSession.id) == session_key(token)))

    def _expired(self, row: WebSession, now: datetime) -> bool:
        return now >= row.expires_at or now - row.last_seen_at >= timedelta(minutes=self.web.session_idle_minutes)

    def _drop_expired(self, session, now: datetime) -> None:
        idle = now - timedelta(minutes=self.web.session_idle_minutes)
        session.exec(
            delete(WebSession).where(or_(col(WebSession.expires_at) <= now, col(WebSession.last_seen_at) <= idle))
        )
