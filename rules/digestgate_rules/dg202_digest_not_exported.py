"""DG202 digest-not-exported."""

from __future__ import annotations

import re
from collections.abc import Iterable

from digestgate.facts import Role
from digestgate.findings import Finding, Severity
from digestgate.graph import JobNode
from digestgate.provenance import Provenance, Site
from digestgate.rule import Example, Expect, Rule
from digestgate_rules import _pushes
from digestgate_rules._pushes import Push

_JOB_OUTPUT = r"(?<![\w.-])jobs\s*\.\s*{job}\s*\.\s*outputs\s*\.\s*{name}(?![\w-])"


class DigestNotExported(Rule):
    """A job pushes an image, but hands its digest to no one.

    What it checks:
    Every job that pushes an image to a registry (see DG201). Its digest is exported
    when a job output carries it (an output whose value traces back to the digest of
    that push, or to a read-back of it in the job) or when the job uploads a file
    holding it with `actions/upload-artifact` (Docker's multi-platform recipe: one
    digest file per platform in a folder, the folder uploaded). In a reusable workflow
    the job output must also be mapped by an `on.workflow_call.outputs` entry (or used
    by another job of that workflow), since only those reach the caller. An
    attestation alone persists the digest but hands nothing downstream. Pushes to a
    registry on the runner itself (`localhost:5000`) are left alone.

    Why:
    A digest that stays inside the job that made it cannot be bound to by anything
    downstream: the tests, the scans and the promotion of later jobs can only find the
    image again by a tag, which the next push may have moved. Handing the digest on
    as data is what makes "promote what was tested" checkable.

    How to fix:
    Add a job output carrying the digest, `outputs: digest: ${{
    steps.push.outputs.digest }}`, and read it downstream as
    `${{ needs.build.outputs.digest }}`; for a matrix of builds, write each digest to
    a file and upload the folder with `actions/upload-artifact`.
    """

    code = "DG202"
    name = "digest-not-exported"
    severity = Severity.ERROR
    summary = "a job pushes an image but no job output or uploaded artifact carries its digest"

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
            title="the digest is a job output",
        ),
        Example(
            """
            on: push
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
                      outputs: type=image,name=ghcr.io/acme/app,push-by-digest=true,push=true
                  - run: echo "${{ steps.build.outputs.digest }}" > "digest-$RANDOM.txt"
                  - uses: actions/upload-artifact@v4
                    with:
                      name: digest-${{ strategy.job-index }}
                      path: digest-*.txt
            """,
            title="each platform's digest uploaded as an artifact",
        ),
        Example(
            """
            on: push
            jobs:
              build:
                runs-on: ubuntu-latest
                outputs:
                  digest: ${{ steps.digest.outputs.digest }}
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
            title="a digest read back after the push is exported",
        ),
        Example(
            """
            on:
              workflow_call:
                outputs:
                  digest:
                    value: ${{ jobs.build.outputs.digest }}
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
                      tags: ghcr.io/acme/app:${{ github.sha }}
            """,
            path=".github/workflows/build.yml",
            files={
                ".github/workflows/ci.yml": """
                on: push
                jobs:
                  build:
                    uses: ./.github/workflows/build.yml
                """
            },
            title="a reusable workflow maps the job output to its caller",
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
            expect=(Expect(3, 3),),
            title="`docker build` and `docker push`, nothing exported",
        ),
        Example(
            """
            on: push
            jobs:
              build:
                runs-on: ubuntu-latest
                outputs:
                  tags: ${{ steps.meta.outputs.tags }}
                steps:
                  - id: meta
                    uses: docker/metadata-action@v5
                    with:
                      images: ghcr.io/acme/app
                  - id: push
                    uses: docker/build-push-action@v6
                    with:
                      push: true
                      tags: ${{ steps.meta.outputs.tags }}
            """,
            expect=(Expect(3, 3),),
            title="`build` exports its tags, not its digest",
        ),
        Example(
            """
            on: push
            permissions:
              id-token: write
              attestations: write
            jobs:
              build:
                runs-on: ubuntu-latest
                steps:
                  - id: push
                    uses: docker/build-push-action@v6
                    with:
                      push: true
                      tags: ghcr.io/acme/app:${{ github.sha }}
                  - uses: actions/attest-build-provenance@v2
                    with:
                      subject-name: ghcr.io/acme/app
                      subject-digest: ${{ steps.push.outputs.digest }}
                      push-to-registry: true
            """,
            expect=(Expect(6, 3),),
            title="an attestation persists the digest but hands nothing downstream",
        ),
        Example(
            """
            on:
              workflow_call:
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
                      tags: ghcr.io/acme/app:${{ github.sha }}
            """,
            path=".github/workflows/build.yml",
            files={
                ".github/workflows/ci.yml": """
                on: push
                jobs:
                  build:
                    uses: ./.github/workflows/build.yml
                """
            },
            expect=(Expect(4, 3, ".github/workflows/build.yml"),),
            title="a reusable workflow that does not map the job output",
        ),
    )

    def check_repository(self) -> Iterable[Finding]:
        analysis = self.context.analysis
        broken = self.context.broken
        seen: set[tuple[str, str, str]] = set()
        for node in analysis.graph.nodes:
            if node.path in broken:
                continue
            found = [p for p in _pushes.pushes(analysis, node) if p.path not in broken]
            if not found:
                continue
            missing = self._not_exported(node, found)
            key = (node.path, node.job, ",".join(str(p.span) for p in missing))
            if not missing or key in seen:
                continue
            seen.add(key)
            yield self._finding(node, missing)

    # --- exports ----------------------------------------------------------------------

    def _not_exported(self, node: JobNode, found: list[Push]) -> list[Push]:
        analysis = self.context.analysis
        indexes = [p.index for p in found]
        outputs = [prov for _, prov, reaches in self._digest_outputs(node) if reaches]
        uploads = _pushes.uploads(analysis, node)
        missing = []
        for push in found:
            others = [i for i in indexes if i != push.index]
            if any(_pushes.digest_of_push(analysis, push, prov, others) for prov in outputs):
                continue
            if any(_pushes.upload_holds(analysis, u, push) for u in uploads):
                continue
            missing.append(push)
        return missing

    def _digest_outputs(self, node: JobNode) -> list[tuple[str, Provenance, bool]]:
        """Each job output that carries a digest: its name, provenance, and whether it
        reaches someone (in a reusable workflow: mapped to the caller or used by a job)."""
        analysis = self.context.analysis
        job = analysis.job(node)
        out = []
        for name, output in job.outputs.items():
            if output.value is None:
                continue
            prov = analysis.provenance.of_text(output.value, node.path, Site(node, None))
            if prov.is_digest:
                out.append((name, prov, self._reaches_out(node, name)))
        return out

    def _reaches_out(self, node: JobNode, name: str) -> bool:
        if not node.via:
            return True
        workflow = self.context.repository.workflows[node.path]
        pattern = re.compile(
            _JOB_OUTPUT.format(job=re.escape(node.job), name=re.escape(name)), re.IGNORECASE
        )
        trigger = workflow.trigger("workflow_call")
        if trigger is not None:
            for mapped in trigger.outputs.values():
                if mapped.value is not None and pattern.search(mapped.value.value):
                    return True
        used = re.compile(
            rf"(?<![\w.-])needs\s*\.\s*{re.escape(node.job)}\s*\.\s*outputs\s*\.\s*"
            rf"{re.escape(name)}(?![\w-])",
            re.IGNORECASE,
        )
        source = self.context.repository.sources.get(node.path)
        return source is not None and bool(used.search(source.text))

    # --- the message ------------------------------------------------------------------

    def _finding(self, node: JobNode, missing: list[Push]) -> Finding:
        analysis = self.context.analysis
        job = analysis.job(node)
        first = missing[0]
        shown = [f"{p.image} (step `{p.expanded.step.label}`)" for p in missing[:3]]
        images = ", ".join(shown) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        its = "its digest" if len(missing) == 1 else "their digests"
        unmapped = [name for name, _, reaches in self._digest_outputs(node) if not reaches]
        if unmapped:
            message = (
                f"Job `{node.job}` pushes {images} and its output "
                f"`{unmapped[0]}` carries the digest, but `on.workflow_call.outputs` of "
                f"{node.path} does not map it, so the caller never gets it: add "
                f"`{unmapped[0]}: {{value: ${{{{ jobs.{node.job}.outputs.{unmapped[0]} }}}}}}`"
            )
        else:
            message = (
                f"Job `{node.job}` pushes {images}, but no job output carries "
                f"{its} and no uploaded artifact holds it, so no later job can use that "
                f"exact image: {self._how(first)}"
            )
            if node.via:
                message += " and map it in `on.workflow_call.outputs`"
        if self._attested(node):
            message += " (an attestation persists the digest but hands nothing downstream)"
        related = tuple(p.location(f"pushes {p.image}") for p in missing)
        return self.finding(
            node.path,
            job.key_span,
            message,
            related=related + analysis.related(node, None),
            job=node.job,
            step=first.expanded.step.label,
        )

    def _how(self, push: Push) -> str:
        analysis = self.context.analysis
        outputs = _pushes.digest_outputs(analysis, push) if push.is_action else []
        if push.expanded.callers:
            return (
                f"have {push.expanded.path} give the digest as an output and export it as a "
                "job output (`digest: ${{ steps.<id>.outputs.digest }}`, `<id>` being the "
                "`id:` of the step that uses the action)"
            )
        if outputs:
            sid = push.step_id or "push"
            expr = (
                f"steps.{sid}.outputs.digest"
                if "digest" in outputs
                else f"fromJSON(steps.{sid}.outputs.{outputs[0]})['containerimage.digest']"
            )
            give = f"give the step `id: {sid}` and " if push.step_id is None else ""
            return f"{give}export `digest: ${{{{ {expr} }}}}` as a job output"
        return (
            "write the digest to `$GITHUB_OUTPUT` in a step with an `id:` and export it "
            "as a job output (`digest: ${{ steps.<id>.outputs.digest }}`), or upload a "
            "file holding it with `actions/upload-artifact`"
        )

    def _attested(self, node: JobNode) -> bool:
        return any(
            op.role is Role.RECORD and op.images and not op.tool.startswith("digestgate")
            for _, _, op in self.context.analysis.operations(node)
        )
