"""Find the line of a key path in a TOML text, so that every problem can name its line.

`tomllib` keeps no positions, so this reads the text once more: it follows table headers
(`[a.b]`, `[[a.b]]` with their running index) and records the line of every `key =`. Inline
tables and arrays are attributed to the line of their key. Good enough for error messages;
never used to read values.
"""

from __future__ import annotations

import re

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-\"'. ]+?)\s*=")
_INLINE_KEY = re.compile(r"([A-Za-z0-9_\-]+)\s*=")


def _split_dotted(text: str) -> list[str]:
    return [part.strip().strip('"').strip("'") for part in text.split(".")]


class LineIndex:
    """Maps key paths such as ("schools", 0, "brin") to 1-based line numbers."""

    def __init__(self, text: str) -> None:
        self._lines: dict[tuple, int] = {}
        counters: dict[tuple, int] = {}
        table: tuple = ()
        for number, line in enumerate(text.splitlines(), start=1):
            header = _HEADER.match(line)
            if header and not line.lstrip().startswith("#"):
                parts = tuple(_split_dotted(header.group(2)))
                if header.group(1) == "[[":
                    index = counters.get(parts, -1) + 1
                    counters[parts] = index
                    table = self._resolve(parts[:-1]) + (parts[-1], index)
                else:
                    table = self._resolve(parts)
                self._lines.setdefault(table, number)
                continue
            key = _KEY.match(line)
            if key and not line.lstrip().startswith("#"):
                path = table + tuple(_split_dotted(key.group(1)))
                self._lines.setdefault(path, number)
                rest = line[key.end() :]
                if "{" in rest:  # keys of an inline table on the same line
                    for inner in _INLINE_KEY.finditer(rest):
                        self._lines.setdefault(path + (inner.group(1),), number)

    def _resolve(self, parts: tuple) -> tuple:
        """Attach the current index of any array of tables named in a header's prefix."""
        resolved: tuple = ()
        for part in parts:
            resolved += (part,)
            arrays = [
                p for p in self._lines if len(p) == len(resolved) + 1 and p[:-1] == resolved and isinstance(p[-1], int)
            ]
            if arrays:
                resolved += (max(p[-1] for p in arrays),)
        return resolved

    def line_of(self, path: tuple) -> int | None:
        """The line of the longest prefix of `path` that the text shows, or None."""
        for end in range(len(path), 0, -1):
            found = self._lines.get(tuple(path[:end]))
            if found is not None:
                return found
        return None
