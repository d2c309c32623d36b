"""Value provenance through every channel of RULES.md, on small realistic repositories."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import write_repo
from digestgate.analysis import Analysis
from digestgate.config import Config
from digestgate.discover import targets
from digestgate.facts import ImageUse
from digestgate.graph import JobNode, build_graph
from digestgate.provenance import Kind, Provenance, Site
from digestgate.repository import read_repository

CI = ".github/workflows/ci.yml"

BUILD_JOB = """
  build:
    runs-on: ubuntu-latest
    outputs:
      digest: ${{ steps.push.outputs.digest }}
      tags: ${{ steps.meta.outputs.tags }}
      id: ${{ steps.push.outputs.imageid }}
    steps:
      - uses: actions/checkout@v4
      - id: meta
        uses: docker/metadata-action@v5
        with:
          images: ghcr.io/acme/app
      - id: push
        uses: docker/build-push-action@v6
        with:
          push: true
          tags: ${{ steps.meta.outputs.tags }}
"""


def analyse(root: Path, files: dict[str, str]) -> Analysis:
    write_repo(root, files, dedent=False)
    (target,) = targets([str(root)])
    return Analysis(build_graph(read_repository(target)), Config())


def refs_in(
    analysis: Analysis, path: str, job: str, via: tuple[tuple[str, str], ...] = ()
) -> list[Provenance]:
    """Provenance of every image reference the job's steps consume, in order."""
    node = JobNode(path, job, via)
    out = []
    steps = analysis.graph.steps(path, analysis.graph.job(node))
    for i in range(len(steps)):
        facts = analysis.facts.of(node, i)
        args = [a for op in facts.operations for a in op.images if a.use.is_reference]
        args += list(facts.references)
        out += [analysis.provenance.of_value(a.value, Site(node, i)) for a in args]
    return out


def output(analysis: Analysis, path: str, job: str, name: str) -> Provenance:
    node = JobNode(path, job)
    text = analysis.graph.job(node).outputs[name].value
    assert text is not None
    return analysis.provenance.of_text(text, path, Site(node, None))


def test_build_push_action_digest_through_job_outputs(tmp_path: Path) -> None:
    a = analyse(
        tmp_path,
        {
            CI: "on: push\njobs:"
            + BUILD_JOB
            + """
  e2e:
    needs: build
    runs-on: ubuntu-latest
    steps:
      - run: docker run --rm ghcr.io/acme/app@${{ needs.build.outputs.digest }} pytest
"""
        },
    )
    digest = output(a, CI, "build", "digest")
    assert digest.kind is Kind.DIGEST and "push" in digest.why
    assert output(a, CI, "build", "tags").kind is Kind.TAG
    assert output(a, CI, "build", "id").kind is Kind.UNKNOWN
    (ref,) = refs_in(a, CI, "e2e")
    assert ref.kind is Kind.DIGEST
    assert [h.message for h in ref.hops][:1] == ["output `digest` of job `build`"]


def test_reusable_workflow_inputs_and_outputs(tmp_path: Path) -> None:
    caller = (
        "on: push\njobs:"
        + BUILD_JOB
        + """
  test:
    needs: build
    uses: ./.github/workflows/test.yml
    with:
      image: ghcr.io/acme/app@${{ needs.build.outputs.digest }}
  release:
    uses: ./.github/workflows/release.yml
  after:
    needs: release
    runs-on: ubuntu-latest
    steps:
      - run: docker pull ghcr.io/acme/app@${{ needs.release.outputs.digest }}
"""
    )
    test = """on:
  workflow_call:
    inputs:
      image: {type: string, required: true}
jobs:
  e2e:
    runs-on: ubuntu-latest
    services:
      app:
        image: ${{ inputs.image }}
    steps:
      - run: docker run --rm ${{ inputs.image }} ./e2e.sh
"""
    release = (
        "on:\n  workflow_call:\n    outputs:\n      digest:\n"
        "        value: ${{ jobs.build.outputs.digest }}\njobs:" + BUILD_JOB
    )
    a = analyse(
        tmp_path,
        {CI: caller, ".github/workflows/test.yml": test, ".github/workflows/release.yml": release},
    )
    (ref,) = refs_in(a, ".github/workflows/test.yml", "e2e", ((CI, "test"),))
    assert ref.kind is Kind.DIGEST
    assert any("input `image`" in h.message for h in ref.hops)
    (pulled,) = refs_in(a, CI, "after")
    assert pulled.kind is Kind.DIGEST


def test_composite_action_inputs_and_outputs(tmp_path: Path) -> None:
    action = """name: push
inputs:
  image: {required: true}
outputs:
  digest:
    value: ${{ steps.d.outputs.digest }}
runs:
  using: composite
  steps:
    - run: docker push ${{ inputs.image }}
      shell: bash
    - id: d
      run: echo "digest=$(crane digest ${{ inputs.image }})" >> "$GITHUB_OUTPUT"
      shell: bash
"""
    wf = """on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: docker build -t ghcr.io/acme/app:1 .
      - id: pushed
        uses: ./.github/actions/push
        with:
          image: ghcr.io/acme/app:1
      - run: docker run --rm ghcr.io/acme/app@${{ steps.pushed.outputs.digest }} true
"""
    a = analyse(tmp_path, {CI: wf, ".github/actions/push/action.yml": action})
    kinds = [p.kind for p in refs_in(a, CI, "build")]
    assert kinds[-1] is Kind.DIGEST


def test_env_and_github_env_and_output_writes(tmp_path: Path) -> None:
    wf = """on: push
env:
  REGISTRY: ghcr.io/acme
jobs:
  build:
    runs-on: ubuntu-latest
    outputs:
      digest: ${{ steps.read.outputs.digest }}
    steps:
      - run: docker buildx build --push -t $REGISTRY/app:${{ github.sha }} .
      - id: read
        run: |
          DIGEST=$(crane digest "$REGISTRY/app:${{ github.sha }}")
          echo "digest=$DIGEST" >> "$GITHUB_OUTPUT"
          echo "IMAGE_REF=$REGISTRY/app@$DIGEST" >> "$GITHUB_ENV"
      - run: docker run --rm "$IMAGE_REF" ./smoke.sh
  deploy:
    needs: build
    runs-on: ubuntu-latest
    env:
      IMAGE: ghcr.io/acme/app@${{ needs.build.outputs.digest }}
    steps:
      - run: docker pull "$IMAGE"
"""
    a = analyse(tmp_path, {CI: wf})
    assert output(a, CI, "build", "digest").kind is Kind.DIGEST
    assert refs_in(a, CI, "build")[-1].kind is Kind.DIGEST
    (pulled,) = refs_in(a, CI, "deploy")
    assert pulled.kind is Kind.DIGEST


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("${{ inputs.digest }}", Kind.EXTERNAL),
        ("${{ vars.PROD_DIGEST }}", Kind.EXTERNAL),
        ("${{ github.event.inputs.digest }}", Kind.EXTERNAL),
        ("sha256:" + "a" * 64, Kind.LITERAL),
        ("${{ matrix.digest }}", Kind.LITERAL),
        ("${{ steps.nothing.outputs.digest }}", Kind.UNKNOWN),
    ],
)
def test_outside_values(tmp_path: Path, value: str, kind: Kind) -> None:
    wf = f"""on:
  workflow_dispatch:
    inputs:
      digest: {{type: string}}
jobs:
  promote:
    runs-on: ubuntu-latest
    strategy:
      matrix:
        digest: ["sha256:{"b" * 64}", "sha256:{"c" * 64}"]
    steps:
      - run: crane copy ghcr.io/acme/app@{value} ghcr.io/acme/app:prod
"""
    a = analyse(tmp_path, {CI: wf})
    node = JobNode(CI, "promote")
    facts = a.facts.of(node, 0)
    sources = [i for op in facts.operations for i in op.images if i.use is ImageUse.COPY_SOURCE]
    assert len(sources) == 1
    prov = a.provenance.of_value(sources[0].value, Site(node, 0))
    assert prov.kind is kind, prov


def test_validation_that_cannot_fail(tmp_path: Path) -> None:
    wf = """on: push
jobs:
  e2e:
    runs-on: ubuntu-latest
    steps:
      - run: pytest tests/e2e || true
      - run: pytest tests/e2e
        continue-on-error: true
      - run: |
          set +e
          pytest tests/e2e
      - run: |
          set +e
          pytest tests/e2e
          rc=$?
          exit $rc
      - run: pytest tests/e2e
"""
    a = analyse(tmp_path, {CI: wf})
    node = JobNode(CI, "e2e")
    can_fail = [
        [op.can_fail for op in a.facts.of(node, i).operations if op.tool.startswith("pytest")]
        for i in range(5)
    ]
    assert can_fail == [[False], [False], [False], [True], [True]]


def test_powershell_on_windows_runners_is_not_read_as_bash(tmp_path: Path) -> None:
    wf = """on: push
jobs:
  win:
    runs-on: ${{ matrix.arch == 'arm64' && format('{0}-arm', matrix.os) || matrix.os }}
    strategy:
      matrix:
        include:
          - os: windows-2022
          - os: windows-2025
    steps:
      - run: $ErrorActionPreference = "Stop"; & docker push acme/app:1
  mixed:
    runs-on: ${{ matrix.os }}
    strategy:
      matrix:
        os: [ubuntu-latest, windows-latest]
    steps:
      - if: runner.os == 'Windows'
        run: $x = (Get-Item .).Name
      - run: docker push acme/app:2
"""
    a = analyse(tmp_path, {CI: wf})
    win = a.facts.of(JobNode(CI, "win"), 0)
    assert win.opaque and win.operations == () and "pwsh" in win.notes[0]
    mixed = JobNode(CI, "mixed")
    assert a.facts.of(mixed, 0).opaque
    assert [op.role.value for op in a.facts.of(mixed, 1).operations] == ["push"]


def test_not_promotions(tmp_path: Path) -> None:
    """Copies into a registry on the runner, a build tagging its own digest, and the
    merge of per-platform digests read from files are not promotions."""
    wf = """on: push
jobs:
  e2e:
    runs-on: ubuntu-latest
    steps:
      - run: crane copy ghcr.io/acme/app:1 localhost:5000/app:test
  build:
    runs-on: ubuntu-latest
    steps:
      - id: build
        uses: docker/build-push-action@v6
        with:
          push: true
          tags: ghcr.io/acme/app:ci
      - run: >-
          docker buildx imagetools create -t ghcr.io/acme/app:extra
          ghcr.io/acme/app@${{ steps.build.outputs.digest }}
  merge:
    runs-on: ubuntu-latest
    steps:
      - run: >-
          docker buildx imagetools create -t ghcr.io/acme/app:1
          $(cat *.txt | xargs printf 'ghcr.io/acme/app@%s ')
"""
    a = analyse(tmp_path, {CI: wf})
    copy = a.facts.of(JobNode(CI, "e2e"), 0)
    assert copy.operations == () and [r.use for r in copy.references] == [ImageUse.PULL]
    retag = a.facts.of(JobNode(CI, "build"), 1)
    assert [(op.role.value, op.note) for op in retag.operations] == [
        ("build", "tags its own build")
    ]
    merge = a.facts.of(JobNode(CI, "merge"), 0)
    assert [(op.role.value, op.index_assembly) for op in merge.operations] == [("build", True)]
    assert not any(a.roles.is_promotion(n) for n in a.graph.nodes)


def test_a_composite_action_used_twice_in_a_job_gets_each_uses_env(tmp_path: Path) -> None:
    """Each `uses:` of a local composite action gives its steps its own `env:` (the
    step facts were once keyed without the calling step, so both uses got the first)."""
    digest = "sha256:" + "0123456789abcdef" * 4
    analysis = analyse(
        tmp_path,
        {
            ".github/workflows/ci.yml": f"""
                on: push
                jobs:
                  release:
                    runs-on: ubuntu-latest
                    steps:
                      - uses: ./.github/actions/push
                        env:
                          IMAGE: ghcr.io/acme/app@{digest}
                      - uses: ./.github/actions/push
                        env:
                          IMAGE: ghcr.io/acme/app:latest
            """,
            ".github/actions/push/action.yml": """
                name: push
                runs:
                  using: composite
                  steps:
                    - shell: bash
                      run: docker push "$IMAGE"
            """,
        },
    )
    node = JobNode(".github/workflows/ci.yml", "release")
    pushed = [
        arg.value.text
        for _, _, facts in analysis.step_facts(node)
        for op in facts.operations
        for arg in op.images
    ]
    assert pushed == [f"ghcr.io/acme/app@{digest}", "ghcr.io/acme/app:latest"]
