"""`--format sarif`: one SARIF 2.1.0 log with one run, for GitHub code scanning and
other SARIF viewers (docs/output-sarif.md).

The driver lists every registered rule (built-in and plugins), enabled or not, so a
rule's `ruleIndex` does not depend on the configuration of the repositories checked.
Positions are our spans unchanged: 1-based, end column exclusive, columns counted in
Unicode code points, which the run declares with `columnKind`. A file is named as the
text output names it, relative to the directory digestgate ran in (`%SRCROOT%`), or
by an absolute `file:` URI for a repository outside it, so results of several
repositories stay apart. `partialFingerprints` carries the finding's fingerprint,
which survives unrelated edits.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from digestgate import __version__
from digestgate.findings import Finding, Location
from digestgate.reporters.text import display_path
from digestgate.rule import Rule
from digestgate.ruledocs import help_uri, markdown
from digestgate.span import Span

SCHEMA_URI = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
INFORMATION_URI = "https://github.com/digestgate/digestgate"
SRCROOT = "%SRCROOT%"
FINGERPRINT_KEY = "digestgate/v1"
# The docstring sections that make a rule's plain-text help, in this order.
_HELP_SECTIONS = ("What it checks", "Why", "How to fix")
# GitHub code scanning keeps at most this many characters of a rule description.
DESCRIPTION_LIMIT = 1024


def _is_builtin(rule: type[Rule]) -> bool:
    """Built-in rules have pages under docs/rules/; a plugin's are its own business."""
    return rule.__module__.startswith("digestgate_rules.")


def description(text: str, limit: int = DESCRIPTION_LIMIT) -> str:
    """`text` on one line, cut at a word to at most `limit` characters (with `...`)."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 3]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut).rstrip(",;:") + "..."


def rule_descriptor(rule: type[Rule]) -> dict[str, Any]:
    """The rule as SARIF describes it: descriptions, help text and link, default level."""
    sections = rule.doc_sections()
    full = description(sections.get("What it checks") or sections.get("summary") or rule.summary)
    help_text = "\n\n".join(
        f"{title}:\n{sections[title]}" for title in _HELP_SECTIONS if sections.get(title)
    )
    out: dict[str, Any] = {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": full},
        "help": {"text": help_text or rule.summary, "markdown": markdown(rule)},
        "defaultConfiguration": {"level": rule.severity.value},
    }
    if _is_builtin(rule):
        out["helpUri"] = help_uri(rule.code)
    return out


def _artifact(f: Finding, path: str) -> dict[str, Any]:
    """Where `path` (of `f`'s repository) is: relative to `%SRCROOT%` (the directory
    digestgate ran in), or an absolute file URI for a repository outside it."""
    shown = display_path(f, path)
    if Path(shown).is_absolute():
        return {"uri": Path(shown).as_uri()}
    return {"uri": quote(shown, safe="/"), "uriBaseId": SRCROOT}


def _region(span: Span) -> dict[str, int]:
    return {
        "startLine": span.line,
        "startColumn": span.column,
        "endLine": span.end_line,
        "endColumn": span.end_column,
    }


def _physical(f: Finding, loc: Location) -> dict[str, Any]:
    return {"artifactLocation": _artifact(f, loc.path), "region": _region(loc.span)}


def result(f: Finding, rule_index: int | None) -> dict[str, Any]:
    out: dict[str, Any] = {"ruleId": f.code}
    if rule_index is not None:
        out["ruleIndex"] = rule_index
    out["level"] = f.severity.value
    out["message"] = {"text": f.message}
    out["locations"] = [{"physicalLocation": _physical(f, f.location)}]
    related = []
    for n, loc in enumerate(f.related, 1):
        entry: dict[str, Any] = {"id": n, "physicalLocation": _physical(f, loc)}
        if loc.message:
            entry["message"] = {"text": loc.message}
        related.append(entry)
    if related:
        out["relatedLocations"] = related
    if f.fingerprint:
        out["partialFingerprints"] = {FINGERPRINT_KEY: f.fingerprint}
    return out


def document(
    findings: Sequence[Finding],
    files: int,
    *,
    rules: Sequence[type[Rule]] | None = None,
    cwd: Path | None = None,
) -> dict[str, Any]:
    """The SARIF log; `rules` defaults to every registered rule, `cwd` (what
    `%SRCROOT%` stands for) to the current directory."""
    if rules is None:
        from digestgate.registry import all_rules

        rules = all_rules()
    index = {r.code: n for n, r in enumerate(rules)}
    base = (cwd or Path.cwd()).resolve().as_uri().rstrip("/") + "/"
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "digestgate",
                "version": __version__,
                "semanticVersion": __version__,
                "informationUri": INFORMATION_URI,
                "rules": [rule_descriptor(r) for r in rules],
            }
        },
        "originalUriBaseIds": {
            SRCROOT: {
                "uri": base,
                "description": {"text": "The directory digestgate ran in."},
            }
        },
        "columnKind": "unicodeCodePoints",
        "results": [result(f, index.get(f.code)) for f in findings],
        "properties": {"files": files},
    }
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def render(
    findings: Sequence[Finding],
    files: int,
    *,
    rules: Sequence[type[Rule]] | None = None,
    cwd: Path | None = None,
) -> str:
    log = document(findings, files, rules=rules, cwd=cwd)
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"
