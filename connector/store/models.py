"""All table models of the state store, in one import.

Import this module (not the parts) wherever the full ``SQLModel.metadata`` is
needed, e.g. Alembic's env.py, so no table is missing from a comparison.
"""

from __future__ import annotations

from connector.store.base import NAMING_CONVENTION, metadata
from connector.store.models_cycle import *  # noqa: F403
from connector.store.models_cycle import __all__ as _cycle
from connector.store.models_school import *  # noqa: F403
from connector.store.models_school import __all__ as _school
from connector.store.models_sync import *  # noqa: F403
from connector.store.models_sync import __all__ as _sync
from connector.store.models_web import *  # noqa: F403
from connector.store.models_web import __all__ as _web

__all__ = ["NAMING_CONVENTION", "metadata", *_school, *_cycle, *_sync, *_web]
