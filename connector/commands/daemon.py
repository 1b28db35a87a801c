"""`connector daemon` and `connector health` (issue 5)."""

from __future__ import annotations
