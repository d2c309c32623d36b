"""DG403 unvalidated-digest-promoted."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from digestgate.analysis import Analysis, ArtifactValidation, Build, static_name
from digestgate.facts import ImageArg, ImageUse, Operation, Role
from digestgate.findings import Finding, Location, Severity
from digestgate.graph import ExpandedStep, JobNode
from digestgate.provenance import Origin, Site
from digestgate.rule import Example, Expect, Rule
from digestgate.span import Span
from digestgate_rules._promotions import promotions
from digestgate_rules._rebuilds import (
    build_label,
    build_of_origin,
    job_label,
    order,
    overlap,
    same_origin,
    validated_names,
    validated_origin,
)

_SOURCES = (ImageUse.COPY_SOURCE, ImageUse.DEPLOY)
_VALIDATING = (ImageUse.RUN, ImageUse.SERVICE, ImageUse.SCAN, ImageUse.INPUT)


@dataclass(frozen=True)
class _Promoted:
    """A digest from this pipeline that a promotion job promotes."""

    arg: ImageArg
    operation: Operation
    expanded: ExpandedStep
    origin: Origin
    build: Build | None
    why: str


class UnvalidatedDigestPromoted(Rule):
    """A job promotes a digest built in this pipeline that no artifact validation tested.

    What it checks:
    A promotion job (PROMOTE or DEPLOY) whose source digest comes from a build of
    this pipeline (its provenance is DIGEST, traced to a build or push step), while
    no artifact validation upstream of the promotion (or earlier in its job) consumed
    that image: only source checks ran (unit tests and linters of the source), or the
    validations ran on a different image (a parallel build, a local test build). A
    validation consumes the promoted image when it runs the same digest, or the same
    image by name. The finding lands on the promotion job's key (for a job of a called
    workflow whose digest is built by the caller, on the calling job's key, where its
    `needs` are written), with the build as a related location. A digest that does not
    trace back to a build here (an input, an artifact of another run) is DG303's; a
    promotion with no validation job upstream at all is DG302's, so this rule needs
    some validation upstream of the promotion (or before the promote step in its
    job). When a validation upstream runs an image whose name digestgate cannot read,
    it may be the promoted one, and nothing is reported.

    Why:
    Tests of the source say nothing about the image: the Dockerfile, the base image,
    the packages installed at build time and the runtime configuration are only
    exercised by running the built image. A pipeline that tests the source, then
    builds and deploys, promotes bytes nobody has run.

    How to fix:
    Add an artifact validation between the build and the promotion that runs the
    built digest (`docker run image@${{ needs.build.outputs.digest }} ...`, a
    `services:` container, compose with the digest, a scan of `image@digest`), make
    the promotion job need it, and promote exactly that digest.
    """

    code = "DG403"
    name = "unvalidated-digest-promoted"
    severity = Severity.ERROR
    summary = "a promoted digest from this pipeline was never consumed by an artifact validation"

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
                      tags: ghcr.io/o/app:${{ github.sha }}
              e2e:
                needs: build
                runs-on: ubuntu-latest
                steps:
                  - run: docker run --rm ghcr.io/o/app@${{ needs.build.outputs.digest }} npm run e2e
                  - run: |
                      digestgate record --output record.json \\
                        --image ghcr.io/o/app@${{ needs.build.outputs.digest }}
                  - uses: actions/upload-artifact@v4
                    with:
                      name: record
                      path: record.json
              promote:
                needs: [build, e2e]
                runs-on: ubuntu-latest
                steps:
                  - uses: actions/download-artifact@v4
                    with:
                      name: record
                  - run: digestgate verify record.json
                  - run: |
                      docker buildx imagetools create -t ghcr.io/o/app:prod \\
                        ghcr.io/o/app@${{ needs.build.outputs.digest }}
            """,
            title="the promoted digest is the one `e2e` ran",
        ),
        Example(
            """
            on: push
            jobs:
              image:
                runs-on: ubuntu-latest
                outputs:
                  digest: ${{ steps.digest.outputs.digest }}
                steps:
                  - run: |
                      docker build -t ghcr.io/acme/api:${{ github.sha }} .
                      docker run --rm ghcr.io/acme/api:${{ github.sha }} pytest
                      docker push ghcr.io/acme/api:${{ github.sha }}
                  - id: digest
                    run: |
                      ref=ghcr.io/acme/api:${{ github.sha }}
                      digest=$(docker inspect -f '{{index .RepoDigests 0}}' "$ref" | cut -d@ -f2)
                      echo "digest=$digest" >> "$GITHUB_OUTPUT"
              deploy:
                needs: image
                runs-on: ubuntu-latest
                steps:
                  - run: >-
                      kubectl set image deployment/api
                      api=ghcr.io/acme/api@${{ needs.image.outputs.digest }}
            """,
            title="tested locally, pushed as tested, digest read back",
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
                      tags: ghcr.io/acme/app:${{ github.sha }}
              deploy:
                needs: build
                runs-on: ubuntu-latest
                steps:
                  - run: >-
                      kubectl set image deployment/app
                      app=ghcr.io/acme/app@${{ needs.build.outputs.digest }}
            """,
            title="no validation upstream at all is DG302's finding, not this one",
        ),
    )
    bad = (
        Example(
            """
            on: push
            jobs:
              test:
                runs-on: ubuntu-latest
                steps:
                  - run: npm ci && npm test
              build:
                needs: test
                runs-on: ubuntu-latest
                outputs:
                  digest: ${{ steps.push.outputs.digest }}
                steps:
                  - uses: docker/build-push-action@v6
                    id: push
                    with:
                      push: true
                      tags: ghcr.io/acme/app:${{ github.sha }}
              deploy:
                needs: build
                runs-on: ubuntu-latest
                steps:
                  - run: >-
                      kubectl set image deployment/app
                      app=ghcr.io/acme/app@${{ needs.build.outputs.digest }}
            """,
            expect=(Expect(18, 3),),
            title="only the source was tested",
        ),
        Example(
            """
            on: push
            jobs:
              web:
                runs-on: ubuntu-latest
                outputs:
                  digest: ${{ steps.push.outputs.digest }}
                steps:
                  - uses: docker/build-push-action@v6
                    id: push
                    with:
                      context: web
                      push: true
                      tags: ghcr.io/acme/web:${{ github.sha }}
              api:
                runs-on: ubuntu-latest
                outputs:
                  digest: ${{ steps.push.outputs.digest }}
                steps:
                  - uses: docker/build-push-action@v6
                    id: push
                    with:
                      context: api
                      push: true
                      tags: ghcr.io/acme/api:${{ github.sha }}
              e2e:
                needs: web
                runs-on: ubuntu-latest
                services:
                  web:
                    image: ghcr.io/acme/web@${{ needs.web.outputs.digest }}
                steps:
                  - run: npx playwright test
              deploy:
                needs: [web, api, e2e]
                runs-on: ubuntu-latest
                steps:
                  - run: |
                      kubectl set image deployment/web \\
                        web=ghcr.io/acme/web@${{ needs.web.outputs.digest }}
                      kubectl set image deployment/api \\
                        api=ghcr.io/acme/api@${{ needs.api.outputs.digest }}
            """,
            expect=(Expect(33, 3),),
            title="parallel builds, only one image validated",
        ),
        Example(
            """
            on: push
            jobs:
              test-image:
                runs-on: ubuntu-latest
                steps:
                  - run: docker build -t app:test . && docker run --rm app:test make integration
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
              promote:
                needs: [test-image, build]
                runs-on: ubuntu-latest
                steps:
                  - run: >-
                      crane copy ghcr.io/acme/app@${{ needs.build.outputs.digest }}
                      ghcr.io/acme/app:prod
            """,
            expect=(Expect(17, 3),),
            title="the tests ran on a separate local build, not on the pushed digest",
        ),
    )

    def check_repository(self) -> Iterable[Finding]:
        analysis = self.context.analysis
        broken = self.context.broken
        seen: set[tuple[str, Span, tuple[str, ...]]] = set()
        for node in analysis.graph.nodes:
            if {node.path, *(p for p, _ in node.via)} & broken:
                continue
            if not analysis.roles.is_promotion(node):
                continue
            unvalidated = list(_unvalidated(analysis, node))
            if not unvalidated:
                continue
            path, span, caller = _landing(analysis, node, unvalidated)
            key = (path, span, tuple(sorted(p.arg.value.text for p in unvalidated)))
            if key in seen:
                continue
            seen.add(key)
            yield self._finding(node, unvalidated, path, span, caller)

    def _finding(
        self,
        node: JobNode,
        unvalidated: list[_Promoted],
        path: str,
        span: Span,
        caller: str | None,
    ) -> Finding:
        analysis = self.context.analysis
        first = unvalidated[0]
        upstream = _upstream_validations(analysis, node, None)
        if upstream:
            names = sorted({f"`{v.image.arg.value.text}`" for v in upstream})
            ran = f"the artifact validations upstream ran {', '.join(names)}"
        else:
            ran = "only source checks ran upstream"
        images = ", ".join(dict.fromkeys(f"`{p.arg.value.text}`" for p in unvalidated))
        verbs = {_verb(p) for p in unvalidated}
        verb = verbs.pop() if len(verbs) == 1 else "promotes and deploys"
        gate = caller or node.job
        message = (
            f"{job_label(node)} {verb} {images}, {first.why}, but no artifact validation "
            f"consumed that image ({ran}). Run the tests against that digest in a job "
            f"`{gate}` needs, and promote the digest that passed"
        )
        related: list[Location] = []
        if caller is not None:
            job = analysis.job(node)
            related.append(Location(node.path, job.key_span, "the promotion job"))
        for p in unvalidated:
            if p.build is not None:
                op = p.build.operation
                what = f"{build_label(p.build)} is built here; its digest is never validated"
                related.append(Location(op.path, op.span, what))
            else:
                related.append(Location(p.origin.path, p.origin.span, "the digest comes from here"))
            related.append(
                Location(p.arg.value.path, p.arg.value.span, f"`{p.operation.tool}` {_verb(p)} it")
            )
        related.extend(analysis.related(node, None))
        seen = {(path, span)}
        kept = []
        for r in related:
            if (r.path, r.span) not in seen:
                seen.add((r.path, r.span))
                kept.append(r)
        return self.finding(path, span, message, related=kept, job=caller or node.job)


def _landing(
    analysis: Analysis, node: JobNode, unvalidated: list[_Promoted]
) -> tuple[str, Span, str | None]:
    """The promotion job's key; for a job of a called workflow whose digest is built
    in a calling workflow, the key of the calling job in that workflow, where its
    `needs` are written (and where the validation it lacks would go)."""
    origins = {p.origin.path for p in unvalidated}
    if node.path not in origins:
        for caller_path, caller_job in reversed(node.via):
            if caller_path in origins:
                job = analysis.repository.workflows[caller_path].jobs[caller_job]
                return caller_path, job.key_span, caller_job
    return node.path, analysis.job(node).key_span, None


def _verb(p: _Promoted) -> str:
    return "deploys" if p.operation.role is Role.DEPLOY else "promotes"


def _promoted(analysis: Analysis, node: JobNode) -> list[tuple[int, _Promoted]]:
    out: list[tuple[int, _Promoted]] = []
    for item in promotions(analysis).items:
        if item.node != node:
            continue
        i, op = item.step, item.operation
        for arg in op.references():
            if arg.use not in _SOURCES:
                continue
            prov = analysis.provenance.of_value(arg.value, Site(node, i))
            origin = prov.origin
            if not prov.is_digest or origin is None or origin.job is None:
                continue
            build = build_of_origin(analysis, origin)
            out.append((i, _Promoted(arg, op, item.expanded, origin, build, prov.why)))
    return out


def _upstream_validations(
    analysis: Analysis, node: JobNode, before: tuple[int, int] | None
) -> list[ArtifactValidation]:
    """Artifact validations upstream of the job, and in it before `before`."""
    upstream = analysis.graph.upstream(node)
    found = [v for n in analysis.graph.in_order(upstream) for v in analysis.artifact_validations(n)]
    if before is not None:
        found += [
            v
            for v in analysis.artifact_validations(node)
            if v.step is not None and order(analysis, node, v.step, v.operation) < before
        ]
    return found


def _any_validation(analysis: Analysis, node: JobNode, before: tuple[int, int]) -> bool:
    """Some validation (artifact or source) runs before the promote step."""
    if any(analysis.roles.is_validation(n) for n in analysis.graph.upstream(node)):
        return True
    return any(
        op.role is Role.VALIDATE and order(analysis, node, i, op) < before
        for i, _, op in analysis.operations(node)
    )


def _undecided(analysis: Analysis, node: JobNode, before: tuple[int, int]) -> bool:
    """Some validation before the promote step runs an image digestgate can neither
    match to a build nor name: it may well be the promoted one."""
    matched: set[tuple[str, object]] = set()
    nodes = [n for n in analysis.graph.nodes if n in analysis.graph.upstream(node)]
    for n in [*nodes, node]:
        matched |= {
            (v.image.path, v.image.arg.value.span) for v in analysis.artifact_validations(n)
        }
    for n in [*nodes, node]:
        validating = analysis.roles.is_validation(n)
        for site in analysis.images(n):
            here = site.step is not None and n == node
            if here and order(analysis, n, site.step or 0, site.operation) >= before:
                continue
            op = site.operation
            runs = site.step is None and validating
            runs = runs or (op is not None and op.role is Role.VALIDATE)
            if not runs or site.arg.use not in _VALIDATING:
                continue
            if (site.path, site.arg.value.span) in matched:
                continue
            if static_name(site.arg) is None:
                return True
    return False


def _unvalidated(analysis: Analysis, node: JobNode) -> Iterable[_Promoted]:
    for i, promoted in _promoted(analysis, node):
        if promoted.build is None and not _own(analysis, promoted.arg):
            continue  # a digest read back from an image no build here makes
        at = order(analysis, node, i, promoted.operation)
        if not _any_validation(analysis, node, at):
            continue  # nothing validates before it: DG302's finding
        validations = _upstream_validations(analysis, node, at)
        if any(_consumes(analysis, v, promoted) for v in validations):
            continue
        if not _undecided(analysis, node, at):
            yield promoted


def _own(analysis: Analysis, arg: ImageArg) -> bool:
    name = static_name(arg)
    return name is not None and name in analysis.built_names


def _consumes(analysis: Analysis, v: ArtifactValidation, promoted: _Promoted) -> bool:
    """Whether validation `v` ran the image whose digest is promoted."""
    theirs = validated_origin(analysis, v)
    if theirs is not None:
        if same_origin(theirs, promoted.origin):
            return True
        build = build_of_origin(analysis, theirs)
        mine = promoted.build
        if build is not None and mine is not None:
            return (build.node, build.step) == (mine.node, mine.step)
    names = set(validated_names(v))
    wanted: set[str] = set()
    if promoted.build is not None:
        wanted |= promoted.build.names()
    own = static_name(promoted.arg)
    if own is not None:
        wanted.add(own)
    if v.how == "name":
        return not wanted or overlap(frozenset(names), frozenset(wanted))
    if v.how == "local":
        # tested locally, then pushed and promoted from the same job: the same bytes
        same_job = promoted.origin.job == v.node
        return same_job and (not wanted or overlap(frozenset(names), frozenset(wanted)))
    return False
