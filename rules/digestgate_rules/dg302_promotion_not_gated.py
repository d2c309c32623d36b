"""DG302 promotion-not-gated."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from digestgate.analysis import static_name
from digestgate.expressions import Expr, ExprError, parse_expression, status_functions
from digestgate.facts import Operation, PieceKind, Role, Value
from digestgate.findings import Finding, Location, Severity
from digestgate.gates import (
    SKIPPED,
    SUCCESS,
    Scenario,
    StepGate,
    culprit,
    honours_job_continue_on_error,
    mentions,
    top_workflow,
)
from digestgate.graph import JobNode
from digestgate.model import Job, Platform, Step, Text
from digestgate.nodes import YMap, YNode, YScalar, YSeq
from digestgate.roles import inline_roles
from digestgate.rule import Example, Expect, Rule
from digestgate.span import Span

_PROMOTING = frozenset({Role.PROMOTE, Role.DEPLOY})
_CONCLUSION = ("github", "event", "workflow_run", "conclusion")


@dataclass
class _Issue:
    path: str
    span: Span
    messages: list[str] = field(default_factory=list)
    related: list[Location] = field(default_factory=list)


@dataclass(frozen=True)
class _Bypass:
    """A scenario in which the promotion still runs."""

    scenario: Scenario
    failed: JobNode | None  # the validation job, None: the triggering run failed
    upstream: str | None  # the triggering workflow, when the scenario crosses workflow_run


class PromotionNotGated(Rule):
    """A promotion or deploy job can run although validation did not succeed.

    What it checks:
    Every promotion job (one with a PROMOTE or DEPLOY step, or calling a workflow
    that has one) must be held back by a validation that can fail. Promotions of
    images this repository builds count (or that match `own-images`, or whose name
    cannot be read); a copy of a third-party image (a mirror), a deploy that names no
    image and index assembly (part of the build) are not promotions here:

    - some validation job runs before it (through `needs`, reusable workflows or a
      `workflow_run` chain), or a VERIFY step (`digestgate verify`, `cosign verify`)
      or a validation step comes before its promote step in the job;
    - its `if:` is false whenever an upstream validation job failed. digestgate
      evaluates the conditions rather than matching patterns: for each validation
      job V it takes the scenario "V failed", works out which results every job
      between V and the promotion can have (a job without a status function in its
      `if:` is skipped once an ancestor failed or was skipped: GitHub's implicit
      `success()` covers all ancestors), and evaluates the promotion's `if:` with
      `success()` false, `failure()` and `always()` true and `needs.<job>.result` set
      to what each needed job can be. `if: always()`, `if: failure() || success()` or
      `if: ${{ !cancelled() }}` let the job run after a failure;
      `if: always() && needs.e2e.result == 'success'` does not, but testing an
      intermediate job that itself runs with `always()` does not help. A step gate
      also holds the promotion back: a step before the promote step that fails the
      job in that scenario (`re-actors/alls-green` given `${{ toJSON(needs) }}`, or a
      script that tests `needs.<job>.result` and exits non-zero), when the promote
      step has no status function of its own;
    - no upstream validation job has `continue-on-error: true` (on GitHub), and the
      validations of an upstream validation job can fail: not all of them in
      `continue-on-error` steps, or swallowed (`pytest || true`, `set +e` with no
      exit check, `aquasecurity/trivy-action` with the default `exit-code: 0`);
    - a workflow triggered by `workflow_run` requires
      `github.event.workflow_run.conclusion == 'success'` in the promotion job's
      `if:` or that of a job it needs: `workflow_run` fires whatever the
      triggering run concluded.

    The finding lands on the part of the promotion's `if:` that lets it through
    (the status function, or the test that is too weak), or on the `if:` of the job
    that calls the promoting workflow; otherwise on the promotion job's key, with
    the validation job as a related location.

    Why:
    Promotion is where a digest becomes a release. A gate that a failed test does
    not close (an `always()` added to make a notification job run, a flaky E2E job
    marked `continue-on-error`, `pytest || true`) promotes exactly the images the
    tests rejected, and nothing in the run's summary says so: the run is green.
    Environments with required reviewers are a human approval, not a validation,
    and do not satisfy this rule.

    How to fix:
    Make the promotion job need the job that validates the image and drop the
    status function from its `if:`, or keep it and require the result:
    `if: always() && needs.e2e.result == 'success'` (test the validation job
    itself, not a job that runs anyway). Remove `continue-on-error` and `|| true`
    from validations (let a flaky test fail, or retry it). In a `workflow_run`
    workflow, add `if: github.event.workflow_run.conclusion == 'success'`. For a
    job with no validation upstream, run `digestgate verify` before promoting.

    Platforms:
    GitHub: status check functions and the implicit `success()`
    (https://docs.github.com/en/actions/reference/workflows-and-actions/expressions#status-check-functions),
    `needs` and `continue-on-error`
    (https://docs.github.com/en/actions/reference/workflows-and-actions/workflow-syntax),
    `workflow_run` runs regardless of the conclusion
    (https://docs.github.com/en/actions/reference/workflows-and-actions/events-that-trigger-workflows#workflow_run).
    Gitea ignores job-level `continue-on-error` and `environment`
    (https://docs.gitea.com/usage/actions/comparison), so a validation job with
    `continue-on-error: true` still stops the run there and is not reported in
    `.gitea/workflows`. Older Gitea releases also skipped an `if: always()` job
    whose needed job was skipped (https://github.com/go-gitea/gitea/issues/27906,
    fixed by https://github.com/go-gitea/gitea/pull/29464 and backported to 1.21);
    digestgate assumes a current release, where such a job runs, and reports it. Forgejo
    (`.forgejo/workflows`) follows Gitea's behaviour, its documentation saying
    nothing different (https://forgejo.org/docs/latest/user/actions/).
    """

    code = "DG302"
    name = "promotion-not-gated"
    severity = Severity.ERROR
    summary = "a promotion job can run although validation did not succeed"

    good = (
        Example(
            """
            on:
              push:
                branches: [main]
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
                      tags: ghcr.io/o/app:${{ github.sha }}
              e2e:
                needs: build
                runs-on: ubuntu-latest
                steps:
                  - run: docker run --rm ghcr.io/o/app@${{ needs.build.outputs.digest }} pytest
                  - run: digestgate record --image ghcr.io/o/app@${{ needs.build.outputs.digest }}
                  - uses: actions/upload-artifact@v4
                    with:
                      name: record
                      path: digestgate-record.json
              promote:
                needs: [build, e2e]
                runs-on: ubuntu-latest
                steps:
                  - uses: actions/download-artifact@v4
                    with:
                      name: record
                  - run: digestgate verify digestgate-record.json
                  - run: >-
                      docker buildx imagetools create -t ghcr.io/o/app:prod
                      ghcr.io/o/app@${{ needs.build.outputs.digest }}
            """,
            title="promotion needs the E2E job that ran the digest",
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
                      tags: ghcr.io/o/app:${{ github.sha }}
              e2e:
                needs: build
                runs-on: ubuntu-latest
                steps:
                  - run: docker run --rm ghcr.io/o/app@${{ needs.build.outputs.digest }} make e2e
              promote:
                needs: [build, e2e]
                if: always() && needs.e2e.result == 'success'
                runs-on: ubuntu-latest
                steps:
                  - run: >-
                      crane copy ghcr.io/o/app@${{ needs.build.outputs.digest }}
                      ghcr.io/o/app:prod
            """,
            title="`always()` with the validation result required",
        ),
        Example(
            """
            name: Release
            on:
              workflow_run:
                workflows: [CI]
                types: [completed]
            jobs:
              release:
                if: github.event.workflow_run.conclusion == 'success'
                runs-on: ubuntu-latest
                steps:
                  - uses: actions/download-artifact@v4
                    with:
                      name: record
                      run-id: ${{ github.event.workflow_run.id }}
                      github-token: ${{ github.token }}
                  - run: digestgate verify digestgate-record.json
                  - run: >-
                      crane copy "ghcr.io/o/app@$(jq -r .digest digestgate-record.json)"
                      ghcr.io/o/app:prod
            """,
            path=".github/workflows/release.yml",
            files={
                ".github/workflows/ci.yml": """
                name: CI
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
                          tags: ghcr.io/o/app:${{ github.sha }}
                  e2e:
                    needs: build
                    runs-on: ubuntu-latest
                    steps:
                      - run: >-
                          docker run --rm ghcr.io/o/app@${{ needs.build.outputs.digest }} make
                          e2e
                """
            },
            title="a `workflow_run` release that checks the conclusion",
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
                      tags: ghcr.io/o/app:${{ github.sha }}
              e2e:
                needs: build
                runs-on: ubuntu-latest
                steps:
                  - run: docker run --rm ghcr.io/o/app@${{ needs.build.outputs.digest }} make e2e
              promote:
                needs: [build, e2e]
                if: ${{ !cancelled() }}
                runs-on: ubuntu-latest
                steps:
                  - uses: re-actors/alls-green@release/v1
                    with:
                      jobs: ${{ toJSON(needs) }}
                  - run: >-
                      crane copy ghcr.io/o/app@${{ needs.build.outputs.digest }}
                      ghcr.io/o/app:prod
            """,
            title="an alls-green step before the promote step",
        ),
        Example(
            """
            on: push
            jobs:
              build:
                runs-on: docker
                outputs:
                  digest: ${{ steps.push.outputs.digest }}
                steps:
                  - id: push
                    uses: docker/build-push-action@v6
                    with:
                      push: true
                      tags: git.example.com/o/app:${{ github.sha }}
              e2e:
                needs: build
                continue-on-error: true
                runs-on: docker
                steps:
                  - run: >-
                      docker run --rm git.example.com/o/app@${{ needs.build.outputs.digest }} make
                      e2e
              promote:
                needs: [build, e2e]
                runs-on: docker
                steps:
                  - run: crane tag git.example.com/o/app@${{ needs.build.outputs.digest }} stable
            """,
            path=".gitea/workflows/release.yml",
            title="Gitea ignores job-level `continue-on-error`",
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
                      tags: ghcr.io/o/app:${{ github.sha }}
              e2e:
                needs: build
                runs-on: ubuntu-latest
                steps:
                  - run: docker run --rm ghcr.io/o/app@${{ needs.build.outputs.digest }} make e2e
              promote:
                needs: [build, e2e]
                if: always()
                runs-on: ubuntu-latest
                steps:
                  - run: >-
                      crane copy ghcr.io/o/app@${{ needs.build.outputs.digest }}
                      ghcr.io/o/app:prod
            """,
            expect=(Expect(20, 9),),
            title="`if: always()` after the validation job",
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
                      tags: ghcr.io/o/app:${{ github.sha }}
              e2e:
                needs: build
                continue-on-error: true
                runs-on: ubuntu-latest
                steps:
                  - run: docker run --rm ghcr.io/o/app@${{ needs.build.outputs.digest }} make e2e
              promote:
                needs: [build, e2e]
                runs-on: ubuntu-latest
                steps:
                  - run: >-
                      crane copy ghcr.io/o/app@${{ needs.build.outputs.digest }}
                      ghcr.io/o/app:prod
            """,
            expect=(Expect(19, 3),),
            title="the validation job has `continue-on-error: true`",
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
                      tags: ghcr.io/o/app:${{ github.sha }}
              e2e:
                needs: build
                runs-on: ubuntu-latest
                container: ghcr.io/o/app@${{ needs.build.outputs.digest }}
                steps:
                  - run: pytest tests/e2e || true
              notify:
                needs: e2e
                if: always()
                runs-on: ubuntu-latest
                steps:
                  - run: ./notify.sh
              promote:
                needs: [build, notify]
                if: always() && needs.notify.result == 'success'
                runs-on: ubuntu-latest
                steps:
                  - run: >-
                      crane copy ghcr.io/o/app@${{ needs.build.outputs.digest }}
                      ghcr.io/o/app:prod
            """,
            expect=(Expect(25, 3), Expect(27, 21)),
            title="a validation that cannot fail; an intermediate `always()` job",
        ),
        Example(
            """
            name: Release
            on:
              workflow_run:
                workflows: [CI]
                types: [completed]
            jobs:
              release:
                runs-on: ubuntu-latest
                environment: production
                steps:
                  - run: crane tag ghcr.io/o/app@${{ vars.DIGEST }} prod
            """,
            path=".github/workflows/release.yml",
            files={
                ".github/workflows/ci.yml": """
                name: CI
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
                          tags: ghcr.io/o/app:${{ github.sha }}
                  e2e:
                    needs: build
                    runs-on: ubuntu-latest
                    steps:
                      - run: >-
                          docker run --rm ghcr.io/o/app@${{ needs.build.outputs.digest }} make
                          e2e
                """
            },
            expect=(Expect(7, 3, ".github/workflows/release.yml"),),
            title="`workflow_run` without a conclusion check (an environment is no gate)",
        ),
        Example(
            """
            on: workflow_dispatch
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
                      tags: ghcr.io/o/app:${{ github.sha }}
              deploy:
                needs: build
                runs-on: ubuntu-latest
                environment: production
                steps:
                  - run: >-
                      kubectl set image deploy/app app=ghcr.io/o/app@${{ needs.build.outputs.digest
                      }}
            """,
            expect=(Expect(13, 3),),
            title="no validation and no VERIFY step before the deploy",
        ),
    )

    # --- the check -------------------------------------------------------------------

    def check_repository(self) -> Iterable[Finding]:
        issues: dict[tuple[str, Span], _Issue] = {}
        jobs: dict[tuple[str, Span], str] = {}
        for node in self._promotions():
            if node.path in self.context.broken:
                continue
            for path, span, message, related in self._check(node):
                issue = issues.setdefault((path, span), _Issue(path, span))
                jobs.setdefault((path, span), node.job)
                if message not in issue.messages:
                    issue.messages.append(message)
                issue.related += [r for r in related if r not in issue.related]
        for key, issue in issues.items():
            yield self.finding(
                issue.path,
                issue.span,
                " Also: ".join(issue.messages),
                related=issue.related,
                job=jobs[key],
            )

    def _promotions(self) -> Iterator[JobNode]:
        for node in self.context.graph.nodes:
            if self._promotes(node) and not self._delegates(node, self._promotes):
                yield node

    def _promotes(self, node: JobNode) -> bool:
        """A promotion job of an image this pipeline makes.

        Index assembly (`imagetools create` from the per-platform digests of one build)
        is part of the build; a copy of a third-party image (a mirror) or a deploy that
        names no image promotes nothing this repository builds (DG301 and DG303 judge
        their sources). A job named a promotion job by configuration or by a
        `# digestgate: role=promotion` comment always is one."""
        a = self.context.analysis
        if not a.roles.is_promotion(node):
            return False
        config = self.context.config
        inline = inline_roles(self.context.graph, node) or frozenset()
        if _PROMOTING & inline or config.matches_job(config.promotion_jobs, node.path, node.job):
            return True
        if (node.path, node.job) in self.context.graph.calls:
            return False  # the called workflow's jobs are judged themselves
        ops = [(i, op) for i, _, op in a.operations(node) if op.role in _PROMOTING]
        if not ops:
            return True  # a remote reusable workflow that promotes
        return any(not op.index_assembly and self._own_reference(node, i, op) for i, op in ops)

    def _own_reference(self, node: JobNode, step: int, op: Operation) -> bool:
        """Does the operation consume an image this repository builds, or one whose
        name cannot be read (so it may be)?"""
        a = self.context.analysis
        for arg in op.references():
            listed = _matrix_values(a.job(node), arg.value)
            if listed is not None:
                if any(a.is_own_image(t) or _name_of(t) is None for t in listed):
                    return True
                continue
            name = static_name(arg)
            if name is not None:
                if a.is_own_image(name):
                    return True
                continue  # a name that is not ours, whatever its digest
            return True  # a name that cannot be read: it may be ours
        return False

    def _delegates(self, node: JobNode, has: object) -> bool:
        """A job calling a local workflow whose own jobs have the role: those count."""
        g = self.context.graph
        if (node.path, node.job) not in g.calls:
            return False
        # the instances whose `via` ends with this job: its callees
        return any(has(n) for n in g.callees.get(node, ()))  # type: ignore[operator]

    def _validations(self, node: JobNode) -> list[JobNode]:
        a = self.context.analysis
        found = [
            n
            for n in self.context.graph.upstream(node)
            if a.roles.is_validation(n) and not self._delegates(n, a.roles.is_validation)
        ]
        # artifact validations first: they are what "validated digest" means
        return sorted(
            found, key=lambda n: (not a.is_artifact_validation_job(n), n.path, n.job, n.via)
        )

    def _check(self, node: JobNode) -> Iterator[tuple[str, Span, str, tuple[Location, ...]]]:
        a = self.context.analysis
        job = a.job(node)
        promote = self._promote_steps(node)
        validations = self._validations(node)
        here = a.related(node, None)
        verb = self._verb(node)
        if not validations and not self._gated_in_job(node, promote):
            step = f" `{self._label(node, promote[0])}`" if promote else ""
            yield (
                node.path,
                job.key_span,
                f"`{node.job}` {verb}s, but no validation job runs before it (through "
                "`needs`, a reusable workflow or `workflow_run`) and no VERIFY step "
                f"comes before its {verb} step{step}: nothing stops an unvalidated "
                f"image from being {verb.rstrip('e')}ed. Make it need the job that tests the "
                f"image, or run `digestgate verify` before the {verb} step (an environment's "
                "reviewers are no validation).",
                here,
            )
        bypass = self._bypass(node, validations, promote)
        if bypass is not None:
            yield self._condition_issue(node, bypass, here)
        weak = list(self._weak_validations(validations, node))
        if weak:
            first, *rest = weak
            text, related = first
            more = ""
            if rest:
                more = " (also " + "; ".join(t for t, _ in rest) + ")"
            yield (
                node.path,
                job.key_span,
                f"`{node.job}` can {verb} although validation did not succeed: {text}{more}.",
                (*related, *(r for _, rel in rest for r in rel), *here),
            )

    def _verb(self, node: JobNode) -> str:
        roles = self.context.analysis.roles.of(node)
        return "deploy" if Role.DEPLOY in roles and Role.PROMOTE not in roles else "promote"

    # --- (a) no validation -----------------------------------------------------------

    def _promote_steps(self, node: JobNode) -> list[int]:
        a = self.context.analysis
        found = [i for i, _, facts in a.step_facts(node) if _PROMOTING & facts.roles]
        if found:
            return found
        steps = a.steps(node)
        return [len(steps) - 1] if steps else []

    def _gated_in_job(self, node: JobNode, promote: list[int]) -> bool:
        """A VERIFY step, or a validation that can fail, before the promote step."""
        if not promote:
            return False
        for i, _, op in self.context.analysis.operations(node):
            if i >= promote[0]:
                break
            if op.role is Role.VERIFY or (op.role is Role.VALIDATE and op.can_fail):
                return True
        return False

    def _label(self, node: JobNode, index: int) -> str:
        steps = self.context.analysis.steps(node)
        return _step_name(steps[index].step) if 0 <= index < len(steps) else "?"

    # --- (b) the condition -----------------------------------------------------------

    def _bypass(
        self, node: JobNode, validations: list[JobNode], promote: list[int]
    ) -> _Bypass | None:
        g = self.context.graph
        top = top_workflow(node)
        wf = g.repository.workflows.get(top)
        scenarios: list[tuple[Scenario, JobNode | None]] = []
        if wf is not None and wf.trigger("workflow_run") is not None:
            scenarios.append((Scenario.triggered(g, top), None))
        scenarios += [(self._scenario(v), v) for v in validations]
        for scenario, failed in scenarios:
            if self._runs(node, scenario, promote):
                upstream = None
                if scenario.workflow_run_conclusion(node) is not None:
                    ups = g.triggered_by.get(top, ())
                    if failed is not None:
                        upstream = top_workflow(failed)
                    elif ups:
                        upstream = ups[0]
                    else:
                        upstream = ""
                return _Bypass(scenario, failed, upstream)
        return None

    def _scenario(self, failed: JobNode) -> Scenario:
        cache: dict[JobNode, Scenario] = self.__dict__.setdefault("_scenarios", {})
        hit = cache.get(failed)
        if hit is None:
            hit = cache[failed] = Scenario(self.context.graph, failed)
        return hit

    def _runs(self, node: JobNode, scenario: Scenario, promote: list[int]) -> bool:
        """Does the promote step run in the scenario?"""
        if scenario.results(node) == {SKIPPED}:
            return False
        if not promote:
            return True
        gate: StepGate | None = scenario.step_gate(node, promote[0])
        if gate is None:
            return True
        return not all(scenario.stops(node, i) for i in promote if i > gate.index)

    def _condition_issue(
        self, node: JobNode, bypass: _Bypass, here: tuple[Location, ...]
    ) -> tuple[str, Span, str, tuple[Location, ...]]:
        g = self.context.graph
        s = bypass.scenario
        job = g.job(node)
        failed = bypass.failed
        holder, text = self._responsible_if(node, s)
        what = (
            f"validation job {self._name(failed, holder or node)} failed"
            if failed is not None
            else "the run that triggered it failed"
        )
        who = self._who(node)
        related = list(here)
        if failed is not None:
            related.insert(
                0, Location(failed.path, g.job(failed).key_span, f"validation job `{failed.job}`")
            )
        if bypass.upstream is not None:
            return self._workflow_run_issue(node, bypass, what, related)
        if holder is None or text is None:
            return (
                node.path,
                job.key_span,
                f"{who} can {self._verb(node)} although {what}. Make it need that job and "
                "keep the implicit `success()` (no status function in its `if:`).",
                tuple(related),
            )
        sub, span = self._sub_expression(text, s, holder)
        where = "its `if:`" if holder == node else f"the `if:` of the calling job `{holder.job}`"
        weak = self._weak_needs(holder, s, failed)
        if weak is not None:
            detail = f"; `{weak.job}` runs even then, so its result says nothing about validation"
        elif _calls_status(sub):
            detail = " (a status function in `if:` drops GitHub's implicit `success()`)"
        else:
            detail = ", whatever the validation concluded"
        if failed is not None and failed in s.needs(holder):
            fix = f"require `needs.{failed.job}.result == 'success'`"
        elif failed is not None and (failed.path, failed.via) == (holder.path, holder.via):
            fix = f"add `{failed.job}` to its `needs` and require its result to be 'success'"
        else:
            fix = "need the validation job and require its result to be 'success'"
        if _calls_status(sub):
            advice = f"Drop the status function or {fix}"
        else:
            advice = fix[0].upper() + fix[1:] + " on every path of the condition"
        if holder != node:
            related.append(Location(node.path, job.key_span, f"promotion job `{node.job}`"))
        return (
            holder.path,
            span,
            f"{who} can {self._verb(node)} although {what}: `{sub}` in {where} lets it "
            f"run{detail}. {advice}.",
            tuple(related),
        )

    def _workflow_run_issue(
        self, node: JobNode, bypass: _Bypass, what: str, related: list[Location]
    ) -> tuple[str, Span, str, tuple[Location, ...]]:
        g = self.context.graph
        s = bypass.scenario
        job = g.job(node)
        upstream = bypass.upstream or "the triggering workflow"
        wf = g.repository.workflows.get(bypass.upstream or "")
        if wf is not None:
            upstream = f"`{wf.display_name}`"
        checked = any(mentions(g.job(n).if_, _CONCLUSION) for n in (node, *s.ancestors(node)))
        because = (
            "its `if:` lets it run whatever the triggering run concluded"
            if checked
            else "it never requires `github.event.workflow_run.conclusion == 'success'`"
        )
        span = job.key_span
        if job.if_ is not None:
            sub, span = self._sub_expression(job.if_, s, node)
            if checked:
                because = f"`{sub}` in its `if:` lets it run whatever the triggering run concluded"
        why = what if bypass.failed is not None else f"{upstream} failed"
        top = g.repository.workflows.get(top_workflow(node))
        trigger = top.trigger("workflow_run") if top is not None else None
        if trigger is not None:
            related.append(Location(top_workflow(node), trigger.span, "the `workflow_run` trigger"))
        return (
            node.path,
            span,
            f"`{node.job}` runs when {why}: `workflow_run` fires whatever the run of "
            f"{upstream} concluded, and {because}. Require "
            "`github.event.workflow_run.conclusion == 'success'` in its `if:`.",
            tuple(related),
        )

    def _responsible_if(self, node: JobNode, s: Scenario) -> tuple[JobNode | None, Text | None]:
        """The job whose `if:` lets the promotion run: its own when that has a status
        function, else the nearest calling job's that does."""
        g = self.context.graph
        chain = [node]
        for i in range(len(node.via), 0, -1):
            path, job = node.via[i - 1]
            chain.append(JobNode(path, job, node.via[: i - 1]))
        for n in chain:
            text = g.job(n).if_
            if text is not None and _has_status(text) and s.results(n) != {SKIPPED}:
                return n, text
        return None, None

    def _sub_expression(self, text: Text, s: Scenario, holder: JobNode) -> tuple[str, Span]:
        found: Expr | None = culprit(text, s.assumptions(holder), s.watched(holder))
        if found is None:
            return " ".join(text.value.split()), text.span
        raw = text.value[found.start : found.end]
        return " ".join(raw.split()), text.locate(found.start, found.end - found.start)

    def _weak_needs(self, holder: JobNode, s: Scenario, failed: JobNode | None) -> JobNode | None:
        """A needed job whose result the `if:` tests but that can succeed anyway."""
        text = self.context.graph.job(holder).if_
        for n in s.needs(holder):
            if n == failed or n not in s.affected:
                continue
            if SUCCESS in s.results(n) and mentions(text, ("needs", n.job.lower(), "result")):
                return n
        return None

    def _who(self, node: JobNode) -> str:
        if node.via:
            return f"`{node.job}` ({node.path}, called by `{node.via[-1][1]}`)"
        return f"`{node.job}`"

    def _name(self, node: JobNode, promotion: JobNode) -> str:
        if node.path == promotion.path and node.via == promotion.via:
            return f"`{node.job}`"
        if node.via:
            caller = node.via[-1][1]
            return f"`{node.job}` ({node.path}, called by `{caller}`)"
        return f"`{node.job}` ({node.path})"

    # --- (c), (d) continue-on-error, validations that cannot fail --------------------

    def _weak_validations(
        self, validations: list[JobNode], promotion: JobNode
    ) -> Iterator[tuple[str, tuple[Location, ...]]]:
        a = self.context.analysis
        g = self.context.graph
        for v in validations:
            job = g.job(v)
            name = self._name(v, promotion)
            platform = _platform(self, v)
            coe = job.continue_on_error
            if coe is not None and coe.is_true() and honours_job_continue_on_error(platform):
                yield (
                    f"validation job {name} has `continue-on-error: true`, so its "
                    "failure does not stop the run (GitHub honours job-level "
                    "`continue-on-error`; Gitea and Forgejo ignore it). Remove it",
                    (
                        Location(v.path, coe.span, f"`continue-on-error` of `{v.job}`"),
                        *a.related(v, None),
                    ),
                )
                continue
            ops = [(i, exp, op) for i, exp, op in a.operations(v) if op.role is Role.VALIDATE]
            artifact = {(x.step, id(x.operation)) for x in a.artifact_validations(v)}
            considered = [t for t in ops if (t[0], id(t[2])) in artifact] or ops
            if not considered or any(op.can_fail for _, _, op in considered):
                continue
            # name the test rather than a container it starts
            _, expanded, op = min(considered, key=lambda t: t[2].note == "detached service")
            step_coe = next(
                (
                    s.continue_on_error
                    for s in (expanded.step, *(c for _, c in expanded.callers))
                    if s.continue_on_error is not None and s.continue_on_error.is_true()
                ),
                None,
            )
            label = _step_name(expanded.step)
            if step_coe is not None:
                text = (
                    f"the validation step `{label}` of {name} has "
                    "`continue-on-error: true`, so its failure does not fail the job. "
                    "Remove it"
                )
                loc = Location(expanded.path, step_coe.span, f"`continue-on-error` of `{label}`")
            else:
                how = (
                    "it exits 0 whatever it finds (an `exit-code` or `fail-build` input "
                    "that does not fail, or the action's default)"
                    if expanded.step.uses is not None
                    else "its failure is swallowed (`|| true`, or `set +e` without an exit "
                    "check), so the job succeeds anyway"
                )
                text = (
                    f"the validation `{op.tool}` in step `{label}` of {name} cannot fail: "
                    f"{how}. Let it fail the step"
                )
                loc = Location(op.path, op.span, f"`{op.tool}` cannot fail")
            yield text, (loc, *a.related(v, expanded))


def _step_name(step: Step) -> str:
    """The step's id, name or action; else the first line of its script."""
    if step.id is not None or step.name is not None or step.uses is not None:
        return step.label
    if step.run is not None and step.run.value.strip():
        first = step.run.value.strip().splitlines()[0].strip()
        return first if len(first) <= 40 else first[:39] + "…"
    return step.label


def _matrix_values(job: Job, value: Value) -> list[str] | None:
    """The texts a whole `${{ matrix.<name> }}` value takes (a list, or `include`
    entries), when the matrix lists them all as plain text."""
    if len(value.pieces) != 1 or value.pieces[0].kind is not PieceKind.EXPR:
        return None
    inner = value.pieces[0].text.strip()[3:-2].strip()
    if not inner.startswith("matrix.") or not inner[7:].replace("-", "_").isidentifier():
        return None
    matrix = job.strategy.matrix if job.strategy is not None else None
    if not isinstance(matrix, YMap):
        return None
    name = inner[7:]
    found: list[YNode] = []
    entry = matrix.get(name)
    if isinstance(entry, YSeq):
        found += entry.items
    elif entry is not None:
        return None
    include = matrix.get("include")
    if isinstance(include, YSeq):
        found += [v for i in include.items if isinstance(i, YMap) and (v := i.get(name))]
    texts = [n.value for n in found if isinstance(n, YScalar)]
    if not texts or len(texts) != len(found) or any("${{" in t for t in texts):
        return None
    return texts


def _name_of(text: str) -> str | None:
    from digestgate.imageref import RefError, parse

    try:
        return parse(text).normalized_name
    except RefError:
        return None


def _calls_status(text: str) -> bool:
    try:
        return bool(status_functions(parse_expression(text)))
    except ExprError:
        return False


def _has_status(text: Text) -> bool:
    """Does the `if:` call a status function (and so drop the implicit `success()`)?"""
    parsed = text.condition()
    exprs = [p.expr for p, _ in text.placeholders() if p.expr is not None]
    if not isinstance(parsed, ExprError):
        exprs.append(parsed)
    return any(status_functions(e) for e in exprs)


def _platform(rule: PromotionNotGated, node: JobNode) -> Platform:
    wf = rule.context.repository.workflows.get(node.path)
    return wf.platform if wf is not None else Platform.GITHUB
