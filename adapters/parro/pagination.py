"""Cursor pagination of planner list endpoints (contract, "Pagination").

Pass ``next_cursor`` unchanged as ``cursor`` with the same filters; stop when it is
``null`` (the last page may be empty). Lists are not snapshots, so items are de-duplicated
by key. A cursor the server hands out twice would make us page forever: that raises
:class:`~adapters.errors.PaginationLoop`.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from typing import Any

import structlog

from adapters.errors import PaginationLoop, UnexpectedResponse

log = structlog.get_logger(__name__)

#: fetch_page(cursor, limit) -> decoded JSON body of one page
FetchPage = Callable[[str | None, int], Any]
KeyFunc = Callable[[dict[str, Any]], Hashable | None]


def by_id(item: dict[str, Any]) -> Hashable | None:
    """De-duplication key of records that have an ``id``."""
    item_id = item.get("id")
    return item_id if isinstance(item_id, str) else None


class CursorPager:
    """Single-use iterable over the items (plain dicts) of one planner list endpoint.

    Attributes: ``pages``, ``yielded``, ``duplicates``, ``complete`` (``next_cursor`` was
    null). Iterating raises what the client raises, plus
    :class:`~adapters.errors.UnexpectedResponse` for a malformed envelope and
    :class:`~adapters.errors.PaginationLoop` for a repeated cursor.
    """

    def __init__(self, fetch_page: FetchPage, *, resource: str, limit: int, key: KeyFunc = by_id) -> None:
        self._fetch_page = fetch_page
        self.resource = resource
        self.limit = limit
        self._key = key
        self._started = False
        self.pages = 0
        self.yielded = 0
        self.duplicates = 0
        self.complete = False

    def __iter__(self) -> Iterator[dict[str, Any]]:
        if self._started:
            raise RuntimeError("a CursorPager can be iterated once; start a new one")
        self._started = True
        return self._items()

    def _items(self) -> Iterator[dict[str, Any]]:
        seen: set[Hashable] = set()
        used_cursors: set[str] = set()
        cursor: str | None = None
        while True:
            data, next_cursor = self._envelope(self._fetch_page(cursor, self.limit))
            self.pages += 1
            for item in data:
                if not isinstance(item, dict):
                    log.warning("parro_item_skipped", resource=self.resource, reason="not_object")
                    continue
                key = self._key(item)
                if key is not None:
                    if key in seen:
                        self.duplicates += 1
                        continue
                    seen.add(key)
                self.yielded += 1
                yield item
            if next_cursor is None:
                break
            if cursor is not None:
                used_cursors.add(cursor)
            if next_cursor in used_cursors or next_cursor == cursor:
                raise PaginationLoop(
                    f"{self.resource}: the server repeated a cursor after {self.pages} pages",
                    vendor="parro",
                )
            cursor = next_cursor
        self.complete = True
        log.debug(
            "parro_listing_complete",
            resource=self.resource,
            pages=self.pages,
            items=self.yielded,
            duplicates=self.duplicates,
        )

    def _envelope(self, body: Any) -> tuple[list[Any], str | None]:
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise UnexpectedResponse(f"{self.resource}: page lacks a data array", vendor="parro")
        if "next_cursor" not in body:
            raise UnexpectedResponse(f"{self.resource}: page lacks next_cursor", vendor="parro")
        next_cursor = body["next_cursor"]
        if next_cursor is not None and (not isinstance(next_cursor, str) or not next_cursor):
            raise UnexpectedResponse(f"{self.resource}: next_cursor is not a string", vendor="parro")
        return body["data"], next_cursor

    def __repr__(self) -> str:
        return (
            f"CursorPager(resource={self.resource!r}, pages={self.pages}, "
            f"yielded={self.yielded}, complete={self.complete})"
        )
