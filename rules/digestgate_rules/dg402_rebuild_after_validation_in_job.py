"""DG402 rebuild-after-validation-in-job."""

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
    order,
    reached_from,
    rebuild_candidates,
    same_image,
    step_label,
    validation_location,
)


class RebuildAfterValidationInJob(Rule):
    """A job tests an image, then builds it again and pushes the new build.

    What it checks:
    Within one job, a BUILD step that comes after an artifact-validation step of the
    same image, when what it builds leaves the job (it pushes, or a later step pushes
    or saves it): Docker's "test before push" recipe, which builds with `load: true`,
    runs the tests in that image, then builds again with `push: true` (often for more
    platforms). The same image is judged as in DG401: the same name or last path
    component, else the same context and Dockerfile, else a name that cannot be
    resolved (said so in the message). A `docker push` of the very image the job
    built and tested pushes the validated bytes and is not a finding; neither is a
    build of a different image (a child image, a test-runner image) or a rebuild that
    only more tests use.

    Why:
    The second build is a new image. For another platform it is entirely untested
    (the tests ran on the runner's architecture only), and even for the same platform
    a cache miss or a moving base image gives different bytes. The digest that reaches
    the registry has never been validated.

    How to fix:
    Push first, by digest, and test what was pushed: build once with `push: true`
    (all platforms), capture `steps.<id>.outputs.digest`, run the tests against
    `image@digest` (a later job, or later in this one), and promote that digest once
    the tests pass. To keep the image local until it is tested, `docker push` the
    tested image itself instead of building again.
    """

    code = "DG402"
    name = "rebuild-after-validation-in-job"
    severity = Severity.ERROR
    summary = "within one job, the image is built again after it was validated"

    good = (
        Example(
            """
            on: push
            jobs:
              image:
                runs-on: ubuntu-latest
                steps:
                  - uses: docker/build-push-action@v6
                    id: push
                    with:
                      push: true
                      platforms: linux/amd64,linux/arm64
                      tags: ghcr.io/acme/app:${{ github.sha }}
                  - run: docker run --rm ghcr.io/acme/app@${{ steps.push.outputs.digest }} pytest
            """,
            title="build once, push, test the pushed digest",
        ),
        Example(
            """
            on: push
            jobs:
              image:
                runs-on: ubuntu-latest
                steps:
                  - run: |
                      docker build -t ghcr.io/acme/api:${{ github.sha }} .
                      docker run --rm ghcr.io/acme/api:${{ github.sha }} pytest
                      docker push ghcr.io/acme/api:${{ github.sha }}
            """,
            title="pushing the tested image itself is not a rebuild",
        ),
        Example(
            """
            on: push
            jobs:
              test:
                runs-on: ubuntu-latest
                steps:
                  - run: npm ci && npm test
                  - uses: docker/build-push-action@v6
                    id: push
                    with:
                      push: true
                      tags: ghcr.io/acme/web:${{ github.sha }}
            """,
            title="a build after source checks is normal",
        ),
        Example(
            """
            on: push
            jobs:
              integration:
                runs-on: ubuntu-latest
                steps:
                  - run: docker build -t api:test .
                  - run: docker run --rm api:test make integration
                  - run: docker build -t ghcr.io/acme/api-docs:latest -f docs/Dockerfile docs
            """,
            title="a different image built after the tests",
        ),
    )
    bad = (
        Example(
            """
            on: push
            jobs:
              docker:
                runs-on: ubuntu-latest
                steps:
                  - uses: docker/build-push-action@v6
                    with:
                      load: true
                      tags: acme/app:test
                  - run: docker run --rm acme/app:test pytest
                  - uses: docker/build-push-action@v6
                    with:
                      push: true
                      platforms: linux/amd64,linux/arm64
                      tags: acme/app:latest
            """,
            expect=(Expect(11, 15),),
            title="Docker's test-before-push recipe: load, test, build again with push",
        ),
        Example(
            """
            on: push
            jobs:
              ci:
                runs-on: ubuntu-latest
                steps:
                  - run: |
                      docker build -t app:ci .
                      docker run --rm app:ci ./run-tests.sh
                      docker buildx build --platform linux/amd64,linux/arm64 \\
                        -t ghcr.io/acme/app:${{ github.sha }} --push .
            """,
            expect=(Expect(9, 11),),
            title="a script tests the local build, then builds again with `--push`",
        ),
        Example(
            """
            on: push
            jobs:
              scan-and-ship:
                runs-on: ubuntu-latest
                steps:
                  - run: docker build -f deploy/Dockerfile -t scan-target .
                  - run: trivy image --exit-code 1 scan-target
                  - uses: docker/build-push-action@v6
                    with:
                      context: .
                      file: deploy/Dockerfile
                      push: true
                      tags: ${{ vars.REGISTRY }}/${{ github.repository }}:${{ github.sha }}
            """,
            expect=(Expect(8, 15),),
            title="same context and Dockerfile, different names",
        ),
    )

    def check_repository(self) -> Iterable[Finding]:
        analysis = self.context.analysis
        broken = self.context.broken
        reported: set[tuple[str, object]] = set()
        for node in analysis.graph.nodes:
            if node.path in broken:
                continue
            for rebuild in _rebuilds(analysis, node):
                op = rebuild.build.operation
                key = (op.path, op.span)
                if key in reported or op.path in broken:
                    continue
                reported.add(key)
                yield self._finding(rebuild)

    def _finding(self, rebuild: Rebuild) -> Finding:
        analysis = self.context.analysis
        build, v = rebuild.build, rebuild.validation
        validated = v.image.arg.value.text
        if rebuild.same is Same.UNRESOLVED:
            image = (
                f"{build_label(build)}, whose name digestgate cannot resolve (possibly "
                f"`{validated}` again)"
            )
        elif rebuild.same is Same.CONTEXT:
            image = f"{build_label(build)} from the same context and Dockerfile as `{validated}`"
        else:
            image = f"{build_label(build)} again"
        if v.step == build.step:
            after = f"after the same step validated `{validated}`"
        else:
            label = v.image.expanded.step.label if v.image.expanded is not None else "?"
            after = f"after step `{label}` validated `{validated}`"
        message = (
            f"step `{step_label(build)}` of {job_label(build.node)} builds {image} {after}: "
            "the image that reaches the registry is not the one tested. Build once, push by "
            "digest and test that digest, or push the tested image itself"
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


def _rebuilds(analysis: Analysis, node: JobNode) -> Iterator[Rebuild]:
    candidates = rebuild_candidates(analysis, node)
    if not candidates:
        return
    validations = [v for v in analysis.artifact_validations(node) if v.step is not None]
    if not validations:
        return
    for build in candidates:
        at = order(analysis, node, build.step, build.operation)
        earlier = [
            v
            for v in validations
            if v.step is not None and order(analysis, node, v.step, v.operation) < at
        ]
        found = _first_match(analysis, build, earlier)
        if found is not None:
            yield found


def _first_match(
    analysis: Analysis, build: Build, validations: list[ArtifactValidation]
) -> Rebuild | None:
    weak: Rebuild | None = None
    for v in validations:
        if v.build == build:
            continue
        same = same_image(analysis, build, v)
        if same is None:
            continue
        if same is not Same.UNRESOLVED:
            return Rebuild(build, v, same)
        weak = weak or Rebuild(build, v, same)
    return weak
