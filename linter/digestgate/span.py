"""Source positions: the one coordinate convention used inside digestgate.

A `Span` is 1-based in lines and columns, columns counted in Unicode code points,
and the end is exclusive (the column just after the last character), which is what
SARIF's `endColumn` means. Reporters convert at the edges only: the LSP wants 0-based
lines and UTF-16 columns, JSON and text keep these numbers as they are.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from typing import NamedTuple


class Span(NamedTuple):
    """A named tuple rather than a frozen dataclass: spans are the objects a run makes
    most of (about half a million on a large corpus), and a tuple is made about four
    times faster. Read-only all the same; order is (line, column, end_line, end_column)."""

    line: int
    column: int
    end_line: int
    end_column: int

    @staticmethod
    def point(line: int, column: int) -> Span:
        return Span(line, column, line, column + 1)

    def contains(self, other: Span) -> bool:
        return (self.line, self.column) <= (other.line, other.column) and (
            other.end_line,
            other.end_column,
        ) <= (self.end_line, self.end_column)


WHOLE_FILE = Span(1, 1, 1, 1)


Locate = Callable[[int, int], "Span"]
"""`locate(offset, length)`: the span of a character range of some text."""


def line_starts(text: str) -> list[int]:
    """Where each line of `text` starts (lines end at "\n" only, as in `Source`)."""
    starts = [0]
    find = text.find
    i = find("\n")
    while i >= 0:
        starts.append(i + 1)
        i = find("\n", i + 1)
    return starts


def file_locator(text: str) -> Locate:
    """A `locate(offset, length)` over a whole file's text (1-based, end exclusive;
    offsets out of the text are clamped to it). Shared by the shell and Python
    analysers, which call `locate` for every word."""
    starts = line_starts(text)
    size = len(text)
    right = bisect.bisect_right
    new = tuple.__new__  # a Span without NamedTuple's own __new__ (the same tuple)

    def locate(offset: int, length: int = 0) -> Span:
        if offset < 0:
            offset = 0
        elif offset > size:
            offset = size
        line = right(starts, offset) - 1
        col = offset - starts[line] + 1
        if length <= 0:
            return new(Span, (line + 1, col, line + 1, col))
        end = offset + length
        if end > size:
            end = size
        end_line = right(starts, end, line) - 1
        return new(Span, (line + 1, col, end_line + 1, end - starts[end_line] + 1))

    return locate
