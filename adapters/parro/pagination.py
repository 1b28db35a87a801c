"""Cursor pagination of planner list endpoints (contract, "Pagination").

Pass ``next_cursor`` unchanged as ``cursor`` with the same filters; stop when it is
``null`` (the last page may be empty). Lists are not snapshots, so items are de-duplicated
by key. A listing that stops making progress would make us page for ever; it raises
:class:`~adapters.errors.PaginationLoop` when

* the server hands out a cursor that was already used in this listing, or
* a page under a new cursor holds items but none that was not seen before (a cursor that
  changes on every page while the items stay the same): a cursor marks a position in the
  list, so, unlike PAS offsets, it cannot honestly serve what came before it again; or
* three pages in a row come back empty with a next cursor (the contract only allows the
  *last* page to be empty; a server that filters after paging may send a few, not for ever).

And after ``max_pages`` pages it raises :class:`~adapters.errors.TooManyPages` (temporary).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from typing import Any

import structlog

from adapters._http import DEFAULT_MAX_PAGES
from adapters.errors import PaginationLoop, TooManyPages, UnexpectedResponse

log = structlog.get_logger(__name__)

#: fetch_page(cursor, limit) -> decoded JSON body of one page
FetchPage = Callable[[str | None, int], Any]
KeyFunc = Callable[[dict[str, Any]], Hashable | None]
_EMPTY_PAGES_TOLERATED = 2  # empty pages in a row with a next cursor; one more is a loop


def by_id(item: dict[str, Any]) -> Hashable | None:
    """De-duplication key of records that have an ``id``."""
    item_id = item.get("id")
    return item_id if isinstance(item_id, str) else None


class CursorPager:
    """Single-use iterable over the items (plain dicts) of one planner list endpoint.

    Attributes: ``pages``, ``yielded``, ``duplicates``, ``complete`` (``next_cursor`` was
    null). ``path`` (the endpoint, for error messages) defaults to ``resource``. Iterating
    raises what the client raises, plus :class:`~adapters.errors.UnexpectedResponse` for a
    malformed envelope, :class:`~adapters.errors.PaginationLoop` for a listing that makes no
    progress and :class:`~adapters.errors.TooManyPages` after ``max_pages`` pages.
    """

    def __init__(
        self,
        fetch_page: FetchPage,
        *,
        resource: str,
        limit: int,
        key: KeyFunc = by_id,
        max_pages: int = DEFAULT_MAX_PAGES,
        path: str | None = None,
    ) -> None:
        if max_pages < 1:
            raise ValueError("max_pages must be at least 1")
        self._fetch_page = fetch_page
        self.resource = resource
        self.limit = limit
        self._key = key
        self.max_pages = max_pages
        self.path = path or resource
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
        empty = 0  # empty pages in a row that still had a next cursor
        while True:
            if self.pages >= self.max_pages:
                raise TooManyPages(
                    f"{self.resource}: the listing did not end within {self.max_pages} pages (max_pages)",
                    bound="max_pages",
                    limit=self.max_pages,
                    **self._where(),
                )
            data, next_cursor = self._envelope(self._fetch_page(cursor, self.limit))
            self.pages += 1
            new = 0
            for item in data:
                if not isinstance(item, dict):
                    log.warning("parro_item_skipped", resource=self.resource, reason="not_object")
                    new += 1  # nothing to recognise it by: not evidence of a loop
                    continue
                key = self._key(item)
                if key is not None:
                    if key in seen:
                        self.duplicates += 1
                        continue
                    seen.add(key)
                new += 1
                self.yielded += 1
                yield item
            if next_cursor is None:
                break
            if cursor is not None:
                used_cursors.add(cursor)
            if next_cursor in used_cursors or next_cursor == cursor:
                raise PaginationLoop(
                    f"{self.resource}: the server repeated a cursor after {self.pages} pages",
                    **self._where(),
                )
            if data and not new:
                raise PaginationLoop(
                    f"{self.resource}: page {self.pages} came with a new cursor but held only items "
                    "already seen in this listing",
                    **self._where(),
                )
            empty = empty + 1 if not data else 0
            if empty > _EMPTY_PAGES_TOLERATED:
                raise PaginationLoop(
                    f"{self.resource}: {empty} empty pages in a row, each with a next cursor",
                    **self._where(),
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

    def _where(self) -> dict[str, Any]:
        return {"vendor": "parro", "method": "GET", "path": self.path}

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
