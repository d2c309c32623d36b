"""`--format json`: the public, versioned JSON document (docs/output-json.md).

Version 1 is `{"version": 1, "findings": [...], "summary": {...}}`. Each finding has
`code, name, severity, message, path, line, column, end_line, end_column,
fingerprint, job, step` (paths relative to the repository root, POSIX separators,
1-based positions, end column exclusive), plus `root` (the repository as named on
the command line) and `related` (a list of `{path, line, column, end_line,
end_column, message}`). New keys may be added within version 1; none is removed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from digestgate.findings import Finding, Location, Severity

VERSION = 1


def _location(loc: Location) -> dict[str, Any]:
    s = loc.span
    return {
        "path": loc.path,
        "line": s.line,
        "column": s.column,
        "end_line": s.end_line,
        "end_column": s.end_column,
        "message": loc.message,
    }


def document(
    findings: Sequence[Finding], files: int, baseline_stale: int | None = None
) -> dict[str, Any]:
    """The document; `baseline_stale` (given with `--baseline`) joins the summary."""
    out = []
    for f in findings:
        s = f.location.span
        out.append(
            {
                "code": f.code,
                "name": f.name,
                "severity": f.severity.value,
                "message": f.message,
                "path": f.location.path,
                "line": s.line,
                "column": s.column,
                "end_line": s.end_line,
                "end_column": s.end_column,
                "fingerprint": f.fingerprint,
                "job": f.job,
                "step": f.step,
                "root": f.root,
                "related": [_location(r) for r in f.related],
            }
        )
    errors = sum(1 for f in findings if f.severity is Severity.ERROR)
    summary = {
        "files": files,
        "findings": len(findings),
        "errors": errors,
        "warnings": len(findings) - errors,
    }
    if baseline_stale is not None:
        summary["baseline_stale"] = baseline_stale
    return {"version": VERSION, "findings": out, "summary": summary}


def render(findings: Sequence[Finding], files: int, baseline_stale: int | None = None) -> str:
    doc = document(findings, files, baseline_stale)
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
