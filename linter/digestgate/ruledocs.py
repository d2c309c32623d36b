"""Rule documentation generated from the rules themselves.

`digestgate rule CODE` prints `markdown(rule)`; `docs/rules/CODE.md` holds the same
text and `docs/rules/README.md` the index (`python -m digestgate.ruledocs` rewrites
them; a test fails when they are stale).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from digestgate.rule import Example, Rule

DOCS_URL = "https://github.com/digestgate/digestgate/blob/main/docs/rules/{code}.md"
REGENERATE = "python -m digestgate.ruledocs docs/rules"
# The docstring sections a page shows, in this order (see `Rule.doc_sections`).
_SECTIONS = ("What it checks", "Why", "How to fix", "Options", "Platforms")
# A generated page's name: what `write` may delete when its rule is gone.
_PAGE = re.compile(r"[A-Z]+[0-9]+\.md")


def help_uri(code: str) -> str:
    return DOCS_URL.format(code=code)


def _where(ex: Example) -> str:
    places = [f"`{e.path}:{e.line}" + (f":{e.column}`" if e.column else "`") for e in ex.expect]
    return places[0] if len(places) == 1 else ", ".join(places[:-1]) + " and " + places[-1]


def _example(ex: Example, number: int, bad: bool) -> str:
    heading = ex.title[:1].upper() + ex.title[1:] if ex.title else f"Example {number}"
    parts = [f"### {heading}", ""]
    for path, text in ex.all_files().items():
        parts += [f"`{path}`:", "", "```yaml", text.rstrip("\n"), "```", ""]
    if bad and ex.expect:
        parts += [f"Reported at {_where(ex)}.", ""]
    if ex.also:
        others = " and ".join(ex.also)
        parts += [f"This example is checked with {others} enabled too.", ""]
    return "\n".join(parts)


def markdown(rule: type[Rule]) -> str:
    """The rule's page: summary, severity, the docstring's sections, then its examples."""
    sections = rule.doc_sections()
    out = [
        f"# {rule.code} {rule.name}",
        "",
        sections.get("summary") or rule.summary,
        "",
        f"Default severity: **{rule.severity.value}**.",
        "",
    ]
    for title in _SECTIONS:
        if sections.get(title):
            out += [f"## {title}", "", sections[title], ""]
    if rule.bad:
        out += ["## Examples that are reported", ""]
        out += [_example(ex, n, True) for n, ex in enumerate(rule.bad, 1)]
    if rule.good:
        out += ["## Examples that pass", ""]
        out += [_example(ex, n, False) for n, ex in enumerate(rule.good, 1)]
    return "\n".join(out).rstrip("\n") + "\n"


def index(rules: tuple[type[Rule], ...]) -> str:
    rows = [
        "# digestgate rules",
        "",
        f"Generated from the rules by `{REGENERATE}`; do not edit by hand.",
        "`digestgate rule CODE` prints the same page in the terminal.",
        "",
        "| code | name | severity | summary |",
        "| --- | --- | --- | --- |",
    ]
    rows += [
        f"| [{r.code}]({r.code}.md) | {r.name} | {r.severity.value} | "
        f"{r.summary.replace('|', chr(92) + '|')} |"
        for r in rules
    ]
    return "\n".join(rows) + "\n"


def expected_files() -> dict[str, str]:
    """File name -> text of every generated page (built-in rules only, not plugins)."""
    from digestgate.registry import all_rules

    rules = tuple(r for r in all_rules() if r.__module__.startswith("digestgate_rules."))
    files = {"README.md": index(rules)}
    files.update({f"{r.code}.md": markdown(r) for r in rules})
    return files


def stale(folder: Path) -> list[str]:
    """Names of the pages in `folder` that are missing, differ, or belong to no rule."""
    expected = expected_files()
    out = []
    for name, text in expected.items():
        path = folder / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            out.append(name)
    if folder.is_dir():
        out += sorted(
            p.name for p in folder.iterdir() if _PAGE.fullmatch(p.name) and p.name not in expected
        )
    return out


def write(folder: Path) -> None:
    """Write every page and delete the pages of rules that no longer exist."""
    folder.mkdir(parents=True, exist_ok=True)
    expected = expected_files()
    for name, text in expected.items():
        (folder / name).write_text(text, encoding="utf-8")
    for path in folder.iterdir():
        if _PAGE.fullmatch(path.name) and path.name not in expected:
            path.unlink()


def main(argv: list[str]) -> int:
    """`python -m digestgate.ruledocs [--check] [FOLDER]` (default docs/rules)."""
    check = "--check" in argv
    args = [a for a in argv if a != "--check"]
    folder = Path(args[0]) if args else Path("docs/rules")
    if check:
        names = stale(folder)
        if names:
            print(f"stale rule docs in {folder}: {', '.join(names)}; run `{REGENERATE}`")
            return 1
        return 0
    write(folder)
    print(f"wrote {len(expected_files())} files to {folder}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
