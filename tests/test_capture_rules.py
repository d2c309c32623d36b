"""DG201-DG203 beyond their examples: the helpers they share, and the places where the
facts layer does not yet give them what they need (strict xfails, one per layer gap,
so each turns into a failure to remove once the layer is fixed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_check, write_repo
from digestgate_rules._pushes import covers, output_pattern


@pytest.mark.parametrize(
    ("pattern", "written"),
    [
        ("digest.txt", "digest.txt"),
        ("./digests/", "digests/api.txt"),
        ("${{ runner.temp }}/digests/*", "${{ runner.temp }}/digests/${digest#sha256:}"),
        ("/tmp/digests", "/tmp/digests/abc"),
        ("out/**", "out/meta/metadata.json"),
        ("build/*.digest", "worker.digest"),  # written relative to another folder
        ("${{ runner.temp }}/digests/*", "${RUNNER_TEMP}/digests/${digest#sha256:}"),
        ("${{ github.workspace }}/out/digest", "out/digest"),
        ("digests/*", "/tmp/digests/0f2a"),
    ],
)
def test_upload_covers_the_written_file(pattern: str, written: str) -> None:
    assert covers(pattern, written)


@pytest.mark.parametrize(
    ("pattern", "written"),
    [("dist/", "digest.txt"), ("report.xml", "digest.txt"), ("logs/*", "digests/a")],
)
def test_upload_does_not_cover(pattern: str, written: str) -> None:
    assert not covers(pattern, written)


@pytest.mark.parametrize(
    "text",
    [
        "${{ steps.push.outputs.digest }}",
        "${{ steps.PUSH.outputs.Digest }}",
        "${{ steps['push'].outputs['digest'] }}",
        "${{ fromJSON(steps.push.outputs.metadata)['containerimage.digest'] }}",
    ],
)
def test_output_pattern_finds_reads(text: str) -> None:
    pattern = output_pattern("push", "digest" if "metadata" not in text else "metadata")
    assert pattern.search(text)


@pytest.mark.parametrize(
    "text",
    [
        "${{ steps.push.outputs.digests }}",
        "${{ steps.push-2.outputs.digest }}",
        "${{ needs.steps.push.outputs.digest }}",
        "${{ steps.push.outputs.imageid }}",
    ],
)
def test_output_pattern_ignores_others(text: str) -> None:
    assert not output_pattern("push", "digest").search(text)


def _codes(tmp_path: Path, files: dict[str, str], codes: list[str]) -> list[str]:
    write_repo(tmp_path, files)
    return [
        f"{f.code} {f.path}:{f.span.line}:{f.span.column}"
        for f in run_check(tmp_path, codes)
        if f.code in codes
    ]


RECIPE = """
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
              mkdir -p ${{ runner.temp }}/digests
              digest="${{ steps.build.outputs.digest }}"
              touch "${{ runner.temp }}/digests/${digest#sha256:}"
          - uses: actions/upload-artifact@v4
            with:
              name: digests-${{ strategy.job-index }}
              path: ${{ runner.temp }}/digests/*
"""


def test_docker_recipe_digest_files_are_an_export(tmp_path: Path) -> None:
    assert _codes(tmp_path, {".github/workflows/ci.yml": RECIPE}, ["DG202"]) == []


@pytest.mark.xfail(
    strict=True,
    reason="layer: `docker push X | grep -o 'sha256:...'` is not a read-back ('digest' only)",
)
def test_push_output_grepped_for_the_digest_is_captured(tmp_path: Path) -> None:
    workflow = """
        on: push
        jobs:
          build:
            runs-on: ubuntu-latest
            steps:
              - run: docker build -t ghcr.io/acme/app:1 .
              - id: push
                run: |
                  d=$(docker push ghcr.io/acme/app:1 | grep -o 'sha256:[0-9a-f]\\{64\\}')
                  echo "digest=$d" >> "$GITHUB_OUTPUT"
    """
    assert _codes(tmp_path, {".github/workflows/ci.yml": workflow}, ["DG201"]) == []


@pytest.mark.xfail(
    strict=True,
    reason="layer: `$(cat FILE)` of a --digestfile is not DIGEST provenance",
)
def test_digest_file_read_back_is_exported(tmp_path: Path) -> None:
    workflow = """
        on: push
        jobs:
          tools:
            runs-on: ubuntu-latest
            outputs:
              digest: ${{ steps.push.outputs.digest }}
            steps:
              - id: push
                run: |
                  buildah bud -t ghcr.io/acme/tools:1 .
                  buildah push --digestfile /tmp/digest ghcr.io/acme/tools:1
                  echo "digest=$(cat /tmp/digest)" >> "$GITHUB_OUTPUT"
    """
    assert _codes(tmp_path, {".github/workflows/ci.yml": workflow}, ["DG202"]) == []


@pytest.mark.xfail(
    strict=True,
    reason="layer: `imagetools create` of per-platform digests is PROMOTE, not index assembly",
)
def test_index_assembly_digest_must_be_captured(tmp_path: Path) -> None:
    workflow = """
        on: push
        jobs:
          merge:
            runs-on: ubuntu-latest
            steps:
              - uses: actions/download-artifact@v4
                with:
                  path: digests
                  pattern: digests-*
                  merge-multiple: true
              - working-directory: digests
                run: |
                  docker buildx imagetools create -t ghcr.io/acme/app:main \\
                    $(printf 'ghcr.io/acme/app@sha256:%s ' *)
    """
    got = _codes(tmp_path, {".github/workflows/ci.yml": workflow}, ["DG201"])
    assert got == ["DG201 .github/workflows/ci.yml:13:11"]


@pytest.mark.xfail(
    strict=True,
    reason="layer: goreleaser-action is a PUSH although no .goreleaser.yml names images",
)
def test_goreleaser_without_dockers_pushes_nothing(tmp_path: Path) -> None:
    workflow = """
        on:
          push:
            tags: ['v*']
        jobs:
          release:
            runs-on: ubuntu-latest
            steps:
              - uses: actions/checkout@v4
              - uses: goreleaser/goreleaser-action@v6
                with:
                  args: release --clean
    """
    files = {
        ".github/workflows/release.yml": workflow,
        ".goreleaser.yaml": "builds:\n  - main: ./cmd/tool\n",
    }
    assert _codes(tmp_path, files, ["DG201", "DG202"]) == []


@pytest.mark.xfail(
    strict=True,
    reason="layer: `KO_DOCKER_REPO=kind.local ko apply` loads into kind, it pushes nothing",
)
def test_ko_into_kind_pushes_nothing(tmp_path: Path) -> None:
    workflow = """
        on: pull_request
        jobs:
          e2e:
            runs-on: ubuntu-latest
            steps:
              - uses: actions/checkout@v4
              - run: KO_DOCKER_REPO=kind.local ko apply -f ./config
    """
    assert _codes(tmp_path, {".github/workflows/ci.yml": workflow}, ["DG201", "DG202"]) == []


def test_trimmed_read_back_is_exported(tmp_path: Path) -> None:
    workflow = """
        on: push
        jobs:
          publish:
            runs-on: ubuntu-latest
            outputs:
              digest: ${{ steps.digest.outputs.digest }}
            steps:
              - run: |
                  docker build -t ghcr.io/acme/worker:1 .
                  docker push ghcr.io/acme/worker:1
              - id: digest
                run: |
                  ref=$(docker inspect --format '{{index .RepoDigests 0}}' ghcr.io/acme/worker:1)
                  echo "digest=${ref#*@}" >> "$GITHUB_OUTPUT"
    """
    assert _codes(tmp_path, {".github/workflows/ci.yml": workflow}, ["DG201", "DG202"]) == []
