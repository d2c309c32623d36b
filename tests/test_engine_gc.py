"""The engine pauses the cyclic collector while it checks (engine.py): that is only
cheap if a check makes no reference cycles, so that every object of a repository is
freed by reference counting as soon as the repository is done. These tests check
real repositories with the collector off and then count what it finds."""

from __future__ import annotations

import gc
import importlib
import pkgutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import digestgate
from conftest import FIXTURES, write_repo
from digestgate import engine

# What the fixtures may not cover: a `run:` with non-ASCII text (the shell analyser
# maps bytes to characters), a matrix of container images, a Python script a step
# runs, a compose file, a local composite action.
EXTRA = {
    ".github/workflows/ci.yml": """
        on: push
        jobs:
          build:
            runs-on: ubuntu-latest
            strategy:
              matrix:
                image:
                  - "ghcr.io/acme/a:1"
                  - "ghcr.io/acme/b:2"
            container: ${{ matrix.image }}
            steps:
              - uses: actions/checkout@v4
              - run: |
                  echo "Grüße 🚀" && docker build -t ghcr.io/acme/app:${{ github.sha }} .
                  docker push ghcr.io/acme/app:${{ github.sha }}
                  echo "digest=$(crane digest ghcr.io/acme/app:1)" >> "$GITHUB_OUTPUT"
              - run: python scripts/release.py
              - run: docker compose -f compose.yml up -d
              - uses: ./.github/actions/deploy
    """,
    "scripts/release.py": """
        import os
        import subprocess
        tag = "ghcr.io/acme/app:" + os.environ["GITHUB_SHA"]
        subprocess.run(["docker", "push", tag], check=True)
        with open(os.environ["GITHUB_OUTPUT"], "a") as fh:
            fh.write(f"tag={tag}\\n")
    """,
    "compose.yml": """
        services:
          web:
            image: ghcr.io/acme/web:latest
    """,
    ".github/actions/deploy/action.yml": """
        name: deploy
        runs:
          using: composite
          steps:
            - run: kubectl set image deploy/web web=ghcr.io/acme/web:latest
              shell: bash
    """,
}


@pytest.fixture
def collector_off() -> Iterator[None]:
    was = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _repositories(tmp_path: Path) -> list[str]:
    fixtures = [
        str(p)
        for group in ("cases", "ok")
        for p in sorted((FIXTURES / group).iterdir())
        if p.is_dir()
    ]
    return [*fixtures, str(write_repo(tmp_path / "extra", EXTRA))]


def test_a_check_leaves_no_reference_cycles(tmp_path: Path, collector_off: None) -> None:
    paths = _repositories(tmp_path)
    engine.check(paths[:1], engine.Options(no_config=True, cache=False))  # imports, caches
    for module in pkgutil.iter_modules(digestgate.__path__):  # what that check did not load
        importlib.import_module(f"digestgate.{module.name}")
    gc.collect()
    result = engine.check(paths, engine.Options(no_config=True, cache=False, keep_models=False))
    extra = {f.code for f in result.findings if f.root == paths[-1]}
    assert "DG000" not in extra and "DG101" in extra  # the extra repository was checked
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        found = gc.collect()
        kinds = sorted({type(o).__qualname__ for o in gc.garbage})
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert found == 0, kinds
