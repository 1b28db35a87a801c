"""Static API key auth for the planner (contract, "Authentication")."""

from __future__ import annotations

import requests
from pydantic import SecretStr


class ApiKeyAuth(requests.auth.AuthBase):
    """``requests`` auth hook sending ``Authorization: Bearer <api_key>``.

    Keys do not expire, so a ``401 unauthorized`` is never repeated: it raises
    :class:`~adapters.errors.AuthError`. ``repr`` never shows the key.
    """

    def __init__(self, api_key: str | SecretStr) -> None:
        self._key = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key)
        if not self._key.get_secret_value():
            raise ValueError("api_key must not be empty")

    @property
    def secret(self) -> str:
        """The raw key, for the redactor only."""
        return self._key.get_secret_value()

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._key.get_secret_value()}"
        return request

    def should_repeat_after_401(self, response: requests.Response) -> bool:
        """Return False: a static key that was refused stays refused."""
        return False

    def __repr__(self) -> str:
        return "ApiKeyAuth(api_key='**********')"
