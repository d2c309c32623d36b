"""DG203 provenance-not-recorded."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from digestgate.facts import ImageUse, Operation, Role
from digestgate.findings import Finding, Location, Severity
from digestgate.graph import JobNode
from digestgate.rule import Example, Expect, Rule
from digestgate.span import Span
from digestgate_rules import _pushes
from digestgate_rules._pushes import Push


@dataclass(frozen=True)
class _Record:
    node: JobNode
    index: int | None  # None: a call of a well-known reusable workflow
    op: Operation


class ProvenanceNotRecorded(Rule):
    """An image pushed and validated in the pipeline, with its digest provenance
    persisted nowhere.

    What it checks:
    Every image a step of the pipeline pushes to a registry (see DG201) that is then
    *artifact-validated*: a validation job downstream of the push (through `needs`,
    reusable workflows or `workflow_run`), or a validation later in the pushing job,
    runs, serves, pulls or scans that image (its digest comes from that push, or its
    name is the pushed name). The pipeline (the workflow, the workflows it calls and
    its `workflow_run` partners) must persist the digest's provenance somewhere: an
    uploaded artifact holding the digest, an attestation with `subject-digest`
    (`actions/attest-build-provenance`), BuildKit provenance explicitly requested on
    the push (`provenance: true` or a mode, `--attest type=provenance`), or
    `digestgate record`. Job outputs and signatures alone do not count. Reported on
    the validation job, with the push as a related location.

    Why:
    A promotion gate can only block an unvalidated digest if there is a durable
    record of which build made the digest and which validation passed on it. Job
    outputs vanish with the run, and a signature says who signed, not what was built
    or tested. Without a record, the promotion has to trust whatever digest it is
    handed.

    How to fix:
    Run `digestgate record --image NAME@DIGEST --output record.json` at the end of the
    validation and upload `record.json` with `actions/upload-artifact`, or attest the
    build with `actions/attest-build-provenance` (`subject-name` and
    `subject-digest: ${{ steps.push.outputs.digest }}`), or request BuildKit
    provenance on the push (`provenance: mode=max`).
    """

    code = "DG203"
    name = "provenance-not-recorded"
    severity = Severity.WARNING
    summary = "a pushed image is validated but nothing persists its digest provenance"

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
                      tags: ghcr.io/acme/app:${{ github.sha }}
              e2e:
                needs: build
                runs-on: ubuntu-latest
                steps:
                  - run: docker run -d ghcr.io/acme/app@${{ needs.build.outputs.digest }}
                  - run: npm run test:e2e
                  - run: |
                      digestgate record --output record.json \\
                        --image ghcr.io/acme/app@${{ needs.build.outputs.digest }}
                  - uses: actions/upload-artifact@v4
                    with:
                      name: provenance
                      path: record.json
            """,
            title="the validation records the digest it tested",
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
                      provenance: mode=max
                      tags: ghcr.io/acme/app:${{ github.sha }}
              scan:
                needs: build
                runs-on: ubuntu-latest
                steps:
                  - uses: aquasecurity/trivy-action@0.28.0
                    with:
                      image-ref: ghcr.io/acme/app@${{ needs.build.outputs.digest }}
                      exit-code: 1
            """,
            title="BuildKit provenance requested on the push",
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
                      tags: ghcr.io/acme/app:${{ github.sha }}
              test:
                needs: build
                runs-on: ubuntu-latest
                steps:
                  - uses: actions/checkout@v4
                  - run: npm test
            """,
            title="a source check consumes no pushed image",
        ),
        Example(
            """
            on: push
            jobs:
              build:
                runs-on: ubuntu-latest
                steps:
                  - uses: actions/checkout@v4
                  - run: docker build -t app:test .
                  - run: docker run --rm app:test pytest
            """,
            title="an image never pushed has no registry digest",
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
                      tags: ghcr.io/acme/app:${{ github.sha }}
              e2e:
                needs: build
                runs-on: ubuntu-latest
                steps:
                  - run: docker run -d ghcr.io/acme/app@${{ needs.build.outputs.digest }}
                  - run: npm run test:e2e
            """,
            expect=(Expect(13, 3),),
            title="validated by digest, but only a job output carries the digest",
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
                      tags: ghcr.io/acme/api:${{ github.sha }}
              integration:
                needs: build
                runs-on: ubuntu-latest
                services:
                  api:
                    image: ghcr.io/acme/api@${{ needs.build.outputs.digest }}
                steps:
                  - run: pytest tests/integration
                  - run: cosign sign --yes ghcr.io/acme/api@${{ needs.build.outputs.digest }}
            """,
            expect=(Expect(13, 3),),
            title="a signature is not a provenance record",
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
                      docker build -t ghcr.io/acme/web:${{ github.sha }} .
                      docker push ghcr.io/acme/web:${{ github.sha }}
                  - run: trivy image --exit-code 1 ghcr.io/acme/web:${{ github.sha }}
            """,
            expect=(Expect(3, 3),),
            title="pushed, then scanned later in the same job",
        ),
    )

    def check_repository(self) -> Iterable[Finding]:
        analysis = self.context.analysis
        self._records: dict[JobNode, list[_Record]] = {}
        self._pipelines: dict[frozenset[JobNode], tuple[list[_Record], list[_pushes.Upload]]] = {}
        seen: set[tuple[str, str, str, Span]] = set()
        for push in _pushes.all_pushes(analysis, self.context.broken):
            validations = self._validations(push)
            if not validations or self._persisted(push):
                continue
            for node, (where, what) in validations.items():
                key = (node.path, node.job, push.path, push.span)
                if key in seen or node.path in self.context.broken:
                    continue
                seen.add(key)
                yield self._finding(push, node, where, what)

    # --- validations of the pushed image ------------------------------------------------

    def _validations(self, push: Push) -> dict[JobNode, tuple[Location, str]]:
        """Validation jobs that consume the pushed image: job -> (where, what)."""
        analysis = self.context.analysis
        graph = analysis.graph
        out: dict[JobNode, tuple[Location, str]] = {}
        candidates = [push.node, *sorted(graph.downstream(push.node), key=str)]
        keys = _pushes.push_keys(analysis, push)
        for node in candidates:
            if (node.path, node.job) in graph.calls:
                continue
            same = node == push.node
            if same:
                validate = any(
                    op.role is Role.VALIDATE and i > push.index
                    for i, _, op in analysis.operations(node)
                )
            else:
                validate = analysis.roles.is_validation(node)
            if not validate:
                continue
            local = set() if same else self._local_builds(node)
            for site in analysis.images(node):
                arg = site.arg
                if arg.use not in _pushes.CONSUMING:
                    continue
                if same and (site.step is None or site.step <= push.index):
                    continue
                if not _pushes.is_this_image(
                    analysis, push, arg.value, node, site.step, skip_names=local & keys
                ):
                    continue
                where = Location(arg.value.path, arg.value.span, "the validation")
                out[node] = (where, arg.value.text)
                break
        return out

    def _local_builds(self, node: JobNode) -> set[str]:
        """Names of images a job builds itself: its references to them are to its
        own build, not to the pushed image."""
        analysis = self.context.analysis
        keys: set[str] = set()
        for i, _, op in analysis.operations(node):
            if op.role is not Role.BUILD:
                continue
            for arg in op.names():
                key = _pushes.name_key(analysis, arg.value, node, i)
                if key is not None:
                    keys.add(key)
        return keys

    # --- persisted provenance -----------------------------------------------------------

    def _persisted(self, push: Push) -> bool:
        if any(op.provenance for op in push.ops):
            return True
        analysis = self.context.analysis
        records, uploads = self._persisting(_pushes.pipeline(analysis, push.node))
        return any(self._records_push(r, push) for r in records) or any(
            _pushes.upload_holds(analysis, u, push) for u in uploads
        )

    def _persisting(
        self, pipeline: frozenset[JobNode]
    ) -> tuple[list[_Record], list[_pushes.Upload]]:
        """The records and digest uploads anywhere in a pipeline: found once for all
        its pushes (a pipeline can hold thousands of jobs and hundreds of pushes)."""
        hit = self._pipelines.get(pipeline)
        if hit is None:
            analysis = self.context.analysis
            records: list[_Record] = []
            uploads: list[_pushes.Upload] = []
            for node in pipeline:
                records += self._records_of(node)
                uploads += _pushes.uploads(analysis, node)
            hit = self._pipelines[pipeline] = (records, uploads)
        return hit

    def _records_of(self, node: JobNode) -> list[_Record]:
        hit = self._records.get(node)
        if hit is None:
            analysis = self.context.analysis
            hit = [
                _Record(node, i, op)
                for i, _, op in analysis.operations(node)
                if op.role is Role.RECORD and not op.provenance
            ]
            hit += [
                _Record(node, None, op)
                for op in analysis.roles.call_operations(node)
                if op.role is Role.RECORD
            ]
            self._records[node] = hit
        return hit

    def _records_push(self, record: _Record, push: Push) -> bool:
        op = record.op
        subjects = [a for a in op.images if a.use is ImageUse.SUBJECT or a.use.is_reference]
        if op.tool in ("digestgate record", "digestgate/digestgate") and not subjects:
            return True  # records the validated images from a metadata file
        return any(
            _pushes.is_this_image(self.context.analysis, push, a.value, record.node, record.index)
            for a in subjects
        )

    # --- the finding --------------------------------------------------------------------

    def _finding(self, push: Push, node: JobNode, where: Location, what: str) -> Finding:
        analysis = self.context.analysis
        job = analysis.job(node)
        same = node == push.node
        validated = "later in this job" if same else f"in job `{node.job}`"
        message = (
            f"{push.sentence}, which is validated {validated} (`{what}`), but nothing in the "
            "pipeline persists its digest provenance (job outputs and signatures do not): "
            "run `digestgate record --image NAME@DIGEST --output record.json` after the "
            "validation and upload the record with `actions/upload-artifact`, attest the "
            "build with `actions/attest-build-provenance` (`subject-digest`), or request "
            "BuildKit provenance on the push (`provenance: mode=max`)"
        )
        related = (
            push.location(f"pushes {push.image}"),
            *_pushes.related(analysis, push),
            where,
        )
        return self.finding(
            node.path,
            job.key_span,
            message,
            related=related,
            job=node.job,
            step=push.expanded.step.label,
        )
