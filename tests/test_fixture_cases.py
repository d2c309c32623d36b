"""Fixture repositories with the findings expected beside them (actionlint-style pairs).

`tests/fixtures/cases/<case>/` is a small repository (`.github/workflows/...`, actions,
scripts, compose files, an optional `.digestgate.toml`) plus `expected.txt`:

    # codes: DG101 DG102        <- optional: compare only these codes (default: all)
    DG101 .github/workflows/ci.yml:12:15
    DG102 scripts/release.sh:4:13

one finding per line, `CODE path:line:column` (1-based), in any order. Every line was
worked out by hand from the files. `tests/fixtures/ok/<case>/` are realistic, correct
pipelines: every rule must stay silent on them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from digestgate import engine

HERE = Path(__file__).parent / "fixtures"
CASES = (
    sorted(p for p in (HERE / "cases").iterdir() if p.is_dir()) if (HERE / "cases").is_dir() else []
)
OK = sorted(p for p in (HERE / "ok").iterdir() if p.is_dir()) if (HERE / "ok").is_dir() else []


def _expected(case: Path) -> tuple[set[str] | None, set[str]]:
    codes: set[str] | None = None
    found: set[str] = set()
    for raw in (case / "expected.txt").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line.startswith("# codes:"):
            codes = set(line.removeprefix("# codes:").split())
        elif line and not line.startswith("#"):
            found.add(" ".join(line.split()))
    return codes, found


def _check(case: Path) -> list[str]:
    config = case / ".digestgate.toml"
    options = engine.Options(no_config=not config.is_file())
    result = engine.check([str(case)], options)
    return [f"{f.code} {f.path}:{f.span.line}:{f.span.column}" for f in result.findings]


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_case(case: Path) -> None:
    codes, want = _expected(case)
    got = {g for g in _check(case) if codes is None or g.split()[0] in codes}
    assert got == want, f"missing: {sorted(want - got)}; unexpected: {sorted(got - want)}"


@pytest.mark.parametrize("case", OK, ids=lambda p: p.name)
def test_ok_pipeline_is_silent(case: Path) -> None:
    result = engine.check([str(case)], engine.Options(no_config=True))
    assert [f"{f.code} {f.path}:{f.span.line}: {f.message}" for f in result.findings] == []


def test_every_case_has_expectations() -> None:
    for case in CASES:
        assert (case / "expected.txt").is_file(), f"{case.name} has no expected.txt"
