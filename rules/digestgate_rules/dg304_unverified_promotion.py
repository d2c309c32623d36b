"""DG304 unverified-promotion."""

from __future__ import annotations

from collections.abc import Iterable

from digestgate.findings import Finding, Severity
from digestgate.graph import JobNode
from digestgate.rule import Example, Expect, Rule
from digestgate_rules._promotions import Promotion, Promotions, promotions


class UnverifiedPromotion(Rule):
    """A promotion or deploy step runs with no runtime VERIFY step before it in its job.

    What it checks:
    Every step that promotes (copies or re-tags) or deploys an image must be preceded,
    in its job (composite actions and scripts expanded), by a VERIFY step that can
    fail: `digestgate verify`, `cosign verify`, `cosign verify-attestation`, `gh
    attestation verify` or `slsa-verifier`, checking the promoted image (a VERIFY of a
    provenance record that names no image counts for every image). An earlier command
    in the same script counts too. Not reported: index assembly (part of the build),
    deploys that name no image (`helm upgrade` with the chart's own values, `aws ecs
    update-service`), images this repository neither builds nor lists in
    `own-images`, and promotions DG303 already reports (an untrusted digest with no
    VERIFY step).

    Why:
    `needs:` edges and `if:` conditions gate a promotion on what the workflow file
    says; a runtime check gates it on what happened: the digest about to be promoted
    has a provenance record (which build made it, which validation passed on it) and
    the record is intact. It is the last line of defence when a workflow is edited,
    re-run, or started by hand.

    How to fix:
    Add a step before the promotion that fails when the provenance does not hold:
    `digestgate verify --record record.json --image NAME@DIGEST` (with the record
    downloaded from the validation job), or `cosign verify-attestation` /
    `gh attestation verify` for an attested image.
    """

    code = "DG304"
    name = "unverified-promotion"
    severity = Severity.WARNING
    summary = "a promotion or deploy step is not preceded in its job by a runtime VERIFY step"

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
                  - id: push
                    uses: docker/build-push-action@v6
                    with:
                      push: true
                      tags: ghcr.io/acme/app:sha-${{ github.sha }}
              promote:
                needs: build
                runs-on: ubuntu-latest
                steps:
                  - uses: actions/download-artifact@v4
                    with:
                      name: provenance
                  - run: >-
                      digestgate verify --record record.json
                      --image ghcr.io/acme/app@${{ needs.build.outputs.digest }}
                  - run: >-
                      docker buildx imagetools create -t ghcr.io/acme/app:prod
                      ghcr.io/acme/app@${{ needs.build.outputs.digest }}
            """,
            title="`digestgate verify` before the promotion",
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
                      tags: europe-docker.pkg.dev/acme/web/api:${{ github.sha }}
              deploy:
                needs: build
                runs-on: ubuntu-latest
                steps:
                  - run: |
                      gh attestation verify --owner acme \\
                        oci://europe-docker.pkg.dev/acme/web/api@${DIGEST}
                      gcloud run deploy api --region europe-west1 \\
                        --image europe-docker.pkg.dev/acme/web/api@${DIGEST}
                    env:
                      DIGEST: ${{ needs.build.outputs.digest }}
            """,
            title="`gh attestation verify` earlier in the same script",
        ),
        Example(
            """
            on: push
            jobs:
              deploy:
                runs-on: ubuntu-latest
                steps:
                  - uses: ./.github/actions/verify
                  - run: crane copy ghcr.io/acme/app@${{ vars.RC_DIGEST }} ghcr.io/acme/app:prod
            """,
            files={
                ".github/actions/verify/action.yml": """
                name: verify
                runs:
                  using: composite
                  steps:
                    - run: cosign verify ghcr.io/acme/app@${{ vars.RC_DIGEST }} --key cosign.pub
                      shell: bash
                """
            },
            title="a composite action that verifies, expanded in place",
        ),
        Example(
            """
            on: push
            jobs:
              cluster:
                runs-on: ubuntu-latest
                steps:
                  - run: helm upgrade --install ingress ingress-nginx/ingress-nginx -f ingress.yaml
                  - run: aws ecs update-service --cluster prod --service api --force-new-deployment
            """,
            title="deploys that name no image",
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
                      kubectl set image deployment/app \\
                        app=ghcr.io/acme/app@${{ needs.build.outputs.digest }}
            """,
            expect=(Expect(18, 11),),
            title="`kubectl set image` of the build's digest with no VERIFY step",
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
                      tags: ${{ vars.ECR }}/api:${{ github.sha }}
              deploy:
                needs: build
                runs-on: ubuntu-latest
                steps:
                  - id: task
                    uses: aws-actions/amazon-ecs-render-task-definition@v1
                    with:
                      task-definition: task-definition.json
                      container-name: api
                      image: ${{ vars.ECR }}/api@${{ needs.build.outputs.digest }}
                  - uses: aws-actions/amazon-ecs-deploy-task-definition@v2
                    with:
                      task-definition: ${{ steps.task.outputs.task-definition }}
                      cluster: production
                      service: api
                  - run: cosign verify ${{ vars.ECR }}/api@${{ needs.build.outputs.digest }}
            """,
            expect=(Expect(18, 15),),
            title="an ECS deploy whose VERIFY step comes too late",
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
              release:
                needs: build
                uses: ./.github/workflows/promote.yml
                with:
                  digest: ${{ needs.build.outputs.digest }}
            """,
            files={
                ".github/workflows/promote.yml": """
                on:
                  workflow_call:
                    inputs:
                      digest:
                        type: string
                jobs:
                  promote:
                    runs-on: ubuntu-latest
                    steps:
                      - run: cosign verify ghcr.io/acme/base@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
                      - run: skopeo copy docker://ghcr.io/acme/app@${{ inputs.digest }} docker://ghcr.io/acme/app:prod
                """  # noqa: E501
            },
            expect=(Expect(11, 14, ".github/workflows/promote.yml"),),
            title="a reusable workflow that verifies another image, not the promoted one",
        ),
    )

    def check_repository(self) -> Iterable[Finding]:
        proms = promotions(self.context.analysis)
        done: set[tuple[JobNode, int]] = set()
        # one finding per place: a composite action or called workflow that promotes
        # in several jobs is named once, with every job
        found: dict[tuple[str, int, int], list[Promotion]] = {}
        for promotion in proms.items:
            key = (promotion.node, promotion.step)
            if key in done or proms.is_broken(promotion, self.context.broken):
                continue
            if not _judged(proms, promotion) or proms.verified(promotion):
                continue
            done.add(key)
            if proms.untrusted(promotion):
                continue  # DG303 says it, with the digest's origin
            span = promotion.operation.span
            found.setdefault((promotion.operation.path, span.line, span.column), []).append(
                promotion
            )
        for group in found.values():
            yield self._finding(proms, group)

    def _finding(self, proms: Promotions, group: list[Promotion]) -> Finding:
        p = group[0]
        jobs = list(dict.fromkeys(g.node.job for g in group))
        where = (
            f"job `{jobs[0]}`" if len(jobs) == 1 else "jobs " + ", ".join(f"`{j}`" for j in jobs)
        )
        image = _shown(proms, p)
        what = "deploys" if p.verb == "deployed" else "promotes"
        message = (
            f"step `{p.step_label}` in {where} {what} `{image}` with no runtime VERIFY step "
            "before it in the job, so nothing checks the digest's provenance when the "
            "promotion runs. Add a `digestgate verify --record ... --image NAME@DIGEST` step "
            "before the promotion"
        )
        related = list(dict.fromkeys(loc for g in group for loc in proms.related(g)))
        return self.finding(
            p.operation.path,
            p.operation.span,
            message,
            related=related,
            job=p.node.job,
            step=p.step_label,
        )


def _judged(proms: Promotions, promotion: Promotion) -> bool:
    """The promotion names an image that may be this repository's: one it builds or
    owns, one whose digest a build of the pipeline made, or one whose name cannot be
    read. Deploys that name no image are not judged."""
    return any(not proms.is_third_party(s) for s in proms.sources(promotion))


def _shown(proms: Promotions, promotion: Promotion) -> str:
    """The image to name: the first source that looks like a reference of ours."""
    sources = proms.sources(promotion)
    for s in sources:
        text = s.value.text
        if not proms.is_third_party(s) and any(c in text for c in "/:@"):
            return text
    return sources[0].value.text if sources else promotion.operation.tool
