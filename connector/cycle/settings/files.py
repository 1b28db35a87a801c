"""Reading the small files the settings name (the settings file itself, secrets, templates) safely:
only a regular file, and only up to a limit. `--settings /dev/zero` would otherwise be read until
memory runs out, and a FIFO would block the command forever."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

SETTINGS_LIMIT = 1_000_000  # bytes; a board's settings file is a few kB
SECRET_LIMIT = 64_000
TEMPLATE_LIMIT = 1_000_000


class NotReadable(OSError):
    """Refused before reading: not a regular file, or larger than the limit (`strerror` says which)."""


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_small_file(path: Path, limit: int) -> bytes:
    """The bytes of the regular file at `path`, at most `limit` of them.

    Raises `NotReadable` for anything else (a folder, device, FIFO or socket; a larger file) and
    OSError when the file cannot be opened. Opened non-blocking and checked on the open descriptor,
    so a FIFO neither blocks nor is swapped in between the check and the read."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = _kind(mode)
            raise NotReadable(errno.EINVAL, f"{kind}, not a regular file" if kind.startswith("a ") else kind, str(path))
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise NotReadable(errno.EFBIG, f"larger than {limit:,} bytes", str(path))
    return data


def utf8_problem(data: bytes, exc: UnicodeDecodeError) -> tuple[int, str]:
    """The line (1-based) of the first byte that is not UTF-8, and a message naming its column: in
    characters, as an editor counts them (what precedes it on the line is valid UTF-8)."""
    start = exc.start
    line = data.count(b"\n", 0, start) + 1
    column = len(data[data.rfind(b"\n", 0, start) + 1 : start].decode("utf-8")) + 1
    return line, (
        f"byte 0x{data[start]:02x} at column {column} is not UTF-8; the file must be UTF-8 "
        "(saved as Latin-1 or Windows-1252? convert it, e.g. iconv -f windows-1252 -t utf-8)"
    )
