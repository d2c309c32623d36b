"""DG301 promotion-by-tag."""

from __future__ import annotations

from collections.abc import Iterable

from digestgate.analysis import static_name
from digestgate.findings import Finding, Location, Severity
from digestgate.provenance import Kind
from digestgate.rule import Example, Expect, Rule
from digestgate_rules._promotions import Source, Verdict, is_retag, name_text, promotions


class PromotionByTag(Rule):
    """A promotion or deploy takes its image by tag instead of by the validated digest.

    What it checks:
    The source of every promotion (`docker buildx imagetools create`, `crane copy/tag`,
    `skopeo copy`, `oras copy`, `regctl image copy`, `docker pull` + `docker tag` +
    `docker push`, `aws ecr put-image`, `gcloud artifacts docker tags add`, ...) and
    every deploy (`kubectl set image`, `helm upgrade --set image...`, `kustomize edit
    set image`, `gcloud run deploy --image`, deploy actions' image inputs): it must
    be a digest made by a build of this pipeline. A tag (`app:rc`, `app:${{
    github.sha }}`), a `docker/metadata-action` tag list, or a value digestgate cannot
    trace to a digest is reported here, and only here (not also as DG101, DG102 or
    DG303). Index assembly, the `imagetools create` that merges per-platform digests of
    one image built in the pipeline (Docker's multi-platform recipe), is part of the
    build and not judged, and so is a copy into a registry on the runner
    (`localhost:5000/...`, a test fixture). Targets (the new tags a promotion writes)
    are DG305's business. A third-party image (one this repository neither builds nor
    lists in `own-images`, nor writes in the same namespace) mirrored or deployed by
    tag is reported as a warning; re-tagging any image in its own repository
    (`crane tag x:rc prod`) is an error.

    Why:
    A tag is a pointer anyone with push access can move. Between the validation and
    the promotion, `app:rc` can be re-pushed by a later build, a retried job or a
    person, so what reaches production is not the bytes that passed the tests. A digest
    names exactly one manifest: promoting it promotes what was validated.

    How to fix:
    Export the digest from the build (`docker/build-push-action`'s `digest` output as a
    job output, or a digest file uploaded as an artifact) and promote
    `NAME@${{ needs.build.outputs.digest }}`. When a value comes in through a reusable
    workflow or composite action input, the finding lands on the caller's value: pass
    the digest there.
    """

    code = "DG301"
    name = "promotion-by-tag"
    severity = Severity.ERROR
    summary = "a promotion or deploy takes its image by tag, not by the validated digest"

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
                  - run: |
                      docker buildx imagetools create -t ghcr.io/acme/app:prod \\
                        ghcr.io/acme/app@${{ needs.build.outputs.digest }}
            """,
            title="the promotion copies the digest the build exported",
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
                  - uses: google-github-actions/deploy-cloudrun@v2
                    with:
                      service: api
                      region: europe-west1
                      image: europe-docker.pkg.dev/acme/web/api@${{ needs.build.outputs.digest }}
                  - run: >-
                      kubectl set image deployment/api
                      api=europe-docker.pkg.dev/acme/web/api@${{ needs.build.outputs.digest }}
            """,
            title="deploys by the digest: Cloud Run action and `kubectl set image`",
        ),
        Example(
            """
            on: push
            env:
              IMAGE: ghcr.io/acme/web
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
                      outputs: type=image,name=${{ env.IMAGE }},push-by-digest=true,push=true
                  - run: |
                      mkdir -p /tmp/digests
                      d="${{ steps.build.outputs.digest }}"
                      touch "/tmp/digests/${d#sha256:}"
                  - uses: actions/upload-artifact@v4
                    with:
                      name: digests-${{ strategy.job-index }}
                      path: /tmp/digests/*
              merge:
                needs: build
                runs-on: ubuntu-latest
                steps:
                  - uses: actions/download-artifact@v4
                    with:
                      path: /tmp/digests
                      pattern: digests-*
                      merge-multiple: true
                  - working-directory: /tmp/digests
                    run: |
                      docker buildx imagetools create -t ${{ env.IMAGE }}:sha-${{ github.sha }} \\
                        $(printf '${{ env.IMAGE }}@sha256:%s ' *)
            """,
            title="Docker's multi-platform recipe: index assembly is part of the build",
        ),
    )
    bad = (
        Example(
            """
            on: push
            jobs:
              promote:
                runs-on: ubuntu-latest
                steps:
                  - run: docker buildx imagetools create -t app:prod app:${{ github.sha }}
            """,
            expect=(Expect(6, 58),),
            title="`imagetools create` re-tags a tag",
        ),
        Example(
            """
            on: push
            jobs:
              release:
                runs-on: ubuntu-latest
                steps:
                  - run: crane tag ghcr.io/acme/app:rc prod
                  - run: skopeo copy docker://ghcr.io/acme/app:rc docker://quay.io/acme/app:1.4.0
            """,
            expect=(Expect(6, 24), Expect(7, 35)),
            title="`crane tag` and `skopeo copy` of a release candidate tag",
        ),
        Example(
            """
            on: push
            jobs:
              release:
                runs-on: ubuntu-latest
                steps:
                  - run: |
                      docker pull ghcr.io/acme/app:rc
                      docker tag ghcr.io/acme/app:rc ghcr.io/acme/app:stable
                      docker push ghcr.io/acme/app:stable
            """,
            expect=(Expect(7, 23),),
            title="`docker pull` + `docker tag` + `docker push` of a tag",
        ),
        Example(
            """
            on: push
            jobs:
              deploy:
                runs-on: ubuntu-latest
                steps:
                  - id: meta
                    uses: docker/metadata-action@v5
                    with:
                      images: europe-docker.pkg.dev/acme/web/api
                  - uses: google-github-actions/deploy-cloudrun@v2
                    with:
                      service: api
                      image: ${{ steps.meta.outputs.tags }}
                  - run: kubectl set image deployment/api api=europe-docker.pkg.dev/acme/web/api:1.2
            """,
            expect=(Expect(13, 18), Expect(14, 51)),
            title="a deploy action given metadata-action tags, and `kubectl set image` by tag",
        ),
        Example(
            """
            on: push
            jobs:
              release:
                uses: ./.github/workflows/promote.yml
                with:
                  image: ghcr.io/acme/app:rc
            """,
            files={
                ".github/workflows/promote.yml": """
                on:
                  workflow_call:
                    inputs:
                      image:
                        type: string
                        required: true
                jobs:
                  promote:
                    runs-on: ubuntu-latest
                    steps:
                      - run: crane copy ${{ inputs.image }} ghcr.io/acme/app:prod
                """
            },
            expect=(Expect(6, 14),),
            title="a tag passed to a reusable workflow lands on the caller's value",
        ),
    )

    def check_repository(self) -> Iterable[Finding]:
        proms = promotions(self.context.analysis)
        seen: set[tuple[str, int, int]] = set()
        for promotion in proms.items:
            if proms.is_broken(promotion, self.context.broken):
                continue
            for source in proms.sources(promotion):
                if source.verdict is not Verdict.TAG:
                    continue
                primary, related = proms.landing(source, follow_inputs=True)
                key = (primary.path, primary.span.line, primary.span.column)
                if key in seen:
                    continue
                seen.add(key)
                third_party = proms.is_third_party(source) and not is_retag(source)
                yield self._finding(source, primary, related, third_party)

    def _finding(
        self,
        source: Source,
        primary: Location,
        related: tuple[Location, ...],
        third_party: bool,
    ) -> Finding:
        p = source.promotion
        text = source.value.text
        where = f"in job `{p.node.job}`, step `{p.step_label}`"
        prov = source.provenance
        if prov.kind is Kind.UNKNOWN and "@" in text:
            what = (
                f"`{text}` is {p.verb} {where} with a digest taken from {prov.why}, which "
                "digestgate cannot trace to a build of this pipeline"
            )
        elif prov.kind is Kind.UNKNOWN:
            what = f"`{text}` is {p.verb} {where}, but it is {prov.why}, not a digest"
        elif source.value.is_static:
            what = f"`{text}` is {p.verb} by tag {where}"
        elif (primary.path, primary.span) != (source.value.path, source.value.span):
            what = f"{prov.why}, passed in as `{text}`, is {p.verb} by tag {where}"
        else:
            what = f"`{text}` is {p.verb} by tag {where} ({prov.why})"
        name = static_name(source.arg) or name_text(source.value)
        if not name or name == text:
            name = "IMAGE"
        verb = "Deploy" if p.verb == "deployed" else "Promote"
        if third_party:
            message = (
                f"{what}: a tag can move, so what is {p.verb} can change from one run to the "
                f"next. {verb} a digest (`{name}@sha256:...`) instead of a tag"
            )
        elif prov.kind is Kind.UNKNOWN:
            message = (
                f"{what}, so nothing shows it is what was validated. {verb} the validated "
                f"digest `{name}@sha256:...` from the build's output, not a tag"
            )
        else:
            message = (
                f"{what}: a tag can move, so this may not be what was validated. {verb} the "
                f"validated digest `{name}@sha256:...` from the build's output, not a tag"
            )
        return self.finding(
            primary.path,
            primary.span,
            message,
            related=related,
            job=p.node.job,
            step=p.step_label,
            severity=Severity.WARNING if third_party else None,
        )
