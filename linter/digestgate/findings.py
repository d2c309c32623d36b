"""Findings: what rules report and reporters print."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import Enum

from digestgate.span import Span


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"

    @property
    def rank(self) -> int:
        return 2 if self is Severity.ERROR else 1


@dataclass(frozen=True, slots=True)
class Location:
    path: str  # relative to the repository root, POSIX separators
    span: Span
    message: str = ""


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    name: str
    severity: Severity
    message: str
    location: Location
    related: tuple[Location, ...] = ()
    job: str | None = None
    step: str | None = None
    root: str = "."  # the repository root, as the user named it (for display)
    fingerprint: str = ""
    snippet: str = ""  # the text under the primary span: what the fingerprint keys on

    @property
    def path(self) -> str:
        return self.location.path

    @property
    def span(self) -> Span:
        return self.location.span

    def sort_key(self) -> tuple[str, str, int, int, str]:
        s = self.location.span
        return (self.root, self.location.path, s.line, s.column, self.code)


def with_fingerprints(findings: Iterable[Finding]) -> list[Finding]:
    """Give each finding a fingerprint that survives unrelated edits.

    It hashes what the finding is about (code, file, job, step and the flagged
    text), not where it is, so inserting lines above it changes nothing. Equal
    keys in one file are told apart by their order of appearance.
    """
    out = []
    seen: dict[str, int] = {}
    for f in sorted(findings, key=Finding.sort_key):
        key = "\0".join(
            (f.code, f.location.path, f.job or "", f.step or "", " ".join(f.snippet.split()))
        )
        n = seen.get(key, 0)
        seen[key] = n + 1
        digest = hashlib.sha256(f"{key}\0{n}".encode()).hexdigest()[:20]
        out.append(replace(f, fingerprint=digest))
    return out
