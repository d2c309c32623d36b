"""DG101 mutable-image-ref."""

from __future__ import annotations

from collections.abc import Iterable

from digestgate.findings import Finding, Severity
from digestgate.rule import Example, Expect, Rule
from digestgate_rules._references import MUTABLE, judged


class MutableImageRef(Rule):
    """An image the workflow runs, pulls, scans or signs is named by a tag, not a digest.

    What it checks:
    Every image reference outside promotion: the job `container`, `services.*.image`
    (map and string forms), `uses: docker://`, `docker`/`podman` `run`, `pull` and
    `create` in scripts, `image:` of the compose files a step runs (with `${VAR}`
    resolved from the step's environment where possible), image inputs of well-known
    actions (scanners, signers), `trivy image`, `grype`, `cosign sign/attest/verify`,
    `buildah from`, and the image inputs of reusable workflows and composite actions.
    A reference with a tag and no digest (`node:20`, `app:${{ github.sha }}`), or with
    neither (`postgres`, which is `postgres:latest`), is reported.
    `name@sha256:<64 hex>`, `name@sha512:<128 hex>` and `name:tag@<digest>` pass. A
    tag of an image built into the local image store earlier in the same job
    (`docker build -t app:test .` then `docker run app:test`) is that build, not a
    registry reference, and passes; so is an image of a registry on the runner
    itself (`localhost:5000/app:test`). Where the tag is written elsewhere (a
    caller's `with:`, an `env:` value, a matrix entry), the finding lands there, with
    the use as a related location. Sources of promotion and deploy steps are DG301's;
    names a step writes are DG305's.

    Why:
    A tag is a pointer the registry lets anyone with push rights move. A test that
    ran `app:rc` proves nothing about what `app:rc` is an hour later, and a scan or a
    signature by tag covers whatever the tag pointed to when it ran. Only a digest
    names the bytes that were built, tested and signed. Images this repository builds
    (or that match `own-images`) are errors; third-party images are warnings.

    How to fix:
    Use the digest: `ghcr.io/acme/app@sha256:<digest>` (for an image of this pipeline,
    the digest output of its build step, handed down as a job output), or
    `node:20@sha256:<digest>` to keep the tag readable. Let Dependabot or Renovate
    keep pinned third-party digests up to date.
    """

    code = MUTABLE
    name = "mutable-image-ref"
    severity = Severity.ERROR
    summary = "an image reference uses a tag (or implied latest) instead of a digest"
    runs_on_broken = True

    good = (
        Example(
            """
            on: push
            jobs:
              test:
                runs-on: ubuntu-latest
                container: node:20@sha256:3f1d9a6c2e6b8a4f0d7c5b9e2a1f4c6d8b0e3a5f7c9d1b3e5a7c9f1d3b5e7a9c
                services:
                  db:
                    image: postgres@sha256:9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b
                steps:
                  - run: npm test
            """,  # noqa: E501
            title="job container and service pinned by digest",
        ),
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
                      tags: ghcr.io/acme/api:${{ github.sha }}
              smoke:
                needs: build
                runs-on: ubuntu-latest
                steps:
                  - run: docker run --rm ghcr.io/acme/api@${{ needs.build.outputs.digest }} --version
            """,  # noqa: E501
            title="the image built upstream, run by the digest its build output",
        ),
        Example(
            """
            on: pull_request
            jobs:
              test:
                runs-on: ubuntu-latest
                steps:
                  - uses: actions/checkout@v4
                  - run: |
                      docker build -t web:test .
                      docker run --rm web:test npm test
            """,
            title="a tag of an image built earlier in the same job",
        ),
        Example(
            """
            on: push
            jobs:
              test:
                runs-on: ubuntu-latest
                strategy:
                  matrix:
                    include:
                      - os: native
                        container: ''
                      - os: alpine
                        container: alpine@sha256:0c8a1b2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b
                container: ${{ matrix.container }}
                steps:
                  - run: make test
            """,  # noqa: E501
            title="a matrix that supplies no container for some combinations",
        ),
    )
    bad = (
        Example(
            """
            on: push
            jobs:
              test:
                runs-on: ubuntu-latest
                container: node:20
                services:
                  redis:
                    image: redis
                steps:
                  - run: npm test
            """,
            expect=(Expect(5, 16), Expect(8, 16)),
            title="a tagged job container and a service with no tag (implied latest)",
        ),
        Example(
            """
            on: push
            jobs:
              e2e:
                runs-on: ubuntu-latest
                steps:
                  - uses: docker/build-push-action@v6
                    with:
                      push: true
                      tags: ghcr.io/acme/web:${{ github.sha }}
                  - run: docker run --rm ghcr.io/acme/web:${{ github.sha }} npm run e2e
            """,
            expect=(Expect(10, 30),),
            title="the pipeline's own image run by tag (an error: the tag can be re-pushed)",
        ),
        Example(
            """
            on: push
            jobs:
              scan:
                runs-on: ubuntu-latest
                steps:
                  - uses: ./.github/actions/scan
                    with:
                      image: ghcr.io/acme/api:main
            """,
            files={
                ".github/actions/scan/action.yml": """
                name: scan
                inputs:
                  image:
                    required: true
                runs:
                  using: composite
                  steps:
                    - run: trivy image --exit-code 1 "${{ inputs.image }}"
                      shell: bash
                """
            },
            expect=(Expect(8, 18),),
            title="a tag passed to a composite action lands on the caller's value",
        ),
        Example(
            """
            on: push
            jobs:
              sign:
                runs-on: ubuntu-latest
                steps:
                  - run: cosign sign --yes ghcr.io/acme/api:1.4.2
            """,
            expect=(Expect(6, 32),),
            title="signing by tag",
        ),
    )

    def check_repository(self) -> Iterable[Finding]:
        for j in judged(self.context.analysis, self.code):
            yield self.finding(
                j.path,
                j.span,
                j.message,
                related=j.related,
                job=j.job,
                step=j.step,
                severity=j.severity,
            )
