"""Adapter for the PAS pupil administration API (``parnassys-style.openapi.yaml``).

Glossary: *BRIN* identifies a school (``12AB00``); *leerling* = pupil, *verzorger* =
guardian, *groep* = group (per school year), *medewerker* = staff member, *notitie* = note.

Public API: :class:`PasClient` (single objects as dicts, lists as :class:`Sweep`),
:class:`Sweep` / :class:`SweepIncomplete`, :class:`HttpPolicy` (timeouts and retry budget),
:class:`SlidingWindowLimiter`, and the errors of :mod:`adapters.errors`.

Design decisions:

* **Items are validated plain dicts.** The client checks the envelope (``items``, ``total``,
  ``server_time`` with offset) strictly but passes each record through as the JSON object
  the vendor sent, unknown fields included. The pure mapping layer (``mappings/``) converts
  records one by one and reports a bad one without losing the page. Items that are not JSON
  objects are skipped and logged.
* **Watermarks.** ``sweep.watermark`` is ``server_time`` of the first page and is only
  available after the sweep ran to the end; store it together with the rows.
* **Data minimisation.** :meth:`PasClient.notes` cannot request ``include=body``.
* **Auth** is an ``AuthBase`` hook with a thread-safe token cache; a ``401 invalid_token``
  costs one new token and one repeat of the request, a second rejection raises
  :class:`~adapters.errors.InvalidToken`.
"""

from adapters._http import HttpPolicy
from adapters._ratelimit import SlidingWindowLimiter
from adapters.parnassys.client import PasClient
from adapters.parnassys.pagination import Sweep, SweepIncomplete

__all__ = ["HttpPolicy", "PasClient", "SlidingWindowLimiter", "Sweep", "SweepIncomplete"]
