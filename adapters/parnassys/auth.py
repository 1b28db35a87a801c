"""OAuth 2.0 client-credentials auth hook for PAS (contract, "Authentication").

The hook sets ``Authorization: Bearer <token>`` on every prepared request; endpoints never
build that header. The token is cached until ``refresh_margin`` seconds before
``expires_in`` runs out, measured on the injected monotonic clock from the moment the
token was *requested* (so a slow token response errs on the early side).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import requests
import structlog
from pydantic import SecretStr

from adapters.errors import PermanentError, TokenEndpointError, UnexpectedResponse

if TYPE_CHECKING:
    from adapters._http import Transport
    from adapters._redact import Redactor

log = structlog.get_logger(__name__)

TOKEN_PATH = "/oauth/token"
# After a refusal no token is asked for this long (contract: do not keep requesting tokens with
# credentials that were refused). New settings build a new client, so a fixed secret is tried at once.
REFUSAL_PAUSE = 3600.0
_INVALID_TOKEN = re.compile(r'(?i)\berror\s*=\s*"?invalid_token"?')


class OAuth2ClientCredentials(requests.auth.AuthBase):
    """Thread-safe token cache and ``requests`` auth hook.

    ``transport`` is attached by :class:`~adapters.parnassys.client.PasClient` (the token
    request shares its rate limiter, timeouts and retry policy). ``repr`` never shows the
    secret or the token.
    """

    def __init__(
        self,
        client_id: str,
        client_secret: str | SecretStr,
        *,
        redactor: Redactor,
        clock: Callable[[], float] = time.monotonic,
        refresh_margin: float = 60.0,
    ) -> None:
        self.client_id = client_id
        self._secret = client_secret if isinstance(client_secret, SecretStr) else SecretStr(client_secret)
        self._redactor = redactor
        self._redactor.add(self._secret.get_secret_value())
        self._clock = clock
        self._refresh_margin = refresh_margin
        self._lock = threading.Lock()
        self._token: str | None = None
        self._valid_until = 0.0
        self.transport: Transport | None = None
        #: Number of tokens fetched so far (observability and tests).
        self.tokens_fetched = 0
        self._refused: TokenEndpointError | None = None
        self._refused_until = 0.0

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token()}"
        return request

    def token(self) -> str:
        """Return a valid access token, requesting a new one when needed.

        Raises :class:`~adapters.errors.TokenEndpointError` when the token endpoint refuses
        the client (never retried), or a :class:`~adapters.errors.TemporaryError` when it
        stayed unavailable.
        """
        with self._lock:  # one thread fetches; the others wait and reuse its token
            if self._refused is not None and self._clock() < self._refused_until:
                raise self._refused  # asked again only after the pause (or with new settings)
            if self._token is None or self._clock() >= self._valid_until:
                self._fetch()
            assert self._token is not None
            return self._token

    def should_repeat_after_401(self, response: requests.Response) -> bool:
        """Return True (and drop the cached token) when a 401 says the token is invalid.

        Only the token that was actually sent is dropped, so that threads that got a 401
        concurrently fetch one new token between them, not one each.
        """
        challenge = response.headers.get("WWW-Authenticate", "")
        if not _INVALID_TOKEN.search(challenge):
            return False  # e.g. `Bearer realm="pas"`: no token was sent; a repeat won't help
        sent = response.request.headers.get("Authorization", "") if response.request else ""
        with self._lock:
            if self._token is not None and sent == f"Bearer {self._token}":
                self._token = None
        return True

    def _fetch(self) -> None:
        if self.transport is None:
            raise RuntimeError("OAuth2ClientCredentials used before a transport was attached")
        requested_at = self._clock()
        form = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self._secret.get_secret_value(),
        }
        try:
            # Safe to retry: asking for a token has no side effect that matters.
            response = self.transport.request("POST", TOKEN_PATH, safe=True, use_auth=False, data=form)
        except PermanentError as exc:
            # invalid_client, invalid_request, unsupported_grant_type, 415: wrong credentials
            # or a bug. Never retried (contract: do not keep requesting tokens).
            self._refused = TokenEndpointError(
                # The code and status lead the message already; how long it waits is the caller's to say.
                "PAS refused the client credentials: check [pas] client_id and client_secret",
                vendor=exc.vendor,
                method=exc.method,
                path=exc.path,
                status=exc.status,
                code=exc.code,
            )
            self._refused_until = self._clock() + REFUSAL_PAUSE
            log.error("pas_credentials_refused", code=exc.code, status=exc.status, pause_seconds=REFUSAL_PAUSE)
            raise self._refused from None
        body = self.transport.json(response, "POST", TOKEN_PATH)
        token = body.get("access_token") if isinstance(body, dict) else None
        expires_in = body.get("expires_in") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token or not isinstance(expires_in, int):
            raise UnexpectedResponse(
                "token response lacks access_token or expires_in",
                vendor="pas",
                method="POST",
                path=TOKEN_PATH,
                status=response.status_code,
            )
        self._redactor.add(token)
        margin = min(self._refresh_margin, expires_in / 2)
        self._token = token
        self._valid_until = requested_at + expires_in - margin
        self.tokens_fetched += 1
        log.info("pas_token_issued", expires_in=expires_in)

    def __repr__(self) -> str:
        return f"OAuth2ClientCredentials(client_id={self.client_id!r}, client_secret='**********')"
