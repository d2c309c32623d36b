"""Every rule's good and bad examples, run with only that rule (and what it needs) on."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_check, write_repo
from digestgate.registry import all_rules
from digestgate.rule import Example, Rule

CASES = [
    pytest.param(rule, ex, kind, id=f"{rule.code}-{kind}-{i}")
    for rule in all_rules()
    for kind, examples in (("bad", rule.bad), ("good", rule.good))
    for i, ex in enumerate(examples)
]


@pytest.mark.parametrize(("rule", "example", "kind"), CASES)
def test_example(tmp_path: Path, rule: type[Rule], example: Example, kind: str) -> None:
    write_repo(tmp_path, example.all_files(), dedent=False)
    findings = [f for f in run_check(tmp_path, [rule.code, *example.also]) if f.code == rule.code]
    got = sorted((f.path, f.span.line, f.span.column) for f in findings)
    if kind == "good":
        assert got == [], f"{rule.code} good example {example.title!r} reported {findings}"
        return
    assert example.expect, "a bad example must say where its finding lands"
    expected = sorted(example.expect, key=lambda e: (e.path, e.line, e.column or 0))
    assert len(got) == len(expected), f"{rule.code}: want {expected}, got {findings}"
    for e, (path, line, column) in zip(expected, got, strict=True):
        assert (path, line) == (e.path, e.line), f"{rule.code}: {findings}"
        if e.column is not None:
            assert column == e.column, f"{rule.code}: {findings}"
    for f in findings:
        assert f.message and f.name == rule.name


def test_codes_and_names_are_unique() -> None:
    rules = all_rules()
    assert len({r.code for r in rules}) == len(rules)
    assert len({r.name for r in rules}) == len(rules)


@pytest.mark.parametrize("rule", all_rules(), ids=lambda r: r.code)
def test_rule_metadata(rule: type[Rule]) -> None:
    assert rule.bad, f"{rule.code} has no bad example"
    assert rule.good, f"{rule.code} has no good example"
    sections = rule.doc_sections()
    for title in ("What it checks", "Why", "How to fix"):
        assert sections.get(title), f"{rule.code} docstring lacks {title!r}"
    assert rule.code.startswith("DG") and len(rule.code) == 5
    assert rule.name == rule.name.lower() and " " not in rule.name
