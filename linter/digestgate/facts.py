"""Step facts: what a step really does, as data the rules can query.

Every analyser (shell scripts, Python scripts, compose files, the catalogue of
well-known actions) produces the same few types:

* `Value`: a string as digestgate knows it at lint time, made of literal pieces and
  *slots* (a `${{ }}` expression, a shell variable, a command substitution) that are
  resolved later by provenance;
* `ImageArg`: an image a step consumes (a *reference*) or writes (a *name*), with
  what it is used for;
* `Operation`: one role-bearing thing a step does (a build, a push, a copy, a
  deploy, a test, a record, a verify), with the images involved and the details the
  rules need (push or load, build context, digest capture, can the command fail);
* `OutputWrite`: a `$GITHUB_OUTPUT` / `$GITHUB_ENV` write, or an output file, and the
  value it carries (with a digest read-back marked as such).

Role names are the lower-case role names of RULES.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import NamedTuple

from digestgate.model import Text
from digestgate.span import Span


class Role(str, Enum):
    BUILD = "build"
    PUSH = "push"
    PROMOTE = "promote"
    DEPLOY = "deploy"
    VALIDATE = "validate"
    RECORD = "record"
    VERIFY = "verify"


class PieceKind(str, Enum):
    LITERAL = "literal"  # text known at lint time
    EXPR = "expr"  # a `${{ }}` placeholder: text is the whole `${{ ... }}`
    VAR = "var"  # a shell or environment variable not resolved: text is the name
    COMMAND = "command"  # a command substitution `$(...)`: text is the inner command
    UNKNOWN = "unknown"  # anything else that is only known at run time (globs, arithmetic)


class Piece(NamedTuple):
    """One piece of a `Value`. `Piece` and `Value` are named tuples, as `Span` is, because
    the analysers make them by the hundred thousand."""

    kind: PieceKind
    text: str
    span: Span | None = None


class Value(NamedTuple):
    """A string value with the parts known now and the slots filled at run time."""

    pieces: tuple[Piece, ...]
    span: Span  # where the whole value is written
    path: str  # the file it is written in (repository-relative)

    @property
    def is_static(self) -> bool:
        # a loop, not all(...) over a generator: asked of nearly every value
        for p in self.pieces:  # noqa: SIM110
            if p.kind is not PieceKind.LITERAL:
                return False
        return True

    @property
    def text(self) -> str:
        """The literal text, with each slot shown as written (`${{ x }}`, `$VAR`, `$(cmd)`)."""
        pieces = self.pieces
        if len(pieces) == 1 and pieces[0].kind is PieceKind.LITERAL:
            return pieces[0].text  # most values: one literal
        out = []
        for p in self.pieces:
            if p.kind is PieceKind.LITERAL or p.kind is PieceKind.EXPR:
                out.append(p.text)
            elif p.kind is PieceKind.VAR:
                out.append("${" + p.text + "}")
            elif p.kind is PieceKind.COMMAND:
                out.append("$(" + p.text + ")")
            else:
                out.append(p.text)
        return "".join(out)

    @property
    def slots(self) -> tuple[Piece, ...]:
        return tuple(p for p in self.pieces if p.kind is not PieceKind.LITERAL)

    @staticmethod
    def concat(parts: Sequence[Value | str], span: Span, path: str) -> Value:
        """Values and literal strings joined into one value located at `span`
        (registry + "/" + image + ":" + tag)."""
        pieces: list[Piece] = []
        for part in parts:
            if isinstance(part, str):
                if part:
                    pieces.append(Piece(PieceKind.LITERAL, part, None))
            else:
                pieces.extend(part.pieces)
        return Value(tuple(pieces), span, path)

    @staticmethod
    def literal(text: str, span: Span, path: str) -> Value:
        return Value((Piece(PieceKind.LITERAL, text, span),), span, path)


def value_of_text(text: Text, path: str) -> Value:
    """A YAML string (`with:` input, `env:` value, `image:`) as a `Value`:
    each `${{ }}` becomes an EXPR piece, the rest literal, each piece with its span."""
    value = text.value
    placeholders = text.placeholders()
    if not placeholders:
        return Value((Piece(PieceKind.LITERAL, value, text.span),), text.span, path)
    pieces: list[Piece] = []
    at = 0
    for placeholder, span in placeholders:
        if placeholder.start > at:
            lit = value[at : placeholder.start]
            pieces.append(Piece(PieceKind.LITERAL, lit, text.locate(at, len(lit))))
        pieces.append(Piece(PieceKind.EXPR, value[placeholder.start : placeholder.end], span))
        at = placeholder.end
    if at < len(value):
        pieces.append(Piece(PieceKind.LITERAL, value[at:], text.locate(at, len(value) - at)))
    return Value(tuple(pieces), text.span, path)


class Command(NamedTuple):
    """One simple command of a script, after the shell has been parsed (a named tuple,
    as `Value` is: scripts make them by the ten thousand)."""

    argv: tuple[Value, ...]  # the command name first; wrappers (sudo, env, ...) kept
    span: Span  # the whole command in its file
    path: str
    guarded: bool = False  # its failure cannot fail the step (`|| true`, `set +e`, ...)
    substituted: bool = False  # it runs inside `$(...)`: its output is a value
    background: bool = False  # `cmd &`
    stdin: Value | None = None  # a here-document or here-string fed to it
    redirects: tuple[tuple[str, Value], ...] = ()  # (operator, target), e.g. (">>", $GITHUB_OUTPUT)

    @property
    def name(self) -> str:
        return self.argv[0].text if self.argv else ""


class ImageUse(str, Enum):
    """What a step does with an image (references are consumed, names written)."""

    # references
    RUN = "run"  # docker run/create, `container:`, `uses: docker://`
    PULL = "pull"
    SERVICE = "service"  # `services:` and compose services that are started
    SCAN = "scan"  # trivy, grype, ...
    SIGN = "sign"  # cosign sign/attest/verify, notation sign
    BASE = "base"  # buildah from, a build's explicit base image
    COPY_SOURCE = "copy-source"  # crane copy/tag, skopeo copy, imagetools create sources, ...
    DEPLOY = "deploy"  # kubectl set image, helm --set image, deploy action inputs
    INPUT = "input"  # an image input of a known action that is not one of the above
    # names
    TAG = "tag"  # build tags (-t, tags:)
    PUSH = "push"  # docker push target, push-to-registry
    COPY_TARGET = "copy-target"  # the destination of a copy or re-tag
    SUBJECT = "subject"  # attestation subject-name

    @property
    def is_reference(self) -> bool:
        return self not in _NAMES


_NAMES = frozenset({ImageUse.TAG, ImageUse.PUSH, ImageUse.COPY_TARGET, ImageUse.SUBJECT})


@dataclass(frozen=True, slots=True)
class ImageArg:
    value: Value
    use: ImageUse


@dataclass(frozen=True, slots=True)
class Operation:
    """One role-bearing thing a step does."""

    role: Role
    tool: str  # e.g. "docker build", "docker/build-push-action", "crane copy", "pytest"
    span: Span  # the command or the `uses:` value
    path: str  # the file it is written in
    images: tuple[ImageArg, ...] = ()
    push: bool = False  # writes to a registry
    load: bool = False  # into the local image store only
    context: Value | None = None  # build context
    dockerfile: Value | None = None
    platforms: tuple[str, ...] = ()
    push_by_digest: bool = False  # `push-by-digest=true`: no tag is written
    provenance: bool = False  # BuildKit provenance explicitly requested on a push
    digest_file: Value | None = None  # --digestfile, --metadata-file, --iidfile ...
    can_fail: bool = True  # False: `|| true`, `set +e` without a check, `exit 0` traps
    index_assembly: bool = False  # imagetools create from per-platform digests
    note: str = ""  # short human detail for `digestgate graph`

    def references(self) -> tuple[ImageArg, ...]:
        return tuple(i for i in self.images if i.use.is_reference)

    def names(self) -> tuple[ImageArg, ...]:
        return tuple(i for i in self.images if not i.use.is_reference)


class WriteTarget(str, Enum):
    OUTPUT = "output"  # $GITHUB_OUTPUT (or a known action's output)
    ENV = "env"  # $GITHUB_ENV
    FILE = "file"  # a file, e.g. a digest file later uploaded as an artifact


class DigestSource(str, Enum):
    """How a written value is known to be a registry digest (RULES.md, known sources)."""

    BUILD_OUTPUT = "build-output"  # build-push-action `digest`, push-to-registry `digest`
    METADATA = "metadata"  # containerimage.digest of a buildx metadata file/output
    DIGEST_FILE = "digest-file"  # buildah push / skopeo copy --digestfile
    READ_BACK = "read-back"  # crane digest, docker inspect RepoDigests, imagetools inspect
    PRINTED_REF = "printed-ref"  # the reference printed by ko build / crane push
    TAG = "tag"  # the value is a tag list (metadata-action outputs)
    IMAGE_ID = "image-id"  # a local image ID: *not* a registry digest


@dataclass(frozen=True, slots=True)
class OutputWrite:
    target: WriteTarget
    name: str  # the output or variable name, or the file path
    value: Value | None
    span: Span
    path: str
    source: DigestSource | None = None  # set when the value is known to be a digest (or not)
    of_image: Value | None = None  # the image whose digest this is, when known


@dataclass(frozen=True, slots=True)
class ScriptFacts:
    """What one script (a `run:` body, a local script file) does."""

    operations: tuple[Operation, ...] = ()
    writes: tuple[OutputWrite, ...] = ()
    references: tuple[ImageArg, ...] = ()  # images used outside any role (see StepFacts)
    opaque: bool = False  # parts of it could not be analysed
    notes: tuple[str, ...] = ()  # why (a parse error, an unsupported shell)
    scripts: tuple[str, ...] = ()  # local script files it runs, repository-relative


@dataclass(frozen=True, slots=True)
class StepFacts:
    """Everything known about one step as it runs in a job."""

    operations: tuple[Operation, ...] = ()
    writes: tuple[OutputWrite, ...] = ()
    # images used outside any role: consumed (docker pull, cosign sign) or named
    # (docker/metadata-action `images:`); `ImageArg.use` tells which
    references: tuple[ImageArg, ...] = ()
    opaque: bool = False
    notes: tuple[str, ...] = ()
    scripts: tuple[str, ...] = ()
    roles_override: frozenset[Role] = field(default_factory=frozenset)

    @property
    def roles(self) -> frozenset[Role]:
        return frozenset(o.role for o in self.operations) | self.roles_override
