"""Rule discovery: the built-in package, and third-party rules by entry point."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import run_check, write_repo
from digestgate import registry

PLUGIN = '''
from digestgate.findings import Severity
from digestgate.rule import Example, Expect, Rule


class NoNightly(Rule):
    """Jobs must not be called nightly.

    What it checks:
    Job ids.

    Why:
    A test plugin.

    How to fix:
    Rename the job.
    """

    code = "XY001"
    name = "no-nightly"
    severity = Severity.WARNING
    summary = "a job is called nightly"
    good = (Example("on: push\\njobs: {}"),)
    bad = (Example("on: push\\njobs: {}", expect=(Expect(1),)),)

    def check_job(self, workflow, job):
        if job.id == "nightly":
            yield self.finding(workflow.path, job.key_span, "job is called nightly", job=job.id)
'''


@pytest.fixture
def plugin(tmp_path: Path) -> Iterator[Path]:
    site = tmp_path / "site"
    (site / "xyrules-1.0.dist-info").mkdir(parents=True)
    (site / "xyrules.py").write_text(PLUGIN)
    (site / "xyrules-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: xyrules\nVersion: 1.0\n"
    )
    (site / "xyrules-1.0.dist-info" / "entry_points.txt").write_text(
        "[digestgate.rules]\nxy = xyrules\n"
    )
    sys.path.insert(0, str(site))
    registry.all_rules.cache_clear()
    try:
        yield site
    finally:
        sys.path.remove(str(site))
        sys.modules.pop("xyrules", None)
        registry.all_rules.cache_clear()


def test_builtin_rules_are_found_by_walking_the_package() -> None:
    codes = [r.code for r in registry.all_rules()]
    assert {"DG000", "DG001", "DG002", "DG003"} <= set(codes)
    assert codes == sorted(codes)


def test_entry_point_rules_run(plugin: Path, tmp_path: Path) -> None:
    assert "XY001" in registry.known_codes()
    repo = write_repo(
        tmp_path / "repo",
        {
            ".github/workflows/ci.yml": "on: push\njobs:\n  nightly:\n    runs-on: x\n"
            "    steps:\n      - run: make\n"
        },
        dedent=False,
    )
    found = [(f.code, f.span.line, f.job) for f in run_check(repo)]
    assert found == [("XY001", 3, "nightly")]


def test_a_broken_plugin_is_a_clear_error(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "broken-1.0.dist-info").mkdir(parents=True)
    (site / "broken-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: broken\nVersion: 1.0\n"
    )
    (site / "broken-1.0.dist-info" / "entry_points.txt").write_text(
        "[digestgate.rules]\nbroken = no_such_module_here\n"
    )
    sys.path.insert(0, str(site))
    registry.all_rules.cache_clear()
    try:
        with pytest.raises(registry.RegistryError, match="cannot load rule plugin 'broken'"):
            registry.all_rules()
    finally:
        sys.path.remove(str(site))
        registry.all_rules.cache_clear()
