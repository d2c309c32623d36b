"""`--format text`: `path:line:col: CODE name: message`, one line per finding."""

from __future__ import annotations

from collections.abc import Sequence

from digestgate.findings import Finding, Severity

_RESET = "\x1b[0m"
_BOLD = "\x1b[1m"
_RED = "\x1b[31m"
_YELLOW = "\x1b[33m"
_DIM = "\x1b[2m"


def display_path(f: Finding, path: str | None = None) -> str:
    """The finding's file (or `path`, another file of its repository) as the user can
    open it from where they ran digestgate."""
    path = f.location.path if path is None else path
    return path if f.root in ("", ".") else f"{f.root.rstrip('/')}/{path}"


def render(
    findings: Sequence[Finding], files: int, *, color: bool, quiet: bool, stale: int = 0
) -> str:
    lines = []
    for f in findings:
        s = f.location.span
        where = f"{display_path(f)}:{s.line}:{s.column}:"
        if color:
            tint = _RED if f.severity is Severity.ERROR else _YELLOW
            lines.append(
                f"{_BOLD}{where}{_RESET} {tint}{f.code}{_RESET} {_DIM}{f.name}:{_RESET} {f.message}"
            )
        else:
            lines.append(f"{where} {f.code} {f.name}: {f.message}")
    if not quiet:
        lines.append(summary(findings, files, stale))
    return "\n".join(lines) + ("\n" if lines else "")


def summary(findings: Sequence[Finding], files: int, stale: int = 0) -> str:
    """`Found ...` or `No findings ...`; `stale` baseline entries are mentioned."""
    noun = "file" if files == 1 else "files"
    tail = f"; {stale_note(stale)}." if stale else "."
    if not findings:
        return f"No findings in {files} {noun}{tail}"
    errors = sum(1 for f in findings if f.severity is Severity.ERROR)
    warnings = len(findings) - errors
    word = "finding" if len(findings) == 1 else "findings"
    return (
        f"Found {len(findings)} {word} ({errors} error{'s' * (errors != 1)}, "
        f"{warnings} warning{'s' * (warnings != 1)}) in {files} {noun}{tail}"
    )


def stale_note(stale: int) -> str:
    """What `--baseline` says about entries that matched no finding."""
    entries = "entry no longer matches" if stale == 1 else "entries no longer match"
    return f"{stale} baseline {entries} (remove them with --write-baseline)"
