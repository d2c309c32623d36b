"""A generated monorepo for scale tests: workflows, jobs and `needs` edges grow with N.

    python bench/synthetic.py FOLDER [--size N]

Writes one repository into FOLDER (which must not exist, or be empty):

* N service workflows (`svc-<i>.yml`), each with lint and a test matrix, a build
  that pushes by tag and exports its digest, a deep `needs` chain of stages that use
  the digest, a call of the shared reusable workflow (`scan.yml`) with the digest, a
  fan-in gate that needs every job, and a promotion by digest behind it;
* `scan.yml`, the reusable workflow the services call, itself calling a local
  composite action (`.github/actions/verify`);
* `pipeline.yml`, one workflow whose job count grows with N (a chain of 2N stages,
  N parallel checks, a fan-in over all of them), the worst case for graph queries
  inside one workflow;
* `release-train.yml`, triggered by `workflow_run` of every service workflow (a wide
  fan-in across workflows).

Sizes are linear in N: about 13 N + 5 jobs. `bench/benchmark.py --scale` times
`digestgate check` as N doubles.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

CHAIN = 8  # stages in each service's `needs` chain
MATRIX = ["3.10", "3.11", "3.12"]


@dataclass
class Size:
    workflows: int = 0
    jobs: int = 0
    steps: int = 0
    needs: int = 0  # `needs` edges


def _job(size: Size, key: str, body: str, needs: list[str] | None = None, steps: int = 0) -> str:
    size.jobs += 1
    size.steps += steps
    head = f"  {key}:\n"
    if needs:
        size.needs += len(needs)
        head += f"    needs: [{', '.join(needs)}]\n"
    return head + body


def service(i: int, size: Size) -> str:
    image = f"ghcr.io/acme/svc{i}"
    jobs = [
        _job(
            size,
            "lint",
            "    runs-on: ubuntu-latest\n    steps:\n"
            "      - uses: actions/checkout@v4\n"
            f"      - run: make -C services/svc{i} lint\n",
            steps=2,
        ),
        _job(
            size,
            "test",
            "    runs-on: ubuntu-latest\n    strategy:\n      matrix:\n"
            f"        python: [{', '.join(repr(v) for v in MATRIX)}]\n    steps:\n"
            "      - uses: actions/checkout@v4\n"
            "      - uses: actions/setup-python@v5\n"
            "        with:\n          python-version: ${{ matrix.python }}\n"
            f"      - run: pytest services/svc{i}\n",
            steps=3,
        ),
        _job(
            size,
            "build",
            "    runs-on: ubuntu-latest\n"
            "    outputs:\n      digest: ${{ steps.push.outputs.digest }}\n"
            "    steps:\n"
            "      - uses: actions/checkout@v4\n"
            "      - uses: docker/login-action@v3\n"
            "        with:\n          registry: ghcr.io\n"
            "          username: ${{ github.actor }}\n"
            "          password: ${{ secrets.GITHUB_TOKEN }}\n"
            "      - id: push\n        uses: docker/build-push-action@v6\n"
            "        with:\n"
            f"          context: services/svc{i}\n          push: true\n"
            f"          tags: {image}:sha-${{{{ github.sha }}}}\n",
            needs=["lint", "test"],
            steps=3,
        ),
    ]
    previous = "build"
    for s in range(1, CHAIN + 1):
        key = f"stage-{s}"
        jobs.append(
            _job(
                size,
                key,
                "    runs-on: ubuntu-latest\n    steps:\n"
                f"      - run: docker run --rm {image}@${{{{ needs.build.outputs.digest }}}}"
                f" ./check.sh {s}\n",
                needs=[previous, "build"] if previous != "build" else ["build"],
                steps=1,
            )
        )
        previous = key
    jobs.append(
        _job(
            size,
            "scan",
            "    uses: ./.github/workflows/scan.yml\n"
            f"    with:\n      image: {image}@${{{{ needs.build.outputs.digest }}}}\n",
            needs=["build"],
        )
    )
    every = ["lint", "test", "build", "scan", *(f"stage-{s}" for s in range(1, CHAIN + 1))]
    jobs.append(
        _job(
            size,
            "all-green",
            "    if: always()\n    runs-on: ubuntu-latest\n    steps:\n"
            "      - run: echo '${{ toJSON(needs) }}' | jq -e 'all(.[]; .result == \"success\")'\n",
            needs=every,
            steps=1,
        )
    )
    jobs.append(
        _job(
            size,
            "promote",
            "    runs-on: ubuntu-latest\n    environment: production\n    steps:\n"
            "      - uses: docker/login-action@v3\n"
            "        with:\n          registry: ghcr.io\n"
            "          username: ${{ github.actor }}\n"
            "          password: ${{ secrets.GITHUB_TOKEN }}\n"
            "      - run: >-\n"
            f"          docker buildx imagetools create -t {image}:prod\n"
            f"          {image}@${{{{ needs.build.outputs.digest }}}}\n",
            needs=["build", "all-green"],
            steps=2,
        )
    )
    size.workflows += 1
    return (
        f"name: Service {i}\non:\n  push:\n    paths: ['services/svc{i}/**']\n\n"
        "permissions:\n  contents: read\n  packages: write\n\njobs:\n" + "\n".join(jobs)
    )


def scan(size: Size) -> str:
    size.workflows += 1
    body = _job(
        size,
        "scan",
        "    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: ./.github/actions/verify\n"
        "        with:\n          image: ${{ inputs.image }}\n"
        '      - run: trivy image --exit-code 1 "${{ inputs.image }}"\n',
        steps=2,
    )
    return (
        "name: Scan\non:\n  workflow_call:\n    inputs:\n"
        "      image:\n        type: string\n        required: true\n\njobs:\n" + body
    )


VERIFY = """\
name: Verify
description: Check an image reference before it is used
inputs:
  image:
    description: the image, by digest
    required: true
runs:
  using: composite
  steps:
    - run: docker buildx imagetools inspect "${{ inputs.image }}"
      shell: bash
"""


def pipeline(n: int, size: Size) -> str:
    """One workflow with about 4 N jobs: a deep chain, wide checks, a fan-in."""
    jobs = [
        _job(
            size,
            "build",
            "    runs-on: ubuntu-latest\n"
            "    outputs:\n      digest: ${{ steps.push.outputs.digest }}\n    steps:\n"
            "      - id: push\n        uses: docker/build-push-action@v6\n"
            "        with:\n          push: true\n"
            "          tags: ghcr.io/acme/mono:${{ github.sha }}\n",
            steps=1,
        )
    ]
    previous = "build"
    for s in range(1, 2 * n + 1):
        key = f"chain-{s}"
        jobs.append(
            _job(
                size,
                key,
                "    runs-on: ubuntu-latest\n    steps:\n"
                f"      - run: echo stage {s} of ${{{{ needs.build.outputs.digest }}}}\n",
                needs=[previous, "build"] if previous != "build" else ["build"],
                steps=1,
            )
        )
        previous = key
    checks = [f"check-{c}" for c in range(1, n + 1)]
    for c, key in enumerate(checks, 1):
        jobs.append(
            _job(
                size,
                key,
                "    runs-on: ubuntu-latest\n    steps:\n"
                "      - run: docker run --rm ghcr.io/acme/mono@${{ needs.build.outputs.digest }}"
                f" ./check.sh {c}\n",
                needs=["build"],
                steps=1,
            )
        )
    jobs.append(
        _job(
            size,
            "gate",
            "    runs-on: ubuntu-latest\n    steps:\n      - run: echo all passed\n",
            needs=[previous, *checks],
            steps=1,
        )
    )
    jobs.append(
        _job(
            size,
            "promote",
            "    runs-on: ubuntu-latest\n    steps:\n"
            "      - run: crane copy ghcr.io/acme/mono@${{ needs.build.outputs.digest }}"
            " ghcr.io/acme/mono:prod\n",
            needs=["gate", "build"],
            steps=1,
        )
    )
    size.workflows += 1
    return "name: Pipeline\non: push\n\njobs:\n" + "\n".join(jobs)


def release_train(n: int, size: Size) -> str:
    names = "\n".join(f"      - Service {i}" for i in range(n))
    body = _job(
        size,
        "announce",
        "    if: github.event.workflow_run.conclusion == 'success'\n"
        "    runs-on: ubuntu-latest\n    steps:\n      - run: echo released\n",
        steps=1,
    )
    size.workflows += 1
    return (
        "name: Release train\non:\n  workflow_run:\n    types: [completed]\n"
        f"    workflows:\n{names}\n\njobs:\n" + body
    )


def generate(root: Path, n: int) -> Size:
    """Write the repository for size `n` under `root`; return what it holds."""
    size = Size()
    workflows = root / ".github" / "workflows"
    workflows.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (workflows / f"svc-{i:04d}.yml").write_text(service(i, size), encoding="utf-8")
    (workflows / "scan.yml").write_text(scan(size), encoding="utf-8")
    (workflows / "pipeline.yml").write_text(pipeline(n, size), encoding="utf-8")
    (workflows / "release-train.yml").write_text(release_train(n, size), encoding="utf-8")
    action = root / ".github" / "actions" / "verify"
    action.mkdir(parents=True, exist_ok=True)
    (action / "action.yml").write_text(VERIFY, encoding="utf-8")
    return size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--size", type=int, default=100, help="service workflows (N)")
    args = parser.parse_args()
    if args.folder.exists() and any(args.folder.iterdir()):
        print(f"synthetic: {args.folder} is not empty", file=sys.stderr)
        return 2
    size = generate(args.folder, args.size)
    print(
        f"{args.folder}: {size.workflows} workflows, {size.jobs} jobs, "
        f"{size.steps} steps, {size.needs} needs edges"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
