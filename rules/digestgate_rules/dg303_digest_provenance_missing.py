"""DG303 digest-provenance-missing."""

from __future__ import annotations

from collections.abc import Iterable

from digestgate.analysis import static_name
from digestgate.findings import Finding, Location, Severity
from digestgate.provenance import Kind
from digestgate.rule import Example, Expect, Rule
from digestgate_rules._promotions import Source, name_text, promotions


class DigestProvenanceMissing(Rule):
    """A promotion takes a digest from outside the pipeline and nothing verifies it first.

    What it checks:
    The digest a promotion or deploy consumes must trace back to a build in this
    pipeline (a build step's digest output, handed down through job outputs, reusable
    workflow outputs or artifacts of the same run). A digest that comes from a
    `workflow_dispatch` or `workflow_call` input, `vars`, `secrets`, the event payload
    (`repository_dispatch`, `workflow_run`), another run's artifact, or that is written
    in the file, is reported unless a VERIFY step (`digestgate verify`, `cosign
    verify`, `cosign verify-attestation`, `gh attestation verify`, `slsa-verifier`)
    that can fail checks that image earlier in the same job (a VERIFY of a record that
    names no image counts for every image). A `workflow_run` release that downloads
    the triggering run's provenance record and verifies it passes. The finding lands
    on the value the promotion consumes (on the caller's `with:` value when it comes
    in through a reusable workflow or composite action input), with the place the
    digest comes from as a related location. A digest written in the file for an
    image this repository neither builds nor lists in `own-images` is a pinned
    third-party image, not reported, unless the step re-tags it in its own
    repository.

    Why:
    Anyone who can start the workflow, set a repository variable or craft an event can
    hand the promotion any digest: one that never passed validation, or one that was
    never built here. The digest is only worth promoting when the pipeline can show
    which build made it and which validation passed on it.

    How to fix:
    Take the digest from the build in this pipeline (`needs.build.outputs.digest`), or,
    when the promotion runs in a separate workflow, verify the digest against its
    recorded provenance before promoting it:
    `digestgate verify --record record.json --image NAME@DIGEST`.
    """

    code = "DG303"
    name = "digest-provenance-missing"
    severity = Severity.ERROR
    summary = "a promotion takes a digest from outside the pipeline without verifying it"

    good = (
        Example(
            """
            on:
              workflow_dispatch:
                inputs:
                  digest:
                    required: true
            jobs:
              promote:
                runs-on: ubuntu-latest
                steps:
                  - run: |
                      gh run download --name provenance --dir provenance
                      digestgate verify --record provenance/record.json \\
                        --image ghcr.io/acme/app@${{ inputs.digest }}
                  - run: crane copy ghcr.io/acme/app@${{ inputs.digest }} ghcr.io/acme/app:prod
            """,
            title="a dispatched digest verified against its record before the copy",
        ),
        Example(
            """
            name: Release
            on:
              workflow_run:
                workflows: [CI]
                types: [completed]
            jobs:
              deploy:
                if: github.event.workflow_run.conclusion == 'success'
                runs-on: ubuntu-latest
                steps:
                  - uses: actions/download-artifact@v4
                    with:
                      name: provenance
                      run-id: ${{ github.event.workflow_run.id }}
                      github-token: ${{ github.token }}
                  - run: |
                      cosign verify-attestation --type slsaprovenance \\
                        ghcr.io/acme/api@${{ vars.API_DIGEST }}
                  - run: |
                      kubectl set image deployment/api \\
                        api=ghcr.io/acme/api@${{ vars.API_DIGEST }}
            """,
            path=".github/workflows/release.yml",
            files={
                ".github/workflows/ci.yml": """
                name: CI
                on: push
                jobs:
                  test:
                    runs-on: ubuntu-latest
                    steps:
                      - run: make test
                """
            },
            title="a `workflow_run` deploy that verifies the attestation first",
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
                  - id: push
                    uses: docker/build-push-action@v6
                    with:
                      push: true
                      tags: ghcr.io/acme/app:sha-${{ github.sha }}
              deploy:
                needs: build
                runs-on: ubuntu-latest
                steps:
                  - run: |
                      helm upgrade --install app ./chart \\
                        --set image.repository=ghcr.io/acme/app \\
                        --set image.digest=${{ needs.build.outputs.digest }} \\
                        --set redis.image=docker.io/library/redis@sha256:2f1c3a8e4b5d6c7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f
            """,  # noqa: E501
            title="the digest of this pipeline's build, and a pinned third-party image",
        ),
    )
    bad = (
        Example(
            """
            on:
              workflow_dispatch:
                inputs:
                  digest:
                    description: digest to promote
                    required: true
            jobs:
              promote:
                runs-on: ubuntu-latest
                steps:
                  - run: |
                      docker buildx imagetools create -t ghcr.io/acme/app:prod \\
                        ghcr.io/acme/app@${{ inputs.digest }}
            """,
            expect=(Expect(13, 13),),
            title="`workflow_dispatch` input promoted with no VERIFY step",
        ),
        Example(
            """
            on:
              repository_dispatch:
                types: [deploy]
            jobs:
              deploy:
                runs-on: ubuntu-latest
                steps:
                  - uses: aws-actions/amazon-ecs-render-task-definition@v1
                    id: task
                    with:
                      task-definition: task-definition.json
                      container-name: api
                      image: ${{ github.event.client_payload.image }}
                  - uses: aws-actions/amazon-ecs-deploy-task-definition@v2
                    with:
                      task-definition: ${{ steps.task.outputs.task-definition }}
                      service: api
                      cluster: production
            """,
            expect=(Expect(13, 18),),
            title="an ECS deploy of an image taken from the event payload",
        ),
        Example(
            """
            on: push
            jobs:
              promote:
                runs-on: ubuntu-latest
                steps:
                  - run: >-
                      crane copy
                      ghcr.io/acme/app@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
                      ghcr.io/acme/app:1.4.0
                  - uses: docker/build-push-action@v6
                    with:
                      push: true
                      tags: ghcr.io/acme/app:sha-${{ github.sha }}
            """,
            expect=(Expect(8, 11),),
            title="a digest written in the file for an image this repository builds",
        ),
        Example(
            """
            on:
              workflow_dispatch:
                inputs:
                  digest:
                    required: true
            jobs:
              deploy:
                runs-on: ubuntu-latest
                steps:
                  - run: cosign verify ghcr.io/acme/api@${{ inputs.digest }} || true
                  - run: kustomize edit set image api=ghcr.io/acme/api@${{ inputs.digest }}
            """,
            expect=(Expect(11, 43),),
            title="a verification that cannot fail checks nothing",
        ),
    )

    def check_repository(self) -> Iterable[Finding]:
        proms = promotions(self.context.analysis)
        seen: set[tuple[str, int, int]] = set()
        for promotion in proms.items:
            if proms.is_broken(promotion, self.context.broken):
                continue
            for source in proms.untrusted(promotion):
                primary, related = proms.landing(source, follow_inputs=True)
                key = (primary.path, primary.span.line, primary.span.column)
                if key in seen:
                    continue
                seen.add(key)
                yield self.finding(
                    primary.path,
                    primary.span,
                    _message(source, primary),
                    related=related,
                    job=promotion.node.job,
                    step=promotion.step_label,
                )


def _message(source: Source, primary: Location) -> str:
    p = source.promotion
    prov = source.provenance
    text = source.value.text
    name = static_name(source.arg) or name_text(source.value)
    if not name or name == text:
        name = "NAME"
    what = f"`{text}`"
    if (primary.path, primary.span) != (source.value.path, source.value.span):
        what += f" in {source.value.path}, given here,"
    origin = "is written in the file" if prov.kind is Kind.LITERAL else f"comes from {prov.why}"
    return (
        f"{what} is {p.verb} in job `{p.node.job}`, step `{p.step_label}`, but its digest "
        f"{origin}, not from a build in this pipeline, and no VERIFY step checks it before "
        f"this step. Verify the digest with `digestgate verify --record ... --image "
        f"{name}@DIGEST` before promoting, or take it from the build in this pipeline"
    )
