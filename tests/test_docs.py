"""The rule docs in docs/rules/ are generated from the rules and must stay in step.

`digestgate rule CODE` prints exactly docs/rules/CODE.md, so the terminal and the web
show the same text. Regenerate with `python -m digestgate.ruledocs docs/rules`.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from digestgate import cli, ruledocs
from digestgate.registry import all_rules
from digestgate.rule import Rule

RULE_DOCS = Path(__file__).parent.parent / "docs" / "rules"
BUILTIN = tuple(r for r in all_rules() if r.__module__.startswith("digestgate_rules."))


def test_committed_docs_are_current() -> None:
    stale = ruledocs.stale(RULE_DOCS)
    assert not stale, (
        f"docs/rules is out of date ({', '.join(stale)}): "
        "run `python -m digestgate.ruledocs docs/rules`"
    )


@pytest.mark.parametrize("rule", BUILTIN, ids=[r.code for r in BUILTIN])
def test_rule_command_prints_the_page(rule: type[Rule]) -> None:
    result = CliRunner().invoke(cli.app, ["rule", rule.code])
    assert result.exit_code == 0
    assert result.stdout == (RULE_DOCS / f"{rule.code}.md").read_text(encoding="utf-8")


def test_rule_command_in_a_subprocess() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "digestgate", "rule", "DG000"],
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == 0
    assert proc.stdout == (RULE_DOCS / "DG000.md").read_bytes()


@pytest.mark.parametrize("rule", BUILTIN, ids=[r.code for r in BUILTIN])
def test_page_has_every_part(rule: type[Rule]) -> None:
    page = ruledocs.markdown(rule)
    assert page.startswith(f"# {rule.code} {rule.name}\n\n")
    for heading in ("## What it checks", "## Why", "## How to fix"):
        assert f"\n{heading}\n\n" in page, f"{rule.code}: the docstring has no {heading[3:]!r}"
    assert "\n## Examples that are reported\n" in page
    assert "\n## Examples that pass\n" in page
    assert page.count("Reported at `") == len(rule.bad)
    assert page.endswith("\n") and not page.endswith("\n\n")
    assert "\n\n\n" not in page
    # every fenced block is closed
    assert page.count("```") % 2 == 0


def test_index_links_every_page() -> None:
    index = (RULE_DOCS / "README.md").read_text(encoding="utf-8")
    linked = re.findall(r"\]\(([A-Z]+[0-9]+)\.md\)", index)
    assert linked == [r.code for r in BUILTIN]
    for code in linked:
        assert (RULE_DOCS / f"{code}.md").is_file()


def test_stale_pages_are_found_and_removed(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    assert set(ruledocs.stale(folder)) == set(ruledocs.expected_files())
    ruledocs.write(folder)
    assert ruledocs.stale(folder) == []

    first = f"{BUILTIN[0].code}.md"
    (folder / first).write_text("edited by hand\n", encoding="utf-8")
    (folder / "DG999.md").write_text("# a rule that is gone\n", encoding="utf-8")
    (folder / "notes.txt").write_text("not a page\n", encoding="utf-8")
    assert ruledocs.stale(folder) == [first, "DG999.md"]

    ruledocs.write(folder)
    assert ruledocs.stale(folder) == []
    assert not (folder / "DG999.md").exists()
    assert (folder / "notes.txt").exists()


def test_check_mode_of_the_generator(tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "digestgate.ruledocs", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )

    proc = run("--check", "out")
    assert proc.returncode == 1
    assert "run `python -m digestgate.ruledocs docs/rules`" in proc.stdout
    assert run("out").returncode == 0
    assert run("--check", "out").returncode == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(ruledocs.expected_files())


def test_index_escapes_pipes() -> None:
    class Piped(Rule):
        code = "XX1"
        name = "piped"
        severity = BUILTIN[0].severity
        summary = "a | b"

    assert "| a \\| b |" in ruledocs.index((Piped,))


def test_readme_rule_table_is_current() -> None:
    from digestgate.ruledocs import README_BEGIN, readme_with_table

    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    assert README_BEGIN in readme
    assert readme == readme_with_table(readme), (
        "the README's rule table is stale: run `python -m digestgate.ruledocs docs/rules`"
    )
