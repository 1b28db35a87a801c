"""`connector logs`, `connector status` and `connector report` (issue 6)."""

from __future__ import annotations
