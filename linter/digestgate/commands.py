"""What a shell command does to container images: `Command` -> `Operation`s.

`classify` turns one command (argv as `Value`s, as `digestgate.shell` makes them) into
the role-bearing operations of RULES.md (BUILD, PUSH, PROMOTE, DEPLOY, VALIDATE,
RECORD, VERIFY), each with the images it consumes (*references*) and writes (*names*),
every `ImageArg` keeping the argument's `Value` as written (a `--tag=x` argument gives
the `x` part, positioned). `references` lists the images consumed by commands that
have no role (`docker pull`, `docker create`, `docker run` with no command, `cosign
sign`, `notation sign`, `docker save`, the tool image of `docker run aquasec/trivy
...`): DG101 judges those too.

`analyse_script` (and `classify_script`, its operations only) classifies a script's
commands in order and applies the sequence rules:

* `docker pull X` + `docker tag X Y` + `docker push Y` is one PROMOTE (COPY_SOURCE X,
  COPY_TARGET Y) at the push; the pull is no longer a separate reference and the push
  no longer a PUSH;
* `docker tag A B` of an image built earlier in the script adds B to that build's TAG
  names (a local re-tag, not a promotion);
* an operation consuming a tag of an image built (and loaded) earlier in the script
  gets the note "local build"; `local_tags` gives those tags to the caller;
* `docker push` after `docker load` is a PUSH with the note "loaded archive";
* `aws ecr batch-get-image` + `aws ecr put-image` is one PROMOTE.

`digest_source` says whether a command whose output is captured prints a registry
digest (or a local image ID); `pipeline_digest_source` does the same for a pipeline
(`docker buildx imagetools inspect --format '{{json .Manifest}}' | jq -r .digest`).

Wrappers are looked through by `peel`: sudo, env, timeout, time, nice, nohup, stdbuf,
xargs, command, exec, builtin, doas, setsid, unbuffer, xvfb-run, and the runners
`npx`, `bunx`, `pnpm exec/dlx`, `yarn exec/dlx`, `npm exec`, `uv run`, `uvx`, `poetry
run`, `pipenv run`, `pdm run`, `rye run`, `pipx run`, `conda run`, `bundle exec`.

Option parsing follows each tool's own rules closely enough to find positionals:
options known to take a value skip it (`-t x`, `--tag=x`, `-tx`, `-e A=b`, `-v a:b`,
...); unknown options are `--opt=value` or flags.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from digestgate import compose as _compose
from digestgate.facts import (
    Command,
    DigestSource,
    ImageArg,
    ImageUse,
    Operation,
    Piece,
    PieceKind,
    Role,
    Value,
)
from digestgate.span import Span

_SLOT = "\x00"  # stands for one slot piece in a Value's flat text

# --- Value helpers -------------------------------------------------------------------


def flat_text(value: Value) -> str:
    """The literal text of a value with each slot (expression, variable, command
    substitution) as one NUL character, so offsets index pieces exactly."""
    pieces = value.pieces
    if len(pieces) == 1 and pieces[0].kind is PieceKind.LITERAL:
        return pieces[0].text  # most words are one literal piece
    return "".join(p.text if p.kind is PieceKind.LITERAL else _SLOT for p in value.pieces)


def literal_text(value: Value) -> str | None:
    """The text of a value that has no slot, else None."""
    return value.text if value.is_static else None


def slice_value(value: Value, start: int, end: int | None = None) -> Value:
    """`value[start:end]` in flat-text offsets, pieces and spans cut to match."""
    total = sum(len(p.text) if p.kind is PieceKind.LITERAL else 1 for p in value.pieces)
    end = total if end is None else min(end, total)
    start = max(0, start)
    if start == 0 and end == total:
        return value
    pieces: list[Piece] = []
    pos = 0
    for p in value.pieces:
        n = len(p.text) if p.kind is PieceKind.LITERAL else 1
        a, b = max(start, pos), min(end, pos + n)
        if a < b:
            if p.kind is not PieceKind.LITERAL or (a == pos and b == pos + n):
                pieces.append(p)
            else:
                sub = p.text[a - pos : b - pos]
                pieces.append(Piece(PieceKind.LITERAL, sub, _sub_span(p, a - pos, b - pos)))
        pos += n
    return Value(tuple(pieces), _joined_span(pieces) or value.span, value.path)


def _sub_span(piece: Piece, a: int, b: int) -> Span | None:
    span = piece.span
    if span is None:
        return None
    if span.line == span.end_line and span.end_column - span.column == len(piece.text):
        return Span(span.line, span.column + a, span.line, span.column + b)
    return span


def _joined_span(pieces: Sequence[Piece]) -> Span | None:
    if not pieces or any(p.span is None for p in pieces):
        return None
    first, last = pieces[0].span, pieces[-1].span
    assert first is not None and last is not None
    return Span(first.line, first.column, last.end_line, last.end_column)


concat_values = Value.concat


def _split(value: Value, sep: str, maxsplit: int = -1) -> list[Value]:
    """Split a value at `sep` in its literal parts."""
    flat = flat_text(value)
    out: list[Value] = []
    start = 0
    count = 0
    while maxsplit < 0 or count < maxsplit:
        i = flat.find(sep, start)
        if i < 0:
            break
        out.append(slice_value(value, start, i))
        start = i + len(sep)
        count += 1
    out.append(slice_value(value, start))
    return out


def _after_prefix(value: Value, prefixes: Iterable[str]) -> Value | None:
    flat = flat_text(value)
    for prefix in prefixes:
        if flat.startswith(prefix):
            return slice_value(value, len(prefix))
    return None


def _key_value(value: Value) -> tuple[str, Value] | None:
    """`KEY=value` -> (KEY, value) when KEY is literal."""
    flat = flat_text(value)
    i = flat.find("=")
    if i <= 0 or _SLOT in flat[:i]:
        return None
    return flat[:i], slice_value(value, i + 1)


def _csv(value: Value) -> list[tuple[str, Value]]:
    """BuildKit's `key=value,key="a,b"` option syntax; a field without `=` gets key ""."""
    flat = flat_text(value)
    fields: list[tuple[int, int]] = []
    start = 0
    quoted = False
    for i, c in enumerate(flat):
        if c == '"':
            quoted = not quoted
        elif c == "," and not quoted:
            fields.append((start, i))
            start = i + 1
    fields.append((start, len(flat)))
    out: list[tuple[str, Value]] = []
    for a, b in fields:
        text = flat[a:b]
        if not text:
            continue
        if text.startswith('"') and text.endswith('"') and len(text) >= 2:
            a, b = a + 1, b - 1
            text = flat[a:b]
        eq = text.find("=")
        if eq < 0 or _SLOT in text[:eq]:
            out.append(("", slice_value(value, a, b)))
            continue
        va, vb = a + eq + 1, b
        inner = flat[va:vb]
        if inner.startswith('"') and inner.endswith('"') and len(inner) >= 2:
            va, vb = va + 1, vb - 1
        out.append((text[:eq].strip().lower(), slice_value(value, va, vb)))
    return out


def _opts_slot(value: Value) -> bool:
    """A word that is one variable named like a list of options (`$DOCKER_ARGS`)."""
    if len(value.pieces) != 1 or value.pieces[0].kind not in (PieceKind.VAR, PieceKind.EXPR):
        return False  # a `$(... | xargs ...)` substitution is not an options variable
    name = value.pieces[0].text.upper()
    return any(w in name for w in ("ARGS", "OPTS", "FLAGS", "OPTIONS", "PARAMS", "EXTRA"))


def _truthy(value: Value | None) -> bool:
    """A flag's value: absent value means true; `false`/`0`/`no` mean false."""
    if value is None:
        return True
    text = value.text.strip().strip("\"'").lower()
    return text not in ("false", "0", "no", "off")


def normalize_reference(text: str) -> str:
    """A reference as the registry sees it, for comparing names written differently:
    `docker.io/library/` dropped, `:latest` added when there is no tag or digest."""
    ref = text.strip()
    for prefix in ("docker://", "index.docker.io/", "docker.io/", "registry-1.docker.io/"):
        if ref.startswith(prefix):
            ref = ref[len(prefix) :]
    if ref.startswith("library/"):
        ref = ref[len("library/") :]
    name = ref.split("@", 1)[0]
    if "@" not in ref and ":" not in name.rsplit("/", 1)[-1]:
        ref += ":latest"
    return ref


# --- option parsing ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Opt:
    name: str
    value: Value | None
    arg: Value


@dataclass
class _Parsed:
    opts: list[_Opt] = field(default_factory=list)
    pos: list[Value] = field(default_factory=list)
    rest: list[Value] = field(default_factory=list)  # after the first positional (stop mode)

    def values(self, *names: str) -> list[Value]:
        return [o.value for o in self.opts if o.name in names and o.value is not None]

    def value(self, *names: str) -> Value | None:
        found = self.values(*names)
        return found[-1] if found else None

    def has(self, *names: str) -> bool:
        return any(o.name in names for o in self.opts)

    def flag(self, *names: str) -> bool:
        """The last of these boolean options is present and not `=false`."""
        hits = [o for o in self.opts if o.name in names]
        return bool(hits) and _truthy(hits[-1].value)

    def texts(self, *names: str) -> list[str]:
        return [v.text for v in self.values(*names)]


def _parse(
    args: Sequence[Value],
    values: frozenset[str] = frozenset(),
    *,
    stop: bool = False,
    flags: frozenset[str] = frozenset(),
    long_values: bool = False,
) -> _Parsed:
    """getopt/pflag-like parsing. `values`: options that take a value (`-t x`, `-tx`,
    `--tag x`, `--tag=x`). `stop`: options end at the first positional (docker run).
    `long_values`: unknown `--long` options take the next word as value unless it looks
    like an option (aws, az, gcloud, where nearly every option has a value); `flags`
    lists the exceptions. Whole words are tried before short clusters (`-pl`, `-var`)."""
    out = _Parsed()
    i = 0
    n = len(args)
    while i < n:
        arg = args[i]
        flat = flat_text(arg)
        if flat == "--":
            out.pos.extend(args[i + 1 :])
            if stop and out.pos:
                out.rest = list(out.pos[1:])
                out.pos = out.pos[:1]
            break
        if _opts_slot(arg):
            i += 1
            continue
        if flat.startswith("-") and len(flat) > 1 and flat[1] != _SLOT:
            name, eq, _ = flat.partition("=")
            if _SLOT in name:
                name = name[: name.index(_SLOT)]
                eq = ""
            nxt = args[i + 1] if i + 1 < n else None
            if eq and (name.startswith("--") or name in values or name in flags):
                out.opts.append(_Opt(name, slice_value(arg, len(name) + 1), arg))
                i += 1
                continue
            if name in values:
                out.opts.append(_Opt(name, nxt, arg))
                i += 2
                continue
            if name in flags:
                out.opts.append(_Opt(name, None, arg))
                i += 1
                continue
            if name.startswith("--"):
                if (
                    long_values
                    and not name.startswith("--no-")
                    and nxt is not None
                    and not flat_text(nxt).startswith("-")
                ):
                    out.opts.append(_Opt(name, nxt, arg))
                    i += 2
                else:
                    out.opts.append(_Opt(name, None, arg))
                    i += 1
                continue
            # a cluster of short options: -it, -dp 80:80, -tname, -Dkey=value
            consumed = 1
            for j in range(1, len(flat)):
                c = flat[j]
                if c == _SLOT:
                    break
                opt = "-" + c
                if opt in values:
                    if j + 1 < len(flat):
                        skip = 2 if flat[j + 1] == "=" else 1
                        out.opts.append(_Opt(opt, slice_value(arg, j + skip), arg))
                    else:
                        out.opts.append(_Opt(opt, nxt, arg))
                        consumed = 2
                    break
                out.opts.append(_Opt(opt, None, arg))
            i += consumed
            continue
        out.pos.append(arg)
        i += 1
        if stop:
            out.rest = list(args[i:])
            break
    return out


def _skip_options(args: Sequence[Value], values: frozenset[str]) -> int:
    """Index of the first positional (the subcommand) after leading options."""
    i = 0
    while i < len(args):
        flat = flat_text(args[i])
        if flat == "--":
            return i + 1
        if not flat.startswith("-") or flat == "-":
            return i
        name = flat.split("=", 1)[0]
        if "=" not in flat and name in values:
            i += 2
        elif (
            not name.startswith("--")
            and len(name) > 2
            and "-" + name[-1] in values
            and all("-" + c not in values for c in name[1:-1])
        ):
            i += 2  # -it -> flags; -dH host -> the last takes the next word
        else:
            i += 1
    return i


# --- wrappers ------------------------------------------------------------------------


def command_name(value: Value) -> str | None:
    """The program a word names: its basename, without `.exe`/`.cmd`/`.bat`."""
    text = literal_text(value)
    if not text:
        return None
    base = text.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    if "." in base:  # most names have no extension
        for ext in (".exe", ".cmd", ".bat"):
            if base.lower().endswith(ext):
                base = base[: -len(ext)]
    return base or None


_ASSIGN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")

_Wrapper = Callable[[list[Value], dict[str, Value]], "list[Value] | None"]


def _opts_then_command(
    values: frozenset[str], *, assignments: bool = False, positionals: int = 0
) -> _Wrapper:
    def peel_one(args: list[Value], assigns: dict[str, Value]) -> list[Value] | None:
        i = _skip_options(args, values)
        if assignments:
            while i < len(args) and _ASSIGN.match(flat_text(args[i])):
                kv = _key_value(args[i])
                if kv:
                    assigns[kv[0]] = kv[1]
                i += 1
        return args[i + positionals :]

    return peel_one


def _env_wrapper(args: list[Value], assigns: dict[str, Value]) -> list[Value] | None:
    values = frozenset({"-u", "--unset", "-C", "--chdir", "-S", "--split-string"})
    p = _parse(args, values | frozenset({"-i", "-0", "-v"}), stop=True)
    split = p.value("-S", "--split-string")
    if split is not None:
        return _words(split) + p.pos + p.rest
    words = p.pos + p.rest
    i = 0
    while i < len(words) and _ASSIGN.match(flat_text(words[i])):
        kv = _key_value(words[i])
        if kv:
            assigns[kv[0]] = kv[1]
        i += 1
    return words[i:]


def _words(value: Value) -> list[Value]:
    """A literal string split into words (for `env -S`, `sh -c` like strings)."""
    try:
        parts = shlex.split(value.text)
    except ValueError:
        return []
    return [Value.literal(w, value.span, value.path) for w in parts]


def _command_wrapper(args: list[Value], assigns: dict[str, Value]) -> list[Value] | None:
    i = 0
    while i < len(args) and flat_text(args[i]).startswith("-"):
        flag = flat_text(args[i])
        if flag == "--":
            i += 1
            break
        if "v" in flag or "V" in flag:
            return []  # `command -v docker`: a lookup, nothing runs
        i += 1
    return args[i:]


def _nice_wrapper(args: list[Value], assigns: dict[str, Value]) -> list[Value] | None:
    i = 0
    while i < len(args):
        flat = flat_text(args[i])
        if re.fullmatch(r"-\d+|-n-?\d+|--adjustment=-?\d+", flat):
            i += 1
        elif flat in ("-n", "--adjustment"):
            i += 2
        elif flat == "--":
            i += 1
            break
        else:
            break
    return args[i:]


def _subcommand_runner(
    sub: str | tuple[str, ...], values: frozenset[str] = frozenset()
) -> _Wrapper:
    subs = (sub,) if isinstance(sub, str) else sub

    def peel_one(args: list[Value], assigns: dict[str, Value]) -> list[Value] | None:
        i = _skip_options(args, values)
        if i >= len(args) or literal_text(args[i]) not in subs:
            return None
        rest = args[i + 1 :]
        j = _skip_options(rest, values)
        return rest[j:]

    return peel_one


def _uv_wrapper(args: list[Value], assigns: dict[str, Value]) -> list[Value] | None:
    values = frozenset(
        {
            "--with",
            "--with-editable",
            "--with-requirements",
            "--python",
            "-p",
            "--extra",
            "--group",
            "--only-group",
            "--no-group",
            "--package",
            "--project",
            "--directory",
            "--env-file",
            "--index",
            "--index-url",
            "--extra-index-url",
            "--find-links",
            "--from",
            "--color",
            "--cache-dir",
            "--config-file",
        }
    )
    i = _skip_options(args, values)
    if i >= len(args) or literal_text(args[i]) != "run":
        return None
    rest = args[i + 1 :]
    p = _parse(rest, values | frozenset({"-m", "--module"}), stop=True)
    module = p.value("-m", "--module")
    if module is not None:
        python = Value.literal("python", module.span, module.path)
        return [python, Value.literal("-m", module.span, module.path), module, *p.pos, *p.rest]
    return p.pos + p.rest


def _uvx_wrapper(args: list[Value], assigns: dict[str, Value]) -> list[Value] | None:
    values = frozenset({"--from", "--with", "--python", "-p", "--index", "--index-url"})
    return args[_skip_options(args, values) :]


def _xvfb_wrapper(args: list[Value], assigns: dict[str, Value]) -> list[Value] | None:
    values = frozenset(
        {"-n", "--server-num", "-s", "--server-args", "-f", "--auth-file", "-e", "--error-file"}
        | {"-p", "--xauth-protocol", "-w", "--wait"}
    )
    return args[_skip_options(args, values) :]


_SUDO_VALUES = frozenset(
    {"-u", "-g", "-p", "-C", "-D", "-r", "-t", "-U", "-T", "-R", "-h"}
    | {"--user", "--group", "--prompt", "--close-from", "--chdir", "--role", "--type"}
    | {"--other-user", "--command-timeout", "--chroot", "--host"}
)

_WRAPPERS: dict[str, _Wrapper] = {
    "sudo": _opts_then_command(_SUDO_VALUES, assignments=True),
    "doas": _opts_then_command(frozenset({"-u", "-C"})),
    "env": _env_wrapper,
    "timeout": _opts_then_command(
        frozenset({"-s", "--signal", "-k", "--kill-after"}), positionals=1
    ),
    "gtimeout": _opts_then_command(
        frozenset({"-s", "--signal", "-k", "--kill-after"}), positionals=1
    ),
    "time": _opts_then_command(frozenset({"-f", "--format", "-o", "--output"})),
    "nice": _nice_wrapper,
    "nohup": _opts_then_command(frozenset()),
    "stdbuf": _opts_then_command(frozenset({"-i", "-o", "-e", "--input", "--output", "--error"})),
    "xargs": _opts_then_command(
        frozenset(
            {"-a", "--arg-file", "-d", "--delimiter", "-E", "-I", "-L", "-n", "--max-args"}
            | {"-P", "--max-procs", "-s", "--max-chars", "--process-slot-var"}
        )
    ),
    "command": _command_wrapper,
    "exec": _opts_then_command(frozenset({"-a"})),
    "builtin": _opts_then_command(frozenset()),
    "setsid": _opts_then_command(frozenset()),
    "unbuffer": _opts_then_command(frozenset()),
    "eatmydata": _opts_then_command(frozenset()),
    "chronic": _opts_then_command(frozenset()),
    "xvfb-run": _xvfb_wrapper,
    "npx": _opts_then_command(frozenset({"-p", "--package", "--cache", "--registry"})),
    "bunx": _opts_then_command(frozenset({"-p", "--package"})),
    "pnpx": _opts_then_command(frozenset()),
    "uvx": _uvx_wrapper,
    "uv": _uv_wrapper,
    "pnpm": _subcommand_runner(
        ("exec", "dlx"), frozenset({"--filter", "-F", "-C", "--dir", "--package"})
    ),
    "yarn": _subcommand_runner(("exec", "dlx"), frozenset({"-p", "--package", "--cwd"})),
    "npm": _subcommand_runner(
        ("exec", "x"), frozenset({"-w", "--workspace", "--prefix", "-p", "--package"})
    ),
    "poetry": _subcommand_runner("run", frozenset({"-C", "--directory", "-P", "--project"})),
    "pipenv": _subcommand_runner("run"),
    "pdm": _subcommand_runner("run", frozenset({"-p", "--project"})),
    "rye": _subcommand_runner("run"),
    "pipx": _subcommand_runner("run", frozenset({"--spec", "--python", "--index-url"})),
    "conda": _subcommand_runner("run", frozenset({"-n", "--name", "-p", "--prefix", "--cwd"})),
    "mamba": _subcommand_runner("run", frozenset({"-n", "--name", "-p", "--prefix", "--cwd"})),
    "micromamba": _subcommand_runner("run", frozenset({"-n", "--name", "-p", "--prefix", "--cwd"})),
    "bundle": _subcommand_runner("exec"),
}


def peel_with_env(argv: Sequence[Value]) -> tuple[tuple[Value, ...], dict[str, Value]]:
    """`peel`, also returning the variables the wrappers set (`env A=b`, `sudo A=b`,
    and leading `A=b` words)."""
    args = list(argv)
    assigns: dict[str, Value] = {}
    for _ in range(32):
        while args and _ASSIGN.match(flat_text(args[0])):
            kv = _key_value(args[0])
            if kv:
                assigns[kv[0]] = kv[1]
            args = args[1:]
        if not args:
            break
        wrapper = _WRAPPERS.get(command_name(args[0]) or "")
        if wrapper is None:
            break
        peeled = wrapper(args[1:], assigns)
        if peeled is None:
            break
        args = peeled
    return tuple(args), assigns


def peel(argv: tuple[Value, ...]) -> tuple[Value, ...]:
    """The command a wrapped command line really runs: `sudo -E docker push x` ->
    `docker push x`. Empty when nothing runs (`command -v docker`)."""
    return peel_with_env(argv)[0]


# --- analysis core -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Ctx:
    command: Command
    reader: _compose.ComposeReader | None
    env: Mapping[str, Value]
    depth: int = 0

    def op(self, role: Role, tool: str, images: Iterable[ImageArg] = (), **kw: Any) -> Operation:
        return Operation(
            role,
            tool,
            self.command.span,
            self.command.path,
            tuple(i for i in images if flat_text(i.value)),
            can_fail=not self.command.guarded,
            **kw,
        )


@dataclass
class _Out:
    ops: list[Operation] = field(default_factory=list)
    refs: list[ImageArg] = field(default_factory=list)  # consumed by commands with no role
    pulled: list[ImageArg] = field(default_factory=list)  # `docker pull X`: X (also in refs)
    retag: tuple[Value, list[Value]] | None = None  # `docker tag X Y...`
    pushes: list[tuple[int, Value]] = field(default_factory=list)  # (op index, local source)
    loaded: bool = False  # `docker load`
    ecr_get: Value | None = None  # `aws ecr batch-get-image`: the image read
    ecr_put: int | None = None  # `aws ecr put-image`: the PROMOTE op's index


_Handler = Callable[[_Ctx, str, list[Value]], _Out]


def _ref(value: Value, use: ImageUse) -> ImageArg:
    return ImageArg(value, use)


def _refs(values: Iterable[Value], use: ImageUse) -> list[ImageArg]:
    return [ImageArg(v, use) for v in values]


_PYTHON_PROGRAM = re.compile(r"(python|pypy)[0-9.]*|py")  # read by the `_python` handler


def _analyse(ctx: _Ctx, argv: Sequence[Value]) -> _Out:
    if ctx.depth > 4:
        return _Out()
    args, assigns = peel_with_env(argv)
    if not args:
        return _Out()
    if assigns:
        ctx = replace(ctx, env={**ctx.env, **assigns})
    name = command_name(args[0])
    if name is None:
        return _Out()
    handler = _HANDLERS.get(name)
    if handler is None:
        if _PYTHON_PROGRAM.fullmatch(name):
            handler = _python
        elif name == "executor" and _is_kaniko(args):
            handler = _kaniko
        else:
            return _Out()
    out = handler(ctx, name, list(args[1:]))
    out.refs = [r for r in out.refs if flat_text(r.value)]
    return out


def _inert(command: Command) -> bool:
    """Whether `_analyse` finds nothing in `command` without looking further: its first
    word is not a variable assignment and names no wrapper, handler or Python. Most
    commands of a script (`echo`, `cd`, `npm`, ...) are answered here, cheaply."""
    if not command.argv:
        return True
    first = command.argv[0]
    if _ASSIGN.match(flat_text(first)):
        return False
    name = command_name(first)
    if name is None:
        return True
    return not (
        name in _HANDLERS
        or name in _WRAPPERS
        or name == "executor"
        or _PYTHON_PROGRAM.fullmatch(name)
    )


def _inner(ctx: _Ctx, argv: Sequence[Value]) -> _Out:
    """Classify a command run inside another (docker run/exec, ...)."""
    return _analyse(replace(ctx, depth=ctx.depth + 1), argv)


def _is_kaniko(args: Sequence[Value]) -> bool:
    if "kaniko" in args[0].text:
        return True
    kaniko = ("--destination", "-d", "--dockerfile", "--no-push", "--context", "--digest-file")
    return any(flat_text(a).split("=", 1)[0] in kaniko for a in args[1:])


def classify(
    command: Command,
    *,
    compose: _compose.ComposeReader | None = None,
    env: Mapping[str, Value] | None = None,
) -> list[Operation]:
    """The role-bearing operations of one command. `compose` reads the compose files
    `docker compose` names; `env` is the step's environment (for `${VAR}` in compose
    files, `COMPOSE_FILE`, `KO_DOCKER_REPO`)."""
    return list(_analyse(_Ctx(command, compose, env or {}), command.argv).ops)


def references(
    command: Command,
    *,
    compose: _compose.ComposeReader | None = None,
    env: Mapping[str, Value] | None = None,
) -> list[ImageArg]:
    """Images consumed by a command that has no role: `docker pull` (PULL), `docker
    create` and `docker run` with no command (RUN), `cosign sign`/`notation sign`
    (SIGN), `docker save` (INPUT), `docker compose pull` (PULL), the tool image of
    `docker run aquasec/trivy image x`, ... A lone `docker tag` gives none: its source
    is a local image, consumed where it was pulled or built."""
    return list(_analyse(_Ctx(command, compose, env or {}), command.argv).refs)


# --- docker, podman, nerdctl ---------------------------------------------------------

_DOCKER_GLOBAL_VALUES = frozenset(
    {"-H", "--host", "-c", "--context", "--config", "-l", "--log-level"}
    | {"--tlscacert", "--tlscert", "--tlskey"}
    # podman
    | {"--connection", "--url", "--root", "--runroot", "--storage-driver", "--storage-opt"}
    | {"--cgroup-manager", "--events-backend", "--identity", "--module", "--runtime"}
    | {"--runtime-flag", "--tmpdir", "--volumepath", "--imagestore", "--hooks-dir", "--conmon"}
    | {"--network-cmd-path", "--network-config-dir", "--ssh", "--out", "--cni-config-dir"}
    # nerdctl
    | {"-n", "--namespace", "-a", "--address", "--snapshotter", "--data-root", "--cni-path"}
    | {"--cni-netconfpath", "--hosts-dir", "--host-gateway-ip", "--bridge-ip"}
)

_BUILD_VALUES = frozenset(
    {"-t", "--tag", "-f", "--file", "-o", "--output", "--platform", "--build-arg"}
    | {"--build-context", "--builder", "--cache-from", "--cache-to", "--cgroup-parent"}
    | {"--iidfile", "--label", "--metadata-file", "--network", "--no-cache-filter"}
    | {"--progress", "--secret", "--shm-size", "--ssh", "--target", "--ulimit", "--allow"}
    | {"--annotation", "--attest", "--add-host", "-m", "--memory", "--memory-swap"}
    | {"--cpu-shares", "-c", "--cpu-period", "--cpu-quota", "--cpuset-cpus", "--cpuset-mems"}
    | {"--isolation", "--security-opt", "--call", "--policy"}
    # podman, buildah
    | {"--manifest", "--format", "--authfile", "--creds", "--cert-dir", "--arch", "--os"}
    | {"--variant", "--from", "-v", "--volume", "--jobs", "--logfile", "--timestamp"}
    | {"--sign-by", "--retry", "--retry-delay", "--userns", "--userns-uid-map"}
    | {"--userns-gid-map", "--userns-uid-map-user", "--userns-gid-map-group", "--uts"}
    | {"--pid", "--ipc", "--cap-add", "--cap-drop", "--device", "--dns", "--dns-option"}
    | {"--dns-search", "--env", "--unsetenv", "--unsetlabel", "--ignorefile"}
    | {"--decryption-key", "--runtime", "--runtime-flag", "--cw", "--source-date-epoch"}
    | {"--hooks-dir", "--build-arg-file", "--group-add", "--os-feature", "--os-version"}
    | {"--layer-label", "--sbom-output", "--sbom-image-output", "--sbom-scanner-image"}
    | {"--sbom-scanner-command", "--sbom-merge-strategy", "--sbom-purl-output"}
    | {"--inherit-annotations", "--created-annotation", "--add-file"}
    # depot
    | {"--project", "--token", "--build-platform", "--lint-fail-on"}
)

_RUN_VALUES = frozenset(
    {"--add-host", "--annotation", "-a", "--attach", "--blkio-weight", "--blkio-weight-device"}
    | {"--cap-add", "--cap-drop", "--cgroup-parent", "--cgroupns", "--cidfile", "--cpu-count"}
    | {"--cpu-percent", "--cpu-period", "--cpu-quota", "--cpu-rt-period", "--cpu-rt-runtime"}
    | {"-c", "--cpu-shares", "--cpus", "--cpuset-cpus", "--cpuset-mems", "--detach-keys"}
    | {"--device", "--device-cgroup-rule", "--device-read-bps", "--device-read-iops"}
    | {"--device-write-bps", "--device-write-iops", "--dns", "--dns-opt", "--dns-option"}
    | {"--dns-search", "--domainname", "--entrypoint", "-e", "--env", "--env-file", "--expose"}
    | {"--gpus", "--group-add", "--health-cmd", "--health-interval", "--health-retries"}
    | {"--health-start-interval", "--health-start-period", "--health-timeout", "-h"}
    | {"--hostname", "--ip", "--ip6", "--ipc", "--isolation", "--kernel-memory", "-l"}
    | {"--label", "--label-file", "--link", "--link-local-ip", "--log-driver", "--log-opt"}
    | {"--mac-address", "-m", "--memory", "--memory-reservation", "--memory-swap"}
    | {"--memory-swappiness", "--mount", "--name", "--network", "--net", "--network-alias"}
    | {"--net-alias", "--oom-score-adj", "--pid", "--pids-limit", "--platform", "-p"}
    | {"--publish", "--pull", "--restart", "--runtime", "--security-opt", "--shm-size"}
    | {"--stop-signal", "--stop-timeout", "--storage-opt", "--sysctl", "--tmpfs", "--ulimit"}
    | {"-u", "--user", "--userns", "--uts", "-v", "--volume", "--volume-driver"}
    | {"--volumes-from", "-w", "--workdir"}
    # podman
    | {"--arch", "--os", "--variant", "--secret", "--pod", "--pod-id-file", "--uidmap"}
    | {"--gidmap", "--subuidname", "--subgidname", "--cgroups", "--cgroup-conf"}
    | {"--conmon-pidfile", "--image-volume", "--init-path", "--pidfile", "--preserve-fds"}
    | {"--requires", "--seccomp-policy", "--sdnotify", "--timeout", "--tz", "--umask"}
    | {"--chrootdirs", "--decryption-key", "--authfile", "--creds", "--cert-dir"}
    | {"--personality", "--passwd-entry", "--group-entry", "--rdt-class", "--retry"}
    | {"--retry-delay", "--unsetenv", "--hostuser", "--log-level", "--mask", "--unmask"}
    | {"--health-on-failure", "--health-log-destination", "--health-max-log-count"}
    | {"--health-max-log-size", "--health-startup-cmd", "--health-startup-interval"}
    | {"--health-startup-retries", "--health-startup-success", "--health-startup-timeout"}
    | {"--hosts-file", "--init-ctr", "--cpu-rt-runtime", "--memory-swappiness"}
    # nerdctl
    | {"--cosign-key", "--cosign-certificate-identity", "--cosign-certificate-oidc-issuer"}
    | {"--verify", "--snapshotter", "--ipfs-address"}
)

_PULL_VALUES = frozenset(
    {"--platform", "--authfile", "--creds", "--cert-dir", "--arch", "--os", "--variant"}
    | {"--retry", "--retry-delay", "--decryption-key", "--policy", "--verify"}
    | {"--cosign-key", "--unpack"}
)

_PUSH_VALUES = frozenset(
    {"--platform", "--authfile", "--cert-dir", "--compression-format", "--compression-level"}
    | {"--creds", "--digestfile", "--encryption-key", "--format", "-f", "--retry"}
    | {"--retry-delay", "--sign-by", "--sign-by-sigstore", "--sign-by-sigstore-private-key"}
    | {"--sign-passphrase-file", "--signature-policy", "--encrypt-layer", "--sign"}
    | {"--cosign-key", "--notation-key-name"}
)

_COMMIT_VALUES = frozenset(
    {"-a", "--author", "-c", "--change", "-m", "--message", "-f", "--format", "--iidfile"}
    | {"--manifest", "--sign-by", "--authfile", "--creds", "--cert-dir", "--timestamp"}
    | {"--encryption-key", "--config", "--cw", "--add-file", "--identity-label", "--unsetenv"}
    | {"--digestfile", "--compression-format"}
)

_TRANSPORTS = (
    "docker-daemon:",
    "containers-storage:",
    "docker-archive:",
    "oci-archive:",
    "oci:",
    "dir:",
    "sif:",
    "ostree:",
    "tarball:",
)


def _transport(value: Value) -> tuple[str | None, Value]:
    """(`docker` for `docker://x`, the rest), (other transport, rest), or (None, value)."""
    flat = flat_text(value)
    if flat.startswith("docker://"):
        return "docker", slice_value(value, len("docker://"))
    for prefix in _TRANSPORTS:
        if flat.startswith(prefix):
            return prefix[:-1], slice_value(value, len(prefix))
    return None, value


def _docker(ctx: _Ctx, engine: str, args: list[Value]) -> _Out:
    i = _skip_options(args, _DOCKER_GLOBAL_VALUES)
    words = args[i:]
    if not words:
        return _Out()
    sub = literal_text(words[0]) or ""
    rest = words[1:]
    groups = {
        "image": ("build", "push", "pull", "tag", "save", "load"),
        "container": ("run", "create", "exec", "commit"),
        "builder": ("build",),
    }
    if sub in groups:
        nxt = literal_text(rest[0]) if rest else None
        if nxt not in groups[sub]:
            return _Out()
        assert nxt is not None
        sub, rest = nxt, rest[1:]
    if sub == "build":
        return _build(ctx, f"{engine} build", rest, builder="classic")
    if sub == "buildx":
        return _buildx(ctx, engine, rest)
    if sub == "bake":
        return _bake(ctx, f"{engine} buildx bake", rest)
    if sub == "push":
        return _push(ctx, f"{engine} push", rest)
    if sub == "pull":
        return _pull(ctx, rest)
    if sub == "tag":
        return _tag(rest)
    if sub in ("run", "create"):
        return _run(ctx, f"{engine} {sub}", rest, create=sub == "create")
    if sub == "exec":
        return _exec(ctx, f"{engine} exec", rest)
    if sub == "commit":
        return _commit(ctx, f"{engine} commit", rest)
    if sub == "save":
        p = _parse(rest, frozenset({"-o", "--output", "--platform", "--format"}))
        return _Out(refs=_refs(p.pos, ImageUse.INPUT))
    if sub == "load":
        return _Out(loaded=True)
    if sub == "manifest":
        return _manifest(ctx, engine, rest)
    if sub == "compose":
        return _compose_cmd(ctx, f"{engine} compose", rest)
    if sub == "stack" and rest and literal_text(rest[0]) in ("deploy", "up"):
        return _stack_deploy(ctx, f"{engine} stack deploy", rest[1:])
    if sub == "service" and rest and literal_text(rest[0]) in ("update", "create"):
        return _service(ctx, engine, literal_text(rest[0]) or "", rest[1:])
    if sub == "scout" and rest and literal_text(rest[0]) in ("cves", "quickview", "cve"):
        return _scout(ctx, f"{engine} scout {literal_text(rest[0])}", rest[1:])
    if sub == "trust" and len(rest) > 1 and literal_text(rest[0]) == "sign":
        p = _parse(rest[1:], frozenset({"--key"}))
        return _Out(refs=_refs(p.pos, ImageUse.SIGN))
    return _Out()


def _buildx(ctx: _Ctx, engine: str, args: list[Value]) -> _Out:
    i = _skip_options(args, frozenset({"--builder"}))
    if i >= len(args):
        return _Out()
    sub = literal_text(args[i])
    rest = args[i + 1 :]
    if sub in ("build", "b"):
        return _build(ctx, f"{engine} buildx build", rest, builder="buildx")
    if sub == "bake":
        return _bake(ctx, f"{engine} buildx bake", rest)
    if sub == "imagetools" and rest and literal_text(rest[0]) == "create":
        return _imagetools_create(ctx, f"{engine} buildx imagetools create", rest[1:])
    return _Out()


def _output(value: Value) -> tuple[str, dict[str, Value], list[Value]]:
    """A BuildKit `--output`: its type, fields and image names."""
    fields = _csv(value)
    kind = ""
    found: dict[str, Value] = {}
    names: list[Value] = []
    for key, val in fields:
        if key == "type":
            kind = val.text.lower()
        elif key == "name":
            names.extend(v for v in _split(val, ",") if flat_text(v))
        elif key == "":
            found.setdefault("dest", val)
        else:
            found[key] = val
    if not kind:
        kind = "local"  # `-o ./out`, `-o dest=x`
    return kind, found, names


def _build(ctx: _Ctx, tool: str, args: list[Value], *, builder: str) -> _Out:
    """docker/podman/nerdctl build, buildx build, buildah bud, depot build."""
    p = _parse(args, _BUILD_VALUES)
    tags = p.values("-t", "--tag")
    names = list(tags)
    push = p.flag("--push")
    load = p.flag("--load")
    by_digest = False
    outputs = p.values("-o", "--output")
    for output in outputs:
        kind, fields, out_names = _output(output)
        names.extend(out_names)
        if kind == "registry" or (kind == "image" and _truthy(fields.get("push", _FALSE))):
            push = True
        elif kind == "docker":
            load = True
        if _truthy(fields.get("push-by-digest", _FALSE)):
            by_digest = True
    manifest = p.values("--manifest")
    names.extend(manifest)
    bases: list[Value] = []
    for v in p.values("--build-context"):  # name=docker-image://ref
        kv = _key_value(v)
        base = _after_prefix(kv[1], ("docker-image://",)) if kv is not None else None
        if base is not None:
            bases.append(base)
    bases.extend(p.values("--from"))
    provenance = _provenance(p)
    if not outputs and not push and not load:
        # classic builders store the image locally; buildx's default docker driver too
        load = builder in ("classic", "buildx", "buildah")
    meta = p.value("--metadata-file")
    iid = p.value("--iidfile")
    notes: list[str] = []
    if iid is not None:
        notes.append("--iidfile holds a local image ID, not a registry digest")
    if builder == "depot" and p.flag("--save"):
        notes.append("saved to the depot registry")
    elif builder == "depot" and not push and not load:
        notes.append("result stays in the depot cache")
    platforms = _platforms(p.values("--platform"))
    context = p.pos[0] if p.pos else None
    dockerfile = p.value("-f", "--file")
    common: dict[str, Any] = {
        "platforms": platforms,
        "push_by_digest": by_digest,
        "provenance": provenance and push,
        "digest_file": meta if meta is not None else iid,
    }
    images = _refs(names, ImageUse.TAG) + _refs(bases, ImageUse.BASE)
    build = ctx.op(
        Role.BUILD,
        tool,
        images,
        push=push,
        load=load,
        context=context,
        dockerfile=dockerfile,
        note="; ".join(notes),
        **common,
    )
    out = _Out(ops=[build])
    if push:
        out.ops.append(
            ctx.op(
                Role.PUSH,
                tool,
                _refs(names, ImageUse.PUSH),
                push=True,
                note="pushed by the build",
                **common,
            )
        )
    return out


_FALSE = Value((Piece(PieceKind.LITERAL, "false"),), Span(1, 1, 1, 1), "")


def _provenance(p: _Parsed) -> bool:
    requested = False
    for o in p.opts:
        if o.name == "--provenance":
            requested = _provenance_value(o.value)
        elif o.name == "--attest" and o.value is not None:
            fields = dict(_csv(o.value))
            kind = fields.get("type")
            if kind is not None and kind.text.lower() == "provenance":
                requested = not _truthy_field(fields.get("disabled"))
    return requested


def _provenance_value(value: Value | None) -> bool:
    if value is None:
        return True
    text = value.text.strip().lower()
    if text in ("false", "0", "no", "off", ""):
        return False
    return "disabled=true" not in text


def _truthy_field(value: Value | None) -> bool:
    return value is not None and _truthy(value)


def _platforms(values: Iterable[Value]) -> tuple[str, ...]:
    out: list[str] = []
    for v in values:
        if v.is_static:
            out.extend(p.strip() for p in v.text.split(",") if p.strip())
        else:
            out.append(v.text)
    return tuple(out)


_BAKE_VALUES = frozenset(
    {"-f", "--file", "--set", "--metadata-file", "--builder", "--progress", "--allow"}
    | {"--call", "--var", "--sbom"}
)


def _bake(ctx: _Ctx, tool: str, args: list[Value]) -> _Out:
    p = _parse(args, _BAKE_VALUES)
    if p.has("--print", "--list", "--list-targets", "--list-variables", "--check"):
        return _Out()
    call = p.value("--call")
    if call is not None and call.text.lower() not in ("build", ""):
        return _Out()
    push = p.flag("--push")
    load = p.flag("--load")
    names: list[Value] = []
    platforms: list[Value] = []
    provenance = p.has("--provenance") and _provenance_value(p.value("--provenance"))
    context: Value | None = None
    dockerfile: Value | None = None
    by_digest = False
    for item in p.values("--set"):
        kv = _key_value(item)
        if kv is None:
            continue
        key, val = kv
        attr = key.split(".", 1)[1].lower() if "." in key else key.lower()
        if attr == "tags":
            names.append(val)
        elif attr == "output":
            kind, fields, out_names = _output(val)
            names.extend(out_names)
            if kind == "registry" or (kind == "image" and _truthy_field(fields.get("push"))):
                push = True
            elif kind == "docker":
                load = True
            by_digest = by_digest or _truthy_field(fields.get("push-by-digest"))
        elif attr == "platform":
            platforms.append(val)
        elif attr == "attest":
            fields = dict(_csv(val))
            kind_v = fields.get("type")
            if kind_v is not None and kind_v.text.lower() == "provenance":
                provenance = not _truthy_field(fields.get("disabled"))
        elif attr == "context":
            context = val
        elif attr == "dockerfile":
            dockerfile = val
        elif attr == "push":
            push = push or _truthy(val)
    targets = [t.text for t in p.pos] or ["default"]
    notes = [f"bake targets: {', '.join(targets)}"]
    contexts: list[Value] = []
    if ctx.reader is not None:
        for f in p.values("-f", "--file"):
            if f.is_static and f.text.endswith((".yml", ".yaml")):
                got = ctx.reader(f.text)
                if got is None:
                    continue
                for svc in got.services:
                    if svc.builds and (targets == ["default"] or svc.name in targets):
                        if svc.image is not None:
                            names.append(_compose.resolve_vars(svc.image, ctx.env))
                        names.extend(_compose.resolve_vars(t, ctx.env) for t in svc.build_tags)
                        if svc.context_value is not None:
                            contexts.append(svc.context_value)
    if context is None and len(contexts) == 1:
        context = contexts[0]
    meta = p.value("--metadata-file")
    common: dict[str, Any] = {
        "platforms": _platforms(platforms),
        "push_by_digest": by_digest,
        "provenance": provenance and push,
        "digest_file": meta,
    }
    build = ctx.op(
        Role.BUILD,
        tool,
        _refs(names, ImageUse.TAG),
        push=push,
        load=load,
        context=context,
        dockerfile=dockerfile,
        note="; ".join(notes),
        **common,
    )
    out = _Out(ops=[build])
    if push:
        out.ops.append(
            ctx.op(Role.PUSH, tool, _refs(names, ImageUse.PUSH), push=True, note=notes[0], **common)
        )
    return out


def _imagetools_create(ctx: _Ctx, tool: str, args: list[Value]) -> _Out:
    values = frozenset(
        {"-t", "--tag", "-f", "--file", "--annotation", "--builder", "--progress", "--platform"}
    )
    p = _parse(args, values)
    if p.has("--dry-run"):
        return _Out()
    targets = list(p.values("-t", "--tag"))
    sources: list[Value] = []
    for v in p.pos:
        # the multi-platform recipe: `$(jq ... '"-t " + .')` expands to `-t name` pairs
        if (
            len(v.pieces) == 1
            and v.pieces[0].kind is PieceKind.COMMAND
            and re.search(r"""(^|[\s"'(])(-t|--tag)[\s"'=]""", v.pieces[0].text)
        ):
            targets.append(v)
        else:
            sources.append(v)
    files = p.values("-f", "--file")
    note = (
        f"sources also from descriptor files: {', '.join(f.text for f in files)}" if files else ""
    )
    images = _refs(sources, ImageUse.COPY_SOURCE) + _refs(targets, ImageUse.COPY_TARGET)
    return _Out(ops=[ctx.op(Role.PROMOTE, tool, images, push=True, note=note)])


def _push(ctx: _Ctx, tool: str, args: list[Value]) -> _Out:
    """docker/podman/nerdctl/buildah push NAME [DEST]."""
    p = _parse(args, _PUSH_VALUES)
    if not p.pos:
        return _Out()
    source = p.pos[0]
    dest = p.pos[1] if len(p.pos) > 1 else source
    transport, name = _transport(dest)
    if transport not in (None, "docker"):
        return _Out()  # to an archive or a local store: not a registry push
    notes = ["all tags"] if p.has("-a", "--all-tags") else []
    op = ctx.op(
        Role.PUSH,
        tool,
        [_ref(name, ImageUse.PUSH)],
        push=True,
        digest_file=p.value("--digestfile"),
        note="; ".join(notes),
    )
    return _Out(ops=[op], pushes=[(0, _transport(source)[1])])


def _pull(ctx: _Ctx, args: list[Value]) -> _Out:
    p = _parse(args, _PULL_VALUES)
    refs = [_ref(_transport(v)[1], ImageUse.PULL) for v in p.pos]
    return _Out(refs=list(refs), pulled=list(refs))


def _tag(args: list[Value]) -> _Out:
    p = _parse(args, frozenset())
    if len(p.pos) < 2:
        return _Out()
    return _Out(retag=(p.pos[0], list(p.pos[1:])))


# Tools whose images are commonly run as `docker run IMAGE ARGS`: the repository's last
# path component (or the whole path) -> the command the entrypoint runs.
_TOOL_IMAGES = {
    "trivy": "trivy",
    "grype": "grype",
    "hadolint": "hadolint",
    "crane": "crane",
    "gcrane": "crane",
    "skopeo": "skopeo",
    "skopeo/stable": "skopeo",
    "regctl": "regctl",
    "oras": "oras",
    "cosign": "cosign",
    "kubectl": "kubectl",
    "helm": "helm",
    "kustomize": "kustomize",
    "dockle": "dockle",
    "notation": "notation",
    "container-structure-test": "container-structure-test",
    "snyk": "snyk",
}


def _tool_of_image(image: Value) -> str | None:
    text = literal_text(image)
    if text is None:
        return None
    repo = text.split("@", 1)[0]
    last = repo.rsplit("/", 1)[-1]
    if ":" in last:
        repo = repo[: len(repo) - len(last)] + last.split(":", 1)[0]
    parts = repo.split("/")
    for key in ("/".join(parts[-2:]), parts[-1]):
        if key in _TOOL_IMAGES:
            return _TOOL_IMAGES[key]
    return None


def _run(ctx: _Ctx, tool: str, args: list[Value], *, create: bool = False) -> _Out:
    p = _parse(args, _RUN_VALUES, stop=True)
    if not p.pos:
        return _Out()
    image = _transport(p.pos[0])[1]
    run_ref = _ref(image, ImageUse.RUN)
    if create:
        return _Out(refs=[run_ref])
    command = p.rest
    # `docker run -d` or `docker run ... &`: a service for what follows
    detached = p.flag("-d", "--detach") or ctx.command.background
    entrypoint = p.value("--entrypoint")
    fed = p.flag("-i", "--interactive") and (
        ctx.command.stdin is not None or any(op.startswith("<") for op, _ in ctx.command.redirects)
    )
    if command:
        inner = _inner(ctx, command)
        if not inner.ops and (name := _tool_of_image(image)) is not None:
            inner = _inner(ctx, [Value.literal(name, image.span, image.path), *command])
        if inner.ops and not all(o.role is Role.VALIDATE and not o.references() for o in inner.ops):
            # a tool in a container (trivy, crane, kubectl...): its image is not the subject
            return _Out(ops=inner.ops, refs=[run_ref, *inner.refs])
    elif (name := _tool_of_image(image)) is not None and name in ("hadolint",):
        return _Out(ops=[ctx.op(Role.VALIDATE, name, note="source")], refs=[run_ref])
    if command or detached or entrypoint is not None or fed:
        note = "detached service" if detached and not command else ""
        return _Out(ops=[ctx.op(Role.VALIDATE, tool, [run_ref], note=note)])
    return _Out(refs=[run_ref])


def _exec(ctx: _Ctx, tool: str, args: list[Value]) -> _Out:
    values = frozenset({"-e", "--env", "--env-file", "-u", "--user", "-w", "--workdir"})
    p = _parse(args, values | frozenset({"--detach-keys", "--preserve-fds"}), stop=True)
    if not p.rest:
        return _Out()
    inner = _inner(ctx, p.rest)
    ops = [replace(o, note=_join_notes(o.note, f"in a container ({tool})")) for o in inner.ops]
    return _Out(ops=ops, refs=inner.refs)


def _join_notes(*notes: str) -> str:
    return "; ".join(n for n in notes if n)


def _commit(ctx: _Ctx, tool: str, args: list[Value]) -> _Out:
    p = _parse(args, _COMMIT_VALUES)
    if len(p.pos) < 2:
        return _Out(ops=[ctx.op(Role.BUILD, tool, load=True, note="commit of a container")])
    transport, name = _transport(p.pos[1])
    push = transport == "docker"
    ops = [
        ctx.op(
            Role.BUILD,
            tool,
            [_ref(name, ImageUse.TAG)],
            push=push,
            load=not push,
            digest_file=p.value("--iidfile"),
            note="commit of a container",
        )
    ]
    if push:
        ops.append(ctx.op(Role.PUSH, tool, [_ref(name, ImageUse.PUSH)], push=True))
    return _Out(ops=ops)


def _manifest(ctx: _Ctx, engine: str, args: list[Value]) -> _Out:
    if not args:
        return _Out()
    sub = literal_text(args[0])
    rest = args[1:]
    if sub == "create":
        p = _parse(rest, frozenset({"--annotation", "--os", "--arch"}))
        if not p.pos:
            return _Out()
        images = [_ref(p.pos[0], ImageUse.COPY_TARGET)] + [
            _ref(_transport(v)[1], ImageUse.COPY_SOURCE) for v in p.pos[1:]
        ]
        return _Out(
            ops=[
                ctx.op(
                    Role.PROMOTE, f"{engine} manifest create", images, note="local manifest list"
                )
            ]
        )
    if sub == "push":
        p = _parse(rest, _PUSH_VALUES)
        if not p.pos:
            return _Out()
        dest = p.pos[1] if len(p.pos) > 1 else p.pos[0]
        transport, name = _transport(dest)
        if transport not in (None, "docker"):
            return _Out()
        op = ctx.op(
            Role.PUSH,
            f"{engine} manifest push",
            [_ref(name, ImageUse.PUSH)],
            push=True,
            digest_file=p.value("--digestfile"),
        )
        return _Out(ops=[op])
    return _Out()


def _stack_deploy(ctx: _Ctx, tool: str, args: list[Value]) -> _Out:
    p = _parse(args, frozenset({"-c", "--compose-file", "--resolve-image", "--orchestrator"}))
    files = [f.text for f in p.values("-c", "--compose-file")]
    images: list[ImageArg] = []
    missing: list[str] = []
    for name in files:
        got = ctx.reader(name) if ctx.reader is not None else None
        if got is None:
            missing.append(name)
            continue
        for svc in got.services:
            if svc.image is not None:
                images.append(_ref(_compose.resolve_vars(svc.image, ctx.env), ImageUse.DEPLOY))
    note = f"compose file not read: {', '.join(missing)}" if missing else "docker stack"
    return _Out(ops=[ctx.op(Role.DEPLOY, tool, images, note=note)])


_SERVICE_FLAGS = frozenset(
    {"--with-registry-auth", "--detach", "-d", "--quiet", "-q", "--read-only", "--init"}
    | {"--no-healthcheck", "--no-resolve-image", "--tty", "-t", "--force", "--rollback"}
)


def _service(ctx: _Ctx, engine: str, sub: str, args: list[Value]) -> _Out:
    p = _parse(args, frozenset({"--image"}), flags=_SERVICE_FLAGS, long_values=True)
    tool = f"{engine} service {sub}"
    if sub == "update":
        image = p.value("--image")
        if image is None:
            return _Out()
        return _Out(ops=[ctx.op(Role.DEPLOY, tool, [_ref(image, ImageUse.DEPLOY)])])
    p = _parse(
        args,
        frozenset({"-e", "-l", "-p", "-u", "-w", "--name", "--replicas"}),
        flags=_SERVICE_FLAGS,
        long_values=True,
        stop=True,
    )
    if not p.pos:
        return _Out()
    return _Out(ops=[ctx.op(Role.DEPLOY, tool, [_ref(p.pos[0], ImageUse.DEPLOY)])])


def _scout(ctx: _Ctx, tool: str, args: list[Value]) -> _Out:
    values = frozenset(
        {"--format", "-o", "--output", "--only-severity", "--only-package-type", "--platform"}
        | {"--org", "--only-cve-id", "--multi-stage", "--vex-location", "--only-fixed"}
        | {"--epss-score", "--epss-percentile", "--only-base", "--ignore-base", "-e"}
    )
    p = _parse(args, values)
    refs: list[ImageArg] = []
    note = ""
    for v in p.pos:
        got = _after_prefix(v, ("image://", "registry://", "local://"))
        if got is not None:
            refs.append(_ref(got, ImageUse.SCAN))
        elif re.match(r"^[a-z-]+://", flat_text(v)):
            note = "source" if flat_text(v).startswith(("fs://", "sbom://")) else "archive"
        else:
            refs.append(_ref(v, ImageUse.SCAN))
    if not p.pos:
        note = "the most recently built image"
    return _Out(ops=[ctx.op(Role.VALIDATE, tool, refs, note=note)])


# --- compose -------------------------------------------------------------------------


def compose_arguments(argv: Sequence[Value]) -> list[Value] | None:
    """The arguments after `docker compose` / `docker-compose` / `podman compose` ... in
    a peeled command line, or None when it is not a compose command."""
    if not argv:
        return None
    name = command_name(argv[0])
    if name in ("docker-compose", "podman-compose"):
        return list(argv[1:])
    if name in ("docker", "podman", "nerdctl", "finch"):
        rest = list(argv[1:])
        i = _skip_options(rest, _DOCKER_GLOBAL_VALUES)
        if i < len(rest) and literal_text(rest[i]) == "compose":
            return rest[i + 1 :]
    return None


_COMPOSE_SUB_VALUES = frozenset(
    {"-e", "--env", "--env-from-file", "-l", "--label", "-p", "--publish", "-u", "--user"}
    | {"-w", "--workdir", "--name", "--entrypoint", "--pull", "--scale", "-t", "--timeout"}
    | {"--exit-code-from", "--attach", "--no-attach", "--wait-timeout", "--build-arg"}
    | {"--builder", "--progress", "--ssh", "-m", "--memory", "--index", "--cap-add"}
    | {"--cap-drop", "-v", "--volume", "--policy", "--platform", "--provenance", "--sbom"}
)


def _compose_cmd(ctx: _Ctx, tool: str, args: list[Value]) -> _Out:
    inv = _compose.parse_invocation(args)
    sub = inv.subcommand
    if sub is None:
        return _Out()
    project = _compose.load_project(inv, ctx.env, ctx.reader)
    p = _parse(inv.args, _COMPOSE_SUB_VALUES, stop=sub in ("run", "exec"))
    names = [v.text for v in p.pos]
    not_read = (
        f"compose file not read: {', '.join(project.missing)}"
        if project.missing or not project.read
        else ""
    )
    tool_sub = f"{tool} {sub}"
    if sub == "exec":
        inner = _inner(ctx, p.rest)
        ops = [
            replace(o, note=_join_notes(o.note, f"in a container ({tool_sub})")) for o in inner.ops
        ]
        return _Out(ops=ops, refs=inner.refs)
    with_deps = not p.has("--no-deps")
    services = _compose.select_services(project, names, with_deps=with_deps)
    out = _Out()
    if sub in ("up", "run", "create", "start"):
        if sub != "start" and not p.has("--no-build"):
            out.ops.extend(_compose_builds(ctx, f"{tool} build", services, push=False))
        images: list[ImageArg] = []
        local: list[str] = []
        for svc in services:
            if svc.image is not None:
                images.append(_ref(_compose.resolve_vars(svc.image, ctx.env), ImageUse.SERVICE))
            elif svc.builds:
                local.append(svc.name)
        notes = [not_read]
        if local:
            notes.append(f"runs images built by compose: {', '.join(local)}")
        out.ops.append(ctx.op(Role.VALIDATE, tool_sub, images, note=_join_notes(*notes)))
        return out
    if sub == "build":
        push = p.flag("--push")
        ops = _compose_builds(ctx, tool_sub, services, push=push)
        if not ops:
            ops = [ctx.op(Role.BUILD, tool_sub, load=True, note=not_read or "no service builds")]
        out.ops.extend(ops)
        return out
    if sub == "push":
        names_pushed = [
            _compose.resolve_vars(s.image, ctx.env)
            for s in services
            if s.builds and s.image is not None
        ]
        out.ops.append(
            ctx.op(
                Role.PUSH, tool_sub, _refs(names_pushed, ImageUse.PUSH), push=True, note=not_read
            )
        )
        return out
    if sub == "pull":
        refs = [
            _ref(_compose.resolve_vars(s.image, ctx.env), ImageUse.PULL)
            for s in services
            if s.image is not None and not s.builds
        ]
        return _Out(refs=refs, pulled=list(refs))
    return out


def _compose_builds(
    ctx: _Ctx, tool: str, services: Sequence[_compose.ComposeService], *, push: bool
) -> list[Operation]:
    ops: list[Operation] = []
    for svc in services:
        if not svc.builds:
            continue
        names = ([svc.image] if svc.image is not None else []) + list(svc.build_tags)
        names = [_compose.resolve_vars(n, ctx.env) for n in names]
        dockerfile = (
            Value.literal(svc.dockerfile, svc.span, svc.path)
            if svc.dockerfile is not None
            else None
        )
        common: dict[str, Any] = {"platforms": svc.platforms}
        ops.append(
            ctx.op(
                Role.BUILD,
                tool,
                _refs(names, ImageUse.TAG),
                push=push,
                load=not push,
                context=svc.context_value
                or (
                    Value.literal(svc.build_context, svc.span, svc.path)
                    if svc.build_context
                    else None
                ),
                dockerfile=dockerfile,
                note=f"compose service {svc.name}",
                **common,
            )
        )
        if push:
            ops.append(
                ctx.op(
                    Role.PUSH,
                    tool,
                    _refs(names, ImageUse.PUSH),
                    push=True,
                    note=f"compose service {svc.name}",
                    **common,
                )
            )
    return ops


# --- buildah, kaniko, ko, pack, jib, depot -------------------------------------------


def _buildah(ctx: _Ctx, name: str, args: list[Value]) -> _Out:
    i = _skip_options(args, frozenset({"--root", "--runroot", "--storage-driver", "--log-level"}))
    if i >= len(args):
        return _Out()
    sub = literal_text(args[i])
    rest = args[i + 1 :]
    if sub in ("bud", "build", "build-using-dockerfile"):
        return _build(ctx, "buildah build", rest, builder="buildah")
    if sub == "from":
        p = _parse(rest, _BUILD_VALUES | frozenset({"--name", "--cidfile"}))
        if not p.pos:
            return _Out()
        image = _transport(p.pos[0])[1]
        images = [] if image.text == "scratch" else [_ref(image, ImageUse.BASE)]
        return _Out(ops=[ctx.op(Role.BUILD, "buildah from", images, note="working container")])
    if sub == "commit":
        return _commit(ctx, "buildah commit", rest)
    if sub == "push":
        return _push(ctx, "buildah push", rest)
    if sub == "pull":
        return _pull(ctx, rest)
    if sub == "tag":
        return _tag(rest)
    if sub == "manifest":
        return _manifest(ctx, "buildah", rest)
    return _Out()


_KANIKO_VALUES = frozenset(
    {"--destination", "-d", "--context", "-c", "--dockerfile", "-f", "--digest-file"}
    | {"--image-name-with-digest-file", "--image-name-tag-with-digest-file", "--tar-path"}
    | {"--build-arg", "--cache-repo", "--cache-dir", "--cache-ttl", "--custom-platform"}
    | {"--target", "--label", "--registry-mirror", "--registry-map", "--insecure-registry"}
    | {"--skip-tls-verify-registry", "--registry-certificate", "--registry-client-cert"}
    | {"--oci-layout-path", "--snapshot-mode", "--kaniko-dir", "--verbosity", "-v"}
    | {"--log-format", "--ignore-path", "--git", "--push-retry", "--image-fs-extract-retry"}
    | {"--image-download-retry", "--compression", "--compression-level"}
)


def _kaniko(ctx: _Ctx, name: str, args: list[Value]) -> _Out:
    p = _parse(args, _KANIKO_VALUES)
    dests = p.values("--destination", "-d")
    push = bool(dests) and not p.flag("--no-push")
    digest_file = p.value("--digest-file") or p.value(
        "--image-name-with-digest-file", "--image-name-tag-with-digest-file"
    )
    tar = p.value("--tar-path")
    note = f"also written to {tar.text}" if tar is not None else ""
    common: dict[str, Any] = {
        "platforms": _platforms(p.values("--custom-platform")),
        "digest_file": digest_file,
    }
    ops = [
        ctx.op(
            Role.BUILD,
            "kaniko",
            _refs(dests, ImageUse.TAG),
            push=push,
            context=p.value("--context", "-c"),
            dockerfile=p.value("--dockerfile", "-f"),
            note=note,
            **common,
        )
    ]
    if push:
        ops.append(ctx.op(Role.PUSH, "kaniko", _refs(dests, ImageUse.PUSH), push=True, **common))
    return _Out(ops=ops)


_KO_VALUES = frozenset(
    {"--platform", "-t", "--tags", "--image-refs", "--sbom", "--sbom-dir", "--oci-layout-path"}
    | {"--tarball", "--image-label", "--image-annotation", "--image-user", "-f", "--filename"}
    | {"-l", "--selector", "-j", "--jobs"}
)


def _ko(ctx: _Ctx, name: str, args: list[Value]) -> _Out:
    if not args:
        return _Out()
    sub = literal_text(args[0])
    if sub not in ("build", "publish", "resolve", "apply", "create", "run"):
        return _Out()
    tool = f"ko {sub}"
    p = _parse(args[1:], _KO_VALUES)
    local = p.flag("--local", "-L")
    push = not local and not (p.has("--push") and not p.flag("--push"))
    repo = ctx.env.get("KO_DOCKER_REPO")
    notes = [f"KO_DOCKER_REPO={repo.text}" if repo is not None else "KO_DOCKER_REPO not set here"]
    tags = p.texts("-t", "--tags")
    notes.append(f"tags: {', '.join(tags) if tags else 'latest'}")
    common: dict[str, Any] = {
        "platforms": _platforms(p.values("--platform")),
        "digest_file": p.value("--image-refs"),
    }
    context = p.pos[0] if p.pos and sub in ("build", "publish") else None
    ops = [
        ctx.op(
            Role.BUILD,
            tool,
            push=push,
            load=local,
            context=context,
            note="; ".join(notes),
            **common,
        )
    ]
    if push:
        ops.append(ctx.op(Role.PUSH, tool, push=True, note="; ".join(notes), **common))
    if sub in ("apply", "create", "run"):
        ops.append(ctx.op(Role.DEPLOY, tool, note="manifests with images built by ko"))
    return _Out(ops=ops)


_PACK_VALUES = frozenset(
    {"-B", "--builder", "-p", "--path", "-e", "--env", "--env-file", "-b", "--buildpack"}
    | {"--run-image", "-t", "--tag", "--cache-image", "--cache", "--network", "--pull-policy"}
    | {"-d", "--descriptor", "--lifecycle-image", "--platform", "--volume", "--workspace"}
    | {"--gid", "--uid", "--previous-image", "--report-output-dir", "--creation-time"}
    | {"--sbom-output-dir", "--extension", "--post-buildpack", "--pre-buildpack", "-D"}
    | {"--default-process", "--docker-host", "--exec-env", "--insecure-registry"}
)


def _pack(ctx: _Ctx, name: str, args: list[Value]) -> _Out:
    if not args or literal_text(args[0]) != "build":
        return _Out()
    p = _parse(args[1:], _PACK_VALUES)
    if not p.pos:
        return _Out()
    names = [p.pos[0], *p.values("-t", "--tag")]
    push = p.flag("--publish")
    bases = _refs(p.values("--run-image"), ImageUse.BASE)
    common: dict[str, Any] = {"platforms": _platforms(p.values("--platform"))}
    ops = [
        ctx.op(
            Role.BUILD,
            "pack build",
            _refs(names, ImageUse.TAG) + bases,
            push=push,
            load=not push,
            context=p.value("-p", "--path"),
            **common,
        )
    ]
    if push:
        ops.append(
            ctx.op(Role.PUSH, "pack build", _refs(names, ImageUse.PUSH), push=True, **common)
        )
    return _Out(ops=ops)


_MVN_VALUES = frozenset(
    {"-f", "--file", "-s", "--settings", "-gs", "--global-settings", "-P"}
    | {"--activate-profiles", "-pl", "--projects", "-rf", "--resume-from", "-T", "--threads"}
    | {"-l", "--log-file", "-t", "--toolchains", "-D", "--define", "-b", "--builder"}
    | {"-gt", "--global-toolchains", "-es", "--encrypt-password", "-emp"}
)
_MVN_FLAGS = frozenset({"-am", "-amd", "-ntp", "-fae", "-ff", "-fn", "-nsu", "-cpu", "-npu"})
_MVN_TESTS = {"test", "verify", "integration-test", "surefire:test", "failsafe:integration-test"}


def _defines(p: _Parsed) -> dict[str, Value]:
    out: dict[str, Value] = {}
    for v in p.values("-D", "--define"):
        kv = _key_value(v)
        if kv is not None:
            out[kv[0]] = kv[1]
        elif v.is_static:
            out[v.text] = Value.literal("true", v.span, v.path)
    return out


def _jib_ops(
    ctx: _Ctx, tool: str, goal: str, image: Value | None, base: Value | None, note: str
) -> list[Operation]:
    names = [_ref(image, ImageUse.TAG)] if image is not None else []
    bases = [_ref(base, ImageUse.BASE)] if base is not None else []
    if goal == "build":
        push_names = [_ref(image, ImageUse.PUSH)] if image is not None else []
        return [
            ctx.op(Role.BUILD, tool, names + bases, push=True, note=note),
            ctx.op(Role.PUSH, tool, push_names, push=True, note=note),
        ]
    load = goal == "dockerBuild"
    return [ctx.op(Role.BUILD, tool, names + bases, load=load, note=note)]


def _maven(ctx: _Ctx, name: str, args: list[Value]) -> _Out:
    p = _parse(args, _MVN_VALUES, flags=_MVN_FLAGS)
    defines = _defines(p)
    image = defines.get("jib.to.image") or defines.get("image")
    base = defines.get("jib.from.image")
    tags = defines.get("jib.to.tags")
    note = f"jib; tags: {tags.text}" if tags is not None else "jib"
    out = _Out()
    skip_tests = any(k in defines and _truthy(defines[k]) for k in ("skipTests", "maven.test.skip"))
    for goal_v in p.pos:
        goal = goal_v.text
        m = re.search(
            r"(?:^|:)jib(?:-maven-plugin)?(?::[^:]+)?:(build|dockerBuild|buildTar)$", goal
        )
        if m:
            out.ops.extend(_jib_ops(ctx, f"mvn jib:{m.group(1)}", m.group(1), image, base, note))
        elif goal in _MVN_TESTS and not skip_tests:
            out.ops.append(ctx.op(Role.VALIDATE, f"mvn {goal}"))
    return _dedupe(out)


_GRADLE_VALUES = frozenset(
    {"-p", "--project-dir", "-b", "--build-file", "-c", "--settings-file", "-D", "-P"}
    | {"-x", "--exclude-task", "-I", "--init-script", "-g", "--gradle-user-home"}
    | {"--max-workers", "--console", "--warning-mode", "--priority", "--include-build"}
    | {"-M", "--write-verification-metadata", "-F", "--dependency-verification"}
    | {"--project-cache-dir", "--image", "--tests"}
)


def _gradle(ctx: _Ctx, name: str, args: list[Value]) -> _Out:
    p = _parse(args, _GRADLE_VALUES)
    defines = _defines(p)
    image = p.value("--image") or defines.get("jib.to.image")
    base = defines.get("jib.from.image")
    out = _Out()
    for task_v in p.pos:
        task = task_v.text.rsplit(":", 1)[-1]
        if task in ("jib", "jibDockerBuild", "jibBuildTar"):
            goal = {"jib": "build", "jibDockerBuild": "dockerBuild", "jibBuildTar": "buildTar"}
            out.ops.extend(_jib_ops(ctx, f"gradle {task}", goal[task], image, base, "jib"))
        elif (
            task in ("test", "check")
            or re.search(r"(Test|Tests|Check)$", task)
            or (task.startswith("test") and task[4:5].isupper())
        ):
            out.ops.append(ctx.op(Role.VALIDATE, f"gradle {task}"))
    return _dedupe(out)


def _dedupe(out: _Out) -> _Out:
    seen: set[tuple[Role, str]] = set()
    ops: list[Operation] = []
    for o in out.ops:
        if o.role is Role.VALIDATE:
            if (o.role, o.tool) in seen:
                continue
            seen.add((o.role, o.tool))
        ops.append(o)
    out.ops = ops
    return out


def _depot(ctx: _Ctx, name: str, args: list[Value]) -> _Out:
    if not args:
        return _Out()
    sub = literal_text(args[0])
    if sub == "build":
        return _build(ctx, "depot build", args[1:], builder="depot")
    if sub == "bake":
        return _bake(ctx, "depot bake", args[1:])
    return _Out()


# --- cloud CLIs ----------------------------------------------------------------------

_GCLOUD_FLAGS = frozenset(
    {"--quiet", "-q", "--async", "--allow-unauthenticated", "--log-http", "--no-source"}
    | {"--suppress-logs", "--user-output-enabled", "--use-http2", "--no-traffic"}
    | {"--no-cache", "--default-buckets-behavior", "--execute-now", "--wait", "--help"}
)


def _words_until_option(args: Sequence[Value], limit: int) -> list[str]:
    out: list[str] = []
    for a in args[:limit]:
        text = literal_text(a)
        if text is None or text.startswith("-"):
            break
        out.append(text)
    return out


def _gcloud(ctx: _Ctx, name: str, args: list[Value]) -> _Out:
    p = _parse(args, frozenset({"-t"}), flags=_GCLOUD_FLAGS, long_values=True)
    words = [w for w in (v.text for v in p.pos) if w not in ("alpha", "beta")]
    pos = [v for v in p.pos if v.text not in ("alpha", "beta")]

    def after(n: int) -> list[Value]:
        return pos[n:]

    if words[:2] == ["builds", "submit"]:
        tag = p.value("--tag", "-t")
        pack = p.value("--pack")
        if pack is not None:
            fields = dict(_csv(pack))
            tag = tag or fields.get("image")
        context = after(2)[0] if after(2) else None
        if tag is not None:
            return _Out(
                ops=[
                    ctx.op(
                        Role.BUILD,
                        "gcloud builds submit",
                        [_ref(tag, ImageUse.TAG)],
                        push=True,
                        context=context,
                    ),
                    ctx.op(
                        Role.PUSH, "gcloud builds submit", [_ref(tag, ImageUse.PUSH)], push=True
                    ),
                ]
            )
        config = p.value("--config")
        note = f"steps in {config.text if config is not None else 'cloudbuild.yaml'}"
        return _Out(ops=[ctx.op(Role.BUILD, "gcloud builds submit", context=context, note=note)])
    if words[:2] == ["run", "deploy"] or (
        words[:1] == ["run"]
        and len(words) > 2
        and words[1] in ("services", "jobs")
        and words[2] in ("deploy", "update", "create", "replace")
    ):
        tool = "gcloud " + " ".join(words[:3] if words[1] in ("services", "jobs") else words[:2])
        image = p.value("--image")
        if image is not None:
            return _Out(ops=[ctx.op(Role.DEPLOY, tool, [_ref(image, ImageUse.DEPLOY)])])
        source = p.value("--source")
        if source is not None or words[:2] == ["run", "deploy"]:
            note = "builds from source with Cloud Build"
            return _Out(
                ops=[
                    ctx.op(Role.BUILD, tool, push=True, context=source, note=note),
                    ctx.op(Role.PUSH, tool, push=True, note=note),
                    ctx.op(Role.DEPLOY, tool, note=note),
                ]
            )
        return _Out()
    if words[:2] == ["compute", "instances"] or words[:2] == ["compute", "instance-templates"]:
        image = p.value("--container-image")
        if image is not None and len(words) > 2 and "container" in words[2]:
            tool = "gcloud compute " + " ".join(words[1:3])
            return _Out(ops=[ctx.op(Role.DEPLOY, tool, [_ref(image, ImageUse.DEPLOY)])])
        return _Out()
    if words[:4] == ["artifacts", "docker", "tags", "add"] and len(after(4)) >= 2:
        src, dst = after(4)[0], after(4)[1]
        images = [_ref(src, ImageUse.COPY_SOURCE), _ref(dst, ImageUse.COPY_TARGET)]
        return _Out(
            ops=[ctx.op(Role.PROMOTE, "gcloud artifacts docker tags add", images, push=True)]
        )
    if words[:3] == ["container", "images", "add-tag"] and len(after(3)) >= 2:
        rest = after(3)
        images = [_ref(rest[0], ImageUse.COPY_SOURCE), *_refs(rest[1:], ImageUse.COPY_TARGET)]
        return _Out(
            ops=[ctx.op(Role.PROMOTE, "gcloud container images add-tag", images, push=True)]
        )
    if words[:2] == ["app", "deploy"]:
        image = p.value("--image-url")
        images = [_ref(image, ImageUse.DEPLOY)] if image is not None else []
        return _Out(ops=[ctx.op(Role.DEPLOY, "gcloud app deploy", images)])
    if words[:3] == ["deploy", "releases", "create"]:
        refs: list[ImageArg] = []
        for v in p.values("--images"):
            for item in _split(v, ","):
                kv = _key_value(item)
                if kv is not None:
                    refs.append(_ref(kv[1], ImageUse.DEPLOY))
        return _Out(ops=[ctx.op(Role.DEPLOY, "gcloud deploy releases create", refs)])
    return _Out()


_AWS_FLAGS = frozenset(
    {"--debug", "--force-new-deployment", "--dry-run", "--publish", "--enable-execute-command"}
    | {"--disable-execute-command", "--force", "--cli-auto-prompt", "--wait"}
)


def _aws(ctx: _Ctx, name: str, args: list[Value]) -> _Out:
    p = _parse(args, frozenset(), flags=_AWS_FLAGS, long_values=True)
    words = [v.text for v in p.pos[:2]]
    if words == ["ecr", "batch-get-image"]:
        return _Out(ecr_get=_ecr_image(p))
    if words == ["ecr", "put-image"]:
        target = _ecr_target(p)
        source: Value | None = None
        manifest = p.value("--image-manifest")
        if manifest is not None:
            for piece in manifest.pieces:
                if piece.kind is PieceKind.COMMAND and "batch-get-image" in piece.text:
                    inner = _words(
                        Value.literal(
                            piece.text.split("|", 1)[0], piece.span or manifest.span, manifest.path
                        )
                    )
                    if len(inner) > 1:
                        source = _ecr_image(
                            _parse(inner[1:], frozenset(), flags=_AWS_FLAGS, long_values=True)
                        )
        images = ([_ref(source, ImageUse.COPY_SOURCE)] if source is not None else []) + (
            [_ref(target, ImageUse.COPY_TARGET)] if target is not None else []
        )
        note = (
            "ecr batch-get-image + put-image"
            if source is not None
            else "put-image: source manifest not known"
        )
        op = ctx.op(Role.PROMOTE, "aws ecr put-image", images, push=True, note=note)
        return _Out(ops=[op], ecr_put=None if source is not None else 0)
    if words == ["ecs", "update-service"]:
        td = p.value("--task-definition")
        note = (
            f"image from task definition {td.text}"
            if td is not None
            else "image from the current task definition"
        )
        return _Out(ops=[ctx.op(Role.DEPLOY, "aws ecs update-service", note=note)])
    if words == ["lambda", "update-function-code"]:
        image = p.value("--image-uri")
        if image is not None:
            return _Out(
                ops=[
                    ctx.op(
                        Role.DEPLOY,
                        "aws lambda update-function-code",
                        [_ref(image, ImageUse.DEPLOY)],
                    )
                ]
            )
    if words == ["lambda", "create-function"]:
        code = p.value("--code")
        if code is not None:
            fields = dict(_csv(code))
            image = fields.get("imageuri")
            if image is not None:
                return _Out(
                    ops=[
                        ctx.op(
                            Role.DEPLOY,
                            "aws lambda create-function",
                            [_ref(image, ImageUse.DEPLOY)],
                        )
                    ]
                )
    return _Out()


def _ecr_repo(p: _Parsed) -> Value | None:
    repo = p.value("--repository-name")
    registry = p.value("--registry-id")
    if repo is None:
        return None
    if registry is not None:
        return concat_values([registry, ".dkr.ecr/", repo], repo.span, repo.path)
    return repo


def _ecr_image(p: _Parsed) -> Value | None:
    repo = _ecr_repo(p)
    ids = p.value("--image-ids")
    if repo is None or ids is None:
        return repo
    flat = flat_text(ids)
    for key, sep in (("imageDigest", "@"), ("imageTag", ":")):
        m = re.search(key + r"""["']?\s*[=:]\s*["']?([^,"'\s}\]]+)""", flat)
        if m:
            part = slice_value(ids, m.start(1), m.end(1))
            return concat_values([repo, sep, part], part.span, repo.path)
    return repo


def _ecr_target(p: _Parsed) -> Value | None:
    repo = _ecr_repo(p)
    tag = p.value("--image-tag")
    if repo is None:
        return None
    if tag is not None:
        return concat_values([repo, ":", tag], tag.span, repo.path)
    digest = p.value("--image-digest")
    if digest is not None:
        return concat_values([repo, "@", digest], digest.span, repo.path)
    return repo


_AZ_FLAGS = frozenset(
    {"--force", "--no-wait", "--yes", "-y", "--debug", "--verbose", "--only-show-errors"}
    | {"--no-logs", "--no-push", "--no-format", "--disable-validation", "--help", "-h"}
)


def _az(ctx: _Ctx, name: str, args: list[Value]) -> _Out:
    p = _parse(
        args,
        frozenset({"-t", "-n", "-g", "-i", "-c", "-r", "-f", "-o"}),
        flags=_AZ_FLAGS,
        long_values=True,
    )
    words = [v.text for v in p.pos]
    if words[:2] == ["acr", "import"]:
        source = p.value("--source")
        targets = p.values("--image", "-t")
        images = ([_ref(source, ImageUse.COPY_SOURCE)] if source is not None else []) + _refs(
            targets, ImageUse.COPY_TARGET
        )
        return _Out(ops=[ctx.op(Role.PROMOTE, "az acr import", images, push=True)])
    if words[:2] == ["acr", "build"]:
        names = p.values("--image", "-t")
        push = not p.has("--no-push")
        context = p.pos[2] if len(p.pos) > 2 else None
        ops = [
            ctx.op(
                Role.BUILD,
                "az acr build",
                _refs(names, ImageUse.TAG),
                push=push,
                context=context,
                dockerfile=p.value("--file", "-f"),
            )
        ]
        if push:
            ops.append(ctx.op(Role.PUSH, "az acr build", _refs(names, ImageUse.PUSH), push=True))
        return _Out(ops=ops)
    image: Value | None = None
    tool = ""
    if words[:1] == ["containerapp"] and len(words) > 1 and words[1] in ("create", "update", "up"):
        image, tool = p.value("--image", "-i"), f"az containerapp {words[1]}"
    elif words[:4] == ["webapp", "config", "container", "set"] or words[:4] == [
        "functionapp",
        "config",
        "container",
        "set",
    ]:
        image = p.value(
            "--docker-custom-image-name", "--container-image-name", "--image", "-c", "-i"
        )
        tool = f"az {' '.join(words[:4])}"
    elif words[:2] in (["webapp", "create"], ["webapp", "update"], ["functionapp", "create"]):
        image = p.value(
            "--deployment-container-image-name", "--container-image-name", "--image", "-i", "-c"
        )
        tool = f"az {' '.join(words[:2])}"
    elif words[:2] == ["container", "create"]:
        image, tool = p.value("--image"), "az container create"
    if image is not None:
        return _Out(ops=[ctx.op(Role.DEPLOY, tool, [_ref(image, ImageUse.DEPLOY)])])
    return _Out()


# --- registry tools ------------------------------------------------------------------

_CRANE_VALUES = frozenset(
    {"--platform", "-j", "--jobs", "-t", "--tag", "--image-refs", "-b", "--base", "-f"}
    | {"--new_layer", "-o", "--output", "-a", "--annotation", "-l", "--label", "-e", "--env"}
    | {"--entrypoint", "--cmd", "--user", "-w", "--workdir", "--exposed-ports", "--append"}
    | {"--new_tag", "--set-platform", "--format", "--new_base", "--old_base", "--repo"}
)


def _crane(ctx: _Ctx, name: str, args: list[Value]) -> _Out:
    p = _parse(args, _CRANE_VALUES)
    if not p.pos:
        return _Out()
    sub = p.pos[0].text
    pos = p.pos[1:]
    if sub in ("copy", "cp") and len(pos) >= 2:
        images = [_ref(pos[0], ImageUse.COPY_SOURCE), _ref(pos[1], ImageUse.COPY_TARGET)]
        note = "all tags" if p.has("--all-tags", "-a") else ""
        return _Out(ops=[ctx.op(Role.PROMOTE, "crane copy", images, push=True, note=note)])
    if sub == "tag" and len(pos) >= 2:
        images = [_ref(pos[0], ImageUse.COPY_SOURCE), *_refs(pos[1:], ImageUse.COPY_TARGET)]
        note = "a tag in the source's repository"
        return _Out(ops=[ctx.op(Role.PROMOTE, "crane tag", images, push=True, note=note)])
    if sub == "mutate" and pos:
        if p.has("-o", "--output") and not p.has("-t", "--tag"):
            return _Out(refs=[_ref(pos[0], ImageUse.PULL)])
        targets = p.values("-t", "--tag") or [pos[0]]
        images = [_ref(pos[0], ImageUse.COPY_SOURCE), *_refs(targets, ImageUse.COPY_TARGET)]
        note = "mutate writes a modified image (a new digest)"
        return _Out(ops=[ctx.op(Role.PROMOTE, "crane mutate", images, push=True, note=note)])
    if sub == "push" and len(pos) >= 2:
        op = ctx.op(
            Role.PUSH,
            "crane push",
            [_ref(pos[1], ImageUse.PUSH)],
            push=True,
            digest_file=p.value("--image-refs"),
            note=f"tarball {pos[0].text}",
        )
        return _Out(ops=[op])
    if sub == "append":
        base = p.value("-b", "--base")
        bases = [_ref(base, ImageUse.BASE)] if base is not None else []
        target = p.value("-t", "--new_tag")
        if target is None or p.has("-o", "--output"):
            return _Out(refs=bases)
        images = [_ref(target, ImageUse.PUSH), *bases]
        return _Out(ops=[ctx.op(Role.PUSH, "crane append", images, push=True)])
    if sub == "pull" and len(pos) >= 2:
        refs = _refs(pos[:-1], ImageUse.PULL)
        return _Out(refs=refs, pulled=list(refs))
    if sub == "export" and pos:
        return _Out(refs=[_ref(pos[0], ImageUse.PULL)])
    return _Out()


_SKOPEO_VALUES = frozenset(
    {"--authfile", "--src-authfile", "--dest-authfile", "--src-creds", "--dest-creds"}
    | {"--src-cert-dir", "--dest-cert-dir", "--format", "-f", "--digestfile", "--additional-tag"}
    | {"--sign-by", "--sign-by-sigstore", "--sign-by-sigstore-private-key", "--sign-identity"}
    | {"--sign-passphrase-file", "--src-registry-token", "--dest-registry-token"}
    | {"--retry-times", "--retry-delay", "--multi-arch", "--encryption-key", "--decryption-key"}
    | {"--encrypt-layer", "--dest-compress-format", "--dest-compress-level", "--override-arch"}
    | {"--override-os", "--override-variant", "--src-shared-blob-dir", "--dest-shared-blob-dir"}
    | {"--registries.d", "--policy", "--command-timeout", "--src-daemon-host"}
    | {"--dest-daemon-host", "--image-parallel-copies", "--tmpdir", "--src", "-s", "--dest"}
    | {"-d", "--append-suffix", "--creds", "--cert-dir", "--username", "--password"}
)


def _skopeo(ctx: _Ctx, name: str, args: list[Value]) -> _Out:
    p = _parse(args, _SKOPEO_VALUES)
    if not p.pos:
        return _Out()
    sub = p.pos[0].text
    pos = p.pos[1:]
    if sub == "copy" and len(pos) >= 2:
        (src_t, src), (dst_t, dst) = _transport(pos[0]), _transport(pos[1])
        digest_file = p.value("--digestfile")
        if dst_t == "docker" and src_t == "docker":
            images = [_ref(src, ImageUse.COPY_SOURCE), _ref(dst, ImageUse.COPY_TARGET)]
            op = ctx.op(Role.PROMOTE, "skopeo copy", images, push=True, digest_file=digest_file)
            return _Out(ops=[op])
        if dst_t == "docker":
            note = f"from {src_t or 'a local'} {pos[0].text}"
            if src_t in ("docker-archive", "oci-archive"):
                note = f"archive {src.text}"
            op = ctx.op(
                Role.PUSH,
                "skopeo copy",
                [_ref(dst, ImageUse.PUSH)],
                push=True,
                digest_file=digest_file,
                note=note,
            )
            return _Out(ops=[op])
        if src_t == "docker":
            refs = [_ref(src, ImageUse.PULL)]
            return _Out(refs=refs, pulled=list(refs))
        return _Out()
    if sub == "sync" and len(pos) >= 2:
        src_kind = (p.value("--src", "-s") or _FALSE).text
        dst_kind = (p.value("--dest", "-d") or _FALSE).text
        if dst_kind != "docker":
            return _Out()
        images = [_ref(pos[1], ImageUse.COPY_TARGET)]
        if src_kind == "docker":
            images.insert(0, _ref(pos[0], ImageUse.COPY_SOURCE))
        note = "sync" if src_kind == "docker" else f"sync from {src_kind} {pos[0].text}"
        return _Out(ops=[ctx.op(Role.PROMOTE, "skopeo sync", images, push=True, note=note)])
    return _Out()


_ORAS_VALUES = frozenset(
    {"-u", "--username", "-p", "--password", "--registry-config", "--ca-file", "--cert-file"}
    | {"--key-file", "--resolve", "-H", "--header", "--format", "--template", "--artifact-type"}
    | {"-a", "--annotation", "--annotation-file", "--config", "--export-manifest"}
    | {"--concurrency", "--platform", "--distribution-spec", "--image-spec", "-o", "--output"}
    | {
        f"--{side}-{opt}"
        for side in ("from", "to")
        for opt in (
            "username",
            "password",
            "registry-config",
            "ca-file",
            "cert-file",
            "key-file",
            "resolve",
            "header",
            "distribution-spec",
            "oci-layout-path",
            "identity-token",
        )
    }
    | {"--identity-token", "--oci-layout-path", "--media-type", "--descriptor", "--include"}
)


def _oras(ctx: _Ctx, name: str, args: list[Value]) -> _Out:
    p = _parse(args, _ORAS_VALUES)
    if not p.pos:
        return _Out()
    sub = p.pos[0].text
    pos = p.pos[1:]
    if sub == "push" and pos:
        if p.has("--oci-layout"):
            return _Out()
        if p.has("--artifact-type") or any("vnd.cncf.artifacthub" in a.text for a in args):
            # an OCI artifact that is not a container image (Artifact Hub metadata,
            # a Helm chart's sidecar, an SBOM): not an image this linter follows
            return _Out()
        return _Out(ops=[ctx.op(Role.PUSH, "oras push", [_ref(pos[0], ImageUse.PUSH)], push=True)])
    if sub in ("copy", "cp") and len(pos) >= 2:
        if p.has("--to-oci-layout"):
            refs = [_ref(pos[0], ImageUse.PULL)]
            return _Out(refs=refs, pulled=list(refs))
        if p.has("--from-oci-layout"):
            op = ctx.op(
                Role.PUSH,
                "oras copy",
                [_ref(pos[1], ImageUse.PUSH)],
                push=True,
                note="from an OCI layout",
            )
            return _Out(ops=[op])
        images = [_ref(pos[0], ImageUse.COPY_SOURCE), _ref(pos[1], ImageUse.COPY_TARGET)]
        return _Out(ops=[ctx.op(Role.PROMOTE, "oras copy", images, push=True)])
    if sub == "tag" and len(pos) >= 2:
        images = [_ref(pos[0], ImageUse.COPY_SOURCE), *_refs(pos[1:], ImageUse.COPY_TARGET)]
        return _Out(
            ops=[
                ctx.op(
                    Role.PROMOTE,
                    "oras tag",
                    images,
                    push=True,
                    note="tags in the source's repository",
                )
            ]
        )
    if sub == "attach" and pos:
        kind = p.value("--artifact-type")
        note = f"artifact type {kind.text}" if kind is not None else ""
        return _Out(
            ops=[ctx.op(Role.RECORD, "oras attach", [_ref(pos[0], ImageUse.SIGN)], note=note)]
        )
    if sub == "pull" and pos:
        refs = [_ref(pos[0], ImageUse.PULL)]
        return _Out(refs=refs, pulled=list(refs))
    return _Out()


def _regctl(ctx: _Ctx, name: str, args: list[Value]) -> _Out:
    values = frozenset({"--host", "--logopt", "-v", "--verbosity", "--user-agent", "--platform"})
    p = _parse(args, values | frozenset({"--referrers-src", "--referrers-tgt", "--format"}))
    words = [v.text for v in p.pos[:2]]
    pos = p.pos[2:]
    if words == ["image", "copy"] and len(pos) >= 2:
        images = [_ref(pos[0], ImageUse.COPY_SOURCE), _ref(pos[1], ImageUse.COPY_TARGET)]
        return _Out(ops=[ctx.op(Role.PROMOTE, "regctl image copy", images, push=True)])
    return _Out()


# --- signing, attesting, verifying ---------------------------------------------------

_COSIGN_VALUES = frozenset(
    {"--key", "--certificate", "--certificate-chain", "-a", "--annotations", "--identity-token"}
    | {"--oidc-issuer", "--oidc-client-id", "--oidc-client-secret-file", "--oidc-provider"}
    | {"--fulcio-url", "--rekor-url", "--output-signature", "--output-certificate"}
    | {"--output-payload", "--payload", "--attachment", "--slot", "--signing-config"}
    | {"--trusted-root", "--timestamp-server-url", "--bundle", "--attachment-tag-prefix"}
    | {"--registry-username", "--registry-password", "--registry-token", "--predicate"}
    | {"--type", "--certificate-identity", "--certificate-identity-regexp"}
    | {"--certificate-oidc-issuer", "--certificate-oidc-issuer-regexp", "--policy", "-o"}
    | {"--output", "--ca-roots", "--ca-intermediates", "--signature", "--max-workers"}
    | {"--certificate-github-workflow-trigger", "--certificate-github-workflow-sha"}
    | {"--certificate-github-workflow-name", "--certificate-github-workflow-repository"}
    | {"--certificate-github-workflow-ref", "--sk", "--fulcio-auth-flow", "--tsa-server-url"}
    | {
        "--timestamp-certificate-chain",
        "--replace",
        "--sbom",
        "--attestation",
        "--signature-digest-algorithm",
    }
    | {"--issue-certificate", "--insecure-skip-verify", "--only", "--platform", "-d", "--dir"}
)


def _cosign(ctx: _Ctx, name: str, args: list[Value]) -> _Out:
    p = _parse(args, _COSIGN_VALUES)
    if not p.pos:
        return _Out()
    sub = p.pos[0].text
    pos = p.pos[1:]
    if sub == "sign":
        return _Out(refs=_refs(pos, ImageUse.SIGN))
    if sub == "attest":
        kind = p.value("--type")
        note = f"predicate type {kind.text}" if kind is not None else ""
        return _Out(
            ops=[ctx.op(Role.RECORD, "cosign attest", _refs(pos, ImageUse.SIGN), note=note)]
        )
    if sub == "attach" and len(pos) >= 2 and pos[0].text == "attestation":
        return _Out(
            ops=[ctx.op(Role.RECORD, "cosign attach attestation", _refs(pos[1:], ImageUse.SIGN))]
        )
    if sub in ("verify", "verify-attestation"):
        return _Out(ops=[ctx.op(Role.VERIFY, f"cosign {sub}", _refs(pos, ImageUse.SIGN))])
    if sub == "copy" and len(pos) >= 2:
        images = [_ref(pos[0], ImageUse.COPY_SOURCE), _ref(pos[1], ImageUse.COPY_TARGET)]
        return _Out(
            ops=[ctx.op(Role.PROMOTE, "cosign copy", images, push=True, note="with signatures")]
        )
    return _Out()


_NOTATION_VALUES = frozenset(
    {"-k", "--key", "--signature-format", "--plugin-config", "--plugin", "--id", "-e"}
    | {"--expiry", "-m", "--user-metadata", "-u", "--username", "-p", "--password"}
    | {"--timestamp-url", "--timestamp-root-cert", "--scope", "-o", "--output", "-d"}
)


def _notation(ctx: _Ctx, name: str, args: list[Value]) -> _Out:
    p = _parse(args, _NOTATION_VALUES)
    if not p.pos:
        return _Out()
    sub = p.pos[0].text
    if sub == "sign":
        return _Out(refs=_refs(p.pos[1:], ImageUse.SIGN))
    if sub == "verify":
        return _Out(ops=[ctx.op(Role.VERIFY, "notation verify", _refs(p.pos[1:], ImageUse.SIGN))])
    return _Out()


_GH_ATTESTATION_VALUES = frozenset(
    {"-o", "--owner", "-R", "--repo", "-b", "--bundle", "--signer-workflow", "--signer-repo"}
    | {"--cert-identity", "--cert-identity-regex", "--cert-oidc-issuer", "--predicate-type"}
    | {"-d", "--digest-alg", "--format", "-q", "--jq", "-t", "--template", "-L", "--limit"}
    | {"--hostname", "--custom-trusted-root", "--source-ref", "--source-digest"}
    | {"--signer-digest", "--deny-self-hosted-runners"}
)


def _gh(ctx: _Ctx, name: str, args: list[Value]) -> _Out:
    p = _parse(args, _GH_ATTESTATION_VALUES)
    words = [v.text for v in p.pos[:2]]
    if words[:1] not in (["attestation"], ["at"]) or len(words) < 2 or words[1] != "verify":
        return _Out()
    refs: list[ImageArg] = []
    for v in p.pos[2:]:
        got = _after_prefix(v, ("oci://",))
        if got is not None:
            refs.append(_ref(got, ImageUse.SIGN))
    note = "" if refs else "a file"
    return _Out(ops=[ctx.op(Role.VERIFY, "gh attestation verify", refs, note=note)])


def _slsa_verifier(ctx: _Ctx, name: str, args: list[Value]) -> _Out:
    values = frozenset(
        {"--source-uri", "--source-tag", "--source-branch", "--source-versioned-tag"}
        | {"--builder-id", "--provenance-path", "--provenance-repository"}
        | {"--build-workflow-input", "--vsa-path", "--subject-digest", "--verifier-id"}
    )
    p = _parse(args, values)
    if not p.pos or not p.pos[0].text.startswith("verify"):
        return _Out()
    sub = p.pos[0].text
    refs = _refs(p.pos[1:], ImageUse.SIGN) if sub == "verify-image" else []
    return _Out(ops=[ctx.op(Role.VERIFY, f"slsa-verifier {sub}", refs)])


def _digestgate(ctx: _Ctx, name: str, args: list[Value]) -> _Out:
    values = frozenset(
        {"--image", "--metadata-file", "--result", "--check", "--repository", "--commit"}
        | {"--run-id", "--workflow", "--output", "-o", "--record", "--expect-tag", "--config"}
        | {"--format", "--select", "--ignore", "--baseline", "--stdin-filename"}
    )
    p = _parse(args, values)
    if not p.pos:
        return _Out()
    sub = p.pos[0].text
    if sub == "record":
        images = _refs(p.values("--image"), ImageUse.SUBJECT)
        return _Out(
            ops=[
                ctx.op(
                    Role.RECORD,
                    "digestgate record",
                    images,
                    digest_file=p.value("--metadata-file"),
                )
            ]
        )
    if sub == "verify":
        images = _refs(p.values("--image"), ImageUse.INPUT)
        return _Out(ops=[ctx.op(Role.VERIFY, "digestgate verify", images)])
    if sub == "check":
        return _Out(ops=[ctx.op(Role.VALIDATE, "digestgate check", note="source")])
    return _Out()


# --- deploying -----------------------------------------------------------------------

_KUBECTL_VALUES = frozenset(
    {"-n", "--namespace", "--context", "--kubeconfig", "--cluster", "--user", "-s", "--server"}
    | {"--token", "--as", "--as-group", "--as-uid", "--request-timeout", "--certificate-authority"}
    | {"--client-certificate", "--client-key", "--tls-server-name", "-v", "--cache-dir"}
    | {"--profile", "--profile-output", "-f", "--filename", "-l", "--selector", "-o"}
    | {"--output", "--field-manager", "--template", "--image", "--env", "--labels", "--port"}
    | {"--restart", "--overrides", "--image-pull-policy", "--annotations", "--replicas"}
    | {"--pod-running-timeout", "--override-type", "--schedule", "--from", "-c", "--container"}
    | {"-k", "--kustomize", "--timeout"}
)


def _kubectl(ctx: _Ctx, name: str, args: list[Value]) -> _Out:
    p = _parse(args, _KUBECTL_VALUES)
    words = [v.text for v in p.pos[:2]]
    if words == ["set", "image"]:
        refs: list[ImageArg] = []
        for v in p.pos[2:]:
            kv = _key_value(v)
            if kv is not None:
                refs.append(_ref(kv[1], ImageUse.DEPLOY))
        note = "edits a local manifest" if p.flag("--local") else ""
        return _Out(ops=[ctx.op(Role.DEPLOY, "kubectl set image", refs, note=note)])
    if words[:1] == ["run"]:
        images = p.values("--image")
        return _Out(ops=[ctx.op(Role.DEPLOY, "kubectl run", _refs(images, ImageUse.DEPLOY))])
    if (
        words[:1] == ["create"]
        and len(words) > 1
        and words[1]
        in (
            "deployment",
            "deploy",
            "job",
            "cronjob",
            "cj",
        )
    ):
        images = p.values("--image")
        if images:
            return _Out(
                ops=[
                    ctx.op(
                        Role.DEPLOY, f"kubectl create {words[1]}", _refs(images, ImageUse.DEPLOY)
                    )
                ]
            )
    return _Out()


_HELM_VALUES = frozenset(
    {"--set", "--set-string", "--set-file", "--set-json", "--set-literal", "-f", "--values"}
    | {"--version", "-n", "--namespace", "--kube-context", "--kubeconfig", "--timeout", "--repo"}
    | {"--username", "--password", "--post-renderer", "--post-renderer-args", "--description"}
    | {"--history-max", "-o", "--output", "--ca-file", "--cert-file", "--key-file", "-l"}
    | {"--registry-config", "--repository-config", "--repository-cache", "--kube-apiserver"}
    | {"--kube-as-user", "--kube-as-group", "--kube-token", "--kube-ca-file", "--burst-limit"}
    | {"--qps", "--labels", "--name-template", "--keyring", "--kube-tls-server-name"}
)


def _helm(ctx: _Ctx, name: str, args: list[Value]) -> _Out:
    p = _parse(args, _HELM_VALUES)
    if not p.pos or p.pos[0].text not in ("upgrade", "install"):
        return _Out()
    dry = [o for o in p.opts if o.name == "--dry-run"]
    if dry and (dry[-1].value is None or dry[-1].value.text.lower() not in ("false", "none")):
        return _Out()
    sets = p.values("--set", "--set-string")
    refs = _helm_images(sets)
    chart = p.pos[2].text if len(p.pos) > 2 else ""
    if not refs and "/" in chart and not chart.startswith((".", "/", "oci://")):
        # a third-party chart from a chart repository (`jetstack/cert-manager`) that
        # sets no image: cluster set-up, not a deployment of this pipeline's image
        return _Out()
    note = "" if refs else "images from chart values"
    return _Out(
        ops=[ctx.op(Role.DEPLOY, f"helm {p.pos[0].text}", _refs(refs, ImageUse.DEPLOY), note=note)]
    )


def _helm_pairs(value: Value) -> list[tuple[str, Value]]:
    """`a=b,c=d` (with `\\,` escapes) as (key, value) pairs."""
    flat = flat_text(value)
    parts: list[tuple[int, int]] = []
    start = 0
    i = 0
    while i < len(flat):
        if flat[i] == "\\":
            i += 2
            continue
        if flat[i] == ",":
            parts.append((start, i))
            start = i + 1
        i += 1
    parts.append((start, len(flat)))
    out: list[tuple[str, Value]] = []
    for a, b in parts:
        kv = _key_value(slice_value(value, a, b))
        if kv is not None:
            out.append((kv[0].strip(), kv[1]))
    return out


def _helm_images(sets: Iterable[Value]) -> list[Value]:
    """Image references set on the command line: `image=`, `x.image=`, or the parts
    `image.repository`/`image.registry`, `image.tag`, `image.digest` (also `tag=`,
    `digest=`), combined per prefix into one reference located at its tag or digest."""
    groups: dict[str, dict[str, Value]] = {}
    order: list[str] = []
    for value in sets:
        for key, val in _helm_pairs(value):
            parts = key.split(".")
            last = parts[-1].lower()
            prefix = ".".join(parts[:-1])
            parent = parts[-2].lower() if len(parts) > 1 else ""
            kind = None
            if last in ("image", "imageuri", "imageref", "image-uri"):
                kind, prefix = "full", key
            elif last in ("repository", "repo", "name") and "image" in parent:
                kind = "repository"
            elif last == "registry" and "image" in parent:
                kind = "registry"
            elif last in ("tag", "imagetag"):
                kind = "tag"
            elif last in ("digest", "imagedigest"):
                kind = "digest"
            if kind is None:
                continue
            if prefix not in groups:
                groups[prefix] = {}
                order.append(prefix)
            groups[prefix][kind] = val
    out: list[Value] = []
    for prefix in order:
        g = groups[prefix]
        if "full" in g:
            out.append(g["full"])
            continue
        repo = g.get("repository")
        if repo is not None and "registry" in g:
            repo = concat_values([g["registry"], "/", repo], repo.span, repo.path)
        tag, digest = g.get("tag"), g.get("digest")
        if repo is None:
            out.extend(v for v in (tag, digest) if v is not None)
            continue
        joined: list[Value | str] = [repo]
        if tag is not None:
            joined += [":", tag]
        if digest is not None:
            joined += ["@" if ":" in flat_text(digest) else "@sha256:", digest]
        where = digest or tag or repo
        out.append(concat_values(joined, where.span, where.path) if len(joined) > 1 else repo)
    return out


def _kustomize(ctx: _Ctx, name: str, args: list[Value]) -> _Out:
    words = _words_until_option(args, 3)
    if words != ["edit", "set", "image"]:
        return _Out()
    refs = [_kustomize_image(v) for v in args[3:] if not flat_text(v).startswith("-")]
    return _Out(ops=[ctx.op(Role.DEPLOY, "kustomize edit set image", _refs(refs, ImageUse.DEPLOY))])


def _kustomize_image(value: Value) -> Value:
    kv = _key_value(value)
    return kv[1] if kv is not None else value


def _argocd(ctx: _Ctx, name: str, args: list[Value]) -> _Out:
    values = frozenset(
        {"--kustomize-image", "--helm-set", "--helm-set-string", "-p", "--parameter"}
        | {"--server", "--auth-token", "--grpc-web-root-path", "--values", "--revision"}
        | {"--dest-namespace", "--dest-server", "--project", "--plaintext-header"}
    )
    p = _parse(args, values)
    if [v.text for v in p.pos[:2]] != ["app", "set"]:
        return _Out()
    refs = [_kustomize_image(v) for v in p.values("--kustomize-image")]
    refs += _helm_images(p.values("--helm-set", "--helm-set-string", "-p", "--parameter"))
    if not refs:
        return _Out()
    return _Out(ops=[ctx.op(Role.DEPLOY, "argocd app set", _refs(refs, ImageUse.DEPLOY))])


_FLY_VALUES = frozenset(
    {"-i", "--image", "-c", "--config", "-a", "--app", "--dockerfile", "--build-arg"}
    | {"--build-secret", "--build-target", "--strategy", "-r", "--region", "-e", "--env"}
    | {"--vm-size", "--vm-memory", "--vm-cpus", "--vm-cpu-kind", "--label", "--image-label"}
    | {"--wait-timeout", "--release-command-timeout", "--file-local", "--file-literal"}
    | {"--file-secret", "--primary-region", "-s", "--signal", "--max-unavailable"}
    | {"--exclude-regions", "--only-regions", "--process-groups", "--lease-timeout"}
    | {"--smoke-checks", "--detach-timeout", "-t", "--access-token"}
)


def _fly(ctx: _Ctx, name: str, args: list[Value]) -> _Out:
    p = _parse(args, _FLY_VALUES)
    if not p.pos or p.pos[0].text != "deploy":
        return _Out()
    image = p.value("-i", "--image")
    if image is not None:
        return _Out(ops=[ctx.op(Role.DEPLOY, f"{name} deploy", [_ref(image, ImageUse.DEPLOY)])])
    note = "fly builds the image from source"
    context = p.pos[1] if len(p.pos) > 1 else None
    push = not p.has("--build-only") or p.flag("--push")
    ops = [
        ctx.op(
            Role.BUILD,
            f"{name} deploy",
            push=push,
            context=context,
            note=note,
            dockerfile=p.value("--dockerfile"),
        )
    ]
    if push:
        ops.append(ctx.op(Role.PUSH, f"{name} deploy", push=True, note=note))
    if not p.has("--build-only"):
        ops.append(ctx.op(Role.DEPLOY, f"{name} deploy", note=note))
    return _Out(ops=ops)


def _nomad(ctx: _Ctx, name: str, args: list[Value]) -> _Out:
    values = frozenset(
        {"-var", "-var-file", "-address", "-region", "-namespace", "-token", "-check-index"}
        | {"-consul-token", "-vault-token", "-eval-priority", "-consul-namespace"}
        | {"-vault-namespace", "-ca-cert", "-client-cert", "-client-key", "-tls-server-name"}
    )
    flags = frozenset({"-detach", "-verbose", "-policy-override", "-preserve-counts", "-json"})
    p = _parse(args, values, flags=flags | frozenset({"-hcl1", "-hcl2-strict", "-output"}))
    words = [v.text for v in p.pos[:2]]
    if words[:2] != ["job", "run"] and words[:1] != ["run"]:
        return _Out()
    refs: list[Value] = []
    for v in p.values("-var"):
        kv = _key_value(v)
        if kv is not None and "image" in kv[0].lower():
            refs.append(kv[1])
    return _Out(
        ops=[ctx.op(Role.DEPLOY, "nomad job run", _refs(refs, ImageUse.DEPLOY), note="nomad job")]
    )


# --- validating ----------------------------------------------------------------------

_CHECK_TOKENS = frozenset(
    {"test", "tests", "testing", "e2e", "integration", "integ", "smoke", "lint", "linting"}
    | {"check", "checks", "verify", "typecheck", "acceptance", "spec", "specs", "cypress"}
    | {"playwright", "unittest", "unit", "coverage", "cov", "functional", "regression"}
    | {"scan", "vet", "quality", "conformance"}
)


def _is_check_name(name: str) -> bool:
    lowered = name.lower()
    tokens = [t for t in re.split(r"[:._\-/ ]+", lowered) if t]
    return any(t in _CHECK_TOKENS for t in tokens) or lowered.startswith(("test", "e2e"))


_QUERIES = frozenset({"--version", "-V", "--help", "-h", "version", "help"})


def _is_query(args: Sequence[Value]) -> bool:
    """`shellcheck --version`, `pytest --help`: nothing is checked."""
    return len(args) == 1 and flat_text(args[0]) in _QUERIES


def _validate(tool: str, note: str = "") -> _Handler:
    def handle(ctx: _Ctx, name: str, args: list[Value]) -> _Out:
        if _is_query(args):
            return _Out()
        return _Out(ops=[ctx.op(Role.VALIDATE, tool or name, note=note)])

    return handle


def _sessions(tool: str, option: frozenset[str]) -> _Handler:
    """tox/nox: a check unless every selected environment is a chore (`docs`, `build`)."""

    def handle(ctx: _Ctx, name: str, args: list[Value]) -> _Out:
        if _is_query(args):
            return _Out()
        p = _parse(args, option | frozenset({"-c", "--conf", "--noxfile", "-f", "-p"}))
        chosen = [s for v in p.values(*option) for s in _split(v, ",")]
        if chosen and all(v.is_static and not _is_session_check(v.text) for v in chosen):
            return _Out()
        return _Out(ops=[ctx.op(Role.VALIDATE, tool)])

    return handle


def _is_session_check(name: str) -> bool:
    lowered = name.lower()
    if re.match(r"^(py|pypy)[0-9.]*($|[-_])", lowered) or lowered.startswith("test"):
        return True
    extra = {"typing", "mypy", "types", "style", "flake8", "pylint", "ruff", "pre-commit"}
    return _is_check_name(name) or bool(set(re.split(r"[:._\-]+", lowered)) & extra)


def _validate_sub(
    subs: Iterable[str], note: str = "", values: frozenset[str] = frozenset()
) -> _Handler:
    """A check when its first positional is one of `subs` (`go test`, `cargo clippy`)."""
    wanted = frozenset(subs)

    def handle(ctx: _Ctx, name: str, args: list[Value]) -> _Out:
        p = _parse(args, values)
        if p.pos and p.pos[0].text in wanted and not p.has("--help", "-h"):
            return _Out(ops=[ctx.op(Role.VALIDATE, f"{name} {p.pos[0].text}", note=note)])
        return _Out()

    return handle


def _with_flag(flags: Iterable[str], note: str = "source") -> _Handler:
    """A check only with one of `flags` (`black --check`, `prettier --check`)."""
    wanted = frozenset(flags)

    def handle(ctx: _Ctx, name: str, args: list[Value]) -> _Out:
        if any(flat_text(a).split("=", 1)[0] in wanted for a in args):
            return _Out(ops=[ctx.op(Role.VALIDATE, name, note=note)])
        return _Out()

    return handle


def _ruff(ctx: _Ctx, name: str, args: list[Value]) -> _Out:
    if any(flat_text(a) in _QUERIES for a in args):
        return _Out()  # `ruff --help`, `ruff --version`: nothing is checked
    p = _parse(args, frozenset({"--config"}))
    sub = p.pos[0].text if p.pos else "check"
    if sub == "check" or (sub == "format" and p.has("--check", "--diff")):
        return _Out(ops=[ctx.op(Role.VALIDATE, f"ruff {sub}", note="source")])
    return _Out()


_NPM_VALUES = frozenset(
    {"-w", "--workspace", "--prefix", "-C", "--dir", "--filter", "-F", "--cwd", "--cache"}
    | {"--registry", "--loglevel", "--reporter", "--test-name-pattern", "--timeout"}
)
_NPM_BUILTINS = frozenset(
    {"install", "i", "ci", "add", "remove", "rm", "uninstall", "update", "up", "upgrade"}
    | {"publish", "pack", "login", "logout", "config", "set", "get", "init", "create", "link"}
    | {"unlink", "outdated", "audit", "why", "list", "ls", "info", "view", "version", "cache"}
    | {"dedupe", "prune", "rebuild", "store", "import", "patch", "fetch", "env", "dlx", "exec"}
    | {"x", "node", "global", "bin", "root", "whoami", "workspaces", "plugin", "constraints"}
    | {"setup", "self-update", "licenses", "pm", "build", "start", "dev", "serve", "deploy"}
)


def _npm(ctx: _Ctx, name: str, args: list[Value]) -> _Out:
    """npm/yarn/pnpm/bun: `test`, `t`, `run X`, and (yarn, pnpm, bun) a script by name."""
    p = _parse(args, _NPM_VALUES)
    pos = list(p.pos)
    texts = [v.text for v in pos]
    if (name == "yarn" and texts[:1] == ["workspace"] and len(pos) > 2) or (
        name == "yarn" and texts[:2] == ["workspaces", "foreach"]
    ):
        pos = pos[2:]
    if not pos:
        return _Out()
    sub = pos[0].text
    if sub in ("test", "t", "tst", "it", "install-test", "cit", "install-ci-test"):
        return _Out(ops=[ctx.op(Role.VALIDATE, f"{name} test")])
    if sub in ("run", "run-script", "rum", "urn") and len(pos) > 1:
        script = pos[1]
    elif name != "npm" and sub not in _NPM_BUILTINS:
        script = pos[0]
    else:
        return _Out()
    if script is pos[0] and command_name(script) in _HANDLERS:
        # a package binary run by the package manager: `yarn jest`, `pnpm playwright test`
        start = next(i for i, a in enumerate(args) if a is script)
        inner = _inner(ctx, args[start:])
        return _Out(ops=[o for o in inner.ops if o.role is Role.VALIDATE])
    if _is_check_name(script.text):
        return _Out(ops=[ctx.op(Role.VALIDATE, f"{name} run {script.text}")])
    kind, push = _target_kind(script.text)
    if kind is Role.BUILD and any(w in script.text.lower() for w in ("docker", "image")):
        tool, note = f"{name} run {script.text}", "package script"
        out = _Out(ops=[ctx.op(Role.BUILD, tool, push=push, load=not push, note=note)])
        if push:
            out.ops.append(ctx.op(Role.PUSH, tool, push=True, note=note))
        return out
    return _Out()


def _python(ctx: _Ctx, name: str, args: list[Value]) -> _Out:
    i = 0
    while i < len(args):
        flat = flat_text(args[i])
        if flat in ("-m", "--module") and i + 1 < len(args):
            module, rest = args[i + 1], args[i + 2 :]
            break
        if flat.startswith("-m") and len(flat) > 2:
            module, rest = slice_value(args[i], 2), args[i + 1 :]
            break
        if flat.startswith("-c") or flat == "-":
            return _Out()
        if flat in ("-W", "-X"):
            i += 2
            continue
        if flat.startswith("-"):
            i += 1
            continue
        script = flat.rsplit("/", 1)[-1]
        if (
            script in ("manage.py", "setup.py")
            and args[i + 1 : i + 2]
            and flat_text(args[i + 1]) == "test"
        ):
            return _Out(ops=[ctx.op(Role.VALIDATE, f"python {script} test")])
        return _Out()
    else:
        return _Out()
    mod = module.text
    if mod in ("pytest", "unittest", "behave", "robot", "nose2", "doctest"):
        return _Out(ops=[ctx.op(Role.VALIDATE, f"python -m {mod}")])
    if mod in ("tox", "nox"):
        inner = _inner(ctx, [Value.literal(mod, module.span, module.path), *rest])
        return _Out(ops=[replace(o, tool=f"python -m {mod}") for o in inner.ops])
    return _inner(ctx, [Value.literal(mod, module.span, module.path), *rest])


def _hatch(ctx: _Ctx, name: str, args: list[Value]) -> _Out:
    p = _parse(args, frozenset({"-e", "--env"}), stop=True)
    if not p.pos:
        return _Out()
    sub = p.pos[0].text
    if sub == "test":
        return _Out(ops=[ctx.op(Role.VALIDATE, "hatch test")])
    if sub == "run" and p.rest:
        script = p.rest[0].text.split(":", 1)[-1]
        inner = _inner(ctx, p.rest)
        if inner.ops:
            return inner
        if _is_check_name(script):
            return _Out(ops=[ctx.op(Role.VALIDATE, f"hatch run {script}")])
    return _Out()


_MAKE_VALUES = frozenset(
    {"-C", "--directory", "-f", "--file", "--makefile", "-I", "--include-dir", "-o"}
    | {"--old-file", "--assume-old", "-W", "--what-if", "--new-file", "--assume-new"}
    | {"-E", "--eval", "-O", "--output-sync", "--jobserver-style"}
    # just / task
    | {"-d", "--working-directory", "--justfile", "--shell", "--shell-arg", "--dotenv-path"}
    | {"--dotenv-filename", "--color", "--set", "-t", "--taskfile", "--dir", "--output"}
)
_IMAGE_TOKENS = frozenset(
    {"docker", "image", "images", "img", "container", "containers", "oci", "podman", "buildx"}
    | {"bake", "ko"}
)
_PUSH_TOKENS = frozenset({"push", "publish", "release"})


def _make(ctx: _Ctx, name: str, args: list[Value]) -> _Out:
    cleaned: list[Value] = []
    i = 0
    while i < len(args):
        flat = flat_text(args[i])
        if (
            flat in ("-j", "-l", "--jobs", "--load-average")
            and i + 1 < len(args)
            and flat_text(args[i + 1]).isdigit()
        ):
            i += 2
            continue
        cleaned.append(args[i])
        i += 1
    p = _parse(cleaned, _MAKE_VALUES)
    targets = [v.text for v in p.pos if "=" not in flat_text(v) and v.is_static]
    if name == "just":
        targets = targets[:1]
    out = _Out()
    for target in targets:
        kind, push = _target_kind(target)
        tool = f"{name} {target}"
        note = f"{name} target"
        if kind is Role.VALIDATE:
            out.ops.append(ctx.op(Role.VALIDATE, tool, note=note))
        elif kind is Role.BUILD:
            out.ops.append(ctx.op(Role.BUILD, tool, push=push, load=not push, note=note))
            if push:
                out.ops.append(ctx.op(Role.PUSH, tool, push=True, note=note))
    return out


# make targets that prepare, clean up or deploy are neither checks nor image builds
_CHORE_TOKENS = frozenset(
    {"setup", "install", "bootstrap", "deps", "prepare", "prep", "init", "clean", "generate"}
    | {"gen", "tools", "download", "fetch", "create", "build", "login", "logout", "deploy"}
    | {"sign", "save", "rm", "remove", "prune", "run", "start", "stop", "up", "down"}
    | {"promote", "tag", "retag", "set", "copy"}
)
_BUILD_TOKENS = frozenset({"build", "push", "publish", "release", "load", "bake", "buildx"})


def _target_kind(target: str) -> tuple[Role | None, bool]:
    """What a make/just/task target named like this does: (VALIDATE | BUILD | None,
    pushes). `docker-build`, `image`, `push`, `docker-push`, `e2e-build-image` build;
    `test`, `lint`, `e2e`, `docker-test` check; `setup-test-env`, `docker-login` neither."""
    tokens = {t for t in re.split(r"[:._\-/ ]+", target.lower()) if t}
    image = bool(tokens & _IMAGE_TOKENS) or target == "push"
    push = bool(tokens & _PUSH_TOKENS)
    chore = tokens & (_CHORE_TOKENS - _BUILD_TOKENS)
    if image and not chore and (tokens & _BUILD_TOKENS or not _is_check_name(target)):
        return Role.BUILD, push
    if _is_check_name(target) and not tokens & _CHORE_TOKENS:
        return Role.VALIDATE, False
    return None, False


_TRIVY_VALUES = frozenset(
    {"-f", "--format", "-o", "--output", "-s", "--severity", "--exit-code", "--vuln-type"}
    | {"--scanners", "--timeout", "--cache-dir", "-t", "--template", "--ignorefile", "-i"}
    | {"--input", "--platform", "--skip-dirs", "--skip-files", "--db-repository"}
    | {"--java-db-repository", "--image-src", "--pkg-types", "-c", "--config"}
    | {"--secret-config", "--ignore-policy", "--sbom-sources", "--username", "--password"}
    | {
        "--registry-token",
        "--image-config-scanners",
        "--cache-backend",
        "--checks-bundle-repository",
    }
    | {"--compliance", "--docker-host", "--podman-host", "--license-confidence-level"}
    | {"--detection-priority", "--distro", "--report", "--vex", "--show-suppressed", "--parallel"}
)


def _trivy(ctx: _Ctx, name: str, args: list[Value]) -> _Out:
    p = _parse(args, _TRIVY_VALUES)
    if not p.pos:
        return _Out()
    sub = p.pos[0].text
    if sub in ("image", "i"):
        archive = p.value("-i", "--input")
        if archive is not None:
            return _Out(ops=[ctx.op(Role.VALIDATE, "trivy image", note=f"archive {archive.text}")])
        return _Out(ops=[ctx.op(Role.VALIDATE, "trivy image", _refs(p.pos[1:2], ImageUse.SCAN))])
    if sub in ("fs", "filesystem", "rootfs", "repo", "repository", "config", "conf", "sbom"):
        return _Out(ops=[ctx.op(Role.VALIDATE, f"trivy {sub}", note="source")])
    return _Out()


_GRYPE_VALUES = frozenset(
    {"-o", "--output", "-f", "--fail-on", "--file", "-c", "--config", "--platform", "-s"}
    | {"--scope", "-e", "--exclude", "--distro", "--sort-by", "--vex", "--name", "-t"}
    | {"--template", "--ignore-states"}
)


def _grype(ctx: _Ctx, name: str, args: list[Value]) -> _Out:
    p = _parse(args, _GRYPE_VALUES)
    if not p.pos or p.pos[0].text in ("db", "version", "config", "completion", "explain"):
        return _Out()
    target = p.pos[0]
    flat = flat_text(target)
    got = _after_prefix(target, ("registry:", "docker:", "podman:"))
    if got is not None:
        return _Out(ops=[ctx.op(Role.VALIDATE, "grype", [_ref(got, ImageUse.SCAN)])])
    scheme = re.match(r"^([a-z-]+):(?!/)", flat)
    if scheme or flat.startswith((".", "/", "~")) or flat.endswith((".json", ".tar", ".spdx")):
        return _Out(ops=[ctx.op(Role.VALIDATE, "grype", note="source")])
    return _Out(ops=[ctx.op(Role.VALIDATE, "grype", [_ref(target, ImageUse.SCAN)])])


def _snyk(ctx: _Ctx, name: str, args: list[Value]) -> _Out:
    p = _parse(args, frozenset({"--file", "--org", "--severity-threshold", "--project-name"}))
    words = [v.text for v in p.pos]
    if words[:1] == ["container"] and len(words) > 2 and words[1] in ("test", "monitor"):
        return _Out(
            ops=[
                ctx.op(
                    Role.VALIDATE, f"snyk container {words[1]}", _refs(p.pos[2:3], ImageUse.SCAN)
                )
            ]
        )
    if words[:1] == ["test"] or words[:2] in (["code", "test"], ["iac", "test"]):
        return _Out(ops=[ctx.op(Role.VALIDATE, "snyk test", note="source")])
    return _Out()


def _dockle(ctx: _Ctx, name: str, args: list[Value]) -> _Out:
    values = frozenset({"-f", "--format", "-o", "--output", "--exit-code", "--exit-level"})
    p = _parse(args, values | frozenset({"-i", "--ignore", "--input", "--timeout", "-af", "-ae"}))
    if not p.pos:
        return _Out()
    return _Out(ops=[ctx.op(Role.VALIDATE, "dockle", _refs(p.pos[:1], ImageUse.SCAN))])


def _structure_test(ctx: _Ctx, name: str, args: list[Value]) -> _Out:
    values = frozenset({"-i", "--image", "-c", "--config", "-d", "--driver", "--platform"})
    p = _parse(
        args, values | frozenset({"-o", "--output", "--test-report", "--runtime", "--metadata"})
    )
    image = p.value("-i", "--image")
    driver = p.value("-d", "--driver")
    if image is None or (driver is not None and driver.text == "tar"):
        note = f"archive {image.text}" if image is not None else ""
        return _Out(ops=[ctx.op(Role.VALIDATE, "container-structure-test", note=note)])
    return _Out(
        ops=[ctx.op(Role.VALIDATE, "container-structure-test", [_ref(image, ImageUse.RUN)])]
    )


def _dgoss(ctx: _Ctx, name: str, args: list[Value]) -> _Out:
    if not args or literal_text(args[0]) != "run":
        return _Out()
    p = _parse(args[1:], _RUN_VALUES, stop=True)
    if not p.pos:
        return _Out()
    return _Out(ops=[ctx.op(Role.VALIDATE, f"{name} run", [_ref(p.pos[0], ImageUse.RUN)])])


def _pre_commit(ctx: _Ctx, name: str, args: list[Value]) -> _Out:
    p = _parse(args, frozenset({"-c", "--config", "--hook-stage", "--from-ref", "--to-ref"}))
    if p.pos and p.pos[0].text == "run":
        return _Out(ops=[ctx.op(Role.VALIDATE, "pre-commit run", note="source")])
    return _Out()


# --- the table of commands -----------------------------------------------------------


def _compose_standalone(ctx: _Ctx, name: str, args: list[Value]) -> _Out:
    return _compose_cmd(ctx, name, args)


_SOURCE = "source"


def _skaffold(ctx: _Ctx, name: str, args: list[Value]) -> _Out:
    """skaffold build/run/dev/deploy: images come from skaffold.yaml (not read)."""
    p = _parse(
        args, frozenset({"-p", "--profile", "-f", "--filename", "--default-repo", "-t", "--tag"})
    )
    sub = p.pos[0].text if p.pos else ""
    note = "skaffold: images from skaffold.yaml"
    local = p.has("--push") and not p.flag("--push")
    ops: list[Operation] = []
    if sub in ("build", "run", "dev"):
        ops.append(ctx.op(Role.BUILD, f"skaffold {sub}", push=not local, load=local, note=note))
        if not local:
            ops.append(ctx.op(Role.PUSH, f"skaffold {sub}", push=True, note=note))
    if sub in ("run", "deploy", "apply"):
        ops.append(ctx.op(Role.DEPLOY, f"skaffold {sub}", note=note))
    return _Out(ops=ops)


_HANDLERS: dict[str, _Handler] = {
    # containers
    "skaffold": _skaffold,
    "chainsaw": _validate("chainsaw test"),
    "docker": _docker,
    "podman": _docker,
    "nerdctl": _docker,
    "finch": _docker,
    "docker-compose": _compose_standalone,
    "podman-compose": _compose_standalone,
    "buildah": _buildah,
    "ko": _ko,
    "pack": _pack,
    "mvn": _maven,
    "mvnw": _maven,
    "gradle": _gradle,
    "gradlew": _gradle,
    "depot": _depot,
    "gcloud": _gcloud,
    "aws": _aws,
    "az": _az,
    "crane": _crane,
    "gcrane": _crane,
    "skopeo": _skopeo,
    "oras": _oras,
    "regctl": _regctl,
    # signing and verifying
    "cosign": _cosign,
    "notation": _notation,
    "gh": _gh,
    "slsa-verifier": _slsa_verifier,
    "digestgate": _digestgate,
    # deploying
    "kubectl": _kubectl,
    "oc": _kubectl,
    "helm": _helm,
    "kustomize": _kustomize,
    "argocd": _argocd,
    "flyctl": _fly,
    "fly": _fly,
    "nomad": _nomad,
    # test runners
    "pytest": _validate("pytest"),
    "py.test": _validate("pytest"),
    "tox": _sessions("tox", frozenset({"-e", "--env"})),
    "nox": _sessions("nox", frozenset({"-s", "--session", "--sessions", "-e", "-k"})),
    "gotestsum": _validate("gotestsum"),
    "phpunit": _validate("phpunit"),
    "pest": _validate("pest"),
    "rspec": _validate("rspec"),
    "jest": _validate("jest"),
    "vitest": _validate("vitest"),
    "mocha": _validate("mocha"),
    "ava": _validate("ava"),
    "karma": _validate("karma"),
    "bats": _validate("bats"),
    "ctest": _validate("ctest"),
    "behave": _validate("behave"),
    "robot": _validate("robot"),
    "nose2": _validate("nose2"),
    "go": _validate_sub(("test", "vet")),
    "cargo": _validate_sub(("test", "nextest", "clippy", "check")),
    "dotnet": _validate_sub(("test",)),
    "playwright": _validate_sub(("test",)),
    "cypress": _validate_sub(("run",)),
    "newman": _validate_sub(("run",)),
    "k6": _validate_sub(("run",)),
    "deno": _validate_sub(("test", "lint", "check")),
    "mix": _validate_sub(("test",)),
    "swift": _validate_sub(("test",)),
    "flutter": _validate_sub(("test", "analyze")),
    "dart": _validate_sub(("test", "analyze")),
    "sbt": _validate_sub(("test",)),
    "lein": _validate_sub(("test",)),
    "stack": _validate_sub(("test",)),
    "cabal": _validate_sub(("test",)),
    "bazel": _validate_sub(("test",)),
    "bazelisk": _validate_sub(("test",)),
    "rake": _validate_sub(("test", "spec")),
    "composer": _validate_sub(("test",)),
    "npm": _npm,
    "yarn": _npm,
    "pnpm": _npm,
    "bun": _npm,
    "hatch": _hatch,
    "make": _make,
    "gmake": _make,
    "just": _make,
    "task": _make,
    # linters: source checks
    "hadolint": _validate("hadolint", _SOURCE),
    "ruff": _ruff,
    "flake8": _validate("flake8", _SOURCE),
    "pylint": _validate("pylint", _SOURCE),
    "mypy": _validate("mypy", _SOURCE),
    "pyright": _validate("pyright", _SOURCE),
    "eslint": _validate("eslint", _SOURCE),
    "golangci-lint": _validate_sub(("run",), _SOURCE),
    "shellcheck": _validate("shellcheck", _SOURCE),
    "actionlint": _validate("actionlint", _SOURCE),
    "yamllint": _validate("yamllint", _SOURCE),
    "tflint": _validate("tflint", _SOURCE),
    "markdownlint": _validate("markdownlint", _SOURCE),
    "markdownlint-cli2": _validate("markdownlint-cli2", _SOURCE),
    "stylelint": _validate("stylelint", _SOURCE),
    "biome": _validate_sub(("check", "lint", "ci"), _SOURCE),
    "checkov": _validate("checkov", _SOURCE),
    "tfsec": _validate("tfsec", _SOURCE),
    "semgrep": _validate("semgrep", _SOURCE),
    "bandit": _validate("bandit", _SOURCE),
    "zizmor": _validate("zizmor", _SOURCE),
    "black": _with_flag(("--check",)),
    "isort": _with_flag(("--check", "--check-only", "-c")),
    "prettier": _with_flag(("--check", "-c", "--list-different", "-l")),
    "pre-commit": _pre_commit,
    # image checks
    "trivy": _trivy,
    "grype": _grype,
    "snyk": _snyk,
    "dockle": _dockle,
    "container-structure-test": _structure_test,
    "dgoss": _dgoss,
    "dcgoss": _dgoss,
}


# --- scripts: sequences --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScriptImages:
    """What a script does with images: operations, and the references of commands
    that have no role (see `references`)."""

    operations: tuple[Operation, ...] = ()
    references: tuple[ImageArg, ...] = ()


def _is_local_build(op: Operation) -> bool:
    return op.role is Role.BUILD and (op.load or not op.push)


def _with_note(op: Operation, note: str) -> Operation:
    if note in op.note.split("; "):
        return op
    return replace(op, note=_join_notes(op.note, note))


def analyse_script(
    commands: Sequence[Command],
    *,
    compose: _compose.ComposeReader | None = None,
    env: Mapping[str, Value] | None = None,
) -> ScriptImages:
    """Classify a script's commands in order and apply the sequence rules (module
    docstring). The PROMOTE of `docker pull X; docker tag X Y; docker push Y` is
    located at the push; X no longer appears among the references."""
    step_env: Mapping[str, Value] = env or {}
    ops: list[Operation] = []
    refs: list[ImageArg] = []
    local: dict[str, int] = {}  # normalised tag -> index of its local BUILD in ops
    pulled: dict[str, ImageArg] = {}
    retagged: dict[str, tuple[str, Value, ImageArg | None]] = {}
    consumed: set[int] = set()  # id() of pull references promoted
    loaded = False
    ecr_source: Value | None = None
    for command in commands:
        if _inert(command):
            continue
        out = _analyse(_Ctx(command, compose, step_env), command.argv)
        pushes = dict(out.pushes)
        for i, op in enumerate(out.ops):
            if i in pushes:
                op = _sequence_push(op, pushes[i], local, pulled, retagged, loaded, consumed)
            elif i == out.ecr_put and ecr_source is not None:
                op = replace(
                    op,
                    images=(ImageArg(ecr_source, ImageUse.COPY_SOURCE), *op.images),
                    note="ecr batch-get-image + put-image",
                )
            elif op.role is not Role.BUILD and any(
                normalize_reference(a.value.text) in local for a in op.images
            ):
                op = _with_note(op, "local build")
            ops.append(op)
            if _is_local_build(op):
                for name in op.names():
                    local[normalize_reference(name.value.text)] = len(ops) - 1
        for ref in out.pulled:
            pulled[normalize_reference(ref.value.text)] = ref
        refs.extend(out.refs)
        if out.loaded:
            loaded = True
        if out.ecr_get is not None:
            ecr_source = out.ecr_get
        if out.retag is not None:
            source, targets = out.retag
            key = normalize_reference(source.text)
            if key in local:
                idx = local[key]
                extra = tuple(ImageArg(t, ImageUse.TAG) for t in targets)
                ops[idx] = replace(ops[idx], images=ops[idx].images + extra)
                for t in targets:
                    local[normalize_reference(t.text)] = idx
            else:
                kind = "pull" if key in pulled else ("load" if loaded else "unknown")
                for t in targets:
                    retagged[normalize_reference(t.text)] = (kind, source, pulled.get(key))
    kept = tuple(r for r in refs if id(r) not in consumed)
    return ScriptImages(tuple(ops), kept)


def _sequence_push(
    op: Operation,
    source: Value,
    local: Mapping[str, int],
    pulled: Mapping[str, ImageArg],
    retagged: Mapping[str, tuple[str, Value, ImageArg | None]],
    loaded: bool,
    consumed: set[int],
) -> Operation:
    key = normalize_reference(source.text)
    names = op.names()
    target = names[0].value if names else source
    engine = op.tool.split(" ", 1)[0]
    pull: ImageArg | None = None
    if key in retagged and retagged[key][0] == "pull":
        pull = retagged[key][2]
    elif key in pulled and normalize_reference(target.text) != key:
        pull = pulled[key]  # `podman push X docker://Y` of a pulled X
    if pull is not None:
        consumed.add(id(pull))
        return replace(
            op,
            role=Role.PROMOTE,
            tool=f"{engine} pull + tag + push",
            images=(
                ImageArg(pull.value, ImageUse.COPY_SOURCE),
                ImageArg(target, ImageUse.COPY_TARGET),
            ),
            note=_join_notes(op.note, f"{engine} pull + tag + push"),
        )
    if key in local:
        return _with_note(op, "local build")
    if key in retagged:
        kind, original, _ = retagged[key]
        if kind == "load":
            return _with_note(op, "loaded archive")
        return _with_note(op, f"re-tag of {original.text}")
    if loaded:
        return _with_note(op, "loaded archive")
    return op


def classify_script(
    commands: Sequence[Command],
    *,
    compose: _compose.ComposeReader | None = None,
    env: Mapping[str, Value] | None = None,
) -> list[Operation]:
    """The operations of a script, sequence rules applied (see `analyse_script`)."""
    return list(analyse_script(commands, compose=compose, env=env).operations)


def local_tags(operations: Iterable[Operation]) -> set[str]:
    """Tags of images built into the local image store by these operations (builds
    that load, or do not push), as written and normalised (`normalize_reference`):
    a reference to one of them refers to that build, not to a registry."""
    tags: set[str] = set()
    for op in operations:
        if _is_local_build(op):
            for name in op.names():
                tags.add(name.value.text)
                tags.add(normalize_reference(name.value.text))
    return tags


# --- digests printed by commands -----------------------------------------------------


def digest_source(command: Command) -> DigestSource | None:
    """What a command prints when its output is captured as a value (`$(...)`, or piped
    to `$GITHUB_OUTPUT`): a registry digest read back (READ_BACK), a buildx metadata
    digest (METADATA), a reference printed by a push (PRINTED_REF), a local image ID
    (IMAGE_ID), or None (anything else, `cat` of a file included: the caller tracks
    files)."""
    return _digest_source(list(peel(command.argv)))


def pipeline_digest_source(commands: Sequence[Command]) -> DigestSource | None:
    """`digest_source` of a pipeline whose last output is captured: the producer, with
    the filters that pick its digest: `imagetools inspect --format '{{json .Manifest}}'
    | jq -r .digest`, `docker push x | grep digest`, `cat m.json | jq
    '.["containerimage.digest"]'`."""
    if not commands:
        return None
    first = list(peel(commands[0].argv))
    found = _digest_source(first)
    if found is not None:
        return found
    later = [list(peel(c.argv)) for c in commands[1:]]
    for argv in later:
        got = _digest_source(argv)
        if got is DigestSource.METADATA:
            return got
    text = " ".join(a.text for argv in later for a in argv).lower()
    if not first or "digest" not in text:
        return None
    name = command_name(first[0])
    words = [a.text for a in first[1:] if not a.text.startswith("-")]
    if name in ("docker", "podman", "nerdctl"):
        if words[:3] == ["buildx", "imagetools", "inspect"]:
            return DigestSource.READ_BACK
        if words[:2] == ["manifest", "inspect"] and "descriptor.digest" in text:
            return DigestSource.READ_BACK
        if words[:1] == ["push"] or words[:2] == ["image", "push"]:
            return DigestSource.READ_BACK
    if name == "skopeo" and words[:1] == ["inspect"]:
        return DigestSource.READ_BACK
    if name == "oras" and (
        words[:2] == ["manifest", "fetch"] or words[:1] in (["push"], ["resolve"])
    ):
        return DigestSource.READ_BACK
    if name in ("crane", "gcrane") and words[:1] == ["manifest"] and "config" not in text:
        return None
    return None


def _format_of(args: Sequence[Value]) -> str:
    p = _parse(args, frozenset({"-f", "--format", "--query", "--template", "-t"}))
    return " ".join(p.texts("-f", "--format", "--query", "--template"))


def _digest_source(argv: Sequence[Value]) -> DigestSource | None:
    if not argv:
        return None
    name = command_name(argv[0]) or ""
    args = list(argv[1:])
    if name in ("jq", "yq", "gojq", "jaq", "python", "python3", "node") and any(
        "containerimage.digest" in a.text for a in args
    ):
        return DigestSource.METADATA
    if name in ("docker", "podman", "nerdctl", "finch"):
        return _docker_digest_source(name, args)
    if name in ("buildah",):
        words = [a.text for a in args if not a.text.startswith("-")]
        if words[:1] in (["commit"], ["bud"], ["build"]):
            return DigestSource.IMAGE_ID
        return None
    p = _parse(args, _CRANE_VALUES | _ORAS_VALUES | _SKOPEO_VALUES | _KO_VALUES)
    words = [v.text for v in p.pos]
    fmt = _format_of(args)
    if name in ("crane", "gcrane"):
        if words[:1] == ["digest"]:
            return DigestSource.READ_BACK
        if words[:1] in (["push"], ["append"], ["mutate"], ["rebase"], ["flatten"]):
            return DigestSource.PRINTED_REF
        return None
    if name == "regctl":
        if words[:2] in (["image", "digest"], ["manifest", "head"], ["manifest", "digest"]):
            return DigestSource.READ_BACK
        if words[:1] in (["image"], ["manifest"]) and "digest" in fmt.lower():
            return DigestSource.READ_BACK
        return None
    if name == "skopeo":
        if words[:1] == ["inspect"] and "Digest" in fmt:
            return DigestSource.READ_BACK
        if words[:1] == ["manifest-digest"]:
            return DigestSource.READ_BACK
        return None
    if name == "oras":
        if words[:1] == ["resolve"]:
            return DigestSource.READ_BACK
        if words[:1] in (["push"], ["attach"], ["copy"], ["cp"]) and "digest" in fmt.lower():
            return DigestSource.PRINTED_REF
        return None
    if name == "ko":
        if words[:1] in (["build"], ["publish"]) and not any(
            flat_text(a) in ("--local", "-L", "--push=false") for a in args
        ):
            return DigestSource.PRINTED_REF
        return None
    if name in ("gcloud", "aws", "az"):
        query = " ".join(
            a.text for a in args if "digest" in a.text.lower() and a.text.startswith("--")
        ) or " ".join(
            args[i + 1].text
            for i, a in enumerate(args[:-1])
            if a.text in ("--format", "--query") and "digest" in args[i + 1].text.lower()
        )
        if query:
            return DigestSource.READ_BACK
    return None


def _docker_digest_source(engine: str, args: list[Value]) -> DigestSource | None:
    i = _skip_options(args, _DOCKER_GLOBAL_VALUES)
    words = args[i:]
    if not words:
        return None
    sub = literal_text(words[0]) or ""
    rest = words[1:]
    if sub in ("image", "container") and rest:
        sub, rest = (literal_text(rest[0]) or ""), rest[1:]
        if sub in ("ls", "list"):
            sub = "images"
    if sub == "buildx" and rest:
        j = _skip_options(rest, frozenset({"--builder"}))
        sub2 = literal_text(rest[j]) if j < len(rest) else None
        tail = rest[j + 1 :]
        if sub2 == "imagetools" and tail and literal_text(tail[0]) == "inspect":
            fmt = _format_of(tail[1:])
            if "digest" in fmt.lower():
                return DigestSource.READ_BACK
            return None
        if sub2 in ("build", "b"):
            sub, rest = "build", tail
        else:
            return None
    fmt = _format_of(rest)
    if sub == "inspect":
        if "RepoDigests" in fmt or "Digest" in fmt or "digest" in fmt:
            return DigestSource.READ_BACK
        if re.search(r"\.I[Dd]\b", fmt):
            return DigestSource.IMAGE_ID
        return None
    if sub == "images":
        if "Digest" in fmt:
            return DigestSource.READ_BACK
        p = _parse(rest, frozenset({"-f", "--filter", "--format"}))
        if p.has("-q", "--quiet") or re.search(r"\.ID\b", fmt):
            return DigestSource.IMAGE_ID
        return None
    if sub == "build":
        p = _parse(rest, _BUILD_VALUES)
        if p.has("-q", "--quiet"):
            return DigestSource.IMAGE_ID
        return None
    if sub == "commit" and engine == "podman":
        return DigestSource.IMAGE_ID
    return None


__all__ = [
    "ScriptImages",
    "analyse_script",
    "classify",
    "classify_script",
    "command_name",
    "compose_arguments",
    "concat_values",
    "digest_source",
    "flat_text",
    "literal_text",
    "local_tags",
    "normalize_reference",
    "peel",
    "peel_with_env",
    "pipeline_digest_source",
    "references",
    "slice_value",
]
