"""Offset pagination of PAS list endpoints (contract, "Pagination").

A :class:`Sweep` is a single-use iterable over every item of a list endpoint. It requests
``offset=0,limit=N``, then ``offset+N`` and so on until ``offset >= total`` of the most
recent page (totals shift while paging), and yields each ``id`` once. ``server_time`` of
the *first* page is kept: it is the next ``changed_since``/``created_since`` watermark, to
be stored only once the sweep is complete (:attr:`Sweep.watermark`).

Bounds, so that a wrong ``total`` (say 10^15) cannot keep a sweep going for ever:

* A short or empty page before ``offset`` reaches ``total`` ends the sweep: the list is
  sliced by offset, so a page comes back short only at the current end of the list, and a
  total beyond it is wrong. Logged as ``pas_total_inconsistent``; the sweep is complete.
* Two full pages in a row that bring no item not seen before mean the server ignores the
  offset: :class:`~adapters.errors.PaginationLoop`. (One such page can be honest: items that
  were inserted before our offset push seen items onto the next page.)
* At most ``max_pages`` pages (:class:`~adapters.errors.TooManyPages`, temporary).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import structlog

from adapters._http import DEFAULT_MAX_PAGES
from adapters.errors import PaginationLoop, TooManyPages, UnexpectedResponse

log = structlog.get_logger(__name__)

#: fetch_page(offset, limit) -> decoded JSON body of one page
FetchPage = Callable[[int, int], Any]


class SweepIncomplete(RuntimeError):
    """The watermark of a sweep was asked for before the sweep was read to the end."""


class Sweep:
    """Iterate the items (plain dicts) of one PAS list endpoint, page by page.

    Attributes after iteration started: ``server_time`` (aware datetime of the first page),
    ``pages`` (pages fetched), ``yielded`` (items yielded), ``duplicates`` (items skipped
    because their id was already yielded), ``complete`` (the last page was reached).
    The first occurrence of an id wins; a newer version of a record that moved while we
    paged is picked up by the next sweep (its ``changed_at`` is after the watermark). Items
    without a string ``id`` are yielded without de-duplication for the mapping layer to
    report.
    ``path`` (the endpoint, for error messages) defaults to ``resource``.
    Iterating raises what the client raises, plus
    :class:`~adapters.errors.UnexpectedResponse` for a malformed envelope,
    :class:`~adapters.errors.PaginationLoop` for pages that ignore the offset and
    :class:`~adapters.errors.TooManyPages` after ``max_pages`` pages.
    """

    def __init__(
        self,
        fetch_page: FetchPage,
        *,
        resource: str,
        limit: int,
        item_filter: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        max_pages: int = DEFAULT_MAX_PAGES,
        path: str | None = None,
    ) -> None:
        if max_pages < 1:
            raise ValueError("max_pages must be at least 1")
        self._fetch_page = fetch_page
        self.resource = resource
        self.limit = limit
        self.max_pages = max_pages
        self.path = path or resource
        self._item_filter = item_filter
        self._started = False
        self.server_time: datetime | None = None
        self.pages = 0
        self.yielded = 0
        self.duplicates = 0
        self.complete = False

    @property
    def watermark(self) -> datetime:
        """Return ``server_time`` of the first page; raise :class:`SweepIncomplete` unless the
        sweep ran to the end (a partial sweep must not move the bookmark)."""
        if not self.complete or self.server_time is None:
            raise SweepIncomplete(f"sweep of {self.resource} is not complete")
        return self.server_time

    def __iter__(self) -> Iterator[dict[str, Any]]:
        if self._started:
            raise RuntimeError("a Sweep can be iterated once; start a new one")
        self._started = True
        return self._items()

    def _items(self) -> Iterator[dict[str, Any]]:
        seen: set[str] = set()
        offset = total = 0
        stale = 0  # full pages in a row without an item not seen before
        while True:
            if self.pages >= self.max_pages:
                raise TooManyPages(
                    f"{self.resource}: the listing did not end within {self.max_pages} pages (max_pages); "
                    f"it was at offset {offset} and the last page said total {total}",
                    bound="max_pages",
                    limit=self.max_pages,
                    vendor="pas",
                    method="GET",
                    path=self.path,
                )
            body = self._fetch_page(offset, self.limit)
            items, total, page_limit, server_time = self._envelope(body)
            self.pages += 1
            if self.server_time is None:
                self.server_time = server_time
                if total > self.max_pages * min(self.limit, page_limit):
                    log.warning("pas_total_implausible", resource=self.resource, total=total, max_pages=self.max_pages)
            new = 0
            for item in items:
                if not isinstance(item, dict):
                    log.warning("pas_item_skipped", resource=self.resource, reason="not_object")
                    new += 1  # nothing to recognise it by: not evidence of a loop
                    continue
                item_id = item.get("id")
                if isinstance(item_id, str):
                    if item_id in seen:
                        # Lists are not snapshots: a shifted item reappears on the next page.
                        self.duplicates += 1
                        continue
                    seen.add(item_id)
                new += 1
                self.yielded += 1
                yield self._item_filter(item) if self._item_filter else item
            # Step by the limit the server applied (it may cap ours), not by len(items).
            step = max(1, min(self.limit, page_limit))
            offset += step
            if offset >= total:
                break
            if len(items) < step:
                # Offset slicing gives a short page only at the list's current end: `total` is wrong.
                log.warning(
                    "pas_total_inconsistent",
                    resource=self.resource,
                    total=total,
                    offset=offset - step,
                    items=len(items),
                )
                break
            stale = 0 if new else stale + 1
            if stale >= 2:
                raise PaginationLoop(
                    f"{self.resource}: {stale} full pages in a row brought no item not seen before "
                    f"(offset {offset - step}): the server seems to ignore the offset",
                    vendor="pas",
                    method="GET",
                    path=self.path,
                )
        self.complete = True
        log.debug(
            "pas_sweep_complete",
            resource=self.resource,
            pages=self.pages,
            items=self.yielded,
            duplicates=self.duplicates,
        )

    def _envelope(self, body: Any) -> tuple[list[Any], int, int, datetime]:
        if not isinstance(body, dict):
            raise self._bad("page is not a JSON object")
        items, total, limit = body.get("items"), body.get("total"), body.get("limit")
        if not isinstance(items, list):
            raise self._bad("page lacks an items array")
        if not isinstance(total, int) or isinstance(total, bool) or total < 0:
            raise self._bad("page lacks a valid total")
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            limit = self.limit
        return items, total, limit, self._server_time(body.get("server_time"))

    def _server_time(self, value: Any) -> datetime:
        try:
            parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            parsed = None
        if parsed is None or parsed.utcoffset() is None:
            raise self._bad("page lacks a server_time with offset")
        return parsed

    def _bad(self, message: str) -> UnexpectedResponse:
        return UnexpectedResponse(f"{self.resource}: {message}", vendor="pas", method="GET", path=self.path)

    def __repr__(self) -> str:
        return (
            f"Sweep(resource={self.resource!r}, pages={self.pages}, yielded={self.yielded}, complete={self.complete})"
        )
