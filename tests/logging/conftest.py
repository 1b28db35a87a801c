"""Fixtures for the logging tests: a fresh configuration per test."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from connector import logging_setup


class TTYStream(io.StringIO):
    """A StringIO that claims to be a terminal."""

    def isatty(self) -> bool:
        return True


class Output:
    """Captures what the configured handler writes."""

    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def lines(self) -> list[dict]:
        return [json.loads(line) for line in self.text.splitlines() if line.strip()]

    def last(self) -> dict:
        return self.lines()[-1]


@pytest.fixture(autouse=True)
def _reset_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    yield
    for handler in list(logging_setup._installed_handlers):
        root.removeHandler(handler)
        handler.close()
    logging_setup._installed_handlers.clear()
    root.setLevel(saved[0])
    logging.captureWarnings(False)
    logging_setup.clear_registered_secrets()
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


@pytest.fixture
def json_out() -> Output:
    """Logging configured on a non-terminal stream (so: JSON lines)."""
    stream = io.StringIO()
    logging_setup.configure_logging(level="debug", stream=stream)
    return Output(stream)
