"""Shared logic of DG401-DG403: which builds rebuild an image that was validated, and
which promoted digests an artifact validation consumed.

Two builds make *the same image* (RULES.md, DG401) when their names share a
normalised name or a last path component (`app:ci` tested locally, `ghcr.io/acme/app`
built later), or, when the names do not decide it, when they build the same context
with the same Dockerfile. A build that takes the validated image as its base (a child
image) is a different image. When a name cannot be read statically and the context
does not tell the builds apart either, the build is reported as possibly the same
image, and the message says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from digestgate.analysis import Analysis, ArtifactValidation, Build, last_component, static_name
from digestgate.facts import ImageArg, ImageUse, Operation, Role, Value
from digestgate.findings import Location
from digestgate.graph import JobNode
from digestgate.provenance import Origin, Site


class Same(str, Enum):
    """Why a build is taken for a build of the validated image."""

    NAME = "name"  # a shared name or last path component
    CONTEXT = "context"  # the same build context and Dockerfile
    UNRESOLVED = "unresolved"  # a name that cannot be read, and nothing tells them apart


def order(analysis: Analysis, node: JobNode, step: int, op: Operation | None) -> tuple[int, int]:
    """Where an operation runs in its job: (step index, position among the step's
    operations, which follow the script's order)."""
    if op is None:
        return (step, -1)
    ops = analysis.facts.of(node, step).operations
    return (step, ops.index(op) if op in ops else 0)


def rebuild_candidates(analysis: Analysis, node: JobNode) -> list[Build]:
    """The builds of a job that could rebuild an image: every BUILD whose image
    leaves the job (`ships`). A push is never a candidate by itself: a push of an
    image built in the job is judged at that build, and a push of an image no build
    of the job makes pushes bytes made elsewhere (a loaded archive, possibly in an
    earlier step: the validated bytes themselves). Index assembly is not a BUILD."""
    out: list[Build] = []
    for i, expanded, op in analysis.operations(node):
        if op.role is not Role.BUILD or op.index_assembly:
            continue
        build = Build(node, i, expanded, op)
        if ships(analysis, build):
            out.append(build)
    return out


def ships(analysis: Analysis, build: Build) -> bool:
    """Whether what a build makes leaves its job: it pushes, or a later step of the
    job pushes or saves one of its names. A local build only run by more tests is
    not what ships, and rebuilding it is harmless."""
    op = build.operation
    if op.push:
        return True
    names, _ = written_names(op)
    texts = {a.value.text for a in op.names()}
    at = order(analysis, build.node, build.step, op)

    def same(args: tuple[ImageArg, ...]) -> bool:
        theirs = {n for a in args if (n := static_name(a)) is not None}
        return bool(names & theirs) or bool(texts & {a.value.text for a in args})

    for i, _, facts in analysis.step_facts(build.node):
        for later in facts.operations:
            if later.role is not Role.PUSH or order(analysis, build.node, i, later) <= at:
                continue
            if same(later.names()):
                return True
        if i >= build.step:
            saved = tuple(a for a in facts.references if a.use is ImageUse.INPUT)
            if saved and same(saved):
                return True
    return False


def written_names(op: Operation) -> tuple[frozenset[str], bool]:
    """The names a build writes, normalised, and whether some name cannot be read."""
    names: set[str] = set()
    unresolved = False
    for arg in op.names():
        name = static_name(arg)
        if name is None:
            unresolved = True
        else:
            names.add(name)
    return frozenset(names), unresolved


def validated_names(v: ArtifactValidation) -> frozenset[str]:
    """The names of the image a validation consumed: its own reference, and the names
    of the build it was matched to."""
    names: set[str] = set()
    own = static_name(v.image.arg)
    if own is not None:
        names.add(own)
    if v.build is not None:
        names |= written_names(v.build.operation)[0]
    return frozenset(names)


def overlap(a: frozenset[str], b: frozenset[str]) -> bool:
    if a & b:
        return True
    return bool({last_component(n) for n in a} & {last_component(n) for n in b})


def _path(text: str) -> str:
    text = text.strip()
    while text.startswith("./"):
        text = text[2:]
    text = text.rstrip("/")
    return text or "."


def build_source(op: Operation) -> tuple[str, str] | None:
    """(context, Dockerfile) of a build, normalised, when the context is known."""
    if op.context is None:
        return None
    context = _path(op.context.text)
    if op.dockerfile is not None:
        dockerfile = _path(op.dockerfile.text)
    else:
        dockerfile = "Dockerfile" if context == "." else f"{context}/Dockerfile"
    return context, dockerfile


def _is_child(
    analysis: Analysis, build: Build, v: ArtifactValidation, names: frozenset[str]
) -> bool:
    """The build takes the validated image as its base: a different image."""
    site = Site(build.node, build.step)
    want = validated_origin(analysis, v)
    for arg in build.operation.images:
        if arg.use is not ImageUse.BASE:
            continue
        base = static_name(arg)
        if base is not None and overlap(frozenset({base}), names):
            return True
        prov = analysis.provenance.of_value(arg.value, site)
        if want is not None and prov.origin is not None and same_origin(prov.origin, want):
            return True
    return False


def same_image(analysis: Analysis, build: Build, v: ArtifactValidation) -> Same | None:
    """Whether `build` builds the image `v` validated."""
    vnames = validated_names(v)
    cnames, unresolved = written_names(build.operation)
    if _is_child(analysis, build, v, vnames):
        return None
    if overlap(cnames, vnames):
        return Same.NAME
    mine = build_source(build.operation)
    theirs = build_source(v.build.operation) if v.build is not None else None
    if mine is not None and theirs is not None:
        return Same.CONTEXT if mine == theirs else None
    if cnames and vnames:
        return None  # both named, differently
    if unresolved or not vnames or not cnames:
        return Same.UNRESOLVED
    return None


def validated_origin(analysis: Analysis, v: ArtifactValidation) -> Origin | None:
    """The digest origin of the image a validation consumed, when it is a DIGEST."""
    prov = analysis.provenance.of_value(v.image.arg.value, v.image.site)
    return prov.origin if prov.is_digest else None


def same_origin(a: Origin, b: Origin) -> bool:
    return (a.path, a.span, a.job) == (b.path, b.span, b.job)


def validation_location(analysis: Analysis, v: ArtifactValidation) -> Location:
    """Where a validation is written: its operation, else the job's key."""
    label = image_label(v.image.arg.value)
    if v.operation is not None:
        return Location(
            v.operation.path,
            v.operation.span,
            f"`{v.operation.tool}` validates {label} in job `{v.node.job}`",
        )
    job = analysis.job(v.node)
    return Location(v.node.path, job.key_span, f"job `{v.node.job}` runs {label}")


def image_label(value: Value) -> str:
    return f"`{value.text}`"


def build_label(build: Build) -> str:
    """`ghcr.io/acme/app` for messages: the first name the build writes."""
    names = build.operation.names()
    if names:
        return image_label(names[0].value)
    if build.operation.context is not None:
        return f"the image of context `{build.operation.context.text}`"
    return "an image"


def job_label(node: JobNode) -> str:
    """`job `x`` for messages, with the calling job for a reusable workflow's job."""
    label = f"job `{node.job}`"
    if node.via:
        label += f" (called by job `{node.via[-1][1]}`)"
    return label


def step_label(build: Build) -> str:
    return build.expanded.step.label


@dataclass(frozen=True)
class Rebuild:
    """A build of a validated image after the validation."""

    build: Build
    validation: ArtifactValidation
    same: Same


def build_of_origin(analysis: Analysis, origin: Origin) -> Build | None:
    """The BUILD/PUSH operation of the step that wrote a digest, when that step builds
    or pushes (a read-back step, `crane digest` say, has none)."""
    node = origin.job
    if node is None:
        return None
    for i, expanded, facts in analysis.step_facts(node):
        if not any(w.path == origin.path and w.span == origin.span for w in facts.writes):
            continue
        ops = [o for o in facts.operations if o.role in (Role.BUILD, Role.PUSH)]
        if not ops:
            return None
        build = next((o for o in ops if o.role is Role.BUILD), ops[0])
        return Build(node, i, expanded, build)
    return None


def reached_from(analysis: Analysis, build: Build) -> tuple[Location, ...]:
    """Where an operation written in a script, composite action or called workflow
    was reached from: the step that runs the script, the calling steps and jobs."""
    out: list[Location] = []
    step = build.expanded.step
    if build.operation.path != build.expanded.path and step.run is not None:
        out.append(Location(build.expanded.path, step.run.span, "the script runs from this step"))
    return (*out, *analysis.related(build.node, build.expanded))
