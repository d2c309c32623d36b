"""Compose files a workflow runs: which services they start, build, push or pull.

A step that runs `docker compose -f a.yml -f b.yml up` consumes the images of the
services it starts; `docker compose build` builds the services that have a `build:`
section. This module reads those files (through a `ComposeReader` the caller gives, so
nothing is read outside the repository) and answers three questions:

* which files a compose command reads: `-f`/`--file`, else `COMPOSE_FILE`, else the
  default names in the project directory (`compose_files`, `load_project`);
* what each service is: its `image:` as a `Value` (`${VAR}`, `${VAR:-default}` and
  `$VAR` are VAR pieces, positioned in the compose file), whether it builds, its build
  context and Dockerfile (`ComposeService`);
* what an image becomes in the step's environment (`resolve_vars`): known variables are
  substituted, `${VAR:-default}` of an unknown variable takes its default, anything
  else stays a VAR piece named by the bare variable.

The operations a compose command performs are made by `digestgate.commands`.

Not modelled: `.env` files next to the compose file, `extends:`, top-level `include:`.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from digestgate.cache import note_probe, note_read
from digestgate.facts import Command, Piece, PieceKind, Value
from digestgate.loader import MAX_BYTES, LoadError, decode, load_text
from digestgate.nodes import YMap, YNode, YScalar, YSeq
from digestgate.span import Span

DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")

# `${NAME}`, `${NAME:-default}`, `${NAME-default}`, `${NAME:?err}`, `${NAME:+alt}`, ...
_VAR_EXPR = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])(.*))?$", re.DOTALL)
_BARE_VAR = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True, slots=True)
class ComposeService:
    name: str
    image: Value | None  # as written, with `${VAR}` slots; see `resolve_vars`
    builds: bool  # has a `build:` section
    build_context: str | None  # repository-relative (joined to the file's folder), or a URL
    span: Span  # the service's key in its file
    dockerfile: str | None = None
    build_tags: tuple[Value, ...] = ()  # `build.tags`: extra names of the built image
    depends_on: tuple[str, ...] = ()
    profiles: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()  # `build.platforms`, else `platform`
    path: str = ""  # the file the service (last) comes from
    context_value: Value | None = None  # `build_context` as written, with its position


@dataclass(frozen=True, slots=True)
class ComposeFile:
    path: str
    services: tuple[ComposeService, ...]


class ComposeReader(Protocol):
    """Reads a compose file named as the command names it (relative to the working
    directory of the step); None when it is missing, unreadable or not valid YAML."""

    def __call__(self, path: str) -> ComposeFile | None: ...


@dataclass(frozen=True, slots=True)
class ComposeInvocation:
    """A compose command line, after `docker compose` / `docker-compose`."""

    files: tuple[str, ...] = ()  # -f / --file, in order
    project_directory: str | None = None
    profiles: tuple[str, ...] = ()
    subcommand: str | None = None
    args: tuple[Value, ...] = ()  # the subcommand's own arguments


@dataclass(frozen=True, slots=True)
class ComposeProject:
    """The files a compose command reads, merged."""

    files: tuple[ComposeFile, ...] = ()
    missing: tuple[str, ...] = ()  # files named (or default names) that could not be read
    services: tuple[ComposeService, ...] = ()
    profiles: tuple[str, ...] = ()  # active profiles (--profile, COMPOSE_PROFILES)

    @property
    def read(self) -> bool:
        return bool(self.files)


# --- the command line ----------------------------------------------------------------

_GLOBAL_VALUES = frozenset(
    {
        "-f",
        "--file",
        "-p",
        "--project-name",
        "--project-directory",
        "--env-file",
        "--profile",
        "--ansi",
        "--parallel",
        "--progress",
        # docker-compose v1
        "-H",
        "--host",
        "-c",
        "--context",
        "--log-level",
        "--tlscacert",
        "--tlscert",
        "--tlskey",
    }
)


def parse_invocation(args: Sequence[Value]) -> ComposeInvocation:
    """Global options, the subcommand and its arguments of `docker compose ARGS`."""
    files: list[str] = []
    profiles: list[str] = []
    project_directory: str | None = None
    i = 0
    while i < len(args):
        text = args[i].text
        if not text.startswith("-") or text == "-":
            break
        name, eq, attached = text.partition("=")
        value: str | None = None
        if eq and name.startswith("--"):
            value = attached
        elif name in _GLOBAL_VALUES:
            if i + 1 < len(args):
                i += 1
                value = args[i].text
        elif name.startswith("-f") and not name.startswith("--") and len(name) > 2:
            value = name[2:]  # -fcompose.yml
            name = "-f"
        if value is not None:
            if name in ("-f", "--file"):
                files.append(value)
            elif name == "--profile":
                profiles.append(value)
            elif name == "--project-directory":
                project_directory = value
        i += 1
    sub = args[i].text if i < len(args) else None
    rest = tuple(args[i + 1 :]) if i < len(args) else ()
    return ComposeInvocation(tuple(files), project_directory, tuple(profiles), sub, rest)


def invocation_files(inv: ComposeInvocation, env: Mapping[str, Value]) -> list[str]:
    """The files named by `-f`, else by `COMPOSE_FILE`, else the default candidates
    (in the project directory; the first one that exists is read, with its override)."""
    if inv.files:
        return [f for f in inv.files if f != "-"]
    compose_file = env.get("COMPOSE_FILE")
    if compose_file is not None and compose_file.is_static and compose_file.text.strip():
        sep_value = env.get("COMPOSE_PATH_SEPARATOR")
        sep = sep_value.text if sep_value is not None and sep_value.is_static else ":"
        return [f for f in compose_file.text.split(sep or ":") if f]
    base = inv.project_directory
    return [posixpath.join(base, name) if base else name for name in DEFAULT_FILES]


def compose_files(command: Command, env: Mapping[str, Value]) -> list[str]:
    """The compose files a compose command reads, as written (relative to its working
    directory). With no `-f` and no `COMPOSE_FILE`, the default names in the order
    compose tries them: the first that exists is used (see `load_project`). Empty when
    the command is not a compose command."""
    from digestgate import commands

    argv, assigns = commands.peel_with_env(command.argv)
    args = commands.compose_arguments(argv)
    if args is None:
        return []
    return invocation_files(parse_invocation(args), {**env, **assigns})


def load_project(
    inv: ComposeInvocation, env: Mapping[str, Value], reader: ComposeReader | None
) -> ComposeProject:
    """Read the files of a compose invocation and merge their services."""
    active = _active_profiles(inv, env)
    names = invocation_files(inv, env)
    if reader is None:
        return ComposeProject(missing=tuple(names), profiles=active)
    explicit = bool(inv.files) or names != _defaults(inv)
    files: list[ComposeFile] = []
    missing: list[str] = []
    if explicit:
        for name in names:
            got = reader(name)
            if got is None:
                missing.append(name)
            else:
                files.append(got)
    else:
        for name in names:
            got = reader(name)
            if got is not None:
                files.append(got)
                stem, ext = posixpath.splitext(name)
                for override in (f"{stem}.override{ext}", *_other_ext(stem + ".override", ext)):
                    extra = reader(override)
                    if extra is not None:
                        files.append(extra)
                        break
                break
        else:
            missing.append(names[0])
    return ComposeProject(tuple(files), tuple(missing), merge_services(files), active)


def _defaults(inv: ComposeInvocation) -> list[str]:
    return invocation_files(ComposeInvocation(project_directory=inv.project_directory), {})


def _other_ext(stem: str, ext: str) -> list[str]:
    return [stem + e for e in (".yaml", ".yml") if e != ext]


def _active_profiles(inv: ComposeInvocation, env: Mapping[str, Value]) -> tuple[str, ...]:
    profiles = list(inv.profiles)
    from_env = env.get("COMPOSE_PROFILES")
    if from_env is not None and from_env.is_static:
        profiles.extend(p.strip() for p in from_env.text.split(",") if p.strip())
    return tuple(profiles)


def select_services(
    project: ComposeProject, names: Sequence[str] = (), *, with_deps: bool = True
) -> list[ComposeService]:
    """The services a command acts on: the named ones (and what they depend on), or
    every service whose profiles are active (services without profiles always are)."""
    by_name = {s.name: s for s in project.services}
    if names:
        chosen = [n for n in names if n in by_name]
    else:
        active = set(project.profiles)
        chosen = [
            s.name
            for s in project.services
            if not s.profiles or "*" in active or active.intersection(s.profiles)
        ]
    if with_deps:
        seen: list[str] = []
        stack = list(reversed(chosen))
        while stack:
            name = stack.pop()
            if name in seen or name not in by_name:
                continue
            seen.append(name)
            stack.extend(reversed(by_name[name].depends_on))
        chosen = seen
    order = {s.name: i for i, s in enumerate(project.services)}
    return [by_name[n] for n in sorted(set(chosen), key=lambda n: order[n])]


# --- the files -----------------------------------------------------------------------


def parse_compose(text: str, path: str) -> ComposeFile | None:
    """A compose file's services; None when the text is not valid YAML or not a mapping."""
    try:
        loaded = load_text(text, path)
    except LoadError:
        return None
    services = loaded.root.get("services")
    out: list[ComposeService] = []
    if isinstance(services, YMap):
        for key, node in services.items:
            if isinstance(node, YMap):
                out.append(_service(key, node, path))
            elif node is None or (isinstance(node, YScalar) and node.tag == "null"):
                out.append(ComposeService(key.value, None, False, None, key.span, path=path))
    return ComposeFile(path, tuple(out))


def _service(key: YScalar, node: YMap, path: str) -> ComposeService:
    image_node = node.get("image")
    image = (
        image_value(image_node, path)
        if isinstance(image_node, YScalar) and image_node.tag != "null"
        else None
    )
    build = node.get("build")
    builds = build is not None and not (isinstance(build, YScalar) and build.tag == "null")
    context: YScalar | None = None
    dockerfile: str | None = None
    tags: list[Value] = []
    platforms: list[str] = []
    if isinstance(build, YScalar) and builds:
        context = build
    elif isinstance(build, YMap):
        ctx = build.get("context")
        context = ctx if isinstance(ctx, YScalar) else None
        df = build.get("dockerfile")
        dockerfile = df.value if isinstance(df, YScalar) else None
        tag_nodes = build.get("tags")
        if isinstance(tag_nodes, YSeq):
            tags = [image_value(t, path) for t in tag_nodes.items if isinstance(t, YScalar)]
        platforms = _strings(build.get("platforms"))
    if not platforms:
        platforms = _strings(node.get("platform"))
    context_text = context.value if context is not None else ("." if builds else None)
    build_context = _join_context(path, context_text) if context_text is not None else None
    context_value = (
        Value.literal(build_context, context.span, path)
        if context is not None and build_context is not None
        else None
    )
    deps = node.get("depends_on")
    depends = tuple(deps.keys()) if isinstance(deps, YMap) else tuple(_strings(deps))
    return ComposeService(
        name=key.value,
        image=image,
        builds=builds,
        build_context=build_context,
        span=key.span,
        dockerfile=dockerfile,
        build_tags=tuple(tags),
        depends_on=depends,
        profiles=tuple(_strings(node.get("profiles"))),
        platforms=tuple(platforms),
        path=path,
        context_value=context_value,
    )


def _strings(node: YNode | None) -> list[str]:
    if isinstance(node, YScalar) and node.tag != "null":
        return [node.value]
    if isinstance(node, YSeq):
        return [i.value for i in node.items if isinstance(i, YScalar)]
    return []


def _join_context(path: str, context: str) -> str:
    """A build context relative to the compose file's folder, made repository-relative."""
    if "://" in context or context.startswith(("git@", "github.com/")) or "$" in context:
        return context
    if context.startswith("/"):
        return context
    folder = posixpath.dirname(path)
    joined = posixpath.normpath(posixpath.join(folder, context)) if folder else context
    return posixpath.normpath(joined)


def image_value(node: YScalar, path: str) -> Value:
    """A compose string as a Value: `$$` is a literal `$`; `${...}` and `$NAME` are VAR
    pieces whose text is what is between the braces (`TAG:-latest`) or the bare name."""
    return Value(_interpolation_pieces(node.value, node.locate), node.span, path)


def _interpolation_pieces(text: str, locate: _Locate | None) -> tuple[Piece, ...]:
    pieces: list[Piece] = []
    literal: list[str] = []
    lit_start = 0

    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == "$" and i + 1 < n and text[i + 1] == "$":
            if not literal:
                lit_start = i
            literal.append("$")
            i += 2
            continue
        if c == "$" and i + 1 < n and text[i + 1] == "{":
            end = _closing_brace(text, i + 2)
            if end is not None:
                _flush(pieces, literal, locate, lit_start, i)
                pieces.append(
                    Piece(PieceKind.VAR, text[i + 2 : end], _span_of(locate, i, end + 1 - i))
                )
                i = end + 1
                lit_start = i
                continue
        if c == "$":
            m = _BARE_VAR.match(text, i + 1)
            if m:
                _flush(pieces, literal, locate, lit_start, i)
                pieces.append(Piece(PieceKind.VAR, m.group(0), _span_of(locate, i, m.end() - i)))
                i = m.end()
                lit_start = i
                continue
        if not literal:
            lit_start = i
        literal.append(c)
        i += 1
    _flush(pieces, literal, locate, lit_start, n)
    return tuple(pieces)


# (`_interpolation_pieces` has no nested functions: compiled with mypyc, a closure
# there was a reference cycle on every call)
def _span_of(locate: _Locate | None, start: int, length: int) -> Span | None:
    return locate(start, length) if locate is not None else None


def _flush(
    pieces: list[Piece], literal: list[str], locate: _Locate | None, start: int, end: int
) -> None:
    """The literal text gathered so far (from `start` to `end`), if any, as a piece."""
    if literal:
        span = _span_of(locate, start, end - start)
        pieces.append(Piece(PieceKind.LITERAL, "".join(literal), span))
        literal.clear()


class _Locate(Protocol):
    def __call__(self, at: int, length: int = 0, /) -> Span: ...


def _closing_brace(text: str, start: int) -> int | None:
    depth = 1
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
    return None


def merge_services(files: Sequence[ComposeFile]) -> tuple[ComposeService, ...]:
    """Services of several files merged as compose merges them: later files override
    `image`, `build` and `profiles`; `depends_on` adds up."""
    merged: dict[str, ComposeService] = {}
    for file in files:
        for svc in file.services:
            old = merged.get(svc.name)
            if old is None:
                merged[svc.name] = svc
                continue
            merged[svc.name] = ComposeService(
                name=svc.name,
                image=svc.image if svc.image is not None else old.image,
                builds=svc.builds or old.builds,
                build_context=svc.build_context if svc.builds else old.build_context,
                span=svc.span,
                dockerfile=svc.dockerfile if svc.dockerfile is not None else old.dockerfile,
                build_tags=old.build_tags + svc.build_tags,
                depends_on=tuple(dict.fromkeys(old.depends_on + svc.depends_on)),
                profiles=svc.profiles or old.profiles,
                platforms=svc.platforms or old.platforms,
                path=svc.path if svc.image is not None else old.path,
                context_value=svc.context_value if svc.builds else old.context_value,
            )
    return tuple(merged.values())


# --- variables -----------------------------------------------------------------------


def var_name(piece: Piece) -> str:
    """The variable a compose VAR piece names (`TAG` for `TAG:-latest`)."""
    m = _VAR_EXPR.match(piece.text)
    return m.group(1) if m else piece.text


def resolve_vars(value: Value, env: Mapping[str, Value]) -> Value:
    """Substitute the variables of a compose Value that `env` knows.

    `${VAR:-default}` / `${VAR-default}` of a variable not in `env` becomes the default
    (compose uses it when the variable is unset); `${VAR:+alt}` becomes `alt` when the
    variable is known and not empty, else nothing. What cannot be resolved stays a VAR
    piece whose text is the bare variable name. Other pieces are kept as they are."""
    out: list[Piece] = []
    for piece in value.pieces:
        if piece.kind is not PieceKind.VAR:
            out.append(piece)
            continue
        m = _VAR_EXPR.match(piece.text)
        if m is None:
            out.append(piece)
            continue
        name, op, arg = m.group(1), m.group(2) or "", m.group(3) or ""
        known = env.get(name)
        arg_offset = 2 + len(name) + len(op)
        if known is not None:
            empty = known.is_static and known.text == ""
            if op == ":-":
                out.extend(_default_pieces(arg, piece, arg_offset, env) if empty else known.pieces)
            elif op == "+" or (op == ":+" and not empty):
                out.extend(_default_pieces(arg, piece, arg_offset, env))
            elif op != ":+":
                out.extend(known.pieces)
        elif op in (":-", "-"):
            out.extend(_default_pieces(arg, piece, arg_offset, env))
        elif op in (":+", "+"):
            continue
        else:
            out.append(Piece(PieceKind.VAR, name, piece.span))
    kept = tuple(p for p in out if p.text or p.kind is not PieceKind.LITERAL)
    return Value(kept, value.span, value.path)


def _default_pieces(
    text: str, piece: Piece, offset: int, env: Mapping[str, Value]
) -> tuple[Piece, ...]:
    span = piece.span
    exact = (
        span is not None
        and span.line == span.end_line
        and span.end_column - span.column == len(piece.text) + 3
    )

    def locate(at: int, length: int = 0) -> Span:
        assert span is not None
        if not exact:
            return span
        col = span.column + offset + at
        return Span(span.line, col, span.line, col + length)

    inner = _interpolation_pieces(text, locate if span is not None else None)
    if any(p.kind is PieceKind.VAR for p in inner):
        dummy = Value(inner, span or Span(1, 1, 1, 1), "")
        return resolve_vars(dummy, env).pieces
    return inner


# --- reading files safely ------------------------------------------------------------


def repository_reader(root: Path, workdir: str = "") -> ComposeReader:
    """A reader of compose files under `root`, names taken relative to `workdir`
    (repository-relative). It never reads outside `root` (absolute names, `..` that
    climb out, symlinks that lead out), and returns None for anything missing,
    unreadable, too large or not valid YAML. Results are cached per reader."""
    base = root.resolve()
    cache: dict[str, ComposeFile | None] = {}

    def read(path: str) -> ComposeFile | None:
        rel = repository_path(path, workdir)
        if rel is None:
            return None
        if rel not in cache:
            cache[rel] = _read(base, rel)
        return cache[rel]

    return read


def repository_path(path: str, workdir: str = "") -> str | None:
    """`path` (as a command names it, in `workdir`) as a repository-relative POSIX path,
    or None when it is absolute, holds a variable, or leaves the repository."""
    if not path or "$" in path or path.startswith(("/", "~")) or "\\" in path or "\x00" in path:
        return None
    joined = posixpath.normpath(posixpath.join(workdir.strip("/") or ".", path))
    if joined == ".." or joined.startswith("../") or joined.startswith("/"):
        return None
    return joined


def _read(base: Path, rel: str) -> ComposeFile | None:
    full = base / rel
    try:
        resolved = full.resolve()
        resolved.relative_to(base)
    except (OSError, ValueError, RuntimeError):
        note_read(base, rel, None)
        return None
    try:
        if not resolved.is_file() or os.path.getsize(resolved) > MAX_BYTES:
            note_probe(base, rel)
            return None
        data = resolved.read_bytes()
    except OSError:
        note_read(base, rel, None)
        return None
    note_read(base, rel, data)
    try:
        text = decode(data, rel)
    except LoadError:
        return None
    return parse_compose(text, rel)


__all__ = [
    "DEFAULT_FILES",
    "ComposeFile",
    "ComposeInvocation",
    "ComposeProject",
    "ComposeReader",
    "ComposeService",
    "compose_files",
    "image_value",
    "invocation_files",
    "load_project",
    "merge_services",
    "parse_compose",
    "parse_invocation",
    "repository_path",
    "repository_reader",
    "resolve_vars",
    "select_services",
    "var_name",
]
