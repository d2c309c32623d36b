"""Known gaps of the facts/provenance layer that DG401-DG403 depend on (xfail until the
layer handles them; each is the smallest example, see the DG40x report)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_check, write_repo


def _codes(root: Path, code: str) -> list[tuple[str, int, int]]:
    return sorted(
        (f.path, f.span.line, f.span.column) for f in run_check(root, [code]) if f.code == code
    )


@pytest.mark.xfail(
    strict=True,
    reason="`${{ env.X }}` image names are not resolved, so the local test build is not "
    "matched (analysis.static_name / _match_build)",
)
def test_test_before_push_with_env_names(tmp_path: Path) -> None:
    write_repo(
        tmp_path,
        {
            ".github/workflows/ci.yml": """
            on: push
            env:
              TEST_TAG: acme/app:test
              LATEST_TAG: acme/app:latest
            jobs:
              docker:
                runs-on: ubuntu-latest
                steps:
                  - uses: docker/build-push-action@v6
                    with:
                      load: true
                      tags: ${{ env.TEST_TAG }}
                  - run: docker run --rm ${{ env.TEST_TAG }} pytest
                  - uses: docker/build-push-action@v6
                    with:
                      platforms: linux/amd64,linux/arm64
                      push: true
                      tags: ${{ env.LATEST_TAG }}
            """
        },
    )
    assert _codes(tmp_path, "DG402") == [(".github/workflows/ci.yml", 14, 15)]


@pytest.mark.xfail(
    strict=True,
    reason="a foreground `docker run IMAGE` with no command, of an image built earlier "
    "in the job, is not classified as VALIDATE (Docker's test-before-push recipe)",
)
def test_docker_run_without_command_validates_local_build(tmp_path: Path) -> None:
    write_repo(
        tmp_path,
        {
            ".github/workflows/ci.yml": """
            on: push
            jobs:
              docker:
                runs-on: ubuntu-latest
                steps:
                  - uses: docker/build-push-action@v6
                    with:
                      load: true
                      tags: acme/app:test
                  - run: docker run --rm acme/app:test
                  - uses: docker/build-push-action@v6
                    with:
                      platforms: linux/amd64,linux/arm64
                      push: true
                      tags: acme/app:latest
            """
        },
    )
    assert _codes(tmp_path, "DG402") == [(".github/workflows/ci.yml", 11, 15)]
