"""A progress bar for long manual runs: shown on a terminal, silent otherwise.

    with progress_bar("sync", total=len(schools)) as bar:
        for school in schools:
            bar.working_on(school.brin)          # the text beside the bar
            reports += run_due(engine, moment, trigger="manual", schools=[school], ...)
            bar.advance()

Only when stderr is a terminal (`sys.stderr.isatty()`): under systemd, Docker, cron, a pipe or
a test the bar object does nothing, so output stays plain. While the bar is shown, log lines
written to the terminal (stdout, when no `[logging] file` is set) go through Rich's console above
the bar instead of tearing it (the console log handler is pointed at Rich's proxy of its stream,
and back afterwards). The bar is transient: it disappears when the run ends, leaving the
command's own report.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from rich.console import Console
from rich.file_proxy import FileProxy
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn


class ProgressBar:
    """The handle `progress_bar` yields; every method is a no-op when nothing is shown."""

    def __init__(self, progress: Progress | None, task: TaskID | None, description: str) -> None:
        self._progress = progress
        self._task = task
        self._description = description

    @property
    def shown(self) -> bool:
        return self._progress is not None

    def working_on(self, label: str) -> None:
        """Show what is being done now, e.g. a BRIN or a job key (ids only: it is a terminal line)."""
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, description=f"{self._description}: {label}")

    def advance(self, steps: int = 1) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, steps)

    def set_total(self, total: int | None) -> None:
        """Set or change the number of steps (None: an indeterminate bar)."""
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, total=total)


def is_terminal(stream: TextIO | None = None) -> bool:
    stream = stream if stream is not None else sys.stderr
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


@contextmanager
def progress_bar(description: str, total: int | None = None, *, stream: TextIO | None = None) -> Iterator[ProgressBar]:
    """A transient progress bar on stderr (or `stream`) while the block runs, if it is a terminal."""
    stream = stream if stream is not None else sys.stderr
    if not is_terminal(stream):
        yield ProgressBar(None, None, description)
        return
    console = Console(file=stream)
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        redirect_stdout=True,
        redirect_stderr=True,
    )
    task = progress.add_task(description, total=total)
    with progress:
        moved = _point_log_handlers(console, stream)
        try:
            yield ProgressBar(progress, task, description)
        finally:
            for handler, original in moved:
                handler.setStream(original)


def _point_log_handlers(console: Console, stream: TextIO) -> list[tuple[logging.StreamHandler, TextIO]]:
    """Let console log lines that would show on the screen (on the bar's stream, or on a terminal
    stdout) pass through a Rich proxy, which prints them above the bar. A handler on a pipe or a
    file is left alone."""
    moved = []
    for handler in logging.getLogger().handlers:
        if not isinstance(handler, logging.StreamHandler) or isinstance(handler, logging.FileHandler):
            continue
        if handler.stream is stream or is_terminal(handler.stream):
            original = handler.setStream(FileProxy(console, handler.stream))
            assert original is not None  # it had one: checked above
            moved.append((handler, original))
    return moved
