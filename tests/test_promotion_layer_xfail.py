"""Facts/provenance gaps the promotion-source rules (DG301, DG303, DG304) run into.

Each test is the smallest repository showing the gap, with what the rules should
report once the layer below them is fixed; they are expected to fail until then
(`strict`: a fix makes them pass, and the marker must then go).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_check, write_repo

CODES = ["DG301", "DG303", "DG304"]


def _found(root: Path) -> list[str]:
    return sorted(
        f"{f.code} {f.path}:{f.span.line}:{f.span.column}" for f in run_check(root, CODES)
    )


def test_digest_read_from_another_runs_artifact_is_external(tmp_path: Path) -> None:
    write_repo(
        tmp_path,
        {
            ".github/workflows/ci.yml": """
            name: CI
            on: push
            jobs:
              test:
                runs-on: ubuntu-latest
                steps:
                  - run: make test
            """,
            ".github/workflows/release.yml": """
            name: Release
            on:
              workflow_run:
                workflows: [CI]
                types: [completed]
            jobs:
              promote:
                if: github.event.workflow_run.conclusion == 'success'
                runs-on: ubuntu-latest
                steps:
                  - uses: actions/download-artifact@v4
                    with:
                      name: provenance
                      run-id: ${{ github.event.workflow_run.id }}
                      github-token: ${{ github.token }}
                  - run: digestgate verify --record record.json --image-name ghcr.io/acme/app
                  - run: |
                      crane copy "ghcr.io/acme/app@$(jq -r .digest record.json)" \\
                        ghcr.io/acme/app:prod
            """,
        },
    )
    # EXTERNAL and verified first: nothing (today: DG301, "cannot trace")
    assert _found(tmp_path) == []


@pytest.mark.xfail(
    strict=True,
    reason="commands.py: `helm --set image.tag=X` without a repository gives the bare "
    "value X, which provenance then judges as a digest (EXTERNAL for `github.sha`)",
)
def test_helm_tag_only_is_a_tag(tmp_path: Path) -> None:
    write_repo(
        tmp_path,
        {
            ".github/workflows/ci.yml": """
            on: push
            jobs:
              deploy:
                runs-on: ubuntu-latest
                steps:
                  - run: helm upgrade --install app ./chart --set image.tag=${{ github.sha }}
            """
        },
    )
    # a tag deploy is DG301 (today: DG303, "its digest comes from github.sha")
    codes = {f.split()[0] for f in _found(tmp_path)}
    assert "DG301" in codes and "DG303" not in codes


def test_imagetools_option_arrays_are_not_sources(tmp_path: Path) -> None:
    write_repo(
        tmp_path,
        {
            ".github/workflows/ci.yml": """
            on: push
            jobs:
              build:
                runs-on: ubuntu-latest
                steps:
                  - id: meta
                    uses: docker/metadata-action@v5
                    with:
                      images: ghcr.io/acme/app
                  - id: push
                    uses: docker/build-push-action@v6
                    with:
                      push: true
                      tags: ghcr.io/acme/app:sha-${{ github.sha }}
                  - env:
                      DIGEST: ${{ steps.push.outputs.digest }}
                      TAGS: ${{ steps.meta.outputs.tags }}
                    run: |
                      tags=()
                      for t in $TAGS; do tags+=(-t "$t"); done
                      docker buildx imagetools create "${tags[@]}" "ghcr.io/acme/app@${DIGEST}"
            """
        },
    )
    # the only source is the digest just built in this job: part of the build
    assert _found(tmp_path) == []


@pytest.mark.xfail(
    strict=True,
    reason="shell analysis: sources collected in an array "
    '(`srcs+=("${IMG}@sha256:$(basename "$f")")`) are one UNKNOWN value, so the '
    "multi-platform merge is not seen as index assembly",
)
def test_index_assembly_from_an_array_of_digests(tmp_path: Path) -> None:
    write_repo(
        tmp_path,
        {
            ".github/workflows/ci.yml": """
            on: push
            jobs:
              build:
                runs-on: ubuntu-latest
                strategy:
                  matrix:
                    platform: [linux/amd64, linux/arm64]
                steps:
                  - id: build
                    uses: docker/build-push-action@v6
                    with:
                      platforms: ${{ matrix.platform }}
                      outputs: type=image,name=ghcr.io/acme/app,push-by-digest=true,push=true
                  - run: |
                      mkdir -p digests
                      d="${{ steps.build.outputs.digest }}"
                      touch "digests/${d#sha256:}"
                  - uses: actions/upload-artifact@v4
                    with:
                      name: digests-${{ strategy.job-index }}
                      path: digests/*
              merge:
                needs: build
                runs-on: ubuntu-latest
                steps:
                  - uses: actions/download-artifact@v4
                    with:
                      path: digests
                      pattern: digests-*
                      merge-multiple: true
                  - run: |
                      srcs=()
                      for f in digests/*; do
                        srcs+=("ghcr.io/acme/app@sha256:$(basename "$f")")
                      done
                      docker buildx imagetools create -t ghcr.io/acme/app:edge "${srcs[@]}"
            """
        },
    )
    assert _found(tmp_path) == []
