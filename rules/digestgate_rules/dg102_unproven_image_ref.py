"""DG102 unproven-image-ref."""

from __future__ import annotations

from collections.abc import Iterable

from digestgate.findings import Finding, Severity
from digestgate.rule import Example, Expect, Rule
from digestgate_rules._references import UNPROVEN, judged


class UnprovenImageRef(Rule):
    """An image reference comes whole from a value that is not a digest this pipeline made.

    What it checks:
    Every image reference outside promotion (the places DG101 lists) that is written
    as a value the file does not spell out: `${{ inputs.image }}`,
    `${{ steps.meta.outputs.tags }}`, `${{ env.IMAGE }}`, `$IMAGE`,
    `$(cat image.txt)`, an unresolvable compose `${VAR}`, or `name@${{ ... }}` whose
    digest part is such a value. Value provenance follows it through `env`, step and job outputs,
    `$GITHUB_OUTPUT`, reusable workflow and composite action inputs. It passes when
    the value is a digest made by a build of this pipeline (or read back from the
    registry after it), or a digest written in the file; a `name@<digest>` whose
    digest comes from outside (an input, `vars`) is left to DG303. A value that
    resolves to a tag written somewhere (a caller's `with:`, an `env:` value, a
    matrix entry) is DG101 there instead.

    Why:
    A reference the workflow cannot vouch for may name a tag, a different image, or
    nothing at all: the job tests or scans whatever it is handed, and the proof that
    the promoted digest was validated is lost. It is an error in validation steps
    (and the container or services of a validation job), where the proof is made,
    and a warning elsewhere.

    How to fix:
    Hand the digest down from the build step: export
    `${{ steps.push.outputs.digest }}` as a job output and reference
    `ghcr.io/acme/app@${{ needs.build.outputs.digest }}`. For a third-party image,
    write its digest in the file.
    """

    code = UNPROVEN
    name = "unproven-image-ref"
    severity = Severity.WARNING
    summary = "an image reference comes whole from a value whose provenance is not a digest"

    good = (
        Example(
            """
            on: push
            jobs:
              build:
                runs-on: ubuntu-latest
                outputs:
                  image: ghcr.io/acme/api@${{ steps.push.outputs.digest }}
                steps:
                  - uses: docker/build-push-action@v6
                    id: push
                    with:
                      push: true
                      tags: ghcr.io/acme/api:${{ github.sha }}
              e2e:
                needs: build
                runs-on: ubuntu-latest
                services:
                  api:
                    image: ${{ needs.build.outputs.image }}
                steps:
                  - run: npm run e2e
            """,
            title="a service image handed down as a digest reference",
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
              scan:
                needs: build
                runs-on: ubuntu-latest
                env:
                  IMAGE: ghcr.io/acme/api@${{ needs.build.outputs.digest }}
                steps:
                  - run: grype "$IMAGE" --fail-on high
            """,
            title="a scan of the built digest through `env`",
        ),
        Example(
            """
            on:
              workflow_dispatch:
                inputs:
                  digest:
                    required: true
            jobs:
              inspect:
                runs-on: ubuntu-latest
                steps:
                  - run: docker pull ghcr.io/acme/api@${{ inputs.digest }}
            """,
            title="a digest from outside after a literal `@` is DG303's business",
        ),
    )
    bad = (
        Example(
            """
            on: push
            jobs:
              build:
                runs-on: ubuntu-latest
                steps:
                  - uses: docker/metadata-action@v5
                    id: meta
                    with:
                      images: ghcr.io/acme/api
                  - uses: docker/build-push-action@v6
                    with:
                      push: true
                      tags: ${{ steps.meta.outputs.tags }}
                  - run: docker run --rm ${{ steps.meta.outputs.tags }} pytest
            """,
            expect=(Expect(14, 30),),
            title="tests run on the metadata-action tags (an error: a validation step)",
        ),
        Example(
            """
            on:
              workflow_dispatch:
                inputs:
                  image:
                    required: true
            jobs:
              smoke:
                runs-on: ubuntu-latest
                container: ${{ inputs.image }}
                steps:
                  - run: ./smoke.sh
            """,
            expect=(Expect(9, 16),),
            title="a job container given by whoever starts the run",
        ),
        Example(
            """
            on: push
            jobs:
              it:
                runs-on: ubuntu-latest
                steps:
                  - uses: actions/checkout@v4
                  - run: |
                      docker compose -f compose.ci.yml up -d
                      npm run test:integration
            """,
            files={
                "compose.ci.yml": """
                services:
                  api:
                    image: ${API_IMAGE}
                """
            },
            expect=(Expect(3, 12, "compose.ci.yml"),),
            title="a compose `image:` from a variable the workflow never sets",
        ),
    )

    def check_repository(self) -> Iterable[Finding]:
        broken = self.context.broken
        for j in judged(self.context.analysis, self.code, broken):
            yield self.finding(
                j.path,
                j.span,
                j.message,
                related=j.related,
                job=j.job,
                step=j.step,
                severity=j.severity,
            )
