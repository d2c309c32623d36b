"""DG103 malformed-digest."""

from __future__ import annotations

from collections.abc import Iterable

from digestgate.findings import Finding, Severity
from digestgate.rule import Example, Expect, Rule
from digestgate_rules._references import MALFORMED, judged


class MalformedDigest(Rule):
    """An image reference has a digest that is not a digest, or is not a valid reference.

    What it checks:
    Every image reference outside promotion (the places DG101 lists): a digest must
    be a known algorithm with the right number of lower-case hex characters
    (`sha256:` + 64, `sha512:` + 128); `name@` with anything else after it (a short
    digest, an image ID, a tag after the `@`, upper-case hex) is reported, and so is
    a reference that is not valid under the distribution reference grammar
    (upper-case repository names, bad separators, an empty tag). Static parts of a
    reference with expressions are checked too: `app@sha256:${{ x }}abc!` cannot be
    valid whatever `x` is.

    Why:
    A malformed digest is not a pin: the pull fails at run time, or, worse, a tool
    falls back to a tag. A short or truncated digest usually means a copy-paste or a
    `cut` that went wrong, and the step that should prove which bytes ran proves
    nothing.

    How to fix:
    Write the full digest as the registry prints it, `name@sha256:` followed by 64
    lower-case hex characters (`docker buildx imagetools inspect name:tag` shows it),
    and spell the repository name in lower case.
    """

    code = MALFORMED
    name = "malformed-digest"
    severity = Severity.ERROR
    summary = "a digest that is not sha256:<64 hex> or sha512:<128 hex>, or an invalid reference"
    runs_on_broken = True

    good = (
        Example(
            """
            on: push
            jobs:
              lint:
                runs-on: ubuntu-latest
                container: python:3.12@sha256:4b1f0d6e8a2c3b5d7f9e1a3c5b7d9f1e3a5c7b9d1f3e5a7c9b1d3f5e7a9c1b3d
                steps:
                  - run: ruff check .
            """,  # noqa: E501
            title="`name:tag@sha256:` with 64 lower-case hex characters",
        ),
        Example(
            """
            on: push
            jobs:
              scan:
                runs-on: ubuntu-latest
                steps:
                  - run: grype docker.io/acme/api@sha512:0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0
            """,  # noqa: E501
            title="a sha512 digest",
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
                  - run: docker run --rm ghcr.io/acme/api@${{ needs.build.outputs.digest }} --help
            """,
            title="a digest from the build step",
        ),
    )
    bad = (
        Example(
            """
            on: push
            jobs:
              test:
                runs-on: ubuntu-latest
                services:
                  db:
                    image: postgres@sha256:9a8b7c6d5e4f
                steps:
                  - run: npm test
            """,
            expect=(Expect(7, 16),),
            title="a short digest",
        ),
        Example(
            """
            on: push
            jobs:
              smoke:
                runs-on: ubuntu-latest
                steps:
                  - run: docker pull ghcr.io/acme/api@SHA256:4B1F0D6E8A2C3B5D7F9E1A3C5B7D9F1E3A5C7B9D1F3E5A7C9B1D3F5E7A9C1B3D
            """,  # noqa: E501
            expect=(Expect(6, 26),),
            title="an upper-case digest",
        ),
        Example(
            """
            on: push
            jobs:
              test:
                runs-on: ubuntu-latest
                container: ghcr.io/Acme/Builder:1.2
                steps:
                  - run: make
            """,
            expect=(Expect(5, 16),),
            title="an upper-case repository name is not a valid reference",
        ),
        Example(
            """
            on: push
            jobs:
              test:
                runs-on: ubuntu-latest
                steps:
                  - uses: docker://alpine@3.20
            """,
            expect=(Expect(6, 24),),
            title="a tag written after `@`",
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
