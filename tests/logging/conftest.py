"""Fixtures for the logging tests: a fresh configuration per test."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

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
    level = logging.getLogger().level
    yield
    logging_setup.reset_logging(level)


@pytest.fixture
def json_out() -> Output:
    """Logging configured on a non-terminal stream (so: JSON lines)."""
    stream = io.StringIO()
    logging_setup.configure_logging(level="debug", stream=stream)
    return Output(stream)
