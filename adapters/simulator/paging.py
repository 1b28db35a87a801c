"""Both pagination styles, with the contracts' parameter validation.

PAS: offset/limit (limit 1-500, default 100), envelope {items,total,offset,limit,server_time}.
Planner: opaque cursor bound to organisation, endpoint and filters (limit 1-200, default 50);
`next_cursor` is set whenever a page is full, so a list whose size is a multiple of `limit`
ends with an empty page (contract: "the last page may be empty").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Sequence
from typing import Any

from .common import Request, fmt_ts, planner_error, problem


def check_query(req: Request, allowed: set[str], err: Callable[[str], Exception]) -> None:
    """Reject undocumented or repeated query parameters (strict, to catch client bugs)."""
    for name, values in req.query.items():
        if name not in allowed:
            raise err(f"Unknown query parameter {name!r}.")
        if len(values) > 1 and name != "category":
            raise err(f"Query parameter {name!r} given more than once.")


def _int_param(req: Request, name: str, default: int, lo: int, hi: int | None) -> int | None:
    raw = req.single(name)
    if raw is None:
        return default
    if not raw.isdigit() and not (raw.startswith("-") and raw[1:].isdigit()):
        return None
    value = int(raw)
    return value if value >= lo and (hi is None or value <= hi) else None


def pas_bad_param(detail: str) -> Exception:
    return problem(400, "invalid-parameter", "Invalid parameter", detail)


def offset_page(req: Request, items: Sequence[dict[str, Any]], server_time: Any) -> dict[str, Any]:
    """Slice `items` (already filtered and ordered) per `offset`/`limit`; 400 when out of range."""
    limit = _int_param(req, "limit", 100, 1, 500)
    if limit is None:
        raise pas_bad_param("limit must be an integer between 1 and 500.")
    offset = _int_param(req, "offset", 0, 0, None)
    if offset is None:
        raise pas_bad_param("offset must be an integer of 0 or more.")
    return {
        "items": list(items[offset : offset + limit]),
        "total": len(items),
        "offset": offset,
        "limit": limit,
        "server_time": fmt_ts(server_time),
    }


class CursorCodec:
    """Signs cursors so altered or misused ones are detected (400 invalid_cursor)."""

    def __init__(self, secret: str) -> None:
        self._secret = secret.encode()

    def _scope(self, org: str, req: Request) -> str:
        filters = sorted((k, v) for k, vs in req.query.items() if k not in ("cursor", "limit") for v in vs)
        return hashlib.sha256(json.dumps([org, req.path, filters]).encode()).hexdigest()[:16]

    def encode(self, org: str, req: Request, position: Any) -> str:
        raw = json.dumps({"s": self._scope(org, req), "p": position}, separators=(",", ":")).encode()
        sig = hmac.new(self._secret, raw, hashlib.sha256).digest()[:12]
        return base64.urlsafe_b64encode(raw + sig).decode().rstrip("=")

    def decode(self, org: str, req: Request, cursor: str) -> Any:
        invalid = planner_error(400, "invalid_cursor", "The cursor is invalid for this request.")
        try:
            blob = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            raw, sig = blob[:-12], blob[-12:]
            if not hmac.compare_digest(sig, hmac.new(self._secret, raw, hashlib.sha256).digest()[:12]):
                raise invalid
            data = json.loads(raw)
        except (ValueError, TypeError):
            raise invalid from None
        if data.get("s") != self._scope(org, req):
            raise invalid
        return data["p"]

    def page(
        self,
        org: str,
        req: Request,
        items: Sequence[dict[str, Any]],
        key: Callable[[dict[str, Any]], Any] = lambda item: item["id"],
    ) -> dict[str, Any]:
        """Keyset page over `items` ordered by `key`; returns {data, next_cursor}."""
        limit = _int_param(req, "limit", 50, 1, 200)
        if limit is None:
            raise planner_error(400, "invalid_parameter", "limit must be an integer between 1 and 200.")
        cursor = req.single("cursor")
        rows = sorted(items, key=key)
        if cursor is not None:
            after = self.decode(org, req, cursor)
            rows = [r for r in rows if _as_list(key(r)) > _as_list(after)]
        page = rows[:limit]
        nxt = self.encode(org, req, key(page[-1])) if len(page) == limit else None
        return {"data": page, "next_cursor": nxt}


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]
