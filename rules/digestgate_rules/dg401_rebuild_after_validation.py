"""DG401 rebuild-after-validation."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from digestgate.analysis import Analysis, ArtifactValidation, Build
from digestgate.findings import Finding, Severity
from digestgate.graph import JobNode
from digestgate.rule import Example, Expect, Rule
from digestgate_rules._rebuilds import (
    Rebuild,
    Same,
    build_label,
    job_label,
    reached_from,
    rebuild_candidates,
    same_image,
    step_label,
    validation_location,
)


class RebuildAfterValidation(Rule):
    """The image that was validated is built again in a later job.

    What it checks:
    A build of the image an artifact validation tested (integration tests, E2E, a
    scan run against the built image) whose result leaves its job (the build pushes,
    or a later step pushes or saves that image), in a job that runs after that
    validation succeeded: a job downstream of the validating job through `needs`, a
    reusable workflow, or a `workflow_run` chain from the workflow that validates.
    The same image means the same last path component of the name (`app:ci` tested
    locally and `ghcr.io/acme/app` built later are one image) or, when the names do
    not tell, the same build context and Dockerfile; a build whose name cannot be
    resolved is reported as possibly the same image, and the message says so. Not a
    rebuild: building a different image (a child image `FROM` the validated one),
    pushing the validated bytes themselves (`docker load` of the validated archive,
    then `docker push`), assembling the multi-platform index from validated
    per-platform digests, a local build only more tests use. Building after source
    checks (tests and linters that run no built image) is never a finding.

    Why:
    A rebuild produces new bytes: base images move, package mirrors change, builds
    are not reproducible, and a cache miss compiles everything again. What was
    tested is not what ships, so every validation before the rebuild is void and the
    release carries no evidence at all.

    How to fix:
    Build once, before validation, push by digest and hand the digest downstream
    (job outputs or an artifact). After validation, promote that digest (re-tag or
    copy it: `docker buildx imagetools create -t app:prod app@sha256:...`,
    `crane copy`, `skopeo copy`) or deploy it; or, for an image kept local, save it
    with `docker save`, upload it, and `docker load` + `docker push` the same archive.
    """

    code = "DG401"
    name = "rebuild-after-validation"
    severity = Severity.ERROR
    summary = "the validated image is built again in a job that runs after the validation"

    good = (
        Example(
            """
            on: push
            jobs:
              build:
                runs-on: ubuntu-latest
                outputs:
                  digest: ${{ steps.push.outputs.digest }}
                steps:
                  - uses: docker/build-push-action@v6
                    id: push
                    with:
                      push: true
                      tags: ghcr.io/acme/app:${{ github.sha }}
              e2e:
                needs: build
                runs-on: ubuntu-latest
                steps:
                  - run: docker run --rm ghcr.io/acme/app@${{ needs.build.outputs.digest }} make e2e
              release:
                needs: [build, e2e]
                runs-on: ubuntu-latest
                steps:
                  - run: |
                      docker buildx imagetools create -t ghcr.io/acme/app:prod \\
                        ghcr.io/acme/app@${{ needs.build.outputs.digest }}
            """,
            title="the validated digest is promoted, not rebuilt",
        ),
        Example(
            """
            on: push
            jobs:
              test:
                runs-on: ubuntu-latest
                steps:
                  - run: npm ci && npm test && npm run lint
              build:
                needs: test
                runs-on: ubuntu-latest
                steps:
                  - uses: docker/build-push-action@v6
                    id: push
                    with:
                      push: true
                      tags: ghcr.io/acme/web:${{ github.sha }}
            """,
            title="building after source checks is normal",
        ),
        Example(
            """
            on: push
            jobs:
              base:
                runs-on: ubuntu-latest
                outputs:
                  digest: ${{ steps.push.outputs.digest }}
                steps:
                  - uses: docker/build-push-action@v6
                    id: push
                    with:
                      context: base
                      push: true
                      tags: ghcr.io/acme/base:${{ github.sha }}
              scan:
                needs: base
                runs-on: ubuntu-latest
                steps:
                  - run: >-
                      trivy image --exit-code 1
                      ghcr.io/acme/base@${{ needs.base.outputs.digest }}
              app:
                needs: [base, scan]
                runs-on: ubuntu-latest
                steps:
                  - uses: docker/build-push-action@v6
                    id: push
                    with:
                      context: app
                      push: true
                      build-args: BASE=ghcr.io/acme/base@${{ needs.base.outputs.digest }}
                      tags: ghcr.io/acme/app:${{ github.sha }}
            """,
            title="a child image built FROM the validated one is a different image",
        ),
        Example(
            """
            on: push
            jobs:
              test:
                runs-on: ubuntu-latest
                steps:
                  - run: |
                      docker build -t ghcr.io/acme/api:${{ github.sha }} .
                      docker run --rm ghcr.io/acme/api:${{ github.sha }} pytest
                      docker save ghcr.io/acme/api:${{ github.sha }} -o api.tar
                  - uses: actions/upload-artifact@v4
                    with:
                      name: api-image
                      path: api.tar
              publish:
                needs: test
                runs-on: ubuntu-latest
                steps:
                  - uses: actions/download-artifact@v4
                    with:
                      name: api-image
                  - run: docker load -i api.tar
                  - run: docker push ghcr.io/acme/api:${{ github.sha }}
            """,
            title="pushing the validated archive is not a rebuild",
        ),
    )
    bad = (
        Example(
            """
            on: push
            jobs:
              build:
                runs-on: ubuntu-latest
                outputs:
                  digest: ${{ steps.push.outputs.digest }}
                steps:
                  - uses: docker/build-push-action@v6
                    id: push
                    with:
                      push: true
                      tags: ghcr.io/acme/app:${{ github.sha }}
              e2e:
                needs: build
                runs-on: ubuntu-latest
                steps:
                  - run: docker run --rm ghcr.io/acme/app@${{ needs.build.outputs.digest }} make e2e
              release:
                needs: e2e
                runs-on: ubuntu-latest
                steps:
                  - uses: docker/build-push-action@v6
                    with:
                      push: true
                      tags: ghcr.io/acme/app:latest
            """,
            expect=(Expect(22, 15),),
            title="`release` builds and pushes again after `e2e` ran the built digest",
        ),
        Example(
            """
            on: pull_request
            jobs:
              test:
                runs-on: ubuntu-latest
                steps:
                  - run: docker build -t app:ci .
                  - run: docker run --rm app:ci pytest
              publish:
                needs: test
                runs-on: ubuntu-latest
                steps:
                  - run: docker build -t ghcr.io/acme/app:${{ github.sha }} .
                  - run: docker push ghcr.io/acme/app:${{ github.sha }}
            """,
            expect=(Expect(12, 14),),
            title="`app:ci` tested locally and `ghcr.io/acme/app` built later are one image",
        ),
        Example(
            """
            name: Release
            on:
              workflow_run:
                workflows: [CI]
                types: [completed]
            jobs:
              release:
                if: github.event.workflow_run.conclusion == 'success'
                runs-on: ubuntu-latest
                steps:
                  - uses: actions/checkout@v4
                    with:
                      ref: ${{ github.event.workflow_run.head_sha }}
                  - run: |
                      docker build -t ghcr.io/acme/app:${GITHUB_SHA} .
                      docker push ghcr.io/acme/app:${GITHUB_SHA}
            """,
            path=".github/workflows/release.yml",
            files={
                ".github/workflows/ci.yml": """
                name: CI
                on: push
                jobs:
                  integration:
                    runs-on: ubuntu-latest
                    steps:
                      - run: docker compose build app
                      - run: docker build -t ghcr.io/acme/app:test .
                      - run: docker run --rm ghcr.io/acme/app:test make integration
                """
            },
            expect=(Expect(15, 11, ".github/workflows/release.yml"),),
            title="a `workflow_run` release rebuilds what CI validated",
        ),
    )

    def check_repository(self) -> Iterable[Finding]:
        analysis = self.context.analysis
        broken = self.context.broken
        reported: set[tuple[str, object]] = set()
        for node in analysis.graph.nodes:
            if node.path in broken:
                continue
            for rebuild in self._rebuilds(node):
                op = rebuild.build.operation
                key = (op.path, op.span)
                if key in reported or op.path in broken:
                    continue
                reported.add(key)
                yield self._finding(rebuild)

    def _rebuilds(self, node: JobNode) -> Iterator[Rebuild]:
        analysis = self.context.analysis
        candidates = rebuild_candidates(analysis, node)
        if not candidates:
            return
        upstream = analysis.graph.upstream(node)
        validations = [
            v for n in analysis.graph.in_order(upstream) for v in analysis.artifact_validations(n)
        ]
        for build in candidates:
            found = _first_match(analysis, build, validations)
            if found is not None:
                yield found

    def _finding(self, rebuild: Rebuild) -> Finding:
        analysis = self.context.analysis
        build, v = rebuild.build, rebuild.validation
        where = job_label(v.node)
        if v.node.path != build.node.path:
            where += f" of {v.node.path}"
        if rebuild.same is Same.UNRESOLVED:
            image = (
                f"{build_label(build)}, whose name digestgate cannot resolve: possibly the "
                f"image {where} validated,"
            )
        elif rebuild.same is Same.CONTEXT:
            image = (
                f"{build_label(build)} from the same context and Dockerfile as the image "
                f"{where} validated"
            )
        else:
            image = f"{build_label(build)} again, the image {where} validated,"
        message = (
            f"{job_label(build.node)} builds {image} in step `{step_label(build)}`, after "
            "that validation succeeded: what it pushes is not what was tested. Promote the "
            "validated digest (`docker buildx imagetools create`, `crane copy`) instead of "
            "building again"
        )
        related = (validation_location(analysis, v), *reached_from(analysis, build))
        return self.finding(
            build.operation.path,
            build.operation.span,
            message,
            related=related,
            job=build.node.job,
            step=step_label(build),
        )


def _first_match(
    analysis: Analysis, build: Build, validations: list[ArtifactValidation]
) -> Rebuild | None:
    weak: Rebuild | None = None
    for v in validations:
        same = same_image(analysis, build, v)
        if same is None:
            continue
        if same is not Same.UNRESOLVED:
            return Rebuild(build, v, same)
        weak = weak or Rebuild(build, v, same)
    return weak
