"""Offset pagination of PAS list endpoints (contract, "Pagination").

A :class:`Sweep` is a single-use iterable over every item of a list endpoint. It requests
``offset=0,limit=N``, then ``offset+N`` and so on until ``offset >= total`` of the most
recent page (totals shift while paging), and yields each ``id`` once. ``server_time`` of
the *first* page is kept: it is the next ``changed_since``/``created_since`` watermark, to
be stored only once the sweep is complete (:attr:`Sweep.watermark`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import structlog

from adapters.errors import UnexpectedResponse

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
    Iterating raises what the client raises, plus
    :class:`~adapters.errors.UnexpectedResponse` for a malformed envelope.
    """

    def __init__(
        self,
        fetch_page: FetchPage,
        *,
        resource: str,
        limit: int,
        item_filter: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        self._fetch_page = fetch_page
        self.resource = resource
        self.limit = limit
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
        offset = 0
        while True:
            body = self._fetch_page(offset, self.limit)
            items, total, page_limit, server_time = self._envelope(body)
            self.pages += 1
            if self.server_time is None:
                self.server_time = server_time
            for item in items:
                if not isinstance(item, dict):
                    log.warning("pas_item_skipped", resource=self.resource, reason="not_object")
                    continue
                item_id = item.get("id")
                if isinstance(item_id, str):
                    if item_id in seen:
                        # Lists are not snapshots: a shifted item reappears on the next page.
                        self.duplicates += 1
                        continue
                    seen.add(item_id)
                self.yielded += 1
                yield self._item_filter(item) if self._item_filter else item
            # Step by the limit the server applied (it may cap ours), not by len(items):
            # a short page in the middle means items moved, and `total` decides the end.
            offset += max(1, min(self.limit, page_limit))
            if offset >= total:
                break
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
        return UnexpectedResponse(f"{self.resource}: {message}", vendor="pas")

    def __repr__(self) -> str:
        return (
            f"Sweep(resource={self.resource!r}, pages={self.pages}, yielded={self.yielded}, complete={self.complete})"
        )
