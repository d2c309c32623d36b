"""The judgement DG101, DG102 and DG103 share: one code per image reference.

Every image a job consumes outside promotion (`ImageUse.is_reference`, not the
source of a PROMOTE or DEPLOY operation) is judged once, in the order RULES.md
gives ("one reference gets one code"):

1. DG103 when the reference cannot be valid under the distribution grammar, or its
   digest is not `sha256:` + 64 / `sha512:` + 128 lower-case hex characters;
2. else DG101 when it has a tag and no digest, or neither (implied `latest`), as far
   as its written text tells (`app:${{ github.sha }}` has a tag);
3. else, when the whole reference or its digest is a slot (an expression, a
   variable, a command's output), its provenance decides: DIGEST or a digest literal
   pass, an EXTERNAL digest after a literal `@` passes (DG303's business in a
   promotion), a value that resolves statically to a tag written somewhere (a caller's
   `with:`, an `env:` value, a matrix entry) is DG101 *there*, anything else DG102.

A tag of an image built into the local store earlier in the same job (`docker build
-t app:test .` then `docker run app:test`) is that build, not a registry reference.

The verdicts are computed once per analysis and shared by the three rules; findings
at one place (a composite action used by several jobs, a workflow called twice, a
matrix entry several references use) are merged into one, naming every use.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from digestgate.analysis import Analysis, ImageSite
from digestgate.commands import local_tags, normalize_reference, slice_value
from digestgate.expressions import (
    Binary,
    Call,
    Context,
    Expr,
    ExprError,
    Index,
    Literal,
    find_placeholders,
    parse_expression,
)
from digestgate.facts import ImageUse, PieceKind, Role, Value, value_of_text
from digestgate.findings import Location, Severity
from digestgate.graph import JobNode
from digestgate.imageref import (
    PLACEHOLDER,
    RefError,
    RefShape,
    check_digest,
    on_runner,
    parse,
    split_static,
)
from digestgate.model import Job, Text
from digestgate.nodes import YMap, YNode, YScalar, YSeq
from digestgate.provenance import Kind, Provenance
from digestgate.span import WHOLE_FILE, Span

MUTABLE = "DG101"
UNPROVEN = "DG102"
MALFORMED = "DG103"

# Contexts and runner variables that hold a repository or owner name, never a tag or
# a digest: `ghcr.io/${{ github.repository }}` is a name with no tag (implied latest).
_NAME_CONTEXTS = frozenset(
    {
        ("github", "repository"),
        ("github", "repository_owner"),
        ("github", "actor"),
        ("github", "triggering_actor"),
        ("github", "event", "repository", "name"),
        ("github", "event", "repository", "full_name"),
    }
)
_NAME_VARIABLES = frozenset({"GITHUB_REPOSITORY", "GITHUB_REPOSITORY_OWNER", "GITHUB_ACTOR"})

# How provenance names a value it read as written text (provenance.py `_of_literal`
# and `of_value`): the text is statically known, so a tag in it is DG101 where it is.
_STATIC_WHY = re.compile(r"^(?:the literal `(?P<literal>.*)`|`(?P<ref>.*)`, a reference by tag)$")
_EMPTY_WHY = "an empty value"
_DIGEST_LIKE = re.compile(r"^[A-Za-z][A-Za-z0-9+._-]*:[0-9A-Za-z]+$")

_USE_WORDS = {
    ImageUse.RUN: "a container run",
    ImageUse.PULL: "a pull",
    ImageUse.SERVICE: "a service",
    ImageUse.SCAN: "an image scan",
    ImageUse.SIGN: "signing",
    ImageUse.BASE: "a base image",
    ImageUse.INPUT: "an image input",
}


@dataclass(frozen=True)
class Verdict:
    """One reference's finding, before findings at the same place are merged."""

    code: str
    path: str
    span: Span
    image: str  # the reference as written, for the message
    usage: str  # "`docker run` in step `e2e` of job `test`"
    problem: str  # "is a tag, ..." (follows the image and usage)
    advice: str
    severity: Severity
    related: tuple[Location, ...]
    job: str
    step: str | None
    files: frozenset[str]  # the workflow of the job and the file of the finding


@dataclass(frozen=True)
class Judged:
    """Findings of one code at one place, merged: what a rule reports."""

    code: str
    path: str
    span: Span
    message: str
    severity: Severity
    related: tuple[Location, ...]
    job: str
    step: str | None
    files: frozenset[str]


_CACHE: weakref.WeakKeyDictionary[Analysis, list[Judged]] = weakref.WeakKeyDictionary()


def judged(analysis: Analysis, code: str, broken: frozenset[str] = frozenset()) -> list[Judged]:
    """The merged findings of `code` over the repository (skipping `broken` files)."""
    found = _CACHE.get(analysis)
    if found is None:
        found = _CACHE[analysis] = _merge(_Judge(analysis).all())
    return [j for j in found if j.code == code and not (j.files & broken)]


# --- judging one reference -----------------------------------------------------------


@dataclass(frozen=True)
class _Alt:
    """One text a reference can have: its flat text (slots as PLACEHOLDER) and, when
    it is written elsewhere than the reference (a matrix entry), that value."""

    flat: str
    written: Value | None = None


class _Judge:
    def __init__(self, analysis: Analysis) -> None:
        self.analysis = analysis
        self._local: dict[JobNode, list[frozenset[str]]] = {}
        self._built_keys: frozenset[str] | None = None

    def all(self) -> Iterator[Verdict]:
        for site in self.analysis.all_images():
            if site.arg.use.is_reference and not _skipped(self.analysis, site):
                yield from self.judge(site)

    def judge(self, site: ImageSite) -> Iterator[Verdict]:
        value = site.arg.value
        if self._is_local(site):
            return
        op = site.operation
        assembly = op is not None and op.index_assembly
        alts = self._alternatives(value, site.node, container=site.step is None)
        if alts is None:
            alts = [_Alt(_flat(value))]
        open_ = False
        for alt in alts:
            if alt.flat.lstrip().startswith("-"):
                continue  # an option or `-` (stdin) the command reader took for an image
            shape = split_static(alt.flat)
            written = alt.written or value
            if shape.error is not None:
                yield self._malformed(
                    site, written.path, _landing(written), written.text, shape.error
                )
            elif _loopback(shape):
                continue  # a registry on the runner holds only what this job put there
            elif (shape.has_tag and not shape.has_at) or shape.implicit_latest:
                yield self._mutable(site, written, shape, elsewhere=alt.written is not None)
            elif not (shape.has_at and shape.digest_static):
                open_ = True
        if open_ and not assembly:
            # index assembly sources are judged by their text only: per-platform tags
            # are DG101 (RULES.md); digests merged by `printf` are the recipe
            yield from self._by_provenance(site, split_static(_flat(value)))

    def _by_provenance(self, site: ImageSite, shape: RefShape) -> Iterator[Verdict]:
        value = site.arg.value
        if _loopback(shape):
            return
        p = self.analysis.provenance.of_value(value, site.site)
        if p.kind in (Kind.DIGEST, Kind.LITERAL):
            return
        if p.kind is Kind.UNKNOWN and p.why == _EMPTY_WHY:
            return  # '' for `container:`: no container
        if shape.has_at:
            if p.kind is Kind.EXTERNAL:
                return  # a pinned reference with an external digest: DG303's in a promotion
            found = self._static_origin(p)
            if found is not None and _DIGEST_LIKE.match(found[0]):
                text, path, span = found
                reason = check_digest(text)
                if reason is not None:
                    yield self._malformed(site, path, span, text, reason, through=True)
                    return
            yield self._unproven(site, p, digest=True)
            return
        if p.kind is Kind.EXTERNAL and _name_tail(value):
            yield self._mutable(site, value, shape, elsewhere=False)
            return
        if p.kind is Kind.TAG:
            found = self._static_origin(p)
            if found is not None:
                verdict = self._at_origin(site, found)
                if verdict is not None:
                    yield verdict
                    return
        yield self._unproven(site, p, digest=False)

    def _at_origin(self, site: ImageSite, found: tuple[str, str, Span]) -> Verdict | None:
        """A reference whose text is written elsewhere (a caller's `with:`, an `env:`
        value): judged there, with the consuming place as a related location."""
        text, path, span = found
        shape = split_static(_flat_text(text))
        if shape.error is not None:
            return self._malformed(site, path, span, text, shape.error, through=True)
        if (shape.has_tag and not shape.has_at) or shape.implicit_latest:
            own = self._own_text(text, shape)
            name = _display_name(shape) or _name_of_text(text)
            return self._mutable_at(site, path, span, text, shape, name, own, through=True)
        return None

    # --- verdicts ----------------------------------------------------------------------

    def _mutable(
        self, site: ImageSite, written: Value, shape: RefShape, *, elsewhere: bool
    ) -> Verdict:
        own = self._own_value(written, shape)
        name = _display_name(shape) or _name_key(written)
        return self._mutable_at(
            site,
            written.path,
            _landing(written),
            written.text,
            shape,
            name,
            own,
            through=elsewhere,
        )

    def _mutable_at(
        self,
        site: ImageSite,
        path: str,
        span: Span,
        text: str,
        shape: RefShape,
        name: str,
        own: bool,
        *,
        through: bool,
    ) -> Verdict:
        if shape.has_tag:
            tag = shape.tag if shape.tag is not None else _tag_of_text(text)
            problem = f"is the tag `{tag}`, which can be moved to other bytes at any time"
            advice = (
                f"pin it by digest: `{name}@sha256:<digest>`, or `{name}:{tag}@sha256:<digest>`"
                " to keep the tag readable"
            )
        else:
            problem = "has no tag or digest, so it pulls whatever `latest` is at run time"
            advice = f"pin it by digest: `{name}@sha256:<digest>`"
        if own:
            advice += " (the digest the build step outputs, handed down from the build job)"
        return self._verdict(
            MUTABLE,
            site,
            path,
            span,
            text,
            problem,
            advice,
            Severity.ERROR if own else Severity.WARNING,
            through=through,
        )

    def _unproven(self, site: ImageSite, p: Provenance, *, digest: bool) -> Verdict:
        value = site.arg.value
        what = "its digest comes from" if digest else "it comes from"
        problem = f"is not proven to be a digest this pipeline made: {what} {p.why}"
        advice = (
            "reference the image by the digest its build step outputs "
            "(`<name>@${{ needs.<build-job>.outputs.digest }}`), or by a digest written "
            "in the file"
        )
        severity = Severity.ERROR if self._in_validation(site) else Severity.WARNING
        related = tuple(p.hops[:1])
        return self._verdict(
            UNPROVEN,
            site,
            value.path,
            _landing(value),
            value.text,
            problem,
            advice,
            severity,
            through=False,
            extra=related,
        )

    def _malformed(
        self,
        site: ImageSite,
        path: str,
        span: Span,
        text: str,
        reason: str,
        *,
        through: bool = False,
    ) -> Verdict:
        if "digest" in reason:
            problem = f"has a malformed digest: {reason}"
            advice = (
                "write `name@sha256:` followed by the 64 lower-case hex characters of the "
                "digest (or `name:tag@sha256:...`), as `docker buildx imagetools inspect` "
                "prints it"
            )
        else:
            problem = f"is not a valid image reference: {reason}"
            advice = (
                "write it as `[registry/]name[:tag]@sha256:<digest>`, with the repository "
                "name in lower case"
            )
        return self._verdict(
            MALFORMED, site, path, span, text, problem, advice, Severity.ERROR, through=through
        )

    def _verdict(
        self,
        code: str,
        site: ImageSite,
        path: str,
        span: Span,
        text: str,
        problem: str,
        advice: str,
        severity: Severity,
        *,
        through: bool,
        extra: tuple[Location, ...] = (),
    ) -> Verdict:
        usage = _usage(self.analysis, site)
        related: list[Location] = []
        if through:
            value = site.arg.value
            related.append(Location(value.path, _landing(value), f"used here by {usage}"))
        related.extend(extra)
        related.extend(self.analysis.related(site.node, site.expanded))
        step = site.expanded.step.label if site.expanded is not None else None
        return Verdict(
            code,
            path,
            span,
            " ".join(text.split()),
            usage,
            problem,
            advice,
            severity,
            tuple(related),
            site.node.job,
            step,
            frozenset({site.node.path, path}),
        )

    # --- facts about the reference -------------------------------------------------------

    def _is_local(self, site: ImageSite) -> bool:
        """A tag of an image built into the local store earlier in the same job."""
        if site.step is None:
            return False  # `container:` and `services:` start before any step
        tags = self._local_tags(site.node)[site.step]
        if not tags:
            return False
        text = site.arg.value.text
        return text in tags or normalize_reference(text) in tags

    def _local_tags(self, node: JobNode) -> list[frozenset[str]]:
        hit = self._local.get(node)
        if hit is None:
            hit = []
            seen: set[str] = set()
            for _, _, facts in self.analysis.step_facts(node):
                seen |= local_tags(o for o in facts.operations if o.role is Role.BUILD)
                hit.append(frozenset(seen))
            self._local[node] = hit
        return hit

    def _in_validation(self, site: ImageSite) -> bool:
        op = site.operation
        if op is not None:
            return op.role is Role.VALIDATE
        if site.step is None:
            return self.analysis.roles.is_validation(site.node)
        return False

    def _own_value(self, value: Value, shape: RefShape) -> bool:
        if shape.name is not None:
            return self._own_text(shape.name, shape)
        key = _name_key(value)
        return self.analysis.config.is_own_image(key) or key in self._dynamic_built()

    def _own_text(self, text: str, shape: RefShape) -> bool:
        if shape.name is not None:
            return self.analysis.is_own_image(shape.name)
        return self.analysis.config.is_own_image(text)

    def _dynamic_built(self) -> frozenset[str]:
        """Names with slots (`ghcr.io/${{ github.repository }}`) this repository builds."""
        if self._built_keys is None:
            keys: set[str] = set()
            for site in self.analysis.all_images():
                op = site.operation
                if op is None or op.role not in (Role.BUILD, Role.PUSH):
                    continue
                if site.arg.use in (ImageUse.TAG, ImageUse.PUSH) and not site.arg.value.is_static:
                    keys.add(_name_key(site.arg.value))
            self._built_keys = frozenset(keys)
        return self._built_keys

    def _static_origin(self, p: Provenance) -> tuple[str, str, Span] | None:
        """(text, path, span) of the written text a TAG-like value comes from, when
        provenance traced it to text in a file (not to a step's tag output)."""
        origin = p.origin
        if origin is None or origin.job is not None or origin.span == WHOLE_FILE:
            return None
        m = _STATIC_WHY.match(p.why)
        if m is None:
            return None
        text = m.group("literal") if m.group("literal") is not None else m.group("ref")
        if not text or "\n" in text:
            return None
        return text, origin.path, self._narrow(origin.path, origin.span, text)

    def _narrow(self, path: str, span: Span, text: str) -> Span:
        """The span of `text` inside `span` (without the quotes of a quoted scalar)."""
        source = self.analysis.repository.sources.get(path)
        if source is None or span.line != span.end_line or span.line > source.line_count:
            return span
        line = source.line_text(span.line)
        at = line.find(text, span.column - 1, span.end_column - 1 + 1)
        if at < 0:
            return span
        return Span(span.line, at + 1, span.line, at + 1 + len(text))

    # --- alternatives of a value written as one expression ------------------------------

    def _alternatives(self, value: Value, node: JobNode, *, container: bool) -> list[_Alt] | None:
        """The texts a reference written as one `${{ }}` can take, when the expression
        reads them statically: matrix entries, `format()` templates, `&&`/`||` choices.
        None when it cannot tell (provenance decides then)."""
        slots = [
            p for p in value.pieces if not (p.kind is PieceKind.LITERAL and not p.text.strip())
        ]
        if len(slots) != 1 or slots[0].kind is not PieceKind.EXPR:
            return None
        inner = slots[0].text.strip()
        if inner.startswith("${{") and inner.endswith("}}"):
            inner = inner[3:-2]
        try:
            expr = parse_expression(inner)
        except ExprError:
            return None
        job = self.analysis.job(node)
        return _expr_alternatives(expr, job, node.path, container=container)


def _expr_alternatives(expr: Expr, job: Job, path: str, *, container: bool) -> list[_Alt] | None:
    if isinstance(expr, Literal):
        if isinstance(expr.value, str):
            return [_Alt(expr.value)] if expr.value.strip() else []
        return []  # null, false, a number: no image
    if isinstance(expr, Binary):
        if expr.op == "&&":
            return _expr_alternatives(expr.right, job, path, container=container)
        if expr.op == "||":
            left = _expr_alternatives(expr.left, job, path, container=container)
            right = _expr_alternatives(expr.right, job, path, container=container)
            return None if left is None or right is None else left + right
        return []  # a comparison: a boolean, not an image
    if isinstance(expr, Call):
        if expr.name == "format" and expr.args and isinstance(expr.args[0], Literal):
            template = str(expr.args[0].value)
            flat = re.sub(r"\{\d+\}", PLACEHOLDER, template.replace("{{", "{").replace("}}", "}"))
            return [_Alt(flat)]
        if expr.name in ("fromjson", "tojson") and len(expr.args) == 1:
            return _expr_alternatives(expr.args[0], job, path, container=container)
        return None
    keys = _access(expr)
    if keys is not None and keys[0] == "matrix" and len(keys) > 1:
        entries = _matrix_entries(job, keys[1:], container=container)
        if entries is None:
            return None
        out = []
        for entry in entries:
            if entry.tag == "null" or not entry.value.strip():
                continue  # no image for this combination (zizmor reported these)
            text = Text(entry.value, entry.span, entry, entry.tag)
            out.append(_Alt(entry.value, value_of_text(text, path)))
        return out
    return None


def _access(expr: Expr) -> tuple[str | int, ...] | None:
    """`matrix.a['b'][2]` -> ('matrix', 'a', 'b', 2) when every key is a literal."""
    keys: list[str | int] = []
    node = expr
    while isinstance(node, Index):
        key = node.key
        if not isinstance(key, Literal):
            return None
        if isinstance(key.value, str):
            keys.append(key.value.lower())
        elif isinstance(key.value, float) and key.value.is_integer() and key.value >= 0:
            keys.append(int(key.value))
        else:
            return None
        node = node.obj
    if not isinstance(node, Context):
        return None
    return (node.name.lower(), *reversed(keys))


def _matrix_entries(
    job: Job, keys: Sequence[str | int], *, container: bool
) -> list[YScalar] | None:
    """Every scalar `matrix.<keys>` takes (values and `include` entries), or None
    when the matrix is not written out (an expression, `fromJSON(...)`). For a job's
    `container`/`services` (`container`), an entry that is a mapping gives its `image`."""
    matrix = job.strategy.matrix if job.strategy else None
    first = keys[0] if keys else None
    if not isinstance(matrix, YMap) or not isinstance(first, str):
        return None
    found: list[YScalar] = []
    top = _get_ci(matrix, first)
    if isinstance(top, YSeq):
        if not all(_dig(item, keys[1:], found, container) for item in top.items):
            return None
    elif top is not None:
        return None
    include = matrix.get("include")
    if isinstance(include, YSeq):
        for item in include.items:
            if not isinstance(item, YMap):
                return None
            child = _get_ci(item, first)
            if child is not None and not _dig(child, keys[1:], found, container):
                return None
    elif include is not None:
        return None
    return found


def _dig(node: YNode, rest: Sequence[str | int], found: list[YScalar], container: bool) -> bool:
    """`_matrix_entries` below one matrix value: the scalars at path `rest` into
    `found`; False when a value there is not written out. (A function of its own: a
    recursive closure would be a reference cycle.)"""
    if not rest:
        if container and isinstance(node, YMap):
            image = _get_ci(node, "image")
            return True if image is None else _dig(image, (), found, container)
        if isinstance(node, YScalar) and "${{" not in node.value:
            found.append(node)
            return True
        return False
    key = rest[0]
    if isinstance(node, YMap) and isinstance(key, str):
        child = _get_ci(node, key)
        return True if child is None else _dig(child, rest[1:], found, container)
    if isinstance(node, YSeq) and isinstance(key, int):
        if key >= len(node.items):
            return True
        return _dig(node.items[key], rest[1:], found, container)
    return False


def _get_ci(node: YMap, key: str) -> YNode | None:
    for k, v in node.items:
        if k.value.lower() == key:
            return v
    return None


# --- small helpers -------------------------------------------------------------------


def _skipped(analysis: Analysis, site: ImageSite) -> bool:
    """Sites that are not references for these rules: promotion sources, images a
    script only reads from the local store or inspects, steps that never run."""
    if _promotion_source(site):
        return True
    expanded = site.expanded
    # `docker save` exports the local store and `imagetools inspect` reads a tag to learn
    # its digest: neither runs a registry image (a script's role-less image input)
    script_input = site.arg.use is ImageUse.INPUT and site.operation is None
    if script_input and expanded is not None and expanded.step.run is not None:
        return True
    if _never_runs(analysis.job(site.node).if_):
        return True
    if expanded is not None:
        steps = [expanded.step, *(caller for _, caller in expanded.callers)]
        return any(_never_runs(step.if_) for step in steps)
    return False


def _never_runs(condition: Text | None) -> bool:
    """`if: false` (or `${{ false }}`): a step or job switched off."""
    if condition is None:
        return False
    text = condition.value.strip()
    if text.startswith("${{") and text.endswith("}}"):
        text = text[3:-2].strip()
    return text.lower() == "false"


def _promotion_source(site: ImageSite) -> bool:
    """The source of a PROMOTE or DEPLOY operation: DG301/DG303 judge it. Index
    assembly is part of BUILD, so its per-platform sources are references."""
    op = site.operation
    if op is not None and op.index_assembly:
        return False
    if site.arg.use in (ImageUse.COPY_SOURCE, ImageUse.DEPLOY):
        return True
    return op is not None and op.role in (Role.PROMOTE, Role.DEPLOY)


def _loopback(shape: RefShape) -> bool:
    """A reference to a registry on the runner itself (`localhost:5000/app:test`)."""
    return on_runner(shape.name_text)


def _flat(value: Value) -> str:
    return "".join(p.text if p.kind is PieceKind.LITERAL else PLACEHOLDER for p in value.pieces)


def _flat_text(text: str) -> str:
    """A written text with each `${{ }}` as PLACEHOLDER."""
    out, at = [], 0
    for p in find_placeholders(text):
        out.append(text[at : p.start])
        out.append(PLACEHOLDER)
        at = p.end
    out.append(text[at:])
    return "".join(out)


def _landing(value: Value) -> Span:
    """The reference's own text: its pieces when they are written where the value is
    (not resolved from an `env:` elsewhere), else the value as written."""
    spans = [p.span for p in value.pieces]
    if not spans or any(s is None or not value.span.contains(s) for s in spans):
        return value.span
    first, last = spans[0], spans[-1]
    assert first is not None and last is not None
    return Span(first.line, first.column, last.end_line, last.end_column)


def _name_tail(value: Value) -> bool:
    """The value ends with a slot that holds a repository or owner name."""
    last = value.pieces[-1] if value.pieces else None
    if last is None or len(value.pieces) < 2:
        return False
    if last.kind is PieceKind.VAR:
        return last.text in _NAME_VARIABLES
    if last.kind is PieceKind.EXPR:
        inner = last.text.strip().removeprefix("${{").removesuffix("}}")
        try:
            keys = _access(parse_expression(inner))
        except ExprError:
            return False
        return keys in _NAME_CONTEXTS
    return False


def _name_key(value: Value) -> str:
    """The name part of a reference (before its tag or digest), slots as written."""
    end = _name_end(_flat(value))
    return slice_value(value, 0, end).text if end else ""


def _display_name(shape: RefShape) -> str | None:
    """The static name of a reference, as written (`node`, `ghcr.io/acme/app`)."""
    if shape.name is None:
        return None
    try:
        return parse(shape.name).name
    except RefError:
        return shape.name


def _tag_of_text(text: str) -> str:
    """The tag of a written reference with slots (`sha-${{ github.sha }}`)."""
    name = _name_of_text(text)
    rest = text[len(name) :]
    return rest[1:].split("@", 1)[0] if rest.startswith(":") else "<tag>"


def _name_of_text(text: str) -> str:
    """The name part of a written reference (before its tag or digest)."""
    flat = _flat_text(text)
    end = _name_end(flat)
    pos, n, out = 0, 0, []
    for p in find_placeholders(text):
        seg = text[pos : p.start]
        take = min(len(seg), end - n)
        out.append(seg[:take])
        n += take
        if n >= end:
            return "".join(out)
        out.append(text[p.start : p.end])
        n += 1
        pos = p.end
        if n >= end:
            return "".join(out)
    out.append(text[pos : pos + end - n])
    return "".join(out)


def _name_end(flat: str) -> int:
    """Where the name of a flat reference ends: at its tag's `:` or its `@`."""
    at = flat.find("@")
    before = flat if at < 0 else flat[:at]
    colon = before.find(":", before.rfind("/") + 1)
    return colon if colon >= 0 else len(before)


def _usage(analysis: Analysis, site: ImageSite) -> str:
    node = site.node
    job = analysis.job(node)
    if site.expanded is None:
        if site.arg.use is ImageUse.SERVICE:
            for name, service in job.services.items():
                if service.image is not None and service.image.span == site.arg.value.span:
                    return f"service `{name}` of job `{node.job}`"
            return f"a service of job `{node.job}`"
        return f"the container of job `{node.job}`"
    op = site.operation
    what = f"`{op.tool}`" if op is not None else _USE_WORDS.get(site.arg.use, "a reference")
    step = site.expanded.step.label
    where = f"step `{step}`"
    if site.expanded.callers:
        where += f" of action `{site.expanded.path}`"
    return f"{what} in {where} of job `{node.job}`"


def _merge(verdicts: Iterable[Verdict]) -> list[Judged]:
    """One finding per code and place, naming every use, most severe first."""
    groups: dict[tuple[str, str, Span], list[Verdict]] = {}
    for v in verdicts:
        groups.setdefault((v.code, v.path, v.span), []).append(v)
    out: list[Judged] = []
    for (code, path, span), group in groups.items():
        first = group[0]
        usages = list(dict.fromkeys(v.usage for v in group))
        related = tuple(dict.fromkeys(r for v in group for r in v.related))
        used = usages[0] if len(usages) == 1 else ", ".join(usages[:-1]) + " and " + usages[-1]
        message = f"`{first.image}` ({used}) {first.problem}; {first.advice}"
        severity = max((v.severity for v in group), key=lambda s: s.rank)
        files = frozenset().union(*(v.files for v in group))
        out.append(
            Judged(code, path, span, message, severity, related, first.job, first.step, files)
        )
    return out
