"""YAML nodes with positions: what the loader gives the model.

These are small slotted classes rather than frozen dataclasses because the loader
makes hundreds of thousands of them on a large run; treat them as read-only.
Every node knows where it sits in the file (character indices) and so its `Span`,
which is worked out when first asked for: most nodes' spans are never read (a step's
keys, say), and a `Span` for each would be the most made objects of a run. Scalars'
indices also map a position inside a string value (an expression, a shell command)
back to a line and column (`YScalar.locate`).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterator

from digestgate.span import Span, line_starts


class Source:
    """The text of one file, with line starts for offset -> position mapping."""

    __slots__ = ("_line_starts", "path", "text")

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.text = text
        self._line_starts = line_starts(text)

    def position(self, index: int) -> tuple[int, int]:
        """1-based (line, column) of a character index."""
        line = bisect_right(self._line_starts, index) - 1
        return line + 1, index - self._line_starts[line] + 1

    def span(self, start: int, end: int) -> Span:
        """The span from character index `start` to `end` (exclusive)."""
        # `position` twice, inlined: spans of nodes are made by the hundred thousand
        starts = self._line_starts
        line = bisect_right(starts, start)
        end_line = bisect_right(starts, end)
        col = start - starts[line - 1] + 1
        end_col = end - starts[end_line - 1] + 1
        if end_col == 1 and end_line > line:
            # block scalars and collections end at the start of the next line
            end_line -= 1
            end_col = len(self.line_text(end_line)) + 1
        return Span(line, col, end_line, end_col)

    def line_text(self, line: int) -> str:
        """The text of a 1-based line, without its newline."""
        start = self._line_starts[line - 1]
        end = self.text.find("\n", start)
        return self.text[start : end if end >= 0 else len(self.text)].rstrip("\r")

    @property
    def line_count(self) -> int:
        return len(self._line_starts)


class YNode:
    """Text from `start_index` to `end_index` (exclusive) of `source`."""

    __slots__ = ("_span", "end_index", "source", "start_index")

    def __init__(self, source: Source, start_index: int, end_index: int) -> None:
        self.source = source
        self.start_index = start_index
        self.end_index = end_index
        self._span: Span | None = None

    @property
    def span(self) -> Span:
        span = self._span
        if span is None:
            span = self._span = self.source.span(self.start_index, self.end_index)
        return span


class YScalar(YNode):
    """A scalar. `value` is always the string form; `tag` says how YAML typed it."""

    __slots__ = ("_lines", "style", "tag", "value")

    def __init__(
        self, source: Source, start_index: int, end_index: int, value: str, tag: str, style: str
    ) -> None:
        # YNode's fields set here too: one call less for the most made object
        self.source = source
        self.start_index = start_index
        self.end_index = end_index
        self._span = None
        self.value = value
        self.tag = tag  # "str", "int", "float", "bool", "null"
        self.style = style  # "plain", "'", '"', "|", ">"
        self._lines: tuple[list[int], int] | None = None  # literal blocks: line starts, indent

    def __repr__(self) -> str:
        return f"YScalar({self.value!r})"

    def as_bool(self) -> bool | None:
        if self.tag == "bool":
            return self.value.lower() == "true"
        return None

    def locate(self, offset: int, length: int = 0) -> Span:
        """The file span of `value[offset:offset+length]`.

        Exact for single-line scalars without escapes and for literal (`|`) blocks,
        which is how nearly every `run:` and `if:` is written. For folded or
        multi-line quoted text the needle is searched in the raw text, and the
        scalar's own span is the fallback.
        """
        value = self.value
        if offset < 0 or offset > len(value):
            return self.span
        length = max(0, min(length, len(value) - offset))
        src = self.source
        if self.style == "|":
            return self._locate_literal(src, offset, length)
        start, text = self.start_index, src.text
        # where the value starts when it is written as it is (no escapes, one line):
        # compared in place, not copied
        quote = 0 if self.style == "plain" else 1 if self.style in ("'", '"') else -1
        if (
            quote >= 0
            and self.end_index - start == len(value) + 2 * quote
            and text.startswith(value, start + quote)
            and self.span.line == self.span.end_line
        ):
            return _span_of(src, start + quote + offset, length)
        raw = text[start : self.end_index]
        needle = value[offset : offset + max(length, 1)]
        if needle and "\n" not in needle:
            hits = [i for i in _find_all(raw, needle)]
            if hits:
                # choose the hit whose share of the text is closest to the offset's
                want = offset / max(len(value), 1) * len(raw)
                best = min(hits, key=lambda i: abs(i - want))
                return _span_of(src, self.start_index + best, length)
        return self.span

    def _locate_literal(self, src: Source, offset: int, length: int) -> Span:
        if self._lines is None:
            starts = [0]
            find = self.value.find
            i = find("\n")
            while i >= 0:
                starts.append(i + 1)
                i = find("\n", i + 1)
            self._lines = (starts, _block_indent(src, self.span.line + 1, self.span.end_line))
        starts, indent = self._lines
        line_in_value = bisect_right(starts, offset) - 1
        col_in_line = offset - starts[line_in_value]
        line = self.span.line + 1 + line_in_value
        if line > src.line_count:
            return self.span
        start_col = indent + col_in_line + 1
        piece = self.value[offset : offset + length]
        if "\n" in piece:
            end_line = line + piece.count("\n")
            end_col = indent + len(piece) - piece.rfind("\n")
        else:
            end_line, end_col = line, start_col + length
        return Span(line, start_col, end_line, end_col)


def _find_all(haystack: str, needle: str) -> Iterator[int]:
    i = haystack.find(needle)
    while i >= 0:
        yield i
        i = haystack.find(needle, i + 1)


def _span_of(src: Source, index: int, length: int) -> Span:
    line, col = src.position(index)
    end_line, end_col = src.position(index + length) if length else (line, col)
    return Span(line, col, end_line, end_col)


def _block_indent(src: Source, first: int, last: int) -> int:
    """Indentation of a literal block: that of its first non-blank content line."""
    for n in range(first, min(last, src.line_count) + 1):
        text = src.line_text(n)
        if text.strip():
            return len(text) - len(text.lstrip(" "))
    return 0


class YSeq(YNode):
    __slots__ = ("items",)

    def __init__(
        self, source: Source, start_index: int, end_index: int, items: list[YNode]
    ) -> None:
        super().__init__(source, start_index, end_index)
        self.items = items

    def __repr__(self) -> str:
        return f"YSeq({self.items!r})"


class YMap(YNode):
    """A mapping. Keys are scalars (the loader rejects others) and unique; order is kept."""

    __slots__ = ("_values", "get", "items")

    def __init__(
        self,
        source: Source,
        start_index: int,
        end_index: int,
        items: list[tuple[YScalar, YNode]],
        values: dict[str, YNode],
    ) -> None:
        """`values`: each item's value by its key's text."""
        super().__init__(source, start_index, end_index)
        self.items = items
        self._values = values
        # `get(key)`, the value or None, is the dict's own: the builder asks hundreds
        # of thousands of times, and a method around it would double the cost
        self.get: Callable[[str], YNode | None] = values.get

    def __repr__(self) -> str:
        return f"YMap({self.items!r})"

    def key(self, key: str) -> YScalar | None:
        for k, _ in self.items:
            if k.value == key:
                return k
        return None

    def keys(self) -> list[str]:
        return [k.value for k, _ in self.items]

    def __contains__(self, key: str) -> bool:
        return key in self._values


def scalar_text(node: YNode | None) -> str | None:
    """The string value of a scalar node, else None."""
    return node.value if isinstance(node, YScalar) else None
