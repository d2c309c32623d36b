"""Gate scenarios: can a job run although an upstream job failed?

RULES.md ("Conditions are evaluated, not pattern-matched") asks, for a validation
job V upstream of a promotion job P: take the scenario "V failed", propagate it down
the job graph, and evaluate P's `if:` in it. `Scenario` does that propagation.

* Every job instance downstream of V (and every job calling V's workflow, which fails
  with it) is *affected*; it gets the set of results it can end with: `skipped` when
  its `if:` is definitely false in the scenario, else `success`/`failure` (and
  `skipped` too when its `if:` is unknown). A job that fails itself in the scenario
  (a step gate, below) is `failure` only; a job with `continue-on-error: true` on a
  platform that honours it may also be `success`. A job calling a local reusable
  workflow ends as its callee's jobs do. Jobs the scenario does not reach may end
  any way.
* A job's `if:` is evaluated with `expressions.evaluate_condition` (implicit
  `success()` included) under: `success()` true only when every ancestor in its
  workflow surely succeeded, false when one surely did not (GitHub's implicit
  success covers all ancestors, not only direct needs); `failure()` true when an
  ancestor surely failed; `always()` true; `cancelled()` false;
  `needs.<X>.result` the set computed for each needed job X (every needed job is
  listed, so `needs.*.result` and `toJSON(needs)` see them all); `github.event_name`
  one of the workflow's triggers; anything else unknown. The jobs of a called
  workflow see their caller's status as unknown when the caller ran after a failure
  (GitHub does not document it).
* A `workflow_run` edge is no ancestor: a workflow triggered by a run that failed
  (or may have) starts clean, with `github.event_name == 'workflow_run'` and
  `github.event.workflow_run.conclusion` set to what the triggering run concluded.
  `Scenario.triggered(path)` is the scenario "the run that triggered this
  `workflow_run` workflow failed", with no failed job of its own.
* Gitea and Forgejo ignore job-level `continue-on-error`. Older Gitea releases
  skipped an `if: always()` job whose needed job was skipped (go-gitea/gitea#27906,
  fixed by #29464, backported to 1.21); that is not modelled: a job that runs on a
  current release is treated as running.

A *step gate* is a step that fails its job in the scenario, so that later steps
without a status function of their own never run: a step whose `if:` is definitely
true there, not `continue-on-error`, and that fails given the scenario: an
alls-green-like action (`catalogue.needs_gate`) given `needs` when a needed job
surely did not succeed (and is not allowed to fail or skip), or a script that reads
such a job's result (`needs.<X>.result`, `needs.*.result`, `toJSON(needs)`, or the
`workflow_run` conclusion), directly or through the step's `env`, and runs a
command that fails (`exit 1`, `false`, `test`, `jq -e`), or whose own `if:` tests
them and which runs such a command. `Scenario.step_gate` finds the first one;
`Scenario.stops` says whether a later step is skipped after it.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass

from digestgate import catalogue
from digestgate.expressions import (
    Assumptions,
    Binary,
    Expr,
    ExprError,
    Tri,
    evaluate,
    evaluate_condition,
    find_placeholders,
    references,
    status_functions,
    truthiness,
)
from digestgate.graph import ExpandedStep, JobNode, RepoGraph
from digestgate.model import Job, Platform, Step, Text

SUCCESS = "success"
FAILURE = "failure"
SKIPPED = "skipped"
ALL_RESULTS = frozenset({SUCCESS, FAILURE, SKIPPED})
RAN = frozenset({SUCCESS, FAILURE})

_CONCLUSION = ("github", "event", "workflow_run", "conclusion")
_EVENT_NAME = ("github", "event_name")
_FAILING = frozenset({"exit", "false", "test", "[", "jq"})
_NAME = re.compile(r"[A-Za-z0-9_-]+")


def honours_job_continue_on_error(platform: Platform) -> bool:
    """Gitea ignores `jobs.<id>.continue-on-error` (its "Compared to GitHub Actions"
    page); Forgejo follows Gitea's lineage."""
    return platform is Platform.GITHUB


@dataclass(frozen=True)
class StepGate:
    """A step that fails its job in a scenario."""

    index: int  # into the job's expanded steps
    expanded: ExpandedStep
    why: str


class Scenario:
    """One "what if" over a repository's job graph: `failed` failed, or (with
    `failed=None`) the run that triggered the `workflow_run` workflow `trigger`
    failed. Results are computed on demand and cached per job instance."""

    def __init__(self, graph: RepoGraph, failed: JobNode | None, trigger: str | None = None):
        self.graph = graph
        self.failed = failed
        self.trigger = trigger
        self._results: dict[JobNode, frozenset[str]] = {}
        self._active: set[JobNode] = set()
        self._folds: dict[JobNode, tuple[Tri, Tri] | None] = {}  # None: in progress
        # (not `functools.cached_property`: compiled with mypyc, that is a plain property)
        self._affected: frozenset[JobNode] | None = None

    @staticmethod
    def triggered(graph: RepoGraph, path: str) -> Scenario:
        return Scenario(graph, None, path)

    # --- which jobs the scenario reaches ---------------------------------------------

    @property
    def affected(self) -> frozenset[JobNode]:
        if self._affected is None:
            self._affected = self._reached()
        return self._affected

    def _reached(self) -> frozenset[JobNode]:
        g = self.graph
        if self.failed is None:
            starts = [n for n in g.nodes if top_workflow(n) == self.trigger]
            out: set[JobNode] = set(starts)
            for n in starts:
                out |= g.downstream(n)
            return frozenset(out)
        out = {self.failed, *g.downstream(self.failed)}
        out.update(_callers(self.failed))  # the calling jobs fail with their callee
        return frozenset(out)

    @property
    def _callees(self) -> dict[JobNode, list[JobNode]]:
        return self.graph.callees  # the same for every scenario: made once per graph

    def workflow_run_conclusion(self, node: JobNode) -> frozenset[str] | None:
        """What the run that triggered `node`'s workflow concluded, when the scenario
        reaches that workflow through `workflow_run` (else None)."""
        top = top_workflow(node)
        if self.failed is None:
            return frozenset({FAILURE}) if top == self.trigger else None
        if top == top_workflow(self.failed):
            return None
        found: set[str] = set()
        for up in self.graph.triggered_by.get(top, ()):
            if up == top_workflow(self.failed):
                found.add(FAILURE)
                continue
            roots = [n for n in self.graph.roots_of(up) if n in self.affected]
            if not roots:
                continue
            results = [self.results(n) for n in self.graph.roots_of(up)]
            if any(FAILURE in r for r in results):
                found.add(FAILURE)
            if all(r - {FAILURE} for r in results):
                found.add(SUCCESS)
        return frozenset(found) if found else None

    # --- results ---------------------------------------------------------------------

    def results(self, node: JobNode) -> frozenset[str]:
        """The results `node` can end with in the scenario."""
        if node == self.failed:
            return frozenset({FAILURE})
        if node not in self.affected:
            return ALL_RESULTS
        hit = self._results.get(node)
        if hit is not None:
            return hit
        if node in self._active:  # a cycle (DG001): know nothing
            return ALL_RESULTS
        self._active.add(node)
        try:
            hit = self._results[node] = self._compute(node)
        finally:
            self._active.discard(node)
        return hit

    def _compute(self, node: JobNode) -> frozenset[str]:
        job = self.graph.job(node)
        platform = self.platform(node)
        cond = self._own_condition(node)
        for caller in _callers(node):  # a called workflow runs only if its caller does
            cond = cond & self._own_condition(caller)
        if cond is Tri.FALSE:
            return frozenset({SKIPPED})
        ran: set[str]
        callees = self._callees.get(node)
        if callees:
            inner = [self.results(c) for c in callees]
            ran = set()
            if any(FAILURE in r for r in inner):
                ran.add(FAILURE)
            if all(r - {FAILURE} for r in inner):
                ran.add(SUCCESS)
        elif self.step_gate(node) is not None:
            ran = {FAILURE}
        else:
            ran = set(RAN)
        if FAILURE in ran and honours_job_continue_on_error(platform) and _continues(job):
            ran.add(SUCCESS)
        if cond is Tri.UNKNOWN:
            ran.add(SKIPPED)
        return frozenset(ran)

    def _own_condition(self, node: JobNode) -> Tri:
        """The job's `if:`; true for the jobs calling the failed job's workflow (the
        failed job ran, so they did)."""
        if self.failed is not None and node in _callers(self.failed):
            return Tri.TRUE
        return self.condition(node)

    # --- what a job's `if:` sees -----------------------------------------------------

    def needs(self, node: JobNode) -> list[JobNode]:
        wg = self.graph.workflows.get(node.path)
        if wg is None:
            return []
        return [JobNode(node.path, n, node.via) for n in wg.needs.get(node.job, ())]

    def ancestors(self, node: JobNode) -> list[JobNode]:
        wg = self.graph.workflows.get(node.path)
        if wg is None:
            return []
        return [JobNode(node.path, n, node.via) for n in sorted(wg.ancestors(node.job))]

    def _ancestor_fold(self, node: JobNode) -> tuple[Tri, Tri] | None:
        """(all ancestors succeeded, some ancestor failed) over every ancestor of
        `node`, from its needs' folds: Kleene `&` and `|` are idempotent, so the
        ancestors shared by several needs count once, as over the closure, and a deep
        `needs` graph costs one visit per edge instead of one per ancestor per job.
        None in a `needs` cycle (DG001), where the caller folds the closure itself."""
        if node not in self.affected:
            # Its ancestors are not affected either (the scenario reaches every job
            # downstream of what it starts from), and an unaffected job can end any
            # way: the fold is unknown as soon as there is one ancestor.
            wg = self.graph.workflows.get(node.path)
            needs = wg.needs.get(node.job, ()) if wg is not None else ()
            if any(n != node.job for n in needs):
                return (Tri.UNKNOWN, Tri.UNKNOWN)
            return (Tri.TRUE, Tri.FALSE)
        if node in self._folds:
            return self._folds[node]
        self._folds[node] = None
        success, failure = Tri.TRUE, Tri.FALSE
        for n in self.needs(node):
            below = self._ancestor_fold(n)
            if below is None:
                return None  # stays None: a cycle runs through here
            succeeded, failed = _ended(self.results(n))
            success = success & below[0] & succeeded
            failure = failure | below[1] | failed
        self._folds[node] = folded = (success, failure)
        return folded

    def status(self, node: JobNode) -> dict[str, bool | None]:
        """`success()`/`failure()` of a job in the scenario (None: unknown)."""
        folded = self._ancestor_fold(node)
        if folded is None:
            success, failure = Tri.TRUE, Tri.FALSE
            for a in self.ancestors(node):
                succeeded, failed = _ended(self.results(a))
                success = success & succeeded
                failure = failure | failed
        else:
            success, failure = folded
        if node.via:
            inherited = self.status(_callers(node)[0])
            if not (inherited["success"] is True and inherited["failure"] is False):
                success = success & Tri.UNKNOWN
                failure = failure | Tri.UNKNOWN
        return {
            "success": _bool(success),
            "failure": _bool(failure),
            "always": True,
            "cancelled": False,
        }

    def values(self, node: JobNode) -> dict[tuple[str, ...], object]:
        out: dict[tuple[str, ...], object] = {}
        for n in self.needs(node):
            out[("needs", n.job.lower(), "result")] = self.results(n)
        conclusion = self.workflow_run_conclusion(node)
        if conclusion is not None:
            out[_EVENT_NAME] = "workflow_run"
            out[_CONCLUSION] = _one(conclusion)
        else:
            wf = self.graph.repository.workflows.get(top_workflow(node))
            if wf is not None and wf.triggers:
                out[_EVENT_NAME] = _one(frozenset(wf.triggers))
        return out

    def watched(self, node: JobNode) -> list[tuple[str, ...]]:
        """The context paths of a job's `if:` that the scenario decides: the needed
        jobs it reaches, and the `workflow_run` conclusion when it sets one."""
        out: list[tuple[str, ...]] = [
            ("needs", n.job.lower()) for n in self.needs(node) if n in self.affected
        ]
        if self.workflow_run_conclusion(node) is not None:
            out.append(_CONCLUSION)
        return out

    def assumptions(self, node: JobNode) -> Assumptions:
        return Assumptions(self.status(node), self.values(node))

    def condition(self, node: JobNode) -> Tri:
        """The job's `if:` (implicit `success()` included) in the scenario."""
        text = self.graph.job(node).if_
        return evaluate_condition(text.value if text is not None else "", self.assumptions(node))

    def platform(self, node: JobNode) -> Platform:
        wf = self.graph.repository.workflows.get(node.path)
        return wf.platform if wf is not None else Platform.GITHUB

    # --- step gates ------------------------------------------------------------------

    def step_gate(self, node: JobNode, before: int | None = None) -> StepGate | None:
        """The first step (before step `before`) that fails the job in the scenario."""
        job = self.graph.job(node)
        if job.uses is not None:
            return None
        steps = self.graph.steps(node.path, job)
        values = self.values(node)
        bad = self._bad_needs(node)
        conclusion = values.get(_CONCLUSION)
        for i, expanded in enumerate(steps[:before]):
            why = self._gate(expanded, values, bad, conclusion == FAILURE)
            if why is not None:
                return StepGate(i, expanded, why)
        return None

    def stops(self, node: JobNode, index: int) -> bool:
        """Is step `index` skipped once an earlier step failed (its `if:`, or that of
        a composite step around it, is definitely false then)?"""
        steps = self.graph.steps(node.path, self.graph.job(node))
        if index >= len(steps):
            return True
        expanded = steps[index]
        after = Assumptions.after_failure(self.values(node))
        conditions = [expanded.step.if_, *(caller.if_ for _, caller in expanded.callers)]
        return any(
            evaluate_condition(c.value if c is not None else "", after) is Tri.FALSE
            for c in conditions
        )

    def _bad_needs(self, node: JobNode) -> set[str]:
        """Needed jobs that surely did not succeed in the scenario (lower case)."""
        return {n.job.lower() for n in self.needs(node) if SUCCESS not in self.results(n)}

    def _gate(
        self,
        expanded: ExpandedStep,
        values: dict[tuple[str, ...], object],
        bad: set[str],
        trigger_failed: bool,
    ) -> str | None:
        step = expanded.step
        if any(_continues(s) for s in (step, *(c for _, c in expanded.callers))):
            return None
        running = Assumptions.after_success(values)
        conditions = [step.if_, *(c.if_ for _, c in expanded.callers)]
        for c in conditions:
            if evaluate_condition(c.value if c is not None else "", running) is not Tri.TRUE:
                return None
        if not bad and not trigger_failed:
            return None
        gate = catalogue.needs_gate(step)
        if gate is not None:
            return self._needs_gate(gate, bad)
        if step.run is None:
            return None
        reads = _reads_result(step.if_, bad, trigger_failed) or any(
            _reads_result(t, bad, trigger_failed) for t in (step.run, *step.env.values())
        )
        if not reads:
            return None
        failing = _failing_command(step, running)
        if failing is None:
            return None
        return f"step `{step.label}` checks the result and runs `{failing}`"

    def _needs_gate(self, gate: catalogue.NeedsGate, bad: set[str]) -> str | None:
        allowed: set[str] = set()
        for given in (gate.allowed_failures, gate.allowed_skips):
            if given is None:
                continue
            if "${{" in given.value:
                return None  # computed at run time: cannot tell what it allows
            allowed |= {w.lower() for w in _NAME.findall(given.value)}
        blocking = sorted(bad - allowed)
        if not blocking:
            return None
        return f"`{gate.jobs.value.strip()}` is checked by an alls-green gate"


def _callers(node: JobNode) -> list[JobNode]:
    """The jobs calling a job instance's workflow, innermost first."""
    via = node.via
    return [JobNode(via[i][0], via[i][1], via[:i]) for i in range(len(via) - 1, -1, -1)]


def top_workflow(node: JobNode) -> str:
    """The workflow whose run a job instance belongs to (its outermost caller's)."""
    return node.via[0][0] if node.via else node.path


def _maybe(possible: bool, otherwise: Tri = Tri.FALSE) -> Tri:
    return Tri.UNKNOWN if possible else otherwise


def _ended(results: frozenset[str]) -> tuple[Tri, Tri]:
    """Did a job with these possible results succeed, and did it fail?"""
    succeeded = Tri.TRUE if results == {SUCCESS} else _maybe(SUCCESS in results)
    failed = Tri.TRUE if results == {FAILURE} else _maybe(FAILURE in results)
    return succeeded, failed


def _bool(t: Tri) -> bool | None:
    return None if t is Tri.UNKNOWN else t is Tri.TRUE


def _one(values: frozenset[str]) -> object:
    return next(iter(values)) if len(values) == 1 else values


def _continues(step: Step | Job) -> bool:
    coe = step.continue_on_error
    return coe is not None and (coe.is_true() or "${{" in coe.value)


def _reads_result(text: Text | None, bad: set[str], trigger_failed: bool) -> bool:
    """Does the text read a failed needed job's result, or the failed triggering run's
    conclusion (`needs.<X>.result`, `needs.*.result`, `toJSON(needs)`, ...)?"""
    if text is None:
        return False
    exprs = [p.expr for p in find_placeholders(text.value) if p.expr is not None]
    if not exprs and "${{" not in text.value:
        parsed = text.condition()
        if not isinstance(parsed, ExprError):
            exprs.append(parsed)
    for expr in exprs:
        for ref in references(expr):
            path = ref.path
            if bad and path[:1] == ("needs",) and (len(path) == 1 or path[1] in bad | {"*"}):
                return True
            if trigger_failed and _CONCLUSION[: len(path)] == path:
                return True
    return False


def _failing_command(step: Step, running: Assumptions) -> str | None:
    """A command of the step's script that fails the step when it fails."""
    from digestgate import shell as shell_mod

    assert step.run is not None
    shell = step.shell.value if step.shell is not None else None
    script = shell_mod.analyse(step.run.value, "", step.run.locate, shell=shell)
    for command in script.commands:
        name = command.name
        if name not in _FAILING or command.guarded or command.substituted:
            continue
        args = [a.text for a in command.argv[1:]]
        if name == "exit" and not (args and _nonzero(args[0], running)):
            continue
        if name in ("false", "jq") and not _fails_always(name, args):
            continue
        return " ".join([name, *args])[:60]
    return None


def _fails_always(name: str, args: list[str]) -> bool:
    if name == "false":
        return not args
    return any(a in ("-e", "--exit-status") for a in args)  # jq -e: false/null fails


def _nonzero(arg: str, running: Assumptions) -> bool:
    if arg.isdigit():
        return arg != "0"
    text = arg.strip()
    if text.startswith("${{") and text.endswith("}}"):
        found = find_placeholders(text)
        if len(found) != 1 or found[0].expr is None:
            return False
        value = evaluate(found[0].expr, running)
        return isinstance(value, (float, str)) and str(value).strip() not in ("", "0", "0.0")
    return False


# --- which part of an `if:` is responsible ------------------------------------------


def culprit(
    text: Text, assumptions: Assumptions, watched: Collection[tuple[str, ...]] = ()
) -> Expr | None:
    """The smallest part of an `if:` that lets the job run in the scenario: a test
    of a result the scenario decides that is too weak (`needs.M.result == 'success'`
    where M runs anyway; `watched` lists the context paths the scenario decides,
    e.g. `("needs", "m")`), else the status function that overrides the implicit
    `success()` (`always()` in `always() && github.ref == 'refs/heads/main'`); inside
    an `||`, the alternative that lets it through (`github.event_name ==
    'workflow_dispatch'`). None when the whole condition is responsible (text
    around `${{ }}`, a parse error)."""
    parsed = text.condition()
    if isinstance(parsed, ExprError):
        return None
    node: Expr = parsed
    for _ in range(200):  # bounded: the tree is at most 50 deep
        nxt = _responsible(node, assumptions, watched)
        if nxt is None or nxt is node:
            return node
        node = nxt
    return node


def _responsible(e: Expr, a: Assumptions, watched: Collection[tuple[str, ...]]) -> Expr | None:
    if not isinstance(e, Binary) or e.op not in ("&&", "||"):
        return None
    truths = [(p, truthiness(p, a)) for p in _flatten(e, e.op)]
    if e.op == "||":
        for want in (Tri.TRUE, Tri.UNKNOWN):
            for p, t in truths:
                if t is want:
                    return p
        return None
    # `&&`: a weak test of what the scenario decides, else the status function
    for p, t in truths:
        if t is Tri.UNKNOWN and not status_functions(p) and _reads(p, watched):
            return p
    for p, t in truths:
        if status_functions(p) and t is not Tri.FALSE:
            return p
    for p, t in truths:
        if t is Tri.UNKNOWN:
            return p
    return None


def _flatten(e: Expr, op: str) -> Iterator[Expr]:
    stack = [e]
    while stack:
        n = stack.pop()
        if isinstance(n, Binary) and n.op == op:
            stack += [n.right, n.left]
        else:
            yield n


def _reads(e: Expr, watched: Collection[tuple[str, ...]]) -> bool:
    return any(r.path[: len(w)] == w for r in references(e) for w in watched)


def mentions(text: Text | None, path: tuple[str, ...]) -> bool:
    """Does the `if:` read this context path (or something under it)?"""
    if text is None:
        return False
    parsed = text.condition()
    if isinstance(parsed, ExprError):
        return False
    return any(r.path[: len(path)] == path for r in references(parsed))
