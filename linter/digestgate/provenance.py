"""Value provenance: where an image reference or digest comes from.

Every value a step uses is traced back through `${{ }}` expressions, `env`, step
outputs, job outputs, reusable workflow inputs and outputs, composite action inputs
and outputs, matrix values and `$GITHUB_OUTPUT` / `$GITHUB_ENV` writes in scripts, to
one point of the small lattice of RULES.md:

* `DIGEST`: a registry digest made by a build or push step of this pipeline (or read
  back from the registry after it), with that step as the origin;
* `LITERAL`: a digest written in the file (`sha256:` + hex);
* `TAG`: a tag or a list of tags (`docker/metadata-action` outputs, a tag literal);
* `EXTERNAL`: a workflow input, `vars`, `secrets`, the event payload, another run's
  artifact: known to come from outside the pipeline;
* `UNKNOWN`: anything the analysis cannot follow.

A value is asked about *at a site*: a job instance (`JobNode`, so reusable workflow
inputs resolve to the right caller) and a step index in that job's expanded steps
(`graph.steps`), or no step for job-level values (outputs, `container`, `services`).
Results are memoised per (site, question); a chain longer than `MAX_HOPS` or a cycle
is `UNKNOWN`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from typing import TypeVar

from digestgate.expressions import (
    Binary,
    Call,
    Context,
    Expr,
    ExprError,
    Index,
    Literal,
    parse_expression,
)
from digestgate.facts import (
    DigestSource,
    OutputWrite,
    Piece,
    PieceKind,
    StepFacts,
    Value,
    WriteTarget,
    value_of_text,
)
from digestgate.findings import Location
from digestgate.graph import ExpandedStep, JobNode, RepoGraph
from digestgate.model import Job, Text
from digestgate.nodes import YMap, YScalar, YSeq
from digestgate.span import Span

T = TypeVar("T")
MAX_HOPS = 40
DIGEST_RE = re.compile(r"^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$")
DIGEST_SOURCES = frozenset(
    {
        DigestSource.BUILD_OUTPUT,
        DigestSource.METADATA,
        DigestSource.DIGEST_FILE,
        DigestSource.READ_BACK,
        DigestSource.PRINTED_REF,
    }
)


class Kind(str, Enum):
    DIGEST = "digest"
    LITERAL = "literal"
    TAG = "tag"
    EXTERNAL = "external"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Origin:
    """The step that made a digest, or the outside source of an external value."""

    path: str
    span: Span
    job: JobNode | None = None
    step: str | None = None


@dataclass(frozen=True, slots=True)
class Provenance:
    kind: Kind
    why: str  # a short phrase for messages: "the digest output of step `push` in job `build`"
    origin: Origin | None = None
    hops: tuple[Location, ...] = ()  # where the value passed through, outermost first

    @property
    def is_digest(self) -> bool:
        return self.kind is Kind.DIGEST

    def via(self, path: str, span: Span, message: str) -> Provenance:
        return replace(self, hops=(Location(path, span, message), *self.hops))


UNKNOWN = Provenance(Kind.UNKNOWN, "a value digestgate cannot follow")


def join(items: Iterable[Provenance]) -> Provenance:
    """Several possible values (matrix entries, several writes): the weakest wins,
    DIGEST only when every one is a digest."""
    found = list(items)
    if not found:
        return UNKNOWN
    order = (Kind.UNKNOWN, Kind.EXTERNAL, Kind.TAG, Kind.LITERAL, Kind.DIGEST)
    return min(found, key=lambda p: order.index(p.kind))


@dataclass(frozen=True, slots=True)
class Site:
    node: JobNode
    step: int | None = None  # index into graph.steps(...) of the job; None: job level
    after: bool = False  # at the end of that step (its own outputs are visible)


FactsOf = Callable[[JobNode, int], StepFacts]


class Provenancer:
    """Answers "where does this value come from?" over one repository graph."""

    def __init__(self, graph: RepoGraph, facts_of: FactsOf) -> None:
        self.graph = graph
        self.facts_of = facts_of
        self._memo: dict[tuple[Site, str], Provenance] = {}
        self._active: set[tuple[Site, str]] = set()
        self._steps: dict[JobNode, list[ExpandedStep]] = {}

    # --- public ----------------------------------------------------------------------

    def steps(self, node: JobNode) -> list[ExpandedStep]:
        hit = self._steps.get(node)
        if hit is None:
            hit = self._steps[node] = self.graph.steps(node.path, self.graph.job(node))
        return hit

    def of_value(self, value: Value, site: Site) -> Provenance:
        """Where the digest of a value comes from.

        A value is judged by its digest part: the text after the last literal `@`
        (`ghcr.io/o/app@${{ needs.build.outputs.digest }}`), or the value itself
        when it is one slot (`${{ inputs.image }}`, `$IMAGE`) or a bare digest. A value
        with a literal tag and no `@` (`app:${{ github.sha }}`) is a TAG whatever its
        slots are; a static value is a LITERAL digest or a TAG."""
        pieces = value.pieces
        algo = _digest_prefix_at(pieces)
        if algo is not None:
            # `sha256:$(...)`, `sha256:${HEX}`: the hex comes from what follows
            return join(
                self.of_piece(p, site, value.path)
                for p in pieces[algo + 1 :]
                if p.kind is not PieceKind.LITERAL
            )
        at = _last_literal_at(pieces)
        if at is not None:
            index, offset = at
            head = pieces[index]
            rest = head.text[offset + 1 :]
            tail = ((Piece(PieceKind.LITERAL, rest, head.span),) if rest else ()) + pieces[
                index + 1 :
            ]
            if all(p.kind is PieceKind.LITERAL for p in tail):
                return _of_literal("".join(p.text for p in tail), value.path, value.span)
            slots = [p for p in tail if p.kind is not PieceKind.LITERAL]
            return join(self.of_piece(p, site, value.path) for p in slots)
        if value.is_static:
            return _of_literal(value.text, value.path, value.span)
        meaningful = [p for p in pieces if not (p.kind is PieceKind.LITERAL and not p.text.strip())]
        if len(meaningful) == 1:
            return self.of_piece(meaningful[0], site, value.path)
        literal = "".join(p.text for p in pieces if p.kind is PieceKind.LITERAL)
        if ":" in literal.rsplit("/", 1)[-1] or _has_tag(pieces):
            return Provenance(
                Kind.TAG, f"`{value.text}`, a reference by tag", Origin(value.path, value.span)
            )
        last = pieces[-1]
        if last.kind is not PieceKind.LITERAL:
            return self.of_piece(last, site, value.path)
        return Provenance(
            Kind.TAG,
            f"`{value.text}`, a reference without a digest",
            Origin(value.path, value.span),
        )

    def of_text(self, text: Text, path: str, site: Site) -> Provenance:
        return self.of_value(value_of_text(text, path), site)

    def of_piece(self, piece: Piece, site: Site, path: str) -> Provenance:
        if piece.kind is PieceKind.LITERAL:
            return _of_literal(piece.text, path, piece.span or Span(1, 1, 1, 1))
        if piece.kind is PieceKind.EXPR:
            inner = piece.text.strip()
            if inner.startswith("${{") and inner.endswith("}}"):
                inner = inner[3:-2]
            return self._guarded(site, f"expr:{inner}", lambda: self._of_expr_text(inner, site))
        if piece.kind is PieceKind.VAR:
            return self._guarded(site, f"env:{piece.text}", lambda: self._of_env(piece.text, site))
        if piece.kind is PieceKind.COMMAND:
            found = _of_command(piece.text, path, piece.span)
            if found.kind is Kind.UNKNOWN:
                read = self._of_file_read(piece.text, site, path, piece.span)
                if read is not None:
                    return read
            return found
        return UNKNOWN

    def _of_file_read(
        self, command: str, site: Site, path: str, span: Span | None
    ) -> Provenance | None:
        """`$(jq -r .digest record.json)`, `$(cat digest.txt)`: a value read from a
        file. A file written earlier in the job has the provenance of what was
        written; a file from a downloaded artifact is a DIGEST when the artifact comes
        from this run (an upstream job made it), EXTERNAL when from another run."""
        from digestgate.catalogue import artifact_io
        from digestgate.stepfacts import inner_commands

        commands = inner_commands(command, path)
        if not commands or commands[0].name not in _FILE_READERS:
            return None
        files = [a.text for a in commands[0].argv[1:] if a.is_static and not a.text.startswith("-")]
        if commands[0].name in ("jq", "yq", "awk", "sed", "grep") and files:
            files = files[1:]  # the filter or pattern comes first
        if not files:
            return None
        names = {f.rsplit("/", 1)[-1] for f in files}
        steps = self.steps(site.node)
        end = site.step if site.step is not None else len(steps)
        origin = Origin(path, span or Span(1, 1, 1, 1))
        for i in range(end - 1, -1, -1):
            for w in self.facts_of(site.node, i).writes:
                if w.target is WriteTarget.FILE and w.name.rsplit("/", 1)[-1] in names:
                    label = f"step `{steps[i].step.label}` in job `{site.node.job}`"
                    return self._of_write(w, Site(site.node, i), label)
        for i in range(end - 1, -1, -1):
            io = artifact_io(steps[i].step, steps[i].path)
            if io is None or io.upload:
                continue
            what = io.name.text if io.name is not None else "the artifacts"
            if io.external:
                return Provenance(
                    Kind.EXTERNAL,
                    f"`{', '.join(files)}` from the artifact {what} of another run",
                    origin,
                )
            return Provenance(
                Kind.DIGEST, f"`{', '.join(files)}` from the artifact {what} of this run", origin
            )
        return None

    def of_reference(self, path: Sequence[str], site: Site) -> Provenance:
        """A context access such as ('needs', 'build', 'outputs', 'digest')."""
        key = "ref:" + ".".join(path)
        return self._guarded(site, key, lambda: self._of_reference(tuple(path), site))

    # --- machinery -------------------------------------------------------------------

    def _guarded(self, site: Site, key: str, fn: Callable[[], Provenance]) -> Provenance:
        memo_key = (site, key)
        hit = self._memo.get(memo_key)
        if hit is not None:
            return hit
        if memo_key in self._active or len(self._active) > MAX_HOPS:
            return Provenance(
                Kind.UNKNOWN, "a value that depends on itself or on a very long chain"
            )
        self._active.add(memo_key)
        try:
            result = fn()
        finally:
            self._active.discard(memo_key)
        self._memo[memo_key] = result
        return result

    def _of_expr_text(self, text: str, site: Site) -> Provenance:
        try:
            expr = parse_expression(text)
        except ExprError:
            return UNKNOWN
        return self._of_expr(expr, site)

    def _of_expr(self, expr: Expr, site: Site) -> Provenance:
        if isinstance(expr, Literal):
            if isinstance(expr.value, str):
                return _of_literal(expr.value, site.node.path, Span(1, 1, 1, 1))
            return UNKNOWN
        path = _access_path(expr)
        if path is not None:
            return self.of_reference(path, site)
        if isinstance(expr, Index):
            # fromJSON(steps.x.outputs.metadata)['containerimage.digest'] and the like
            # (the inner value's provenance stands for the field read from it)
            base = _access_base(expr)
            return self._of_expr(base[0], site) if base is not None else UNKNOWN
        if isinstance(expr, Binary) and expr.op in ("||", "&&"):
            # `a || b` is one of its operands: a digest only if both are
            return join((self._of_expr(expr.left, site), self._of_expr(expr.right, site)))
        if isinstance(expr, Call):
            name = expr.name
            if name == "format" and expr.args and isinstance(expr.args[0], Literal):
                return self._of_format(expr, site)
            if name in ("join", "tojson", "fromjson") and expr.args:
                return join(self._of_expr(a, site) for a in expr.args)
            return UNKNOWN
        return UNKNOWN

    def _of_format(self, expr: Call, site: Site) -> Provenance:
        """`format('{0}@{1}', name, digest)`: judged by what follows the last `@`."""
        template = expr.args[0]
        assert isinstance(template, Literal)
        text = str(template.value)
        after = text.rsplit("@", 1)[-1] if "@" in text else text
        used = [int(n) for n in re.findall(r"\{(\d+)\}", after)]
        args = [expr.args[n + 1] for n in used if n + 1 < len(expr.args)]
        literal = re.sub(r"\{\d+\}", "", after)
        if "@" not in text and ":" in literal:
            return Provenance(Kind.TAG, "a reference by tag made with format()")
        if not args:
            return _of_literal(after, site.node.path, Span(1, 1, 1, 1))
        return join(self._of_expr(a, site) for a in args)

    def _of_reference(self, path: tuple[str, ...], site: Site) -> Provenance:
        if not path:
            return UNKNOWN
        head = path[0]
        if head == "steps" and len(path) >= 4 and path[2] == "outputs":
            return self._of_step_output(path[1], path[3], site)
        if head == "needs" and len(path) >= 4 and path[2] == "outputs":
            return self._of_needs_output(path[1], path[3], site)
        if head == "jobs" and len(path) >= 4 and path[2] == "outputs":
            return self._of_job_output(JobNode(site.node.path, path[1], site.node.via), path[3])
        if head == "inputs" and len(path) >= 2:
            return self._of_input(path[1], site)
        if head == "env" and len(path) >= 2:
            return self._of_env(path[1], site, case_insensitive=True)
        if head == "matrix" and len(path) >= 2:
            return self._of_matrix(path[1], site)
        if head in ("vars", "secrets"):
            return Provenance(
                Kind.EXTERNAL, f"`{head}.{'.'.join(path[1:])}`, set outside the pipeline"
            )
        if head == "github":
            what = ".".join(path)
            return Provenance(Kind.EXTERNAL, f"`{what}`, from the event or the run context")
        return Provenance(Kind.UNKNOWN, f"`{'.'.join(path)}`")

    # --- steps -----------------------------------------------------------------------

    def _scope_steps(self, site: Site) -> list[tuple[int, ExpandedStep]]:
        """Steps visible to `steps.<id>` at the site: same job, same composite scope,
        before the site's step (all of them at job level)."""
        steps = self.steps(site.node)
        if site.step is None:
            return [(i, s) for i, s in enumerate(steps) if not s.callers]
        here = steps[site.step]
        end = site.step + 1 if site.after else site.step
        return [(i, s) for i, s in enumerate(steps[:end]) if s.callers == here.callers]

    def _of_step_output(self, step_id: str, name: str, site: Site) -> Provenance:
        found = [
            (i, s)
            for i, s in self._scope_steps(site)
            if s.step.id and s.step.id.value.lower() == step_id
        ]
        if not found:
            return Provenance(
                Kind.UNKNOWN, f"output `{name}` of a step `{step_id}` that is not in this job"
            )
        index, step = found[-1]
        step_site = Site(site.node, index)
        label = f"step `{step.step.label}` in job `{site.node.job}`"
        if step.action is not None and step.action.is_composite:
            out = _get_ci(step.action.outputs, name)
            if out is None or out.value is None:
                return Provenance(Kind.UNKNOWN, f"output `{name}` that {label} does not define")
            inner = self._composite_site(site.node, index)
            result = self.of_text(out.value, step.action.path, inner)
            return result.via(step.action.path, out.value.span, f"output `{name}` of {label}")
        facts = self.facts_of(site.node, index)
        writes = [
            w for w in facts.writes if w.target is WriteTarget.OUTPUT and w.name.lower() == name
        ]
        if not writes:
            if facts.opaque:
                return Provenance(
                    Kind.UNKNOWN, f"output `{name}` of {label}, which digestgate cannot analyse"
                )
            return Provenance(Kind.UNKNOWN, f"output `{name}`, which {label} does not set")
        return join(self._of_write(w, step_site, label) for w in writes)

    def _of_write(self, write: OutputWrite, site: Site, label: str) -> Provenance:
        origin = Origin(write.path, write.span, site.node, label)
        if write.source in DIGEST_SOURCES:
            return Provenance(Kind.DIGEST, f"the digest `{write.name}` of {label}", origin)
        if write.source is DigestSource.TAG:
            return Provenance(Kind.TAG, f"the tags `{write.name}` of {label}", origin)
        if write.source is DigestSource.IMAGE_ID:
            return Provenance(
                Kind.UNKNOWN,
                f"`{write.name}` of {label}: a local image ID, not a registry digest",
                origin,
            )
        if write.value is None:
            return Provenance(Kind.UNKNOWN, f"`{write.name}` of {label}", origin)
        result = self.of_value(write.value, site)
        return result.via(write.path, write.span, f"written by {label}")

    def _composite_site(self, node: JobNode, index: int) -> Site:
        return composite_end_site(self.steps(node), node, index)

    # --- jobs ------------------------------------------------------------------------

    def _of_needs_output(self, job_id: str, name: str, site: Site) -> Provenance:
        wf = self.graph.repository.workflows.get(site.node.path)
        if wf is None:
            return UNKNOWN
        real = next((j for j in wf.jobs if j.lower() == job_id), None)
        if real is None:
            return Provenance(
                Kind.UNKNOWN, f"output `{name}` of a job `{job_id}` that does not exist"
            )
        return self._of_job_output(JobNode(site.node.path, real, site.node.via), name)

    def _of_job_output(self, node: JobNode, name: str) -> Provenance:
        wf = self.graph.repository.workflows.get(node.path)
        job = wf.jobs.get(node.job) if wf else None
        if job is None:
            return UNKNOWN
        callee = self.graph.calls.get((node.path, node.job))
        if callee is not None:
            return self._of_call_output(node, callee, name)
        out = _get_ci(job.outputs, name)
        if out is None or out.value is None:
            return Provenance(
                Kind.UNKNOWN, f"output `{name}`, which job `{node.job}` does not define"
            )
        result = self.of_text(out.value, node.path, Site(node, None))
        return result.via(node.path, out.value.span, f"output `{name}` of job `{node.job}`")

    def _of_call_output(self, caller: JobNode, callee: str, name: str) -> Provenance:
        wf = self.graph.repository.workflows[callee]
        trigger = wf.trigger("workflow_call")
        out = None
        if trigger is not None:
            out = _get_ci(trigger.outputs, name)
        if out is None or out.value is None:
            return Provenance(Kind.UNKNOWN, f"output `{name}`, which {callee} does not define")
        via = (*caller.via, (caller.path, caller.job))
        inner = self.graph.instances(callee, "")  # placeholder to keep the API symmetric
        del inner
        expr_site = Site(JobNode(callee, next(iter(wf.jobs), ""), via), None)
        result = self.of_text(out.value, callee, expr_site)
        return result.via(callee, out.value.span, f"output `{name}` of {callee}")

    # --- inputs, env, matrix ---------------------------------------------------------

    def _of_input(self, name: str, site: Site) -> Provenance:
        steps = self.steps(site.node)
        here = steps[site.step] if site.step is not None else None
        if here is not None and here.callers:
            # a composite action's input: what the calling step passes
            caller_path, caller_step = here.callers[-1]
            caller_index = next(
                (i for i, s in enumerate(steps) if s.step is caller_step and s.path == caller_path),
                None,
            )
            given = _get_ci(caller_step.with_, name)
            if given is not None and caller_index is not None:
                result = self.of_text(given, caller_path, Site(site.node, caller_index))
                return result.via(
                    caller_path, given.span, f"input `{name}` of the composite action"
                )
            action = here.path
            spec = self.graph.repository.actions.get(action)
            declared = _get_ci(spec.inputs, name) if spec else None
            default = declared.default if declared else None
            if default is not None:
                return self.of_text(default, action, site)
            return Provenance(Kind.UNKNOWN, f"input `{name}`, which the calling step does not pass")
        node = site.node
        if node.via:
            caller_path, caller_job = node.via[-1]
            caller = JobNode(caller_path, caller_job, node.via[:-1])
            job = self.graph.repository.workflows[caller_path].jobs[caller_job]
            given = _get_ci(job.with_, name)
            if given is not None:
                result = self.of_text(given, caller_path, Site(caller, None))
                return result.via(caller_path, given.span, f"input `{name}` of {node.path}")
            trigger = self.graph.repository.workflows[node.path].trigger("workflow_call")
            default = trigger.inputs[name].default if trigger and name in trigger.inputs else None
            if default is not None:
                return self.of_text(default, node.path, site)
            return Provenance(Kind.UNKNOWN, f"input `{name}`, which the caller does not pass")
        wf = self.graph.repository.workflows[node.path]
        for event in ("workflow_dispatch", "workflow_call"):
            trigger = wf.trigger(event)
            if trigger is not None and name in trigger.inputs:
                d = trigger.inputs[name]
                return Provenance(
                    Kind.EXTERNAL,
                    f"the `{event}` input `{name}`, given by whoever starts the run",
                    Origin(node.path, d.span),
                )
        return Provenance(Kind.EXTERNAL, f"the input `{name}`, given from outside the pipeline")

    def _of_env(self, name: str, site: Site, case_insensitive: bool = False) -> Provenance:
        """An environment variable: step env, job env, workflow env, then earlier
        `$GITHUB_ENV` writes in the job (composite steps see the caller's env too)."""
        steps = self.steps(site.node)
        job = self.graph.job(site.node)
        wf = self.graph.repository.workflows[site.node.path]
        scopes: list[tuple[str, dict[str, Text]]] = []
        if site.step is not None:
            here = steps[site.step]
            scopes.append((here.path, here.step.env))
            for caller_path, caller_step in reversed(here.callers):
                scopes.append((caller_path, caller_step.env))
        scopes.append((site.node.path, job.env))
        # $GITHUB_ENV writes of earlier steps win over job and workflow env
        end = site.step if site.step is not None else len(steps)
        for i in range(end - 1, -1, -1):
            facts = self.facts_of(site.node, i)
            for w in facts.writes:
                if w.target is WriteTarget.ENV and _same(w.name, name, case_insensitive):
                    label = f"step `{steps[i].step.label}` in job `{site.node.job}`"
                    return self._of_write(w, Site(site.node, i), label)
        scopes.append((site.node.path, wf.env))
        for path, env in scopes:
            for key, text in env.items():
                if _same(key, name, case_insensitive):
                    result = self.of_text(text, path, Site(site.node, site.step))
                    return result.via(path, text.span, f"env `{key}`")
        if name in _RUNNER_ENV:
            return Provenance(Kind.EXTERNAL, f"`${name}`, set by the runner")
        return Provenance(Kind.UNKNOWN, f"`${name}`, which is not set in the workflow")

    def _of_matrix(self, name: str, site: Site) -> Provenance:
        job: Job = self.graph.job(site.node)
        matrix = job.strategy.matrix if job.strategy else None
        if not isinstance(matrix, YMap):
            return Provenance(
                Kind.UNKNOWN, f"`matrix.{name}`, from a matrix digestgate cannot read"
            )
        values: list[YScalar] = []
        entry = matrix.get(name)
        if isinstance(entry, YSeq):
            values += [v for v in entry.items if isinstance(v, YScalar)]
        elif isinstance(entry, YScalar) and "${{" in entry.value:
            text = Text(entry.value, entry.span, entry, entry.tag)
            return self.of_text(text, site.node.path, Site(site.node, None))
        include = matrix.get("include")
        if isinstance(include, YSeq):
            for item in include.items:
                if isinstance(item, YMap) and isinstance(v := item.get(name), YScalar):
                    values.append(v)
        if not values:
            return Provenance(Kind.UNKNOWN, f"`matrix.{name}`, which the matrix does not list")
        path = site.node.path
        return join(
            self.of_text(Text(v.value, v.span, v, v.tag), path, Site(site.node, None))
            for v in values
        )


_FILE_READERS = frozenset({"jq", "yq", "cat", "head", "tail", "awk", "sed", "grep", "cut", "tr"})
_RUNNER_ENV = frozenset(
    {
        "GITHUB_SHA",
        "GITHUB_REF",
        "GITHUB_REF_NAME",
        "GITHUB_REPOSITORY",
        "GITHUB_RUN_ID",
        "RUNNER_TEMP",
    }
)


def _same(a: str, b: str, case_insensitive: bool) -> bool:
    return a.lower() == b.lower() if case_insensitive else a == b


def _get_ci(mapping: Mapping[str, T], name: str) -> T | None:
    """`mapping[name]`, with keys compared case-insensitively as GitHub does."""
    if name in mapping:
        return mapping[name]
    for k, v in mapping.items():
        if k.lower() == name.lower():
            return v
    return None


def composite_end_site(steps: Sequence[ExpandedStep], node: JobNode, index: int) -> Site:
    """The end of the last step directly inside the composite action used at step
    `index`: where the action's `outputs` are evaluated."""
    here = steps[index]
    inner = (*here.callers, (here.path, here.step))
    last = None
    for j in range(index + 1, len(steps)):
        if steps[j].callers[: len(inner)] != inner:
            break
        if steps[j].callers == inner:
            last = j
    return Site(node, last, after=True) if last is not None else Site(node, index)


def _digest_prefix_at(pieces: tuple[Piece, ...]) -> int | None:
    """Index of a literal piece ending in `sha256:`/`sha512:` right before a slot."""
    for i, p in enumerate(pieces[:-1]):
        if (
            p.kind is PieceKind.LITERAL
            and p.text.endswith(("sha256:", "sha512:"))
            and pieces[i + 1].kind is not PieceKind.LITERAL
        ):
            return i
    return None


def _last_literal_at(pieces: tuple[Piece, ...]) -> tuple[int, int] | None:
    """(piece index, offset) of the last `@` in a literal piece, if any."""
    for i in range(len(pieces) - 1, -1, -1):
        p = pieces[i]
        if p.kind is PieceKind.LITERAL and "@" in p.text:
            return i, p.text.rindex("@")
    return None


def _has_tag(pieces: tuple[Piece, ...]) -> bool:
    """A literal `:` after the last `/` of a literal piece: `x:${{ github.sha }}`."""
    return any(p.kind is PieceKind.LITERAL and ":" in p.text.rsplit("/", 1)[-1] for p in pieces)


def _of_literal(text: str, path: str, span: Span) -> Provenance:
    t = text.strip()
    digest = t.rsplit("@", 1)[-1] if "@" in t else t
    if DIGEST_RE.match(digest):
        return Provenance(Kind.LITERAL, "a digest written in the file", Origin(path, span))
    if not t:
        return Provenance(Kind.UNKNOWN, "an empty value")
    return Provenance(Kind.TAG, f"the literal `{t}`", Origin(path, span))


def _of_command(command: str, path: str, span: Span | None) -> Provenance:
    """`$(crane digest x)` and other read-backs: ask the command classifier."""
    from digestgate.commands import pipeline_digest_source
    from digestgate.stepfacts import inner_commands, is_digest_list_command

    if is_digest_list_command(command):
        return Provenance(
            Kind.DIGEST,
            "the per-platform digests listed from the digest files of this run",
            Origin(path, span or Span(1, 1, 1, 1)),
        )

    source = pipeline_digest_source(inner_commands(command, path))
    origin = Origin(path, span or Span(1, 1, 1, 1))
    if source in DIGEST_SOURCES:
        return Provenance(Kind.DIGEST, f"the digest read back by `{command.strip()}`", origin)
    if source is DigestSource.IMAGE_ID:
        return Provenance(
            Kind.UNKNOWN, f"`{command.strip()}` gives a local image ID, not a digest", origin
        )
    return Provenance(Kind.UNKNOWN, f"the output of `{command.strip()}`", origin)


def _access_path(expr: Expr) -> tuple[str, ...] | None:
    """`a.b['c']` -> ('a', 'b', 'c') when every key is a literal string."""
    keys: list[str] = []
    node = expr
    while isinstance(node, Index):
        if not isinstance(node.key, Literal) or not isinstance(node.key.value, str):
            return None
        keys.append(node.key.value.lower())
        node = node.obj
    if not isinstance(node, Context):
        return None
    return (node.name, *reversed(keys))


def _access_base(expr: Index) -> tuple[Expr, list[str]] | None:
    keys: list[str] = []
    node: Expr = expr
    while isinstance(node, Index):
        if isinstance(node.key, Literal) and isinstance(node.key.value, str):
            keys.append(node.key.value.lower())
        node = node.obj
    if isinstance(node, Call):
        return node, keys
    return None
