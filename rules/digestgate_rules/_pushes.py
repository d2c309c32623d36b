"""What DG201, DG202 and DG203 share: the registry pushes of a pipeline, and where
their digests go (captured, exported as job outputs, written to files, uploaded as
artifacts, recorded).

A *push* is one thing a step does that writes an image to a registry and so makes a
new registry digest: a BUILD or PUSH operation with `push` set (a build that pushes
has both; they are one push), or an index assembly. Pushes to a registry on the
runner itself (`localhost:5000/app`) are left out: that digest lives only as long as
the job and nothing downstream could bind to it.
"""

from __future__ import annotations

import fnmatch
import re
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from posixpath import basename, dirname, normpath

from digestgate.analysis import Analysis
from digestgate.catalogue import action_key, artifact_io
from digestgate.facts import (
    ImageArg,
    ImageUse,
    Operation,
    OutputWrite,
    Piece,
    PieceKind,
    Role,
    Value,
    WriteTarget,
)
from digestgate.findings import Location
from digestgate.graph import ExpandedStep, JobNode
from digestgate.imageref import PLACEHOLDER, RefError, on_runner, parse, split_static
from digestgate.provenance import DIGEST_SOURCES, Origin, Provenance, Site
from digestgate.span import Span

# what a validation can do with the image it checks (references, not names)
CONSUMING = frozenset(
    {ImageUse.RUN, ImageUse.PULL, ImageUse.SERVICE, ImageUse.SCAN, ImageUse.INPUT}
)


@dataclass(frozen=True)
class Push:
    """One registry push of a job instance."""

    node: JobNode
    index: int  # the step, in the job's expanded steps
    expanded: ExpandedStep
    ops: tuple[Operation, ...]  # its operations (a pushing build's BUILD and PUSH)

    @property
    def op(self) -> Operation:
        """The operation that pushes (the PUSH one when there is one)."""
        return next((o for o in self.ops if o.role is Role.PUSH), self.ops[0])

    @property
    def names(self) -> tuple[ImageArg, ...]:
        seen: dict[tuple[str, Span], ImageArg] = {}
        for op in self.ops:
            for arg in op.names():
                seen.setdefault((arg.value.path, arg.value.span), arg)
        return tuple(seen.values())

    @property
    def is_action(self) -> bool:
        """Made by a well-known action (`uses:`), not by a command of a script."""
        step = self.expanded.step
        return step.uses is not None and self.op.path == self.expanded.path

    @property
    def path(self) -> str:
        return self.expanded.path if self.is_action else self.op.path

    @property
    def span(self) -> Span:
        """Where a finding about the push lands: the `uses:` value or the command."""
        uses = self.expanded.step.uses
        return uses.span if self.is_action and uses is not None else self.op.span

    @property
    def step_id(self) -> str | None:
        sid = self.expanded.step.id
        return sid.value if sid is not None else None

    @property
    def image(self) -> str:
        """How messages name the image: its first name, as written."""
        names = self.names
        if names:
            text = names[0].value.text
            return f"`{text}`" + (f" (and {len(names) - 1} more)" if len(names) > 1 else "")
        if any(op.index_assembly for op in self.ops):
            return "an image index"
        return "an image"

    @property
    def sentence(self) -> str:
        """How messages start: Step `s` of job `j` pushes `x`."""
        return f"Step `{self.expanded.step.label}` of job `{self.node.job}` pushes {self.image}"

    def location(self, message: str = "the push") -> Location:
        return Location(self.path, self.span, message)


def _is_push(op: Operation) -> bool:
    return op.index_assembly or (op.role in (Role.BUILD, Role.PUSH) and op.push)


def _is_local(arg: ImageArg) -> bool:
    return on_runner(arg.value.text)


_PUSHES: weakref.WeakKeyDictionary[Analysis, dict[JobNode, list[Push]]] = (
    weakref.WeakKeyDictionary()
)


def pushes(analysis: Analysis, node: JobNode) -> list[Push]:
    """The registry pushes of a job instance, in step order (worked out once: DG201,
    DG202 and DG203 ask for every job, and again for every digest they follow)."""
    known = _PUSHES.get(analysis)
    if known is None:
        known = _PUSHES[analysis] = {}
    found = known.get(node)
    if found is None:
        found = known[node] = _pushes_of(analysis, node)
    return list(found)


def _pushes_of(analysis: Analysis, node: JobNode) -> list[Push]:
    out: list[Push] = []
    for i, expanded, facts in analysis.step_facts(node):
        groups: dict[tuple[str, Span] | int, list[Operation]] = {}
        for op in facts.operations:
            if not _is_push(op):
                continue
            # an action's BUILD and PUSH are one push; a script's pushes are its commands
            key: tuple[str, Span] | int = (
                -1
                if expanded.step.uses is not None and op.path == expanded.path
                else (op.path, op.span)
            )
            groups.setdefault(key, []).append(op)
        for ops in groups.values():
            push = Push(node, i, expanded, tuple(ops))
            names = push.names
            if names and all(_is_local(a) for a in names):
                continue
            out.append(push)
    return out


def all_pushes(analysis: Analysis, broken: frozenset[str] = frozenset()) -> Iterator[Push]:
    for node in analysis.graph.nodes:
        if node.path in broken:
            continue
        for push in pushes(analysis, node):
            if push.path not in broken:
                yield push


# --- where a digest came from ----------------------------------------------------------


def origin_step(analysis: Analysis, node: JobNode, origin: Origin) -> int | None:
    """The step of `node` an origin is written in (None: not one step of it)."""
    for i, expanded in enumerate(analysis.steps(node)):
        if expanded.path == origin.path and expanded.step.span.contains(origin.span):
            return i
    return None


def digest_of_push(
    analysis: Analysis, push: Push, prov: Provenance, push_steps: Iterable[int]
) -> bool:
    """A DIGEST provenance made by this push: written by its step, or read back
    (captured) by a later step of its job that pushes nothing itself."""
    origin = prov.origin
    if not prov.is_digest or origin is None or origin.job != push.node:
        return False
    step = origin_step(analysis, push.node, origin)
    if step is None:
        return True  # somewhere in the job (a script file it runs): cannot tell which push
    if step == push.index:
        return True
    return step > push.index and step not in set(push_steps)


# --- capture (DG201) ----------------------------------------------------------------------


def digest_outputs(analysis: Analysis, push: Push) -> list[str]:
    """Names of the digest outputs of the pushing step (an action's `digest`, `metadata`)."""
    facts = analysis.facts.of(push.node, push.index)
    return [
        w.name
        for w in facts.writes
        if w.target is WriteTarget.OUTPUT and w.value is None and w.source in DIGEST_SOURCES
    ]


def output_pattern(step_id: str, name: str) -> re.Pattern[str]:
    """`steps.<id>.outputs.<name>` in any spelling GitHub accepts (dots or `['...']`)."""
    sid, out = re.escape(step_id), re.escape(name)

    def part(word: str) -> str:
        return rf"(?:\s*\.\s*{word}(?![\w-])|\s*\[\s*['\"]{word}['\"]\s*\])"

    return re.compile(rf"(?<![\w.-])steps{part(sid)}{part('outputs')}{part(out)}", re.IGNORECASE)


def scope_text(analysis: Analysis, push: Push) -> str:
    """The text in which `steps.<id>` of the pushing step can be read: its job in the
    workflow, or the whole composite action it is a step of."""
    expanded = push.expanded
    source = analysis.repository.sources.get(expanded.path)
    if source is None:
        return ""
    if expanded.callers:
        return source.text
    job = analysis.job(push.node)
    last = min(job.span.end_line, source.line_count)
    return "\n".join(source.line_text(n) for n in range(job.span.line, last + 1))


def output_used(analysis: Analysis, push: Push) -> str | None:
    """The digest output of the pushing step that is read somewhere in its scope."""
    sid = push.step_id
    if sid is None:
        return None
    text = scope_text(analysis, push)
    for name in digest_outputs(analysis, push):
        if output_pattern(sid, name).search(text):
            return name
    return None


def digest_file(analysis: Analysis, op: Operation) -> Value | None:
    """The digest file an operation writes (`--digestfile`, `--metadata-file`,
    kaniko `--digest-file`, `--image-refs`); an `--iidfile` holds a local image ID
    and is not one."""
    value = op.digest_file
    if value is None:
        return None
    source = analysis.repository.sources.get(value.path)
    span = value.span
    if source is not None and 1 <= span.line <= source.line_count:
        before = source.line_text(span.line)[: span.column - 1].rstrip(" =\"'")
        if before.endswith("--iidfile"):
            return None
    return value


def _pieces(facts_values: Iterable[Value | None]) -> Iterator[Piece]:
    for v in facts_values:
        if v is not None:
            yield from v.pieces


def reads_back(analysis: Analysis, node: JobNode, start: int) -> OutputWrite | Piece | None:
    """A digest read back from the registry (or printed by the push and kept) by a
    command of the job at or after step `start`: a write of such a value, or a
    command substitution that gives one."""
    for i, _, facts in analysis.step_facts(node):
        if i < start:
            continue
        for w in facts.writes:
            if w.value is not None and w.source in DIGEST_SOURCES:
                return w
        values: list[Value | None] = [w.value for w in facts.writes]
        values += [a.value for op in facts.operations for a in op.images]
        values += [a.value for a in facts.references]
        for piece in _pieces(values):
            if piece.kind is not PieceKind.COMMAND:
                continue
            prov = analysis.provenance.of_piece(piece, Site(node, i), "")
            if prov.is_digest:
                return piece
    return None


# --- digest files and artifacts (DG202, DG203) --------------------------------------------


@dataclass(frozen=True)
class DigestFile:
    """A file a job writes that holds a registry digest."""

    index: int  # the step that writes it
    name: str  # the path as written
    provenance: Provenance | None  # of the written value (None: a tool's digest file)
    op: Operation | None = None  # the operation whose digest file it is


@dataclass(frozen=True)
class Upload:
    """An `actions/upload-artifact` step of a job that uploads a digest file."""

    node: JobNode
    index: int
    file: DigestFile


def digest_files(analysis: Analysis, node: JobNode) -> list[DigestFile]:
    out: list[DigestFile] = []
    for i, _, facts in analysis.step_facts(node):
        for op in facts.operations:
            value = digest_file(analysis, op) if _is_push(op) else None
            if value is not None:
                out.append(DigestFile(i, value.text, None, op))
        for w in facts.writes:
            if w.target is not WriteTarget.FILE or w.name.startswith("artifact:"):
                continue
            if w.source in DIGEST_SOURCES:
                out.append(DigestFile(i, w.name, None))
            elif w.value is not None and not w.value.text.startswith("artifact"):
                prov = analysis.provenance.of_value(w.value, Site(node, i))
                if prov.is_digest:
                    out.append(DigestFile(i, w.name, prov))
    return out


_RUNNER_TEMP = re.compile(r"\$\{\{\s*runner\.temp\s*\}\}|\$\{RUNNER_TEMP\}|\$RUNNER_TEMP\b")
_WORKSPACE = re.compile(
    r"^(?:\$\{\{\s*github\.workspace\s*\}\}|\$\{GITHUB_WORKSPACE\}|\$GITHUB_WORKSPACE\b)/?"
)


def _norm(path: str) -> str:
    """A path as written, comparable: quotes off, the runner's temporary folder and
    workspace spelled one way whichever syntax names them."""
    text = path.strip().strip("\"'")
    text = _WORKSPACE.sub("", _RUNNER_TEMP.sub("<runner.temp>", text))
    if not text:
        return ""
    return normpath(text).removeprefix("./")


def covers(pattern: str, written: str) -> bool:
    """An upload `path:` line holds a written file: the same path, a folder of it, a
    glob that matches it, or (paths being relative to different folders) a glob of
    the same file name, or every file of a folder of the same name."""
    up, file = _norm(pattern), _norm(written)
    if not up or not file:
        return False
    if up == file or file.startswith(up.rstrip("/") + "/"):
        return True
    if fnmatch.fnmatchcase(file, up) or fnmatch.fnmatchcase(file, up.rstrip("/") + "/**"):
        return True
    name = basename(up)
    if name not in ("*", "**", ""):
        return fnmatch.fnmatchcase(basename(file), name)
    folder = basename(dirname(up))
    return bool(folder) and "*" not in folder and basename(dirname(file)) == folder


def uploads(analysis: Analysis, node: JobNode) -> list[Upload]:
    """The digest files of a job that a later `actions/upload-artifact` step uploads."""
    files = digest_files(analysis, node)
    if not files:
        return []
    out: list[Upload] = []
    for i, expanded in enumerate(analysis.steps(node)):
        io = artifact_io(expanded.step, expanded.path)
        if io is None or not io.upload:
            continue
        for f in files:
            if f.index <= i and any(covers(p.text, f.name) for p in io.paths):
                out.append(Upload(node, i, f))
    return out


def upload_holds(analysis: Analysis, upload: Upload, push: Push) -> bool:
    """The uploaded file holds the digest of this push."""
    f = upload.file
    if f.op is not None:
        return upload.node == push.node and f.op in push.ops
    if f.provenance is None:  # a digest file written by a tool in the pushing job
        return upload.node == push.node and f.index >= push.index
    steps = [p.index for p in pushes(analysis, push.node) if p.index != push.index]
    return digest_of_push(analysis, push, f.provenance, steps)


# --- image names ---------------------------------------------------------------------------


_ENV_EXPR = re.compile(r"^\$\{\{\s*env\.([A-Za-z_][A-Za-z0-9_-]*)\s*\}\}$")


def _env_text(analysis: Analysis, node: JobNode, index: int | None, name: str) -> str | None:
    """The static value of an environment variable at a step (step, callers, job,
    workflow env), None when it is not static text."""
    scopes = []
    if index is not None:
        expanded = analysis.steps(node)[index]
        scopes.append(expanded.step.env)
        scopes.extend(caller.env for _, caller in reversed(expanded.callers))
    scopes.append(analysis.job(node).env)
    workflow = analysis.repository.workflows.get(node.path)
    if workflow is not None:
        scopes.append(workflow.env)
    for env in scopes:
        for key, text in env.items():
            if key.lower() == name.lower():
                return None if "${{" in text.value else text.value
    return None


def name_key(analysis: Analysis, value: Value, node: JobNode, index: int | None) -> str | None:
    """The image name of a reference or name, without tag or digest, for comparing
    two images: `${{ env.X }}` resolved when static, other slots kept as written (the
    same expression names the same image), a static name normalised."""
    tokens: dict[str, str] = {}
    parts: list[str] = []
    for piece in value.pieces:
        if piece.kind is PieceKind.LITERAL:
            parts.append(piece.text)
            continue
        text = piece.text
        if piece.kind is PieceKind.EXPR:
            m = _ENV_EXPR.match(text.strip())
            if m is not None:
                resolved = _env_text(analysis, node, index, m.group(1))
                if resolved is not None:
                    parts.append(resolved)
                    continue
        token = tokens.setdefault(text, chr(0xE000 + len(tokens)))
        parts.append(token)
    flat = "".join(parts).strip()
    if not flat:
        return None
    shape = split_static(flat)
    name = shape.name_text
    if not name or name == PLACEHOLDER:
        return None
    if all(ord(c) < 0xE000 for c in name):
        try:
            return parse(name).normalized_name
        except RefError:
            return name.lower()
    back = {v: k for k, v in tokens.items()}
    return "".join(back.get(c, c) for c in name).lower()


def push_keys(analysis: Analysis, push: Push) -> set[str]:
    keys = set()
    for arg in push.names:
        key = name_key(analysis, arg.value, push.node, push.index)
        if key is not None:
            keys.add(key)
    return keys


def is_this_image(
    analysis: Analysis,
    push: Push,
    value: Value,
    node: JobNode,
    index: int | None,
    skip_names: frozenset[str] | set[str] = frozenset(),
) -> bool:
    """A reference or record subject is the image of this push: its digest comes from
    the push, or its name is a name the push writes (and not one of `skip_names`:
    images the consuming job builds itself)."""
    prov = analysis.provenance.of_value(value, Site(node, index))
    if prov.is_digest:
        others = [p.index for p in pushes(analysis, push.node) if p.index != push.index]
        if digest_of_push(analysis, push, prov, others):
            return True
    key = name_key(analysis, value, node, index)
    return key is not None and key not in skip_names and key in push_keys(analysis, push)


# --- the pipeline ---------------------------------------------------------------------------


_PIPELINES: weakref.WeakKeyDictionary[Analysis, dict[JobNode, frozenset[JobNode]]] = (
    weakref.WeakKeyDictionary()
)


def pipeline(analysis: Analysis, node: JobNode) -> frozenset[JobNode]:
    """Every job connected to `node` by `needs`, reusable workflow calls or
    `workflow_run` chains, in either direction: its pipeline. Found once for all
    its jobs (a `workflow_run` fan-in can join hundreds of workflows into one)."""
    known = _PIPELINES.setdefault(analysis, {})
    hit = known.get(node)
    if hit is not None:
        return hit
    graph = analysis.graph
    seen = {node}
    stack = [node]
    while stack:
        here = stack.pop()
        for edge in (*graph.outgoing(here), *graph.incoming(here)):
            for nxt in (edge.source, edge.target):
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
    found = frozenset(seen)
    known.update(dict.fromkeys(found, found))
    return found


def related(analysis: Analysis, push: Push) -> tuple[Location, ...]:
    """Where a push written in a script, composite action or called workflow was
    reached from."""
    out: list[Location] = []
    step = push.expanded.step
    if not push.is_action and push.op.path != push.expanded.path and step.run is not None:
        out.append(Location(push.expanded.path, step.run.span, "the script runs from this step"))
    return (*out, *analysis.related(push.node, push.expanded))


def tool_key(push: Push) -> str:
    uses = push.expanded.step.uses
    return (action_key(uses.value) or "") if uses is not None and push.is_action else ""
