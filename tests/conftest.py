"""Shared test helpers: write a small repository to a temporary folder and check it."""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from digestgate import engine
from digestgate.findings import Finding

FIXTURES = Path(__file__).parent / "fixtures"


def write_repo(root: Path, files: Mapping[str, str], dedent: bool = True) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(inspect.cleandoc(text) + "\n" if dedent else text, encoding="utf-8")
    return root


def run_check(
    root: Path, select: Sequence[str] | None = None, paths: Sequence[str] | None = None
) -> list[Finding]:
    options = engine.Options(select=list(select) if select else None, no_config=True)
    return engine.check([str(p) for p in (paths or [str(root)])], options).findings


@pytest.fixture(autouse=True)
def _private_cache_folder(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every test (and every `digestgate` it starts) caches results in a folder of its
    own, never in the user's cache folder, and never sees another test's entries."""
    monkeypatch.setenv("DIGESTGATE_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return tmp_path
