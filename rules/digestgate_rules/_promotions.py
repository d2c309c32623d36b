"""What the promotion-source rules (DG301, DG303, DG304) share.

* `promotions`: every PROMOTE and DEPLOY operation of every job instance, except
  *index assembly* (`is_index_assembly`), which RULES.md counts as part of BUILD, and
  copies whose every target is a registry on the runner (`localhost:5000/...`: a test
  fixture, not a release);
* `judge`: what a promotion's source is: a digest of this pipeline, a tag (or a value
  that cannot be traced to a digest: DG301), or an untrusted digest (an input, `vars`,
  the event, another run's artifact, a literal: DG303), or malformed (DG103's);
* `verified`: whether a VERIFY step that can fail precedes the promotion in its job;
* `is_third_party`: a statically named image that this repository neither builds, nor
  lists in `own-images`, nor writes in the same namespace (`ghcr.io/acme/...`), nor
  names after its owner: mirrors of `redis:7` and pinned dependencies, judged more
  gently.

The command classifier cannot see the pipeline, so it never sets
`Operation.index_assembly` for `imagetools create` / `manifest create`; the pipeline
view here does (see `is_index_assembly`). Other rules that must tell index assembly
from promotion (DG101, DG302, DG403) can import it.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from functools import cached_property

from digestgate.analysis import Analysis, Build, ImageSite, last_component, static_name
from digestgate.commands import flat_text, slice_value
from digestgate.facts import ImageArg, ImageUse, Operation, PieceKind, Role, Value
from digestgate.findings import Location
from digestgate.graph import ExpandedStep, JobNode
from digestgate.imageref import on_runner, split_static
from digestgate.provenance import Kind, Provenance

_ASSEMBLY_TOOLS = ("imagetools create", "manifest create")
# `printf 'NAME@sha256:%s ' *`: the name part of the template, as written
_PRINTF = re.compile(r"""^\s*printf\s+(?:--\s+)?(['"])(?P<name>[^'"]*?)@(?:sha256:)?%s""")
_EXPR_SPACE = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


class Verdict(str, Enum):
    DIGEST = "digest"  # a digest made by a build of this pipeline: fine here
    TAG = "tag"  # a tag, or a value not traceable to a digest: DG301
    UNTRUSTED = "untrusted"  # EXTERNAL or LITERAL digest: DG303 unless verified
    MALFORMED = "malformed"  # DG103's


@dataclass(frozen=True)
class Promotion:
    """A PROMOTE or DEPLOY operation of a job instance."""

    node: JobNode
    step: int
    expanded: ExpandedStep
    operation: Operation

    @property
    def step_label(self) -> str:
        return self.expanded.step.label

    @property
    def verb(self) -> str:
        return "deployed" if self.operation.role is Role.DEPLOY else "promoted"

    def site(self, arg: ImageArg) -> ImageSite:
        return ImageSite(arg, self.node, self.step, self.expanded, self.operation)


@dataclass(frozen=True)
class Source:
    """One reference a promotion consumes, judged."""

    promotion: Promotion
    arg: ImageArg
    provenance: Provenance
    verdict: Verdict

    @property
    def value(self) -> Value:
        return self.arg.value


class Promotions:
    """The promotions of one repository, computed once for the three rules."""

    def __init__(self, analysis: Analysis) -> None:
        # Weak: the cache below is keyed weakly on the analysis, and a strong reference
        # back from its value would keep every repository's model alive for the run.
        self._analysis = weakref.ref(analysis)
        self.items: list[Promotion] = [
            Promotion(node, i, expanded, op)
            for node in analysis.graph.nodes
            for i, expanded, op in analysis.operations(node)
            if op.role in (Role.PROMOTE, Role.DEPLOY)
            and not _to_local_registry(op)
            and not is_index_assembly(analysis, node, i, op)
        ]
        self._verifies: dict[JobNode, list[tuple[int, Operation]]] = {}
        self._sources: dict[tuple[JobNode, int, int], list[Source]] = {}

    @property
    def analysis(self) -> Analysis:
        found = self._analysis()
        assert found is not None, "a cached Promotions outlived its analysis"
        return found

    def sources(self, promotion: Promotion) -> list[Source]:
        key = (promotion.node, promotion.step, id(promotion.operation))
        hit = self._sources.get(key)
        if hit is None:
            hit = self._sources[key] = [
                Source(promotion, arg, *judge(self.analysis, promotion.site(arg)))
                for arg in promotion.operation.references()
            ]
        return hit

    def untrusted(self, promotion: Promotion) -> list[Source]:
        """The sources DG303 reports: digests from outside the pipeline (EXTERNAL) or
        written in the file (LITERAL) that no VERIFY step checks first. A literal
        digest of an image this repository neither builds nor lists in `own-images`
        is a pinned third-party image, not a promotion of an artifact, unless the step
        re-tags it in its own repository."""
        return [
            s
            for s in self.sources(promotion)
            if s.verdict is Verdict.UNTRUSTED
            and not (
                s.provenance.kind is Kind.LITERAL and self.is_third_party(s) and not is_retag(s)
            )
            and not self.verified(promotion, [s.arg])
        ]

    def verified(self, promotion: Promotion, args: Iterable[ImageArg] = ()) -> bool:
        """A VERIFY operation that can fail runs before the promotion in its job (an
        earlier step, or an earlier command of the same step) and checks one of
        `args`: it names no image (a record), or an image of the same name (or a
        name that cannot be read)."""
        wanted = list(args) or list(promotion.operation.references())
        for index, op in self._verify_ops(promotion.node):
            if index > promotion.step:
                break
            if index == promotion.step and not _before(op, promotion.operation):
                continue
            if not op.can_fail:
                continue
            checked = op.references()
            if not checked or not wanted:
                return True
            if any(same_image(a, b) for a in checked for b in wanted):
                return True
        return False

    def _verify_ops(self, node: JobNode) -> list[tuple[int, Operation]]:
        hit = self._verifies.get(node)
        if hit is None:
            hit = self._verifies[node] = [
                (i, op) for i, _, op in self.analysis.operations(node) if op.role is Role.VERIFY
            ]
        return hit

    def is_third_party(self, source: Source) -> bool:
        """Statically named, neither built here nor in `own-images`, and not a digest
        made by a build of this pipeline (a mirror of `redis:7`, say)."""
        if self.is_own(source.arg) is not False:
            return False
        return not self.from_build(source)

    def from_build(self, source: Source) -> bool:
        """A digest made by a BUILD/PUSH step of the pipeline (not a read-back of
        some other image's digest)."""
        origin = source.provenance.origin
        if not source.provenance.is_digest or origin is None or origin.job is None:
            return False
        return any(b.node == origin.job for b in self.analysis.builds())

    def is_own(self, arg: ImageArg) -> bool | None:
        """Built here or listed in `own-images`, or in a namespace this repository
        writes to (`ghcr.io/acme/...` when a build writes `ghcr.io/acme/${{
        matrix.service }}`) or named after its owner; None when the name cannot be
        read."""
        name = static_name(arg)
        if name is None:
            return None
        if self.analysis.is_own_image(name):
            return True
        return _namespace(name) in self._own_namespaces

    @cached_property
    def _own_namespaces(self) -> frozenset[str]:
        found: set[str] = set()
        for build in self.analysis.builds():
            found.update(_namespace(flat_text(a.value)) for a in build.operation.names())
        for node in self.analysis.graph.nodes:
            for _, _, facts in self.analysis.step_facts(node):
                found.update(
                    _namespace(flat_text(a.value))
                    for a in facts.references
                    if a.use is ImageUse.TAG
                )
        slug = self.analysis.repository.slug
        if slug and "/" in slug:
            owner = slug.split("/", 1)[0].lower()
            found.update(f"{domain}/{owner}" for domain in _REGISTRIES)
        found.discard("")
        return frozenset(found)

    def related(self, promotion: Promotion) -> tuple[Location, ...]:
        return self.analysis.related(promotion.node, promotion.expanded)

    def landing(self, source: Source, follow_inputs: bool) -> tuple[Location, tuple[Location, ...]]:
        """The primary and related locations of a finding about a source.

        With `follow_inputs`, a value passed in through `with:` (an input of a
        composite action or a reusable workflow) lands on the caller's value, where
        the user edits it, with the consuming place as a related location (RULES.md).
        Related locations also say where the value comes from and which steps and
        jobs call the promotion."""
        value = source.value
        p = source.promotion
        primary = Location(value.path, value.span)
        related: list[Location] = []
        inputs = [h for h in source.provenance.hops if h.message.startswith("input `")]
        if follow_inputs and inputs:
            primary = Location(inputs[-1].path, inputs[-1].span)
            related.append(Location(value.path, value.span, f"{p.verb} here"))
        origin = source.provenance.origin
        if origin is not None:
            related.append(Location(origin.path, origin.span, "the value comes from here"))
        related.extend(source.provenance.hops)
        related.extend(self.related(p))
        seen = {(primary.path, primary.span)}
        unique = []
        for loc in related:
            if (loc.path, loc.span) not in seen:
                seen.add((loc.path, loc.span))
                unique.append(loc)
        return primary, tuple(unique)

    def is_broken(self, promotion: Promotion, broken: frozenset[str]) -> bool:
        paths = {promotion.node.path, promotion.operation.path, promotion.expanded.path}
        paths |= {p for p, _ in promotion.node.via}
        return bool(paths & broken)


_CACHE: weakref.WeakKeyDictionary[Analysis, Promotions] = weakref.WeakKeyDictionary()


def promotions(analysis: Analysis) -> Promotions:
    hit = _CACHE.get(analysis)
    if hit is None:
        hit = _CACHE[analysis] = Promotions(analysis)
    return hit


_REGISTRIES = ("docker.io", "ghcr.io", "quay.io", "registry.gitlab.com", "codeberg.org")


def _namespace(text: str) -> str:
    """`ghcr.io/acme` of `ghcr.io/acme/api:1` (or of `ghcr.io/acme/${{ x }}`): the
    registry and first path component, when that much is written literally."""
    from digestgate.imageref import RefError, parse

    head = text.split("\x00", 1)[0]
    parts = head.split("/")
    if len(parts) < 2 or not parts[-2]:
        return ""
    try:
        name = parse("/".join([*parts[:-1], "x"])).normalized_name
    except RefError:
        return ""
    pieces = name.split("/")
    return "/".join(pieces[:2]) if len(pieces) >= 3 else ""


def _to_local_registry(op: Operation) -> bool:
    """A copy whose every target is a throwaway registry on the runner
    (`localhost:5000/...`): a test fixture, not a promotion."""
    targets = [a for a in op.images if a.use is ImageUse.COPY_TARGET]
    if op.role is not Role.PROMOTE or not targets:
        return False
    return all(on_runner(flat_text(arg.value)) for arg in targets)


def judge(analysis: Analysis, site: ImageSite) -> tuple[Provenance, Verdict]:
    """One code per reference (RULES.md): malformed first, then a tag, then provenance."""
    value = site.arg.value
    prov = analysis.provenance.of_value(value, site.site)
    shape = split_static(flat_text(value))
    if shape.error is not None:
        return prov, Verdict.MALFORMED
    if shape.has_tag and not shape.has_at:
        return prov, Verdict.TAG
    if prov.kind is Kind.DIGEST:
        return prov, Verdict.DIGEST
    if prov.kind in (Kind.EXTERNAL, Kind.LITERAL):
        return prov, Verdict.UNTRUSTED
    return prov, Verdict.TAG


def is_retag(source: Source) -> bool:
    """A promotion that writes a new tag of the same repository (`app:rc` ->
    `app:prod`, `crane tag app:rc prod`): a release of that image, whoever built it."""
    op = source.promotion.operation
    if op.role is not Role.PROMOTE:
        return False
    name = static_name(source.arg)
    for target in (a for a in op.images if a.use is ImageUse.COPY_TARGET):
        text = target.value.text
        if "/" not in text and ":" not in text:
            return True  # `crane tag SRC TAG`: the target is a bare tag
        found = static_name(target)
        if found is not None and found == name:
            return True
        if found is None and name_text(target.value) == name_text(source.value):
            return True
    return False


def same_image(a: ImageArg, b: ImageArg) -> bool:
    """Two arguments name the same image, or one of the names cannot be read."""
    na, nb = static_name(a), static_name(b)
    if na is not None and nb is not None:
        return na == nb or last_component(na) == last_component(nb)
    ta, tb = name_text(a.value), name_text(b.value)
    if ta == tb:
        return True
    # a name written through a variable (`${{ inputs.image }}`) may be either
    return ("$" in ta or not ta) if na is None else ("$" in tb or not tb)


def name_text(value: Value) -> str:
    """The name part of a reference as written, slots included, without tag or
    digest (`${{ env.IMAGE }}:sha-1` -> `${{ env.IMAGE }}`), spaces in `${{ }}`
    normalised."""
    flat = flat_text(value)
    head = flat.split("@", 1)[0]
    slash = head.rfind("/")
    colon = head.find(":", slash + 1)
    if colon >= 0:
        head = head[:colon]
    if not head:
        return ""
    return _normal(slice_value(value, 0, len(head)).text)


def _normal(text: str) -> str:
    return _EXPR_SPACE.sub(lambda m: "${{ " + m.group(1) + " }}", text.strip())


def _before(a: Operation, b: Operation) -> bool:
    """`a` is written before `b` in the same step (same file)."""
    if a.path != b.path:
        return True  # a script the step runs before: order is that of the facts
    return (a.span.line, a.span.column) < (b.span.line, b.span.column)


# --- index assembly --------------------------------------------------------------------


def is_index_assembly(analysis: Analysis, node: JobNode, step: int, op: Operation) -> bool:
    """An `imagetools create` / `manifest create` that merges per-platform images of
    one image built upstream in the pipeline (or earlier in the job) into an index:
    part of BUILD, not a promotion (RULES.md). Recognised when

    * a source is `$(printf 'NAME@sha256:%s ' *)` over digest files and a
      push-by-digest build of NAME (or of a name that cannot be read) runs upstream or
      earlier in the job (Docker's multi-platform recipe; other arguments may be
      option lists such as `"${annotations[@]}"`);
    * every source is a digest made by a build earlier in the same job (the build job
      annotating or indexing what it just pushed), or by a push-by-digest build;
    * there are two or more sources, all digests of builds of the pipeline, or all
      tags of one name that differ by a platform suffix (`app:1.0-amd64`,
      `app:1.0-arm64`) with a build upstream (those tags are DG101's).
    """
    if op.index_assembly:
        return True
    if op.role is not Role.PROMOTE or not op.tool.endswith(_ASSEMBLY_TOOLS):
        return False
    sources = [a for a in op.images if a.use is ImageUse.COPY_SOURCE]
    if not sources:
        return False
    upstream_nodes = analysis.graph.upstream(node)
    builds = analysis.builds()
    upstream = [b for b in builds if b.node in upstream_nodes]
    local = [b for b in builds if b.node == node and b.step < step]
    if not upstream and not local:
        return False
    if any(_printf_build(a.value, upstream + local) is not None for a in sources):
        return True
    expanded = analysis.steps(node)[step]
    digests: list[Build] = []
    for arg in sources:
        site = ImageSite(arg, node, step, expanded, op)
        if not analysis.provenance.of_value(arg.value, site.site).is_digest:
            break
        found = analysis.match_build(site, upstream, local)
        if found is None or found[1] == "name":
            break
        digests.append(found[0])
    else:
        if all(b.node == node or b.operation.push_by_digest for b in digests):
            return True
        if len(digests) >= 2:
            return True
    return len(sources) >= 2 and _per_platform_tags(sources)


_PLATFORM = re.compile(
    r"(^|[-_.])(amd64|x86_64|x86-64|arm64|aarch64|arm|armv[5-8]l?|armhf|ppc64le|s390x|386"
    r"|i386|riscv64|linux|windows)([-_.]|$)",
    re.IGNORECASE,
)


def _per_platform_tags(sources: list[ImageArg]) -> bool:
    """Tags of one name, each naming a platform: `app:${{ github.sha }}-arm64`."""
    names = {name_text(a.value) for a in sources}
    if len(names) != 1 or not next(iter(names)):
        return False
    for arg in sources:
        flat = flat_text(arg.value)
        tag = flat[len(flat.split("@", 1)[0].rsplit(":", 1)[0]) + 1 :]
        if ":" not in flat.rsplit("/", 1)[-1] or not _PLATFORM.search(tag.replace("\x00", "-")):
            return False
    return True


def _printf_build(value: Value, builds: list[Build]) -> Build | None:
    """`$(printf 'NAME@sha256:%s ' *)`: the push-by-digest build of NAME it merges."""
    slots = value.slots
    if len(value.pieces) != 1 or len(slots) != 1 or slots[0].kind is not PieceKind.COMMAND:
        return None
    m = _PRINTF.match(slots[0].text)
    if m is None:
        return None
    name = _normal(m.group("name"))
    readable = bool(name) and "$" not in name
    for b in builds:
        if not b.operation.push_by_digest:
            continue
        for arg in b.operation.names():
            static = static_name(arg)
            if name_text(arg.value) == name or not readable or static is None:
                return b  # the same name, or one side names it through a variable
            if last_component(static) == last_component(name):
                return b
    return None
