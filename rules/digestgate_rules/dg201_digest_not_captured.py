"""DG201 digest-not-captured."""

from __future__ import annotations

from collections.abc import Iterable

from digestgate.findings import Finding, Severity
from digestgate.rule import Example, Expect, Rule
from digestgate.span import Span
from digestgate_rules import _pushes
from digestgate_rules._pushes import Push


class DigestNotCaptured(Rule):
    """A step pushes an image to a registry, but its digest is never captured.

    What it checks:
    Every step that pushes an image to a registry: a build with push enabled
    (`docker/build-push-action` with `push: true`, `docker buildx build --push`,
    kaniko, `ko build`), a push (`docker push`, `podman push`,
    `redhat-actions/push-to-registry`, `crane push`), or the assembly of a
    multi-platform index from per-platform digests. Its digest counts as captured when
    the step has an `id:` and one of its digest outputs (`digest`, or `metadata` of
    `docker/build-push-action` and `docker/bake-action`) is read in the job; when the
    push writes a digest file (`--metadata-file`, `--digestfile`, kaniko
    `--digest-file`; not `--iidfile`, a local image ID); or when a later command of
    the job reads the digest back (`crane digest`, `docker buildx imagetools
    inspect`, `docker inspect` of `RepoDigests`, the reference `ko build` prints) and
    keeps it. A push whose `push:` is an expression counts as a push. Pushes to a
    registry on the runner itself (`localhost:5000`) are left alone.

    Why:
    The registry digest is the only name of the exact bytes that were pushed. A tag
    can be moved by the next push, so a digest that is not captured the moment it is
    made cannot be handed to the tests, the scans and the promotion that follow: they
    can only find the image again by a tag, and promote whatever it points to then.

    How to fix:
    Give the step an `id:` and use its digest output: `id: push`, then
    `digest: ${{ steps.push.outputs.digest }}` as a job output. For commands, push with
    `--metadata-file` (or `--digestfile`, kaniko `--digest-file`), or read the digest
    back (`docker buildx imagetools inspect NAME --format '{{json .Manifest}}' | jq -r
    .digest`, `crane digest NAME`) and write it to `$GITHUB_OUTPUT`.
    """

    code = "DG201"
    name = "digest-not-captured"
    severity = Severity.ERROR
    summary = "a step pushes an image to a registry but its digest is never captured"

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
                  - uses: actions/checkout@v4
                  - id: push
                    uses: docker/build-push-action@v6
                    with:
                      push: true
                      tags: ghcr.io/acme/app:${{ github.sha }}
            """,
            title="build-push-action with `id:` and its `digest` output exported",
        ),
        Example(
            """
            on: push
            jobs:
              build:
                runs-on: ubuntu-latest
                steps:
                  - uses: actions/checkout@v4
                  - name: Build and push
                    run: |
                      docker buildx build --push --metadata-file meta.json \\
                        -t ghcr.io/acme/api:${{ github.sha }} .
                  - uses: actions/upload-artifact@v4
                    with:
                      name: metadata
                      path: meta.json
            """,
            title="`--metadata-file` keeps the digest",
        ),
        Example(
            """
            on: push
            jobs:
              build:
                runs-on: ubuntu-latest
                steps:
                  - uses: actions/checkout@v4
                  - run: |
                      docker build -t ghcr.io/acme/worker:${{ github.sha }} .
                      docker push ghcr.io/acme/worker:${{ github.sha }}
                  - id: digest
                    run: |
                      digest=$(crane digest ghcr.io/acme/worker:${{ github.sha }})
                      echo "digest=$digest" >> "$GITHUB_OUTPUT"
            """,
            title="the digest is read back after `docker push`",
        ),
        Example(
            """
            on: push
            jobs:
              build:
                runs-on: ubuntu-latest
                steps:
                  - uses: actions/checkout@v4
                  - run: |
                      docker build -t localhost:5000/app:ci .
                      docker push localhost:5000/app:ci
            """,
            title="a registry on the runner itself",
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
                  - uses: actions/checkout@v4
                  - run: |
                      docker build -t app:latest .
                      docker push app:latest
            """,
            expect=(Expect(9, 11),),
            title="`docker build` and `docker push` with nothing capturing the digest",
        ),
        Example(
            """
            on: push
            jobs:
              build:
                runs-on: ubuntu-latest
                steps:
                  - uses: actions/checkout@v4
                  - uses: docker/build-push-action@v6
                    with:
                      push: true
                      tags: ghcr.io/acme/app:${{ github.sha }}
            """,
            expect=(Expect(7, 15),),
            title="build-push-action with no `id:`",
        ),
        Example(
            """
            on: push
            jobs:
              build:
                runs-on: ubuntu-latest
                outputs:
                  image: ${{ steps.push.outputs.imageid }}
                steps:
                  - id: push
                    uses: docker/build-push-action@v6
                    with:
                      push: ${{ github.event_name != 'pull_request' }}
                      tags: ghcr.io/acme/app:edge
            """,
            expect=(Expect(9, 15),),
            title="an `id:`, but only `imageid` (a local image ID) is used",
        ),
        Example(
            """
            on: push
            jobs:
              build:
                runs-on: ubuntu-latest
                steps:
                  - uses: actions/checkout@v4
                  - run: docker buildx build --push --iidfile iid.txt -t ghcr.io/acme/api:edge .
            """,
            expect=(Expect(7, 14),),
            title="`--iidfile` holds a local image ID, not the registry digest",
        ),
    )

    def check_repository(self) -> Iterable[Finding]:
        analysis = self.context.analysis
        seen: set[tuple[str, Span]] = set()
        for push in _pushes.all_pushes(analysis, self.context.broken):
            key = (push.path, push.span)
            if key in seen or self._captured(push):
                continue
            seen.add(key)
            yield self.finding(
                push.path,
                push.span,
                f"{push.sentence}, but its digest is never captured: {self._how(push)}",
                related=_pushes.related(analysis, push),
                job=push.node.job,
                step=push.expanded.step.label,
            )

    def _captured(self, push: Push) -> bool:
        analysis = self.context.analysis
        if _pushes.output_used(analysis, push) is not None:
            return True
        if any(_pushes.digest_file(analysis, op) is not None for op in push.ops):
            return True
        return _pushes.reads_back(analysis, push.node, push.index) is not None

    def _how(self, push: Push) -> str:
        analysis = self.context.analysis
        if push.is_action:
            outputs = _pushes.digest_outputs(analysis, push)
            if outputs:
                sid = push.step_id or "push"
                expr = _expression(push, sid, outputs)
                export = f"export `digest: ${{{{ {expr} }}}}` as a job output"
                if push.expanded.callers:
                    export = (
                        f"add `digest: {{value: ${{{{ {expr} }}}}}}` to the `outputs:` of "
                        f"{push.expanded.path}"
                    )
                if push.step_id is None:
                    return f"give the step `id: {sid}` and {export}"
                return f"its digest output is never read; {export}"
            return (
                "the action gives no digest output; read the digest back after the push "
                f"({_read_back(push)}) and write it to `$GITHUB_OUTPUT`"
            )
        tool = push.op.tool
        if tool.startswith(("ko ", "crane ")):
            return (
                f"`{tool}` prints the reference with its digest; keep it, e.g. "
                f'`echo "image=$({tool} ...)" >> "$GITHUB_OUTPUT"`'
            )
        if "kaniko" in tool:
            return "add `--digest-file` and export the digest it holds"
        if tool.startswith(("podman push", "buildah push", "buildah manifest", "podman manifest")):
            return "add `--digestfile` and export the digest it holds"
        if " build" in tool or " bake" in tool:
            return (
                "add `--metadata-file meta.json` and export its `containerimage.digest` "
                f"(or read the digest back: {_read_back(push)})"
            )
        return (
            f"read the digest back after the push ({_read_back(push)}) "
            "and write it to `$GITHUB_OUTPUT`"
        )


def _expression(push: Push, sid: str, outputs: list[str]) -> str:
    if "digest" in outputs:
        return f"steps.{sid}.outputs.digest"
    name = outputs[0]
    if _pushes.tool_key(push) == "docker/bake-action":
        return f"fromJSON(steps.{sid}.outputs.{name})['<target>']['containerimage.digest']"
    return f"fromJSON(steps.{sid}.outputs.{name})['containerimage.digest']"


def _read_back(push: Push) -> str:
    names = push.names
    name = names[0].value.text if names and names[0].value.is_static else "NAME"
    inspect = f"docker buildx imagetools inspect {name} --format '{{{{json .Manifest}}}}'"
    return f"`crane digest {name}` or `{inspect} | jq -r .digest`"
