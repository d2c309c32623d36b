"""Rule documentation generated from the rules themselves.

`digestgate rule CODE` prints `markdown(rule)`; `docs/rules/CODE.md` holds the same
text and `docs/rules/README.md` the index (`python -m digestgate.ruledocs` rewrites
them; a test fails when they are stale).
"""

from __future__ import annotations

import sys
from pathlib import Path

from digestgate.rule import Example, Rule

DOCS_URL = "https://github.com/digestgate/digestgate/blob/main/docs/rules/{code}.md"


def help_uri(code: str) -> str:
    return DOCS_URL.format(code=code)


def _example(ex: Example, bad: bool) -> str:
    title = ex.title or ("finding" if bad else "no finding")
    parts = [f"{'Bad' if bad else 'Good'}: {title}", ""]
    for path, text in ex.all_files().items():
        parts += [f"`{path}`:", "", "```yaml", text.rstrip("\n"), "```", ""]
    if bad and ex.expect:
        where = ", ".join(
            f"{e.path}:{e.line}" + (f":{e.column}" if e.column else "") for e in ex.expect
        )
        parts += [f"Reported at {where}.", ""]
    return "\n".join(parts)


def markdown(rule: type[Rule]) -> str:
    sections = rule.doc_sections()
    out = [
        f"# {rule.code} {rule.name}",
        "",
        f"{sections.get('summary', rule.summary)}",
        "",
        f"Default severity: **{rule.severity.value}**.",
        "",
    ]
    for title in ("What it checks", "Why", "How to fix", "Options", "Platforms"):
        if sections.get(title):
            out += [f"## {title}", "", sections[title], ""]
    if rule.bad:
        out += ["## Examples that are reported", ""]
        out += [_example(ex, True) for ex in rule.bad]
    if rule.good:
        out += ["## Examples that pass", ""]
        out += [_example(ex, False) for ex in rule.good]
    return "\n".join(out).rstrip("\n") + "\n"


def index(rules: tuple[type[Rule], ...]) -> str:
    rows = [
        "# digestgate rules",
        "",
        "Generated from the rules (`python -m digestgate.ruledocs`); do not edit by hand.",
        "",
        "| code | name | severity | summary |",
        "| --- | --- | --- | --- |",
    ]
    rows += [
        f"| [{r.code}]({r.code}.md) | {r.name} | {r.severity.value} | {r.summary} |" for r in rules
    ]
    return "\n".join(rows) + "\n"


def expected_files() -> dict[str, str]:
    from digestgate.registry import all_rules

    rules = tuple(r for r in all_rules() if r.__module__.startswith("digestgate_rules."))
    files = {"README.md": index(rules)}
    files.update({f"{r.code}.md": markdown(r) for r in rules})
    return files


def write(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in expected_files().items():
        (folder / name).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/rules")
    write(target)
    print(f"wrote {len(expected_files())} files to {target}", file=sys.stderr)
