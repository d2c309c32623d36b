"""The repository graph: jobs and the edges between them, across files.

Per workflow, `WorkflowGraph` is the job DAG from `needs` (ancestors, descendants,
topological order, cycles). Across the repository, `RepoGraph` joins them:

* a job that calls a local reusable workflow is wired to an *instance* of the
  callee's jobs: the callee's first jobs run after the caller's needs, and the jobs
  that need the caller run after every callee job (`JobNode.via` tells instances of
  one callee apart when several jobs call it);
* a workflow triggered by `workflow_run` is downstream of every job of the
  workflows it names (matched by `name:`, or by path for an unnamed workflow, as
  GitHub does); those edges are of kind `workflow_run` because GitHub's implicit
  `success()` does not cross them;
* local composite actions are expanded in place: `steps(node)` lists a job's steps
  with each composite step replaced by the action's steps.

Broken links (a `needs` that names no job, a cycle, a local `uses:` that does not
exist) are collected as DG001 problems. Rules query this graph; they never rebuild it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from digestgate.cache import note_probe
from digestgate.model import Action, Job, Problem, Step, Text, Workflow
from digestgate.repository import Repository, action_file, self_reference_with_ref

MAX_CALL_DEPTH = 10  # GitHub allows ten levels of reusable workflows
MAX_COMPOSITE_DEPTH = 10
MAX_CYCLE_SHOWN = 20  # jobs named in a `needs` cycle message


class WorkflowGraph:
    """The `needs` DAG of one workflow."""

    def __init__(self, workflow: Workflow) -> None:
        self.workflow = workflow
        self.needs: dict[str, tuple[str, ...]] = {}
        self.missing: list[tuple[str, int]] = []  # (job id, index into job.needs)
        for job in workflow.jobs.values():
            kept = []
            for i, need in enumerate(job.needs):
                if need.value in workflow.jobs:
                    if need.value not in kept:
                        kept.append(need.value)
                else:
                    self.missing.append((job.id, i))
            self.needs[job.id] = tuple(kept)
        self.dependents: dict[str, list[str]] = {j: [] for j in self.needs}
        for job_id, needs in self.needs.items():
            for n in needs:
                self.dependents[n].append(job_id)
        self.order, self.cyclic = self._topological()
        self._anc: dict[str, frozenset[str]] = {}
        self._desc: dict[str, frozenset[str]] = {}

    def _topological(self) -> tuple[list[str], list[str]]:
        indegree = {j: len(n) for j, n in self.needs.items()}
        ready = deque(j for j, d in indegree.items() if d == 0)
        order = []
        while ready:
            j = ready.popleft()
            order.append(j)
            for d in self.dependents[j]:
                indegree[d] -= 1
                if indegree[d] == 0:
                    ready.append(d)
        done = set(order)
        return order, [j for j in self.needs if j not in done]

    def cycles(self) -> list[list[str]]:
        """One representative cycle per strongly connected group of cyclic jobs."""
        remaining = set(self.cyclic)
        found = []
        while remaining:
            start = min(remaining)
            path: list[str] = []
            index: dict[str, int] = {}
            node = start
            # follow needs that stay inside the cyclic set until a node repeats
            while node not in index:
                index[node] = len(path)
                path.append(node)
                nxt = [n for n in self.needs[node] if n in self.cyclic]
                if not nxt:
                    break
                node = min(nxt)
            cycle = path[index[node] :] if node in index else path
            found.append(cycle)
            remaining -= set(path)
        return found

    def ancestors(self, job: str) -> frozenset[str]:
        return self._closure(job, self.needs, self._anc)

    def descendants(self, job: str) -> frozenset[str]:
        return self._closure(job, self.dependents, self._desc)

    @staticmethod
    def _closure(
        job: str,
        edges: dict[str, tuple[str, ...]] | dict[str, list[str]],
        memo: dict[str, frozenset[str]],
    ) -> frozenset[str]:
        hit = memo.get(job)
        if hit is not None:
            return hit
        seen: set[str] = set()
        stack = list(edges.get(job, ()))
        while stack:
            j = stack.pop()
            if j not in seen:
                seen.add(j)
                stack.extend(edges.get(j, ()))
        seen.discard(job)
        memo[job] = result = frozenset(seen)
        return result

    def between(self, upstream: str, downstream: str) -> frozenset[str]:
        """Jobs on some `needs` path from `upstream` to `downstream` (both excluded)."""
        return self.descendants(upstream) & self.ancestors(downstream)


@dataclass(frozen=True, slots=True)
class JobNode:
    """One job as it runs: `via` is the chain of calling jobs for reusable workflows."""

    path: str
    job: str
    via: tuple[tuple[str, str], ...] = ()

    def __str__(self) -> str:
        chain = "".join(f"{p}:{j} -> " for p, j in self.via)
        return f"{chain}{self.path}:{self.job}"


@dataclass(frozen=True, slots=True)
class ExpandedStep:
    """A step as it runs in a job: composite steps replaced by the action's steps."""

    step: Step
    path: str  # the file the step is written in
    callers: tuple[tuple[str, Step], ...] = ()  # the composite `uses:` steps, outermost first
    action: Action | None = None  # the local action this step uses, when there is one


@dataclass(frozen=True, slots=True)
class Edge:
    source: JobNode
    target: JobNode
    # "needs"; "call": caller -> callee job; "return": callee job -> the caller's
    # dependents; "workflow_run": every job upstream -> the first jobs downstream
    kind: str


@dataclass
class RepoGraph:
    repository: Repository
    workflows: dict[str, WorkflowGraph] = field(default_factory=dict)
    calls: dict[tuple[str, str], str] = field(default_factory=dict)  # (path, job) -> callee path
    triggered_by: dict[str, tuple[str, ...]] = field(default_factory=dict)  # path -> upstream paths
    problems: dict[str, list[Problem]] = field(default_factory=dict)
    nodes: list[JobNode] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    _steps: dict[tuple[str, str], list[ExpandedStep]] = field(default_factory=dict)
    _actions: dict[str, Action | None] = field(default_factory=dict)
    # Indexes over `nodes` and `edges`, made on first use (after the graph is built).
    # Not `functools.cached_property`: compiled with mypyc, that is a plain property;
    # and not `init=False`: a compiled dataclass leaves such a field unset.
    _out_index: dict[JobNode, list[Edge]] | None = field(default=None, repr=False, compare=False)
    _in_index: dict[JobNode, list[Edge]] | None = field(default=None, repr=False, compare=False)
    _order_index: dict[JobNode, int] | None = field(default=None, repr=False, compare=False)
    _callees: dict[JobNode, list[JobNode]] | None = field(default=None, repr=False, compare=False)

    @property
    def _out(self) -> dict[JobNode, list[Edge]]:
        if self._out_index is None:
            self._out_index = self._edges_by(True)
        return self._out_index

    @property
    def _in(self) -> dict[JobNode, list[Edge]]:
        if self._in_index is None:
            self._in_index = self._edges_by(False)
        return self._in_index

    def _edges_by(self, source: bool) -> dict[JobNode, list[Edge]]:
        """Every node's edges: those leaving it (`source`), or those reaching it."""
        index: dict[JobNode, list[Edge]] = {n: [] for n in self.nodes}
        for e in self.edges:
            index[e.source if source else e.target].append(e)
        return index

    @property
    def _order(self) -> dict[JobNode, int]:
        if self._order_index is None:
            self._order_index = {n: i for i, n in enumerate(self.nodes)}
        return self._order_index

    def in_order(self, nodes: Iterable[JobNode]) -> list[JobNode]:
        """`nodes` in the order of `self.nodes` (without walking all of them)."""
        order = self._order
        return sorted((n for n in nodes if n in order), key=order.__getitem__)

    @property
    def callees(self) -> dict[JobNode, list[JobNode]]:
        """The job instances a calling job instance runs: its reusable workflow's jobs."""
        if self._callees is None:
            out: dict[JobNode, list[JobNode]] = {}
            for n in self.nodes:
                if n.via:
                    path, job = n.via[-1]
                    out.setdefault(JobNode(path, job, n.via[:-1]), []).append(n)
            self._callees = out
        return self._callees

    def job(self, node: JobNode) -> Job:
        return self.repository.workflows[node.path].jobs[node.job]

    def instances(self, path: str, job: str) -> list[JobNode]:
        return [n for n in self.nodes if n.path == path and n.job == job]

    def outgoing(self, node: JobNode) -> list[Edge]:
        return self._out.get(node, [])

    def incoming(self, node: JobNode) -> list[Edge]:
        return self._in.get(node, [])

    def downstream(self, node: JobNode, kinds: Iterable[str] | None = None) -> set[JobNode]:
        return self._reach(node, self._out, "target", kinds)

    def upstream(self, node: JobNode, kinds: Iterable[str] | None = None) -> set[JobNode]:
        return self._reach(node, self._in, "source", kinds)

    @staticmethod
    def _reach(
        node: JobNode, index: dict[JobNode, list[Edge]], end: str, kinds: Iterable[str] | None
    ) -> set[JobNode]:
        allowed = set(kinds) if kinds is not None else None
        seen: set[JobNode] = set()
        stack = [node]
        while stack:
            for e in index.get(stack.pop(), ()):
                if allowed is not None and e.kind not in allowed:
                    continue
                nxt: JobNode = getattr(e, end)
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        seen.discard(node)
        return seen

    def steps(self, path: str, job: Job) -> list[ExpandedStep]:
        """The job's steps with local composite actions expanded in place (cached:
        treat the list as read-only)."""
        key = (path, job.id)
        out = self._steps.get(key)
        if out is None:
            out = self._steps[key] = []
            self._expand(job.steps, path, (), out, set())
        return out

    def _expand(
        self,
        steps: Iterable[Step],
        path: str,
        callers: tuple[tuple[str, Step], ...],
        out: list[ExpandedStep],
        active: set[str],
    ) -> None:
        for step in steps:
            action = self.local_action(step)
            out.append(ExpandedStep(step, path, callers, action))
            if (
                action is not None
                and action.is_composite
                and action.path not in active
                and len(callers) < MAX_COMPOSITE_DEPTH
            ):
                self._expand(
                    action.steps, action.path, (*callers, (path, step)), out, active | {action.path}
                )

    def local_action(self, step: Step) -> Action | None:
        """The local action a step uses, when it is one this repository has."""
        if step.uses is None:
            return None
        uses = step.uses.value
        if uses not in self._actions:
            self._actions[uses] = self._find_action(uses)
        return self._actions[uses]

    def _find_action(self, uses: str) -> Action | None:
        repo = self.repository
        folder = repo.local_target(uses, "")
        if folder is None:
            return None
        rel = action_file(repo.root, folder, None)
        if rel is None:
            for name in ("action.yml", "action.yaml"):
                cand = f"{folder}/{name}" if folder else name
                if cand in repo.actions:
                    return repo.actions[cand]
            return None
        return repo.actions.get(rel)

    def roots_of(self, path: str) -> list[JobNode]:
        """Top-level instances of a workflow's jobs (not reached through a call)."""
        return [n for n in self.nodes if n.path == path and not n.via]


def _problem(graph: RepoGraph, path: str, problem: Problem) -> None:
    graph.problems.setdefault(path, []).append(problem)


def build_graph(repo: Repository) -> RepoGraph:
    graph = RepoGraph(repo)
    for path, wf in repo.workflows.items():
        wg = graph.workflows[path] = WorkflowGraph(wf)
        for job_id, i in wg.missing:
            need = wf.jobs[job_id].needs[i]
            _problem(
                graph,
                path,
                Problem(
                    need.span,
                    f"job {job_id!r} needs {need.value!r}, which is not a job here",
                    job_id,
                ),
            )
        for cycle in wg.cycles():
            ring = " -> ".join([*cycle, cycle[0]])
            if len(cycle) > MAX_CYCLE_SHOWN:  # one readable line, not thousands of names
                ring = (
                    " -> ".join(cycle[: MAX_CYCLE_SHOWN - 1])
                    + f" -> ... ({len(cycle):,} jobs) -> {cycle[-1]} -> {cycle[0]}"
                )
            first = wf.jobs[cycle[0]]
            _problem(graph, path, Problem(first.key_span, f"`needs` cycle: {ring}", first.id))
    _check_local_uses(graph)
    _resolve_calls(graph)
    _instantiate(graph)
    _wire_workflow_run(graph)
    return graph


def _check_local_uses(graph: RepoGraph) -> None:
    """DG001 for `uses: ./x` with no action there, unless an earlier step of the same
    job fills that folder at run time (a second `actions/checkout` with `path: x`, a
    downloaded artifact): GitHub resolves `./` against the workspace, not the commit."""
    repo = graph.repository
    lists: list[tuple[str, str | None, Iterable[Step]]] = [
        (p, j.id, j.steps) for p, wf in repo.workflows.items() for j in wf.jobs.values()
    ]
    lists += [(p, None, a.steps) for p, a in repo.actions.items()]
    for path, job_id, steps in lists:
        filled: list[str] = []
        for step in steps:
            target = step.with_.get("path")
            if step.uses is not None and target is not None:
                filled.append(target.value.strip().removeprefix("./").rstrip("/"))
            if step.uses is None or step.uses.value.startswith("docker://"):
                continue
            if self_reference_with_ref(step.uses.value):
                _problem(graph, path, _self_ref_problem(step.uses, job_id))
                continue
            folder = repo.local_target(step.uses.value, path)
            if folder is None or graph.local_action(step) is not None:
                continue
            if _is_action_dir(repo, folder) or _filled_at_run_time(folder, filled):
                continue
            _problem(
                graph,
                path,
                Problem(
                    step.uses.span,
                    f"local action {step.uses.value!r} does not exist "
                    f"(no {folder or '.'}/action.yml)",
                    job_id,
                ),
            )


def _self_ref_problem(uses: Text, job: str | None) -> Problem:
    return Problem(
        uses.span,
        f"{uses.value!r}: a self-repository reference (`$/`) always uses the running "
        "commit and takes no `@ref`",
        job,
    )


def _filled_at_run_time(folder: str, filled: list[str]) -> bool:
    return any(f and (folder == f or folder.startswith(f + "/") or "${{" in f) for f in filled)


def _is_action_dir(repo: Repository, folder: str) -> bool:
    return action_file(repo.root, folder, None) is not None


def _resolve_calls(graph: RepoGraph) -> None:
    repo = graph.repository
    for path, wf in repo.workflows.items():
        for job in wf.jobs.values():
            if job.uses is None:
                continue
            if self_reference_with_ref(job.uses.value):
                _problem(graph, path, _self_ref_problem(job.uses, job.id))
                continue
            target = repo.local_target(job.uses.value, path)
            if target is None:
                continue  # a remote reusable workflow: opaque
            callee = repo.workflows.get(target)
            if callee is None:
                note_probe(repo.root, target)
                exists = (repo.root / target).is_file() or target in repo.problems
                if not exists:
                    _problem(
                        graph,
                        path,
                        Problem(
                            job.uses.span,
                            f"reusable workflow {job.uses.value!r} does not exist",
                            job.id,
                        ),
                    )
                continue
            if "workflow_call" not in callee.triggers:
                _problem(
                    graph,
                    path,
                    Problem(
                        job.uses.span,
                        f"{target} is not a reusable workflow: it has no `on: workflow_call`",
                        job.id,
                    ),
                )
                continue
            graph.calls[(path, job.id)] = target


def _instantiate(graph: RepoGraph) -> None:
    """Make job instances and needs/call/return edges for every workflow."""
    repo = graph.repository
    reported: set[tuple[str, str]] = set()
    called_only = {p for p, wf in repo.workflows.items() if _only_called(wf)}
    for path in repo.workflows:
        if path not in called_only or not any(c == path for c in graph.calls.values()):
            _add_instances(graph, reported, path, ())


def _add_instances(
    graph: RepoGraph,
    reported: set[tuple[str, str]],
    path: str,
    via: tuple[tuple[str, str], ...],
) -> dict[str, JobNode]:
    """The jobs of the workflow at `path` as called through `via`, and the workflows
    they call, recursively. (A module function, not a closure calling itself: that
    would be a reference cycle keeping the graph alive until the cyclic collector.)"""
    repo = graph.repository
    wg = graph.workflows[path]
    made = {j: JobNode(path, j, via) for j in wg.needs}
    graph.nodes.extend(made.values())
    for j, needs in wg.needs.items():
        for n in needs:
            graph.edges.append(Edge(made[n], made[j], "needs"))
    for j, node in made.items():
        callee = graph.calls.get((path, j))
        if callee is None:
            continue
        if any(p == callee for p, _ in via) or callee == path:
            key = (path, j)
            if key not in reported:
                reported.add(key)
                job = repo.workflows[path].jobs[j]
                assert job.uses is not None
                _problem(
                    graph,
                    path,
                    Problem(job.uses.span, f"reusable workflow call cycle through {callee}", j),
                )
            continue
        if len(via) >= MAX_CALL_DEPTH:
            continue
        inner = _add_instances(graph, reported, callee, (*via, (path, j)))
        inner_graph = graph.workflows[callee]
        for cj, cnode in inner.items():
            if not inner_graph.needs[cj]:
                graph.edges.append(Edge(node, cnode, "call"))
            for dep in wg.dependents[j]:
                graph.edges.append(Edge(cnode, made[dep], "return"))
    return made


def _only_called(wf: Workflow) -> bool:
    return set(wf.triggers) == {"workflow_call"}


def _wire_workflow_run(graph: RepoGraph) -> None:
    repo = graph.repository
    by_name: dict[str, list[str]] = {}
    for path, wf in repo.workflows.items():
        by_name.setdefault(wf.display_name, []).append(path)
    by_path: dict[str, list[JobNode]] = {}  # the job instances of each workflow, in order
    for n in graph.nodes:
        by_path.setdefault(n.path, []).append(n)
    for path, wf in repo.workflows.items():
        trigger = wf.trigger("workflow_run")
        if trigger is None:
            continue
        upstream: list[str] = []
        for name in trigger.workflows:
            matches = by_name.get(name.value, [])
            if not matches and "*" not in name.value:
                _problem(
                    graph,
                    path,
                    Problem(
                        name.span,
                        f"`workflow_run` names {name.value!r}, but no workflow in this "
                        "repository has that `name:`",
                    ),
                )
            upstream.extend(m for m in matches if m != path and m not in upstream)
        graph.triggered_by[path] = tuple(upstream)
        targets = [n for n in by_path.get(path, ()) if not n.via]
        first = [n for n in targets if not graph.workflows[path].needs[n.job]]
        for up in upstream:
            for source in by_path.get(up, ()):
                for t in first:
                    graph.edges.append(Edge(source, t, "workflow_run"))
