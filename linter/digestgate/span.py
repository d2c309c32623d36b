"""Source positions: the one coordinate convention used inside digestgate.

A `Span` is 1-based in lines and columns, columns counted in Unicode code points,
and the end is exclusive (the column just after the last character), which is what
SARIF's `endColumn` means. Reporters convert at the edges only: the LSP wants 0-based
lines and UTF-16 columns, JSON and text keep these numbers as they are.
"""

from __future__ import annotations

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
