"""Hostile files through the real command line, at small sizes: one bad file never
stops the run.

One repository holds every hostile file of `bench/hostile.py` (made by the same
generators, scaled down: the benchmark runs the full sizes and measures them) beside
an ordinary workflow. One `digestgate check` process must end in time with exit 1,
print no traceback, name each hostile file with its reason, and still report the
ordinary workflow's findings. Running as root, the process runs without the
capabilities that let root read a mode-000 file, so that case is real too.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _hostile() -> ModuleType:
    spec = importlib.util.spec_from_file_location("hostile", ROOT / "bench" / "hostile.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["hostile"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


hostile = _hostile()
SCALE = 0.01  # 100 jobs in the chain and the cycle, 10 KB heredoc, sparse 40 MB, ...
TOO_BIG_AT_SCALE = {"big_file"}  # 200 KB is no longer too big: its own scale below


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, dict[str, str]]:
    root = tmp_path_factory.mktemp("hostile")
    folder = root / hostile.WORKFLOWS
    folder.mkdir(parents=True)
    (folder / "ci.yml").write_text(hostile.NEIGHBOUR, encoding="utf-8")
    names = {}
    for case in hostile.CASES:
        scale = 0.3 if case.make.__name__ in TOO_BIG_AT_SCALE else SCALE
        names[case.name] = case.make(folder, scale)
    run = hostile.run_check(root, timeout=120, drop_caps=os.geteuid() == 0)
    return run, names


@pytest.mark.parametrize("case", hostile.CASES, ids=[c.name for c in hostile.CASES])
def test_each_hostile_file_is_a_finding(case: Any, outcome: tuple[Any, dict[str, str]]) -> None:
    run, names = outcome
    ok, detail = hostile.judge(case, run, names[case.name])
    assert ok, detail


def test_the_run_ends_with_findings_and_no_traceback(
    outcome: tuple[Any, dict[str, str]],
) -> None:
    run, names = outcome
    assert run.status == 1, run.stderr
    assert run.stderr == ""
    # every file was reported on: the hostile ones and the ordinary one
    reported = {line.split(":", 1)[0].rsplit("/", 1)[-1] for line in run.stdout.splitlines()}
    assert {"ci.yml", *names.values()} <= reported
