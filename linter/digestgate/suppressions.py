"""Inline suppressions: `# digestgate: ignore[DG101, DG202] -- reason`.

A suppression is a comment, either trailing the finding's line or alone on the
line above it (stacked comment-only lines are skipped, so several suppressions
can sit above one line). It names the codes it silences; a bare
`# digestgate: ignore` names none, silences nothing and is reported, so that
every suppression says what it is for.

Comments are found line by line without parsing YAML: a `#` counts when it is at
the start of the line or after whitespace and (best effort) not inside a quoted
string. Comments inside block scalars count too, which is what lets a shell
comment in a `run:` script suppress a finding on that script line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

from digestgate.findings import Finding
from digestgate.nodes import Source
from digestgate.span import Span

MARKER = "digestgate:"

# `ignore` must end the word: `ignore[...]`, `ignore -- why`, `ignore` at the end.
_DIRECTIVE = re.compile(r"#[ \t]*digestgate:[ \t]*ignore(?=$|[\s\[]|--)")
_CODE_SPLIT = re.compile(r"[,\s]+")
# characters after which a quote opens a string (YAML flow/values, shell words)
_QUOTE_OPENERS = frozenset(" \t[{,:=(")


@dataclass(frozen=True)
class Suppression:
    line: int  # the line the comment is on
    codes: tuple[str, ...]  # empty for a bare `# digestgate: ignore`
    reason: str | None  # the text after `--`, if any
    span: Span  # the comment text, from its `#` to the end of the line
    target_line: int  # the line whose findings it suppresses
    path: str = ""  # the file (set by `scan` from the source, by `apply` from its key)


@dataclass(frozen=True)
class Outcome:
    kept: list[Finding]
    suppressed: list[Finding]
    unused: list[Suppression]  # named only enabled, known codes, and silenced nothing
    unknown: list[tuple[Suppression, str]]  # a code that is not a known rule
    blanket: list[Suppression]  # no codes: suppresses nothing, reported


def scan(source: Source) -> list[Suppression]:
    """Every suppression comment in a file, in line order."""
    text = source.text
    if MARKER not in text:
        return []
    lines: list[int] = []
    for index in _find_all(text, MARKER):
        line = source.position(index)[0]
        if not lines or lines[-1] != line:
            lines.append(line)
    out = []
    for line in lines:
        found = _parse_line(source, line)
        if found is not None:
            out.append(found)
    return out


def apply(
    findings: Sequence[Finding],
    suppressions: Mapping[str, Sequence[Suppression]],
    *,
    enabled: Callable[[str], bool],
    known_codes: Collection[str],
) -> Outcome:
    """Split findings into kept and suppressed, and judge the suppressions themselves.

    `suppressions` is keyed by repo-relative path, like `Finding.location.path`. A
    finding is suppressed when a suppression in its file targets the line its
    primary location starts on and names its code.
    """
    by_target: dict[tuple[str, int], list[tuple[tuple[str, int], Suppression]]] = {}
    for path, items in suppressions.items():
        for s in items:
            if s.codes:
                by_target.setdefault((path, s.target_line), []).append(((path, id(s)), s))
    used: set[tuple[str, int]] = set()
    kept: list[Finding] = []
    suppressed: list[Finding] = []
    for finding in findings:
        loc = finding.location
        hits = [
            key
            for key, s in by_target.get((loc.path, loc.span.line), ())
            if finding.code in s.codes
        ]
        if hits:
            suppressed.append(finding)
            used.update(hits)
        else:
            kept.append(finding)

    unused: list[Suppression] = []
    unknown: list[tuple[Suppression, str]] = []
    blanket: list[Suppression] = []
    for path in sorted(suppressions):
        for s in sorted(suppressions[path], key=lambda s: (s.line, s.span.column)):
            shown = s if s.path == path else replace(s, path=path)
            if not s.codes:
                blanket.append(shown)
                continue
            unknown.extend((shown, code) for code in s.codes if code not in known_codes)
            judged = all(code in known_codes and enabled(code) for code in s.codes)
            if judged and (path, id(s)) not in used:
                unused.append(shown)
    return Outcome(kept, suppressed, unused, unknown, blanket)


def _parse_line(source: Source, line: int) -> Suppression | None:
    text = source.line_text(line)
    start = comment_start(text)
    if start < 0:
        return None
    m = next(
        (
            m
            for m in _DIRECTIVE.finditer(text, start)
            if m.start() == start or text[m.start() - 1] in " \t"
        ),
        None,
    )
    if m is None:
        return None
    codes, reason = _parse_rest(text[m.end() :])
    end = len(text.rstrip())
    span = Span(line, m.start() + 1, line, end + 1)
    target = line
    if not text[:start].strip():  # alone on its line: it applies to the next line
        target = line + 1
        while target <= source.line_count and _is_comment_only(source.line_text(target)):
            target += 1
    return Suppression(line, codes, reason, span, target, source.path)


def _parse_rest(rest: str) -> tuple[tuple[str, ...], str | None]:
    """Codes and reason from what follows `ignore`: `[A, B] -- why`."""
    rest = rest.strip()
    codes: tuple[str, ...] = ()
    if rest.startswith("["):
        close = rest.find("]")
        if close < 0:  # unclosed: the codes run to the reason or the end
            dash = rest.find("--")
            close = dash if dash >= 0 else len(rest)
            inner, rest = rest[1:close], rest[close:]
        else:
            inner, rest = rest[1:close], rest[close + 1 :]
        codes = tuple(dict.fromkeys(c for c in _CODE_SPLIT.split(inner) if c))
        rest = rest.strip()
    reason = None
    if rest.startswith("--"):
        reason = rest[2:].strip() or None
    return codes, reason


def comment_start(line: str) -> int:
    """Index of the `#` that starts a comment on this line, or -1.

    The `#` must be at the line start or follow whitespace, and not be inside a
    quoted string. A quote opens a string only where a value or word starts
    (after whitespace, `[`, `{`, `,`, `:`, `=` or `(`), so the apostrophe in
    `don't` does not; YAML's `''` and `\\"` escapes are honoured.
    """
    quote = ""
    i, n = 0, len(line)
    while i < n:
        c = line[i]
        if quote:
            if quote == '"' and c == "\\":
                i += 2
                continue
            if c == quote:
                if quote == "'" and i + 1 < n and line[i + 1] == "'":
                    i += 2
                    continue
                quote = ""
        elif c == "#":
            if i == 0 or line[i - 1] in " \t":
                return i
        elif c in "'\"" and (i == 0 or line[i - 1] in _QUOTE_OPENERS):
            quote = c
        i += 1
    return -1


def _is_comment_only(line: str) -> bool:
    return line.lstrip().startswith("#")


def _find_all(text: str, needle: str) -> Iterator[int]:
    i = text.find(needle)
    while i >= 0:
        yield i
        i = text.find(needle, i + 1)
