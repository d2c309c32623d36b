"""Local Python scripts: the commands they run and the images they build, push and run.

`analyse_python` reads a script with libcst (imported on first use, never when this
module is imported) and returns a `PythonScript`:

* `commands`: the shell commands the script runs, as `Command`s that `commands.py`
  classifies like any shell command: `subprocess.run/call/check_call/check_output/Popen/
  getoutput/getstatusoutput` (a list is one argv; a string with `shell=True` is split
  into its simple commands, best effort, with spans inside the string literal; a string
  without `shell=True` is split into words, which is what its author meant), `os.system`,
  `os.popen`, `os.exec*`, `os.spawn*`, `os.posix_spawn*`,
  `asyncio.create_subprocess_exec/shell`, the `sh` library (`sh.docker("push", x)`,
  `sh.Command("docker")`, `from sh import docker`, keyword options, `bake`), plumbum
  (`local["docker"]["push", x]()`, `& FG`, `plumbum.cmd`), invoke and fabric
  (`c.run("...")`, `Connection(...).run`, fabric 1 `run/local/sudo`);
* `operations`: Docker SDK (docker-py) and python-on-whales calls, classified here
  with the conventions of `commands.py` (a build with push is a BUILD and a PUSH; pull,
  tag and push of the pulled image is one PROMOTE; a tag of an image built here adds a
  name to the build); the python-on-whales calls that read files (`compose`, `buildx
  bake`) become `commands` instead;
* `references`: images those libraries consume without a role (pulls, registry
  inspects, containers run or created without a command);
* `writes`: `$GITHUB_OUTPUT` / `$GITHUB_ENV` lines (`name=value` and `name<<DELIM`)
  and other files written with `open(...).write`, `print(..., file=f)`,
  `Path(...).write_text`;
* `errors` (`line N: ...`) and `opaque`: some of the script could not be read.

Values are read by constant propagation in statement order: string literals of every
form (spans exact inside the literal, escapes included), `+`, f-strings, `.format`,
`%`, `" ".join`, `.split()`, `shlex.split/join/quote`, `os.path.join`, `shutil.which`,
lists, tuples, dicts of strings, assignments at module and function level,
`list.append/extend/insert`, `+=`. Every branch of an `if` is walked; a name set to
different values by different branches is unknown afterwards, a name only one branch
sets keeps that value (optional arguments: `if push: cmd.append("--push")`). Loops run
once. `os.environ["X"]`, `os.environ.get("X")` (a default, or `... or "default"`, is
ignored) and `os.getenv("X")` are VAR pieces named `X` (resolved later from the step
environment) unless the script assigned `os.environ["X"]` before. An f-string or
`.format` placeholder whose value is not known is a VAR piece named after its
expression (`{tag}` -> `${tag}`); any other unknown value is an UNKNOWN piece holding
the expression's source. The captured output of a command (`check_output`,
`run(capture_output=True).stdout`, an `sh` call's result) is a COMMAND piece holding
the command line, as `$(...)` is in a shell script. A value's span is where the
expression is written; each piece's span is where its text is written (a constant's
definition, a placeholder, the inside of a string literal).

Local functions are followed: a call of a function defined in the script is analysed
with its arguments (four calls deep at most, no recursion). A command is reported at
the call that runs it, or, when words of it come from the arguments of a followed
call (`run("docker", "push", ref)` into `subprocess.run(args)`), at that call, where
the command is written. A function the script never calls (an invoke task, a method)
is analysed once with unknown parameters.

`guarded` (the failure cannot fail the script): `run`, `call`, `Popen`, `os.system`,
`spawn*` and `create_subprocess_*` whose result is discarded, or assigned to a name
that is never used (reading only `.stdout`/`.stderr` does not count as a use);
`os.popen` always; inside `try:` whose handler swallows the error (catches everything
or `CalledProcessError`-like errors and does not raise or exit) or
`contextlib.suppress(...)`; sh calls with `_ok_code` or `_bg`, invoke calls with
`warn=True`. `check_call`, `check_output`, `run(check=True)` and `os.exec*` are not
guarded. Inside a shell string, commands that are not the last (without `set -e`), on
the left of `||`, before `|`, in an `if`/`while` condition or in the background are
guarded too.

Bounds: the standard library `ast` parser checks the syntax first (a syntax error
gives `errors` and an opaque script, nothing else); a script that names none of the
APIs above and opens no file for writing, or imports none of those libraries and opens
files only at paths the walk cannot read as strings (`_Flow` traces, with `ast`, what
each name may hold), cannot report anything and is not parsed further (the analyser's
own errors are not looked for in it); top-level statements nested
deeper than `MAX_NESTING` are skipped (libcst recurses, and its native parser can
crash on very deep input); a script over `SMALL_SCRIPT_CHARS` is cut into blocks of
top-level statements and only the blocks that can matter (they mention a process,
Docker or environment API, or a name bound by such a block, or bind a name such a
block uses) are parsed with libcst, at most `MAX_ANALYSED_CHARS` of them; the walk
stops after `MAX_STEPS` statements. Anything skipped makes the script opaque.

Not modelled: attributes of `self` and other objects, calls into other modules,
`functools.partial`, plumbum pipes, `global` assignments made inside functions.
"""

from __future__ import annotations

import ast
import bisect
import importlib
import re
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypeAlias

from digestgate.cache import note_probe
from digestgate.facts import (
    Command,
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
from digestgate.span import Locate, Span, file_locator


class _Lazy:
    """Stands for a module until its first attribute is asked for (libcst is slow to
    import), then imports it and puts it in its place among this module's names."""

    def __init__(self, name: str, bound_as: str) -> None:
        self._name = name
        self._bound_as = bound_as

    def __getattr__(self, attr: str) -> Any:
        module = importlib.import_module(self._name)
        globals()[self._bound_as] = module
        return getattr(module, attr)


if TYPE_CHECKING:
    import libcst as cst
# Set through `globals()`, not in an `else:` branch, which mypy (and so a build compiled
# with mypyc) takes for unreachable code.
globals()["cst"] = _Lazy("libcst", "cst")

# libcst types for dataclass fields, named by string: a build compiled with mypyc
# evaluates a dataclass's annotations when the module is imported, and `cst.Module`
# there would import libcst with it.
_FunctionDef: TypeAlias = "cst.FunctionDef"
_CSTModule: TypeAlias = "cst.Module"

__all__ = ["PythonScript", "analyse_python", "module_path"]

SMALL_SCRIPT_CHARS = 64_000
"""Scripts up to this size are parsed whole with libcst."""
MAX_ANALYSED_CHARS = 100_000
"""At most this much of a larger script (its relevant statements) is parsed with libcst."""
MAX_NESTING = 80
"""Top-level statements nested deeper than this (in `ast` nodes) are not analysed."""
MAX_STEPS = 100_000
"""Statements walked, calls followed included."""
MAX_INLINE_DEPTH = 4
_MAX_EVAL_DEPTH = 150
_MAX_ERRORS = 20


@dataclass(frozen=True, slots=True)
class PythonScript:
    """What a Python script does, as far as can be read without running it."""

    commands: tuple[Command, ...] = ()  # for `commands.classify_script`
    operations: tuple[Operation, ...] = ()  # Docker SDK and python-on-whales
    errors: tuple[str, ...] = ()  # "line N: ..."
    opaque: bool = False
    references: tuple[ImageArg, ...] = ()  # consumed without a role (pull, inspect, ...)
    writes: tuple[OutputWrite, ...] = ()  # `$GITHUB_OUTPUT` / `$GITHUB_ENV` / file writes


def analyse_python(source: str, path: str, locate: Locate | None = None) -> PythonScript:
    """Read a Python script (`path` is repository-relative). Never raises.

    `locate(offset, length)` maps a character range of `source` to its file span; by
    default `source` is the whole file. With `locate` (a `run:` body with `shell:
    python`), `${{ }}` placeholders are read as GitHub substitutes them: as EXPR pieces
    inside string literals, as unknown names elsewhere.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escapes in the script are not ours
            return _analyse(source, path, locate)
    except Exception as exc:  # a bug here must not stop the lint
        return PythonScript(
            errors=(f"line 1: the script could not be analysed ({type(exc).__name__})",),
            opaque=True,
        )


_MODULE = re.compile(r"[^\W\d]\w*(\.[^\W\d]\w*)*")


def module_path(module: str, root: Path) -> str | None:
    """`python -m pkg.mod`: the repository-relative path of `pkg/mod.py` or
    `pkg/mod/__main__.py` under `root` (or under `root/src`), None when absent."""
    if not _MODULE.fullmatch(module):
        return None
    rel = module.replace(".", "/")
    for base in ("", "src/"):
        for candidate in (f"{base}{rel}.py", f"{base}{rel}/__main__.py"):
            note_probe(root, candidate)
            try:
                if (root / candidate).is_file():
                    return candidate
            except OSError:
                continue
    return None


# --------------------------------------------------------------------------- planning


def _line_starts(text: str) -> list[int]:
    """Offsets where lines start, as Python's tokenizer counts lines (\\r\\n, \\r, \\n)."""
    starts = [0]
    starts.extend(m.end() for m in re.finditer(r"\r\n|\r|\n", text))
    return starts


@dataclass
class _Chunk:
    first: int  # 1-based lines, inclusive
    last: int
    nodes: list[ast.stmt]


@dataclass
class _Plan:
    regions: list[list[tuple[int, int]]] = field(default_factory=list)  # chunk line ranges
    errors: list[str] = field(default_factory=list)
    opaque: bool = False


_RELEVANT_MODULES = frozenset(
    {"subprocess", "os", "sh", "plumbum", "invoke", "fabric", "docker", "python_on_whales"}
    | {"asyncio", "shlex", "posixpath", "contextlib"}
)
_TRIGGERS = frozenset(
    {"subprocess", "os", "sh", "plumbum", "invoke", "fabric", "docker", "python_on_whales"}
    | {"asyncio", "shlex", "environ", "getenv", "system", "popen", "Popen", "run", "call"}
    | {"check_call", "check_output", "getoutput", "getstatusoutput", "local", "sudo"}
    | {"Command", "DockerClient", "APIClient", "from_env", "Connection", "Context"}
    | {"create_subprocess_exec", "create_subprocess_shell", "posix_spawn", "posix_spawnp"}
    | {"execv", "execve", "execvp", "execvpe", "execl", "execle", "execlp", "execlpe"}
    | {"spawnv", "spawnve", "spawnvp", "spawnvpe", "spawnl", "spawnle", "spawnlp", "spawnlpe"}
)
_IDENT = re.compile(r"[^\W\d]\w*")


def _plan(text: str) -> _Plan | str:
    """Which line ranges to parse with libcst; a string is a fatal error."""
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        return f"line {exc.lineno or 1}: {exc.msg}"
    except (RecursionError, MemoryError):
        return "line 1: the script is nested too deeply to be parsed"
    except ValueError as exc:  # null bytes (Python < 3.12)
        return f"line 1: {exc}"
    chunks: list[_Chunk] = []
    for node in tree.body:
        first = node.lineno
        for deco in getattr(node, "decorator_list", ()):
            first = min(first, deco.lineno)
        last = node.end_lineno or node.lineno
        if chunks and first <= chunks[-1].last:
            chunks[-1].last = max(chunks[-1].last, last)
            chunks[-1].nodes.append(node)
        else:
            chunks.append(_Chunk(first, last, [node]))
    starts = _line_starts(text)

    plan = _Plan()
    if len(text) <= SMALL_SCRIPT_CHARS:
        may = _may_report(text, tree.body) and (not _FLOW_CHECK or _can_report(tree))
        keep = [may] * len(chunks)
    else:
        # blocks of consecutive statements, so that selecting stays cheap
        blocks: list[list[int]] = [[]]
        size = 0
        for i, c in enumerate(chunks):
            if size >= _BLOCK_CHARS:
                blocks.append([])
                size = 0
            blocks[-1].append(i)
            size += starts[min(c.last, len(starts) - 1)] - starts[c.first - 1]
        texts = [
            text[starts[chunks[b[0]].first - 1] : _end_of(chunks[b[-1]].last, starts, text)]
            for b in blocks
        ]
        keep = [False] * len(chunks)
        for block, kept in zip(blocks, _select(texts), strict=True):
            for i in block:
                keep[i] = kept
    total = 0
    skipped = False
    for i, c in enumerate(chunks):
        if not keep[i]:
            continue
        size = _end_of(c.last, starts, text) - starts[c.first - 1]
        if total + size > MAX_ANALYSED_CHARS:
            keep[i] = False
            if not skipped:
                plan.errors.append(
                    f"line {c.first}: the script is too large: this statement and others"
                    " after it are not analysed"
                )
            skipped = plan.opaque = True
            continue
        if _too_deep(c.nodes, MAX_NESTING):
            keep[i] = False
            plan.errors.append(f"line {c.first}: this statement is nested too deeply to analyse")
            plan.opaque = True
            continue
        total += size
    region: list[tuple[int, int]] = []
    for i, c in enumerate(chunks):
        if keep[i]:
            region.append((c.first, c.last))
        elif region:
            plan.regions.append(region)
            region = []
    if region:
        plan.regions.append(region)
    return plan


def _end_of(line: int, starts: list[int], text: str) -> int:
    """The offset just after 1-based `line`."""
    return starts[line] if line < len(starts) else len(text)


def _too_deep(nodes: Iterable[ast.AST], limit: int) -> bool:
    """Whether any node is nested deeper than `limit` (an `elif` counts a third: libcst
    recurses less for them)."""
    stack: list[tuple[ast.AST, float]] = [(n, 1.0) for n in nodes]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        elif_node = (
            node.orelse[0]
            if isinstance(node, ast.If)
            and len(node.orelse) == 1
            and isinstance(node.orelse[0], ast.If)
            else None
        )
        for name in node._fields:  # `ast.iter_child_nodes`, without its generators
            value = getattr(node, name, None)
            for child in value if isinstance(value, list) else (value,):
                if isinstance(child, ast.AST):
                    stack.append((child, depth + (0.34 if child is elif_node else 1.0)))
    return False


_BLOCK_CHARS = 2_000
_BINDS = re.compile(
    r"(?m)^(?:async[ \t]+)?(?:def|class)[ \t]+([^\W\d]\w*)"
    r"|^([^\W\d]\w*(?:[ \t]*,[ \t]*[^\W\d]\w*)*)[ \t]*(?::[^=\n]*)?(?:[-+*/|&%@^]|//|<<|>>)?=(?!=)"
    r"|^(?:from[ \t]+[\w.]+[ \t]+)?import[ \t]+\(?([^\n#;)]+)"
)
_RELEVANT_IMPORT = re.compile(
    r"(?m)^(?:from[ \t]+(?:" + "|".join(sorted(_RELEVANT_MODULES)) + r")\b"
    r"|import[ \t]+[^\n#;]*\b(?:" + "|".join(sorted(_RELEVANT_MODULES)) + r")\b)"
)


def _binds(text: str) -> set[str]:
    """Names the top-level lines of `text` bind (read from the text, generously)."""
    names: set[str] = set()
    for m in _BINDS.finditer(text):
        if m.group(1):
            names.add(m.group(1))
        elif m.group(2):
            names.update(n.strip() for n in m.group(2).split(","))
        elif m.group(3):
            for alias in m.group(3).split(","):
                words = alias.split()
                if words:
                    names.add(words[-1] if len(words) == 3 else words[0].split(".")[0])
    return names


def _select(texts: list[str]) -> list[bool]:
    """The blocks of top-level statements of a large script that can matter.

    A block is *active* when it mentions an interesting name (a process, Docker or
    environment API, or a name an active block binds); active blocks and the blocks
    that bind the names they use (transitively) are kept."""
    n = len(texts)
    idents = [set(_IDENT.findall(t)) for t in texts]
    binds = [_binds(t) for t in texts]
    mentions: dict[str, list[int]] = {}
    binders: dict[str, list[int]] = {}
    for i in range(n):
        for name in idents[i]:
            mentions.setdefault(name, []).append(i)
        for name in binds[i]:
            binders.setdefault(name, []).append(i)
    keep = [False] * n
    active = [False] * n
    todo: deque[int] = deque()
    interesting: set[str] = set()

    for i, t in enumerate(texts):
        if _RELEVANT_IMPORT.search(t):
            _push(i, True, active, keep, todo)
    # (no nested functions here: compiled with mypyc, closures can be a reference cycle)
    for name in _TRIGGERS:
        for i in _newly_interesting(name, interesting, mentions):
            _push(i, True, active, keep, todo)
    needed: set[str] = set()
    while todo:
        i = todo.popleft()
        if active[i]:
            for name in binds[i]:
                for j in _newly_interesting(name, interesting, mentions):
                    _push(j, True, active, keep, todo)
        for name in idents[i] - needed:
            needed.add(name)
            for j in binders.get(name, ()):
                _push(j, False, active, keep, todo)
    return keep


def _newly_interesting(
    name: str, interesting: set[str], mentions: dict[str, list[int]]
) -> list[int]:
    """`_select`: the blocks that mention `name`, the first time it is interesting."""
    if name in interesting:
        return []
    interesting.add(name)
    return mentions.get(name, [])


def _push(i: int, forward: bool, active: list[bool], keep: list[bool], todo: deque[int]) -> None:
    """`_select`: block `i` kept, and active when reached `forward` (each change queued)."""
    if forward and not active[i]:
        active[i] = True
        todo.append(i)
    if not keep[i]:
        keep[i] = True
        todo.append(i)


# What the walk can report comes from calls reached through these names only: the
# process, Docker and file APIs (`_ref_call`, `_attr`, `_file_method`, `_builtin`).
# `os.path`, `os.environ`, `shlex` and the like only make values, which reach those
# calls through names. `print` writes only to what `open` opened.
_EFFECTS = frozenset(
    {"subprocess", "sh", "plumbum", "invoke", "fabric", "docker", "python_on_whales"}
    | {"system", "popen", "posix_spawn", "posix_spawnp", "create_subprocess_exec"}
    | {"create_subprocess_shell", "write_text", "write_bytes"}
    | {"execv", "execve", "execvp", "execvpe", "execl", "execle", "execlp", "execlpe"}
    | {"spawnv", "spawnve", "spawnvp", "spawnvpe", "spawnl", "spawnle", "spawnlp", "spawnlpe"}
)


def _may_write(node: ast.Call) -> bool:
    """Whether a call of something named `open` can open a file for writing, as
    `_builtin` (`open(path, mode)`) and `_file_method` (`path.open(mode)`) read it."""
    at = 0 if isinstance(node.func, ast.Attribute) else 1
    modes = [k.value for k in node.keywords if k.arg == "mode" or k.arg is None]
    if len(node.args) > at:
        modes.append(node.args[at])
    if any(isinstance(a, ast.Starred) for a in node.args):
        return True
    return any(
        not (isinstance(m, ast.Constant) and isinstance(m.value, str))
        or bool(set(m.value) & set("wax"))
        for m in modes
    )


def _writes(nodes: Sequence[ast.stmt], text: str) -> bool:
    """Whether a statement can write a file through `open`: some `open` in its text is
    not a call that only reads."""
    total = len(re.findall(r"(?<!\w)open\b", text))
    if not total:
        return False
    reads = 0
    for top in nodes:
        for node in ast.walk(top):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if name == "open" and not _may_write(node):
                    reads += 1
    return reads < total


def _may_report(text: str, nodes: Sequence[ast.stmt]) -> bool:
    """Whether the walk of a script can report anything: it mentions a name in
    `_EFFECTS` (invoke and fabric included, whose `c.run(...)` is a command on any
    object) or may write a file with `open`. Values reach the reporting calls only
    through names, so a script without any of them reports nothing: it is not parsed
    with libcst (which could only have shown an error of the analyser, or a limit)."""
    if not _EFFECTS.isdisjoint(_IDENT.findall(text)):
        return True
    return _writes(nodes, text)


# `_may_report` keeps every script that names an effect, but most of those it keeps only
# write files whose path the walk cannot know (`open(args.output, "w")`, `root / "x"`)
# or mention a word such as `docker`, and report nothing. `_Flow` follows, with `ast`,
# where the values a report needs could come from, so that those are not parsed either.
_PROCESS_MODULES = frozenset(
    {"subprocess", "sh", "plumbum", "invoke", "fabric", "docker", "python_on_whales", "builtins"}
)
_ASYNC_EFFECTS = frozenset({"create_subprocess_exec", "create_subprocess_shell"})
_OS_EFFECTS = _EFFECTS - _PROCESS_MODULES - _ASYNC_EFFECTS - {"write_text", "write_bytes"}
_PATH_TYPES = frozenset({"Path", "PurePath", "PosixPath"})
_PATH_WRITES = frozenset({"open", "write_text", "write_bytes"})
# What a value may be, as far as a file write needs it: a string (`_Str`), a container
# whose items may be anything (`_List`, `_Dict`, `os.environ`), a `pathlib` path
# (`_File` with a path), `os.environ` itself (writing to it changes what the walk reads
# from the environment), a step file variable (`os.environ["GITHUB_STEP_SUMMARY"]`: a
# string `_open` does not write to, as for every `$GITHUB_*` but `$GITHUB_OUTPUT` and
# `$GITHUB_ENV`; a string as soon as anything is made of it). `_ANY`: anything.
_STR, _CONTAINER, _PATH, _ENVIRON, _STEP = 1, 2, 4, 8, 16
_ANY = _STR | _CONTAINER | _PATH | _ENVIRON | _STEP
# What calls may give, by the name of the function or method called (`_str_method`,
# `_method`, `_ref_call`, `_builtin`); `get` and `which` give back what they were given.
_GIVES = {
    **dict.fromkeys(("join", "format", "strip", "rstrip", "lstrip", "decode", "encode"), _STR),
    **dict.fromkeys(("setdefault", "getenv", "quote", "str", "check_output", "getoutput"), _STR),
    **dict.fromkeys(("split", "rsplit", "splitlines", "copy", "getstatusoutput"), _CONTAINER),
    **dict.fromkeys(("list", "tuple"), _CONTAINER),
    "get": _ANY,
    "which": _ANY,
}

_Def = ast.FunctionDef | ast.AsyncFunctionDef
_CALLED, _ANNOTATION = 1, 2  # how `_Flow` meets a node: called, in an annotation
_MAX_ROUNDS = 50


class _Flow:
    """Whether the walk of a script can report anything, read with `ast`.

    A report needs a process, Docker or remote library (imported: `_PROCESS_MODULES`,
    or `os` and `asyncio` with an effect named), or a file opened for writing: `open`
    (`_builtin`) of a string path, or `.open`/`.write_text`/`.write_bytes` of a
    `pathlib` path (`_file_method`), which `Path` (`_ref_call`) makes only of a string.
    So the question is whether the path of such a call may be a string (or a path).

    `kinds` answers it for an expression as `_Analyser._eval_node` evaluates it: which
    of `_STR`, `_CONTAINER`, `_PATH` it may give. Names are read for the whole script
    at once, every binding of a name counting for every use of it, in any function and
    in any order: assignments, `with ... as`, imports (see `_Analyser._bind`,
    `_import`), parameters (what any call of a function of that name passes, and the
    defaults; a function called through another name passes to all), and what a local
    function returns. Loop and `except` targets are always unknown to the walk; an
    unpacking target may be anything its value contains. Everything else evaluates to
    an unknown value, or to something (a module, a function) that is not a string.
    A call the walk cannot follow gives an unknown value; a name called that is not a
    function of the script nor an import (a parameter, a variable) may give anything.

    A value written through a name (`f = open(p, "w")`, `g = open`, `m = path.write_text`)
    comes from one of those calls, or from `open` or a method used without a call, which
    count as a write. Annotations are never evaluated by the walk."""

    def __init__(self, tree: ast.Module) -> None:
        self.names: dict[str, int] = {}  # what each name may hold
        self.returns: dict[str, int] = {}  # local function -> what its calls may give
        self.bindings: list[tuple[ast.expr, ast.expr]] = []  # (target, value)
        self.defs: dict[str, list[_Def]] = {}
        self.results: dict[str, list[ast.expr]] = {}  # local function -> returned values
        self.imported: dict[str, set[str]] = {}  # bound name -> last parts of what it is
        self.variables: set[str] = set()  # names bound by assignments and parameters
        self.calls: list[ast.Call] = []
        self.modules: set[str] = set()  # top-level packages imported
        self.attributes: set[str] = set()  # attribute names, names imported from
        self.bare: set[str] = set()  # `open`, `print`, path methods used but not called
        self.settled = True  # False: `_settle` gave up
        self.step_keys = False  # a `"GITHUB_..."` string is written
        # (node, enclosing functions, how it is used: _CALLED, _ANNOTATION or 0)
        todo: list[tuple[ast.AST, tuple[str, ...], int]] = [(tree, (), 0)]
        while todo:  # depth first, parents before their children
            node, owners, use = todo.pop()
            if isinstance(node, ast.Name):
                if not use and node.id in ("open", "print"):
                    self.bare.add(node.id)
                continue
            if isinstance(node, ast.Constant):
                if isinstance(node.value, str) and node.value.startswith("GITHUB_"):
                    self.step_keys = True
                continue
            if isinstance(node, ast.Attribute):
                self.attributes.add(node.attr)
                if not use and node.attr in _PATH_WRITES:
                    self.bare.add("." + node.attr)
            elif isinstance(node, ast.Call):
                self.calls.append(node)
            elif isinstance(node, ast.Assign):
                self.bindings.extend((target, node.value) for target in node.targets)
            elif isinstance(node, (ast.AnnAssign, ast.AugAssign, ast.NamedExpr)):
                if node.value is not None:
                    self.bindings.append((node.target, node.value))
            elif isinstance(node, ast.withitem):
                if node.optional_vars is not None:
                    self.bindings.append((node.optional_vars, node.context_expr))
            elif isinstance(node, ast.Return):
                if node.value is not None:
                    for owner in owners:  # a nested function's returns count for all
                        self.results[owner].append(node.value)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self._def(node)
                owners = (*owners, node.name)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                self._import(node)
            for name in _child_fields(type(node)):
                value = getattr(node, name, None)
                inner = _ANNOTATION if name in ("annotation", "returns") else use & _ANNOTATION
                if isinstance(value, list):
                    todo.extend((v, owners, inner) for v in value if isinstance(v, ast.AST))
                elif isinstance(value, ast.AST):
                    called = _CALLED if name == "func" and isinstance(node, ast.Call) else 0
                    todo.append((value, owners, inner | called))
        self.targets = [(_bound(target), target, value) for target, value in self.bindings]
        for names, _, _ in self.targets:
            self.variables.update(names)
        # Step file variables are told apart only when the script cannot set them
        # (`os.environ[...] = ...`), which the first settling tells.
        self.steps = False
        given = dict(self.names)
        self._settle()
        if self.step_keys and self.settled and not self._sets_environ():
            self.steps = True
            self.names, self.returns = dict(given), {}
            self._settle()

    def _def(self, node: _Def) -> None:
        self.defs.setdefault(node.name, []).append(node)
        self.results.setdefault(node.name, [])
        args = node.args
        for arg in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg):
            if arg is not None:
                self.variables.add(arg.arg)
        for arg in (args.vararg, args.kwarg):  # `*args` and `**kwargs`: a list, a dict
            if arg is not None:
                self.names[arg.arg] = self.names.get(arg.arg, 0) | _CONTAINER

    def _import(self, node: ast.Import | ast.ImportFrom) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                self.modules.add(parts[0])
                self.attributes.update(parts)
                bound = alias.asname or parts[0]
                self.imported.setdefault(bound, set()).add(parts[-1] if alias.asname else bound)
            return
        if node.module is not None and not node.level:
            self.modules.add(node.module.split(".")[0])
        for alias in node.names:
            self.attributes.add(alias.name)
            bound = alias.asname or alias.name
            self.imported.setdefault(bound, set()).add(alias.name)
            if alias.name == "environ":
                self.names[bound] = self.names.get(bound, 0) | _CONTAINER | _ENVIRON

    def _add(self, name: str, bits: int) -> bool:
        if bits & ~self.names.get(name, 0):
            self.names[name] = self.names.get(name, 0) | bits
            return True
        return False

    def _settle(self) -> None:
        """Propagate until nothing changes (each round only adds bits); after
        `_MAX_ROUNDS`, everything may be anything."""
        changed = True
        rounds = 0
        while changed:
            rounds += 1
            if rounds > _MAX_ROUNDS:
                self.settled = False
                return
            changed = False
            for names, target, value in self.targets:
                bits = self.kinds(value)
                if not isinstance(target, ast.Name):  # unpacking: items are anything
                    bits = _ANY if bits & _CONTAINER else 0
                for name in names:
                    changed |= self._add(name, bits)
            to_all = _Passed()  # what values called (any local function) are passed
            for call in self.calls:
                func = call.func
                if isinstance(func, (ast.Attribute, ast.Lambda)):
                    continue  # a method or a library: never a local function
                if isinstance(func, ast.Name) and func.id not in self.variables:
                    if func.id in self.defs:
                        changed |= self._pass(self.defs[func.id], self._passed(call))
                    continue  # else a builtin or an import
                to_all.merge(self._passed(call))
            for name, defs in self.defs.items():
                changed |= self._pass(defs, to_all)
                bits = 0
                for value in self.results[name]:
                    bits |= self.kinds(value)
                if bits & ~self.returns.get(name, 0):
                    self.returns[name] = self.returns.get(name, 0) | bits
                    changed = True

    def _sets_environ(self) -> bool:
        """Whether an assignment may set a variable of `os.environ` (`_bind_subscript`)."""
        return any(
            isinstance(node, ast.Subscript)
            and isinstance(node.ctx, ast.Store)
            and self.kinds(node.value) & _ENVIRON
            for _, target, _ in self.targets
            for node in ast.walk(target)
        )

    def _step(self, environ: ast.expr | None, key: ast.expr | None) -> bool:
        """Whether `environ[key]` (`.get(key)`, `getenv(key)`: `_getenv`) reads a step
        file variable: `environ` is `os.environ` or the walk does not know it."""
        return (
            self.steps
            and isinstance(key, ast.Constant)
            and isinstance(key.value, str)
            and key.value.startswith("GITHUB_")
            and key.value not in ("GITHUB_OUTPUT", "GITHUB_ENV")
            and (
                environ is None
                or (isinstance(environ, ast.Attribute) and environ.attr == "environ")
                or (isinstance(environ, ast.Name) and self._imported(environ.id, "environ"))
            )
        )

    def _imported(self, name: str, what: str) -> bool:
        """Whether `name` only ever holds an import of something called `what`."""
        return self.imported.get(name) == {what} and name not in self.variables | set(self.defs)

    def _passed(self, call: ast.Call) -> _Passed:
        """What `call` passes (`_Analyser._args`): positional arguments by position
        until a `*x` one, keyword arguments by name, anything by `**x`."""
        passed = _Passed()
        for arg in call.args:
            if isinstance(arg, ast.Starred):
                passed.spread = True
                break
            passed.positions.append(self.kinds(arg))
        for keyword in call.keywords:
            if keyword.arg is None:
                passed.anything = _ANY
            else:
                passed.by_name[keyword.arg] = self.kinds(keyword.value)
        return passed

    def _pass(self, defs: list[_Def], passed: _Passed) -> bool:
        """Arguments and defaults given to the parameters of `defs` (`_bind_params`)."""
        changed = False
        for func in defs:
            args = func.args
            positional = [*args.posonlyargs, *args.args]
            defaults = dict(
                zip(
                    [a.arg for a in positional[len(positional) - len(args.defaults) :]],
                    args.defaults,
                    strict=True,
                )
            )
            for arg, default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
                if default is not None:
                    defaults[arg.arg] = default
            for i, param in enumerate((*positional, *args.kwonlyargs)):
                bits = passed.anything | passed.by_name.get(param.arg, 0)
                if i < len(positional):
                    if i < len(passed.positions):
                        bits |= passed.positions[i]
                    elif passed.spread:
                        bits = _ANY
                default = defaults.get(param.arg)
                if default is not None:
                    bits |= self.kinds(default)
                changed |= self._add(param.arg, bits)
        return changed

    def kinds(self, node: ast.expr) -> int:
        """What evaluating `node` may give (see `_Analyser._eval_node`)."""
        if isinstance(node, ast.Constant):
            return _STR if isinstance(node.value, (str, bytes)) else 0
        if isinstance(node, ast.JoinedStr):
            return _STR
        if isinstance(node, ast.Name):
            return self.names.get(node.id, 0)
        if isinstance(node, ast.Attribute):  # `_attr`: a process's output, `os.environ`
            if node.attr == "environ":
                return _CONTAINER | _ENVIRON
            return _STR if node.attr == "stdout" else 0
        if isinstance(node, ast.Subscript):
            if self._step(node.value, node.slice):
                return _STEP
            return _ANY if self.kinds(node.value) & _CONTAINER else 0
        if isinstance(node, ast.Call):
            return self._gives(node)
        if isinstance(node, ast.BinOp):  # `_binop`: `_add` and `_percent`
            if isinstance(node.op, ast.Add):
                bits = _made(self.kinds(node.left) | self.kinds(node.right))
                return bits & (_STR | _CONTAINER)
            return _made(self.kinds(node.left)) & _STR if isinstance(node.op, ast.Mod) else 0
        if isinstance(node, ast.IfExp):  # a branch's string, as it is
            return (self.kinds(node.body) | self.kinds(node.orelse)) & (_STR | _STEP)
        if isinstance(node, ast.BoolOp):  # `or`: its left side when it is a variable
            bits = 0
            for value in node.values:
                bits |= self.kinds(value)
            return bits & (_STR | _STEP) if isinstance(node.op, ast.Or) else 0
        if isinstance(node, (ast.NamedExpr, ast.Await)):
            return self.kinds(node.value)
        if isinstance(node, ast.Starred):
            return _ANY
        if isinstance(node, (ast.List, ast.Tuple, ast.Dict)):
            return _CONTAINER
        return 0  # numbers, comparisons, comprehensions, sets, lambdas: unknown

    def _gives(self, call: ast.Call) -> int:
        """What a call may give: a local function what it returns, a library function
        or method what `_GIVES` says, `Path` of a string a path."""
        func = call.func
        bits = 0
        key = call.args[0] if call.args else None
        if isinstance(func, ast.Attribute):
            if (func.attr in ("get", "setdefault") and self._step(func.value, key)) or (
                func.attr == "getenv" and self._step(None, key)
            ):
                return _STEP
            names = {func.attr}
        elif isinstance(func, ast.Name):
            if self._imported(func.id, "getenv") and self._step(None, key):
                return _STEP
            if func.id in self.variables:
                return _ANY  # a value called: it may be anything
            names = {func.id} | self.imported.get(func.id, set())
            bits = self.returns.get(func.id, 0)
        elif isinstance(func, ast.Lambda):
            return 0
        else:
            return _ANY
        for name in names:
            bits |= _GIVES.get(name, 0)
        path = not names.isdisjoint(_PATH_TYPES) and key is not None
        if path and self.kinds(key) & (_STR | _STEP):  # type: ignore[arg-type]
            bits |= _PATH  # a path `print(file=...)` writes to, whatever its name
        return bits

    def can_report(self) -> bool:
        if not self.settled or not self.modules.isdisjoint(_PROCESS_MODULES):
            return True
        if "open" in self.bare:
            return True
        if "os" in self.modules and not _OS_EFFECTS.isdisjoint(self.attributes):
            return True
        if "asyncio" in self.modules and not _ASYNC_EFFECTS.isdisjoint(self.attributes):
            return True
        paths = "pathlib" in self.modules
        if paths and not self.bare.isdisjoint({"print", ".open", ".write_text", ".write_bytes"}):
            return True
        for call in self.calls:
            func = call.func
            if isinstance(func, ast.Name) and func.id == "open":
                if call.args and _may_write(call) and self.kinds(call.args[0]) & _STR:
                    return True
            elif (
                paths
                and isinstance(func, ast.Attribute)
                and func.attr in _PATH_WRITES
                and self.kinds(func.value) & _PATH
                and (func.attr != "open" or _may_write(call))
            ):
                return True
            if paths and any(  # `print(..., file=path)`
                (k.arg == "file" and self.kinds(k.value) & _PATH)
                or (k.arg is None and self._may_print(func))
                for k in call.keywords
            ):
                return True
        return False

    def _may_print(self, func: ast.expr) -> bool:
        """Whether a call of `func` may be a call of `print` (`_builtin`)."""
        if isinstance(func, ast.Name):
            return func.id == "print" or func.id in self.variables
        return not isinstance(func, (ast.Attribute, ast.Lambda))


def _made(bits: int) -> int:
    """What a string made of values of `bits` may be: a step file variable is no longer
    only that variable."""
    return bits | _STR if bits & _STEP else bits


@dataclass
class _Passed:
    """What calls pass to a local function, as `_Flow` bits (see `_Flow._passed`)."""

    positions: list[int] = field(default_factory=list)
    spread: bool = False  # a `*x`: the later positions are not known
    by_name: dict[str, int] = field(default_factory=dict)
    anything: int = 0  # `_ANY` for a `**x`

    def merge(self, other: _Passed) -> None:
        for i, bits in enumerate(other.positions):
            if i < len(self.positions):
                self.positions[i] |= bits
            else:
                self.positions.append(bits)
        self.spread = self.spread or other.spread
        for name, bits in other.by_name.items():
            self.by_name[name] = self.by_name.get(name, 0) | bits
        self.anything |= other.anything


_CHILD_FIELDS: dict[type[ast.AST], tuple[str, ...]] = {}


def _child_fields(kind: type[ast.AST]) -> tuple[str, ...]:
    """The fields of an `ast` node type that may hold nodes (`ctx` and plain values
    such as names and numbers left out)."""
    names = _CHILD_FIELDS.get(kind)
    if names is None:
        plain = {"ctx", "id", "attr", "arg", "name", "names", "module", "level", "kind"}
        plain |= {"op", "ops"}  # operators
        plain |= {"value"} if kind is ast.Constant else set()
        names = _CHILD_FIELDS[kind] = tuple(f for f in kind._fields if f not in plain)
    return names


def _bound(target: ast.expr) -> list[str]:
    """The names an assignment target binds (not those of `x[i]` or `x.a`)."""
    return [
        n.id for n in ast.walk(target) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    ]


_FLOW_CHECK = True
"""Whether `_can_report` may spare libcst a script (tests turn it off to compare; a
module variable, which a build compiled with mypyc still reads at each use)."""


def _can_report(tree: ast.Module) -> bool:
    """`_Flow.can_report`, or True when the script is too deep to follow with `ast`."""
    try:
        return _Flow(tree).can_report()
    except RecursionError:
        return True


def _mask_placeholders(text: str) -> tuple[str, list[tuple[int, int, str]]]:
    """`${{ }}` replaced by `_` runs of the same length (newlines kept)."""
    from digestgate.expressions import find_placeholders

    found = [(p.start, p.end, text[p.start : p.end]) for p in find_placeholders(text)]
    if not found:
        return text, []
    out: list[str] = []
    at = 0
    for start, end, original in found:
        out.append(text[at:start])
        out.append(re.sub(r"[^\r\n]", "_", original))
        at = end
    out.append(text[at:])
    return "".join(out), found


# --------------------------------------------------------------------------- literals


class _Lit:
    """A string literal's value with the source offsets of each of its characters."""

    __slots__ = ("ends", "starts", "text")

    def __init__(self, text: str, starts: list[int], ends: list[int]) -> None:
        self.text = text
        self.starts = starts
        self.ends = ends


_ESCAPES = {
    "\\": "\\",
    "'": "'",
    '"': '"',
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
}


def _decode(body: str, base: int, *, raw: bool, fstring: bool, is_bytes: bool) -> _Lit | None:
    """Decode a literal's body (`base`: its offset), or None when it cannot be."""
    import unicodedata

    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    i = 0
    n = len(body)
    while i < n:
        c = body[i]
        start = i
        if c == "\\" and not raw and i + 1 < n:
            e = body[i + 1]
            if e == "\n":
                i += 2
                continue
            if e == "\r":
                i += 3 if body[i + 2 : i + 3] == "\n" else 2
                continue
            if e in _ESCAPES:
                ch, i = _ESCAPES[e], i + 2
            elif e in "01234567":
                j = i + 1
                while j < min(n, i + 4) and body[j] in "01234567":
                    j += 1
                ch, i = chr(int(body[i + 1 : j], 8)), j
            elif e == "x" or (not is_bytes and e in "uU"):
                size = {"x": 2, "u": 4, "U": 8}[e]
                digits = body[i + 2 : i + 2 + size]
                if len(digits) != size or not all(d in "0123456789abcdefABCDEF" for d in digits):
                    return None
                ch, i = chr(int(digits, 16)), i + 2 + size
            elif e == "N" and not is_bytes and body[i + 2 : i + 3] == "{":
                close = body.find("}", i + 3)
                if close < 0:
                    return None
                try:
                    ch = unicodedata.lookup(body[i + 3 : close])
                except KeyError:
                    return None
                i = close + 1
            else:
                ch, i = "\\", i + 1  # an unknown escape keeps its backslash
        elif fstring and c in "{}" and body[i + 1 : i + 2] == c:
            ch, i = c, i + 2
        elif c == "\r":
            ch, i = "\n", i + (2 if body[i + 1 : i + 2] == "\n" else 1)
        else:
            ch, i = c, i + 1
        out.append(ch)
        starts.append(base + start)
        ends.append(base + i)
    return _Lit("".join(out), starts, ends)


# --------------------------------------------------------------------------- values


@dataclass(frozen=True, slots=True)
class _Part:
    """A piece of a string value, with the source range it is written at."""

    kind: PieceKind
    text: str
    start: int
    end: int
    lit: _Lit | None = field(default=None, compare=False)
    at: int = 0  # where `text` starts in `lit.text`
    wstart: int = -1  # where the part is written in this value, when it comes from
    wend: int = -1  # elsewhere (a name's value in an f-string); -1: at start/end

    @property
    def moved(self) -> bool:
        return self.wstart >= 0

    def written_at(self, start: int, end: int) -> _Part:
        """This part as it appears at `start:end` (a placeholder, an operand)."""
        if self.start >= start and self.end <= end:
            return self
        return replace(self, wstart=start, wend=end)

    def sub(self, a: int, b: int) -> _Part:
        """`text[a:b]`, located exactly when the literal's characters are known."""
        if self.kind is not PieceKind.LITERAL or (a == 0 and b == len(self.text)):
            return self
        text = self.text[a:b]
        lit = self.lit
        w = self.wstart, self.wend
        if lit is None:
            return _Part(PieceKind.LITERAL, text, self.start, self.end, None, 0, *w)
        if a >= b:
            k = self.at + a
            pos = lit.starts[k] if k < len(lit.starts) else self.end
            return _Part(PieceKind.LITERAL, "", pos, pos, lit, k, *w)
        k = self.at + a
        end = lit.ends[self.at + b - 1]
        return _Part(PieceKind.LITERAL, text, lit.starts[k], end, lit, k, *w)

    def char_range(self, i: int) -> tuple[int, int]:
        if self.lit is None or i < 0:
            return self.start, self.end
        return self.lit.starts[self.at + i], self.lit.ends[self.at + i]

    @property
    def display(self) -> str:
        if self.kind is PieceKind.VAR:
            return "${" + self.text + "}"
        if self.kind is PieceKind.COMMAND:
            return "$(" + self.text + ")"
        return self.text


@dataclass(frozen=True, slots=True)
class _Str:
    parts: tuple[_Part, ...]
    start: int
    end: int

    @property
    def literal(self) -> str | None:
        if all(p.kind is PieceKind.LITERAL for p in self.parts):
            return "".join(p.text for p in self.parts)
        return None

    @property
    def display(self) -> str:
        return "".join(p.display for p in self.parts)


@dataclass(frozen=True, slots=True)
class _Unknown:
    text: str  # the expression's source
    start: int
    end: int
    splat: bool = False  # `*args` of unknown length


@dataclass(frozen=True, slots=True)
class _Const:
    value: bool | int | float | None


@dataclass(frozen=True, slots=True)
class _List:
    items: tuple[_Item, ...]
    start: int = -1  # where the list is written (-1: nowhere in particular)
    end: int = -1


@dataclass(frozen=True, slots=True)
class _Dict:
    items: tuple[tuple[str, _Item], ...]
    complete: bool = True  # False: unknown keys may be present
    environ: bool = False  # built from os.environ: absent keys are step variables

    def get(self, key: str) -> _Item | None:
        for k, item in reversed(self.items):
            if k == key:
                return item
        return None


@dataclass(frozen=True, slots=True)
class _Ref:
    """A module, function or library object known by its qualified name."""

    qual: str


@dataclass(frozen=True, slots=True)
class _Cmd:
    """An sh or plumbum command object, not run yet."""

    lib: str  # "sh" | "plumbum"
    argv: tuple[_Item, ...]


@dataclass(frozen=True, slots=True)
class _Bound:
    """A method of a known value (`"-".join`, `image.tag`, `cmd.bake`)."""

    recv: _Val
    name: str


@dataclass(frozen=True, slots=True)
class _Image:
    """A Docker SDK or python-on-whales image object."""

    ref: _Item | None
    origin: str  # "build" | "pull" | "get"
    op: int | None = None  # the build operation's index


@dataclass(frozen=True, slots=True)
class _Proc:
    """What running a command returns (CompletedProcess, Popen, invoke Result)."""

    text: str  # the command line
    start: int
    end: int
    captured: bool


@dataclass(frozen=True, slots=True)
class _File:
    """A file open for writing: `$GITHUB_OUTPUT`, `$GITHUB_ENV` or a named file."""

    target: WriteTarget
    name: str  # the path's text, for FILE
    path: _Str | None = None  # a `pathlib.Path` not opened yet (`target` unused)


@dataclass(eq=False)
class _Func:
    node: _FunctionDef
    scope: _Scope
    region: _Region
    defaults: dict[str, _Item]


_Val = (
    _Str | _Unknown | _Const | _List | _Dict | _Ref | _Cmd | _Bound | _Image | _Proc | _File | _Func
)


class _Item(NamedTuple):
    """A value and the source range of the expression that gives it."""

    value: _Val
    start: int
    end: int


class _Scope:
    __slots__ = ("is_class", "names", "node", "parent")

    def __init__(
        self, parent: _Scope | None, node: cst.FunctionDef | None, is_class: bool = False
    ) -> None:
        self.names: dict[str, _Val] = {}
        self.parent = parent
        self.node = node
        self.is_class = is_class

    def owner(self, name: str) -> _Scope | None:
        scope: _Scope | None = self
        while scope is not None:
            if name in scope.names:
                return scope
            scope = scope.parent
        return None


@dataclass(eq=False)
class _Region:
    module: _CSTModule
    first_line: int
    positions: dict[int, tuple[int, int, int, int]]  # id(node) -> 1-based lines, columns
    code: str  # the source text parsed


_NEWLINE = re.compile(r"\r\n?|\n")


class _PositionState:
    """What libcst's `PositionProvider` computes (the syntactic range of every node),
    recorded as tuples by node id while the module is generated back to text: the
    provider's own state makes two position objects per node, hashes every node in
    Python and enters a generator per syntactic range, which was most of its cost.
    It implements the interface of libcst's `CodegenState` the nodes call."""

    __slots__ = (
        "column",
        "default_indent",
        "default_newline",
        "indent_tokens",
        "line",
        "ranges",
        "stack",
        "tokens",
    )

    def __init__(self, module: cst.Module) -> None:
        self.default_indent = module.default_indent
        self.default_newline = module.default_newline
        self.indent_tokens: list[str] = []
        self.tokens: list[str] = []
        self.line = 1
        self.column = 0  # 0-based, as libcst counts
        self.stack: list[tuple[int, int]] = []
        self.ranges: dict[int, tuple[int, int, int, int]] = {}

    def increase_indent(self, value: str) -> None:
        self.indent_tokens.append(value)

    def decrease_indent(self) -> None:
        self.indent_tokens.pop()

    def add_indent_tokens(self) -> None:
        for token in self.indent_tokens:
            self.add_token(token)

    def add_token(self, value: str) -> None:
        self.tokens.append(value)
        if "\n" in value or "\r" in value:
            segments = _NEWLINE.split(value)
            self.line += len(segments) - 1
            self.column = len(segments[-1])
        else:
            self.column += len(value)

    def before_codegen(self, node: cst.CSTNode) -> None:
        self.stack.append((self.line, self.column))

    def after_codegen(self, node: cst.CSTNode) -> None:
        line, column = self.stack.pop()
        key = id(node)
        if key not in self.ranges:  # a syntactic range recorded already stays
            self.ranges[key] = (line, column, self.line, self.column)

    def pop_trailing_newline(self) -> None:
        if self.tokens:
            self.tokens.pop()

    def record_syntactic_position(
        self,
        node: cst.CSTNode,
        *,
        start_node: cst.CSTNode | None = None,
        end_node: cst.CSTNode | None = None,
    ) -> _Syntactic:
        return _Syntactic(self, node, start_node, end_node)


class _Syntactic:
    """`with state.record_syntactic_position(node, ...)`: the range of what the block
    generates, or from the start of `start_node` / to the end of `end_node`."""

    __slots__ = ("column", "end_node", "line", "node", "start_node", "state")

    def __init__(
        self,
        state: _PositionState,
        node: cst.CSTNode,
        start_node: cst.CSTNode | None,
        end_node: cst.CSTNode | None,
    ) -> None:
        self.state = state
        self.node = node
        self.start_node = start_node
        self.end_node = end_node
        self.line = self.column = 0

    def __enter__(self) -> None:
        self.line = self.state.line
        self.column = self.state.column

    def __exit__(self, *exc: object) -> None:
        state = self.state
        ranges = state.ranges
        line, column, end_line, end_column = self.line, self.column, state.line, state.column
        if self.start_node is not None:
            line, column = ranges[id(self.start_node)][:2]
        if self.end_node is not None:
            end_line, end_column = ranges[id(self.end_node)][2:]
        ranges[id(self.node)] = (line, column, end_line, end_column)


def _positions(module: cst.Module) -> dict[int, tuple[int, int, int, int]]:
    """The syntactic range of every node of `module`, by node id."""
    state = _PositionState(module)
    try:
        module._codegen(state)  # type: ignore[arg-type]
    except (AttributeError, TypeError):  # pragma: no cover - a libcst wanting more of it
        meta = importlib.import_module("libcst.metadata")
        wrapper = meta.MetadataWrapper(module, unsafe_skip_copy=True)
        return {
            id(node): (r.start.line, r.start.column, r.end.line, r.end.column)
            for node, r in wrapper.resolve(meta.PositionProvider).items()
        }
    return state.ranges


class _Use(NamedTuple):
    """How a call's result is used."""

    kind: str  # "discard" | "assign" | "use" | "attr"
    name: str = ""  # the name assigned, or the attribute read
    outer_discard: bool = False  # "attr": the method call on the result is discarded


_DISCARD = _Use("discard")
_USE = _Use("use")


class _Stop(Exception):
    pass


_NAME_LIKE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _norm(text: str) -> str:
    """A reference as a registry sees it, to match names written differently."""
    ref = text.strip()
    for prefix in ("docker://", "index.docker.io/", "docker.io/", "registry-1.docker.io/"):
        if ref.startswith(prefix):
            ref = ref[len(prefix) :]
    ref = ref.removeprefix("library/")
    name = ref.split("@", 1)[0]
    if "@" not in ref and ":" not in name.rsplit("/", 1)[-1]:
        ref += ":latest"
    return ref


# --------------------------------------------------------------------------- shell strings


class _Atom(NamedTuple):
    ch: str  # "" for a slot
    part: _Part
    i: int  # index in part.text; -1 for a slot


def _atoms(value: _Str) -> list[_Atom]:
    out: list[_Atom] = []
    for p in value.parts:
        if p.kind is PieceKind.LITERAL:
            out.extend(_Atom(c, p, i) for i, c in enumerate(p.text))
        else:
            out.append(_Atom("", p, -1))
    return out


class _Word:
    """A word being read: literal characters (kept as slices of their parts) and slots."""

    def __init__(self) -> None:
        self.parts: list[_Part] = []
        self.seg: tuple[_Part, int, int] | None = None
        self.started = False
        self.start = -1
        self.end = -1

    def touch(self, start: int, end: int) -> None:
        if not self.started:
            self.started = True
            self.start = start
        self.start = min(self.start, start)
        self.end = max(self.end, end)

    def char(self, atom: _Atom) -> None:
        seg = self.seg
        if seg is not None and seg[0] is atom.part and seg[2] == atom.i:
            self.seg = (seg[0], seg[1], atom.i + 1)
        else:
            self.flush()
            self.seg = (atom.part, atom.i, atom.i + 1)
        if atom.part.moved:
            self.touch(atom.part.wstart, atom.part.wend)
        else:
            self.touch(*atom.part.char_range(atom.i))

    def slot(self, part: _Part) -> None:
        self.flush()
        self.parts.append(part)
        if part.moved:
            self.touch(part.wstart, part.wend)
        else:
            self.touch(part.start, part.end)

    def flush(self) -> None:
        if self.seg is not None:
            p, a, b = self.seg
            self.parts.append(p.sub(a, b))
            self.seg = None

    def build(self) -> _Str:
        self.flush()
        parts = tuple(self.parts)
        if not parts:
            parts = (_Part(PieceKind.LITERAL, "", self.start, self.end),)
        return _Str(parts, self.start, self.end)


@dataclass
class _ShCmd:
    words: list[_Str] = field(default_factory=list)
    redirects: list[tuple[str, _Str]] = field(default_factory=list)
    sep: str = ""
    stdin: _Str | None = None


_SH_OPERATORS = (
    "&>>", "<<<", "<<-", "&&", "||", ";;", "|&", ">>", "<<", ">&", "<&", "&>", ">|",
    ";", "&", "|", "(", ")", ">", "<",
)  # fmt: skip
_REDIRECTS = frozenset({"&>>", "<<<", "<<-", ">>", "<<", ">&", "<&", "&>", ">|", ">", "<"})
_SPECIAL_VARS = frozenset("@*#?$!-0123456789")


class _ShellReader:
    """Best-effort POSIX shell reading of a string value.

    `mode` "shell": words, operators, comments, quotes, `$VAR`, `${VAR}`, `$(...)`,
    backticks, redirections and here-documents; "posix": `shlex.split` (quotes and
    backslashes only); "split": `str.split()` (whitespace only)."""

    def __init__(self, atoms: list[_Atom], mode: str, lookup: Callable[[str], _Str | None]) -> None:
        self.atoms = atoms
        self.mode = mode
        self.lookup = lookup
        self.vars: dict[str, _Str] = {}
        self.i = 0
        self.cmds: list[_ShCmd] = []
        self.cmd = _ShCmd()
        self.word: _Word | None = None
        self.redirect: str | None = None
        self.heredocs: list[tuple[_ShCmd, str, bool]] = []

    # -- words and commands

    def _w(self) -> _Word:
        if self.word is None:
            self.word = _Word()
        return self.word

    def _end_word(self) -> None:
        word = self.word
        self.word = None
        if word is None or not word.started:
            return
        value = word.build()
        if self.redirect is not None:
            op = self.redirect
            self.redirect = None
            if op in ("<<", "<<-"):
                self.heredocs.append((self.cmd, value.literal or "", op == "<<-"))
            else:
                self.cmd.redirects.append((op, value))
            return
        self.cmd.words.append(value)

    def _end_cmd(self, sep: str) -> None:
        self._end_word()
        cmd = self.cmd
        cmd.sep = sep
        if cmd.words and all(self._assignment(w) for w in cmd.words):
            for w in cmd.words:
                name, value = self._split_assignment(w)
                self.vars[name] = value
            cmd.words = []
        if cmd.words or cmd.redirects or sep in ("&&", "||", "|", "|&"):
            self.cmds.append(cmd)
        self.cmd = _ShCmd()

    @staticmethod
    def _assignment(word: _Str) -> bool:
        first = word.parts[0]
        if first.kind is not PieceKind.LITERAL:
            return False
        name, eq, _ = first.text.partition("=")
        return bool(eq) and _NAME_LIKE.fullmatch(name) is not None

    @staticmethod
    def _split_assignment(word: _Str) -> tuple[str, _Str]:
        first = word.parts[0]
        eq = first.text.index("=")
        rest = first.sub(eq + 1, len(first.text))
        parts = ((rest,) if rest.text else ()) + word.parts[1:]
        if not parts:
            parts = (rest,)
        return first.text[:eq], _Str(parts, rest.start, word.end)

    # -- reading

    def run(self) -> list[_ShCmd]:
        atoms = self.atoms
        n = len(atoms)
        while self.i < n:
            a = atoms[self.i]
            if not a.ch:
                self._w().slot(a.part)
                self.i += 1
                continue
            c = a.ch
            if self.mode == "split":
                if c.isspace():
                    self._end_word()
                else:
                    self._w().char(a)
                self.i += 1
                continue
            if c in " \t" or (self.mode == "posix" and c.isspace()):
                self._end_word()
                self.i += 1
            elif c == "\n":
                self._end_cmd("\n")
                self.i += 1
                self._read_heredocs()
            elif c == "\\":
                self._backslash()
            elif c == "'":
                self._single_quote()
            elif c == '"':
                self._double_quote()
            elif self.mode == "posix":
                self._w().char(a)
                self.i += 1
            elif c == "#" and (self.word is None or not self.word.started):
                while self.i < n and atoms[self.i].ch != "\n":
                    self.i += 1
            elif c == "$":
                self._dollar(self._w())
            elif c == "`":
                self._backtick(self._w())
            elif c in ";&|()<>":
                self._operator()
            else:
                self._w().char(a)
                self.i += 1
        if self.mode == "shell":
            self._end_cmd("")
        else:
            self._end_word()
            self.cmds = [self.cmd] if self.cmd.words else []
        return self.cmds

    def _backslash(self) -> None:
        atoms = self.atoms
        nxt = atoms[self.i + 1] if self.i + 1 < len(atoms) else None
        if nxt is None:
            self._w().char(atoms[self.i])
            self.i += 1
            return
        if nxt.ch == "\n":
            self.i += 2
            return
        w = self._w()
        if nxt.ch:
            w.char(nxt)
        else:
            w.slot(nxt.part)
        self.i += 2

    def _single_quote(self) -> None:
        atoms = self.atoms
        w = self._w()
        start, end = atoms[self.i].part.char_range(atoms[self.i].i)
        w.touch(start, end)
        self.i += 1
        while self.i < len(atoms) and atoms[self.i].ch != "'":
            a = atoms[self.i]
            if a.ch:
                w.char(a)
            else:
                w.slot(a.part)
            self.i += 1
        if self.i < len(atoms):
            w.touch(*atoms[self.i].part.char_range(atoms[self.i].i))
            self.i += 1

    def _double_quote(self) -> None:
        atoms = self.atoms
        w = self._w()
        w.touch(*atoms[self.i].part.char_range(atoms[self.i].i))
        self.i += 1
        escapable = '"\\' if self.mode == "posix" else '"\\$`\n'
        while self.i < len(atoms):
            a = atoms[self.i]
            if a.ch == '"':
                w.touch(*a.part.char_range(a.i))
                self.i += 1
                return
            if not a.ch:
                w.slot(a.part)
                self.i += 1
            elif a.ch == "\\" and self.i + 1 < len(atoms) and atoms[self.i + 1].ch in escapable:
                nxt = atoms[self.i + 1]
                if nxt.ch and nxt.ch != "\n":
                    w.char(nxt)
                self.i += 2
            elif self.mode == "shell" and a.ch == "$":
                self._dollar(w)
            elif self.mode == "shell" and a.ch == "`":
                self._backtick(w)
            else:
                w.char(a)
                self.i += 1

    def _range(self, a: int, b: int) -> tuple[int, int]:
        """Source range of atoms[a:b]."""
        first, last = self.atoms[a], self.atoms[max(a, b - 1)]
        start = first.part.wstart if first.part.moved else first.part.char_range(first.i)[0]
        end = last.part.wend if last.part.moved else last.part.char_range(last.i)[1]
        return start, end

    def _text(self, a: int, b: int) -> str:
        return "".join(x.ch if x.ch else x.part.display for x in self.atoms[a:b])

    def _dollar(self, w: _Word) -> None:
        atoms = self.atoms
        n = len(atoms)
        i = self.i
        nxt = atoms[i + 1].ch if i + 1 < n else ""
        if nxt == "{":
            close = i + 2
            while close < n and atoms[close].ch != "}":
                close += 1
            inner = self._text(i + 2, close)
            end = min(close + 1, n)
            start, stop = self._range(i, end)
            self.i = end
            m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*|[@*#?$!0-9-])((:?[-=?+]).*)?", inner, re.S)
            if m is None or (m.group(3) or "").endswith("+"):
                w.slot(_Part(PieceKind.UNKNOWN, "${" + inner + "}", start, stop))
            else:
                self._var(w, m.group(1), start, stop)
            return
        if nxt == "(":
            arith = i + 2 < n and atoms[i + 2].ch == "("
            depth = 0
            j = i + 1
            while j < n:
                ch = atoms[j].ch
                if ch == "(":
                    depth += 1
                elif ch == ")":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            end = min(j + 1, n)
            start, stop = self._range(i, end)
            self.i = end
            if arith:
                w.slot(_Part(PieceKind.UNKNOWN, self._text(i, end), start, stop))
            else:
                w.slot(_Part(PieceKind.COMMAND, self._text(i + 2, j).strip(), start, stop))
            return
        if nxt and (nxt.isalpha() or nxt == "_"):
            j = i + 1
            while j < n and atoms[j].ch and (atoms[j].ch.isalnum() or atoms[j].ch == "_"):
                j += 1
            start, stop = self._range(i, j)
            self._var(w, self._text(i + 1, j), start, stop)
            self.i = j
            return
        if nxt and nxt in _SPECIAL_VARS:
            start, stop = self._range(i, i + 2)
            self._var(w, nxt, start, stop)
            self.i = i + 2
            return
        w.char(atoms[i])
        self.i += 1

    def _var(self, w: _Word, name: str, start: int, end: int) -> None:
        known = self.vars.get(name) or self.lookup(name)
        if known is None:
            w.slot(_Part(PieceKind.VAR, name, start, end))
            return
        for part in known.parts:
            w.slot(part.written_at(start, end))

    def _backtick(self, w: _Word) -> None:
        atoms = self.atoms
        j = self.i + 1
        while j < len(atoms) and atoms[j].ch != "`":
            j += 1
        end = min(j + 1, len(atoms))
        start, stop = self._range(self.i, end)
        w.slot(_Part(PieceKind.COMMAND, self._text(self.i + 1, j).strip(), start, stop))
        self.i = end

    def _operator(self) -> None:
        atoms = self.atoms
        text = "".join(a.ch for a in atoms[self.i : self.i + 3] if a.ch)
        op = next(o for o in _SH_OPERATORS if text.startswith(o))
        if op in _REDIRECTS:
            word = self.word
            if word is not None and word.started and not word.parts and word.seg is not None:
                p, a, b = word.seg
                if p.text[a:b].isdigit():  # `2>`: the descriptor belongs to the operator
                    op = p.text[a:b] + op
                    self.word = None
            self._end_word()
            self.redirect = op
            self.i += len(op.lstrip("0123456789"))
            return
        self.i += len(op)
        if op in ("(", ")"):
            self._end_cmd(";")
        else:
            self._end_cmd(op)

    def _read_heredocs(self) -> None:
        atoms = self.atoms
        while self.heredocs:
            cmd, delim, strip_tabs = self.heredocs.pop(0)
            w = _Word()
            while self.i < len(atoms):
                j = self.i
                while j < len(atoms) and atoms[j].ch != "\n":
                    j += 1
                line = self._text(self.i, j)
                if (line.lstrip("\t") if strip_tabs else line) == delim:
                    self.i = min(j + 1, len(atoms))
                    break
                for a in atoms[self.i : min(j + 1, len(atoms))]:
                    if a.ch:
                        w.char(a)
                    else:
                        w.slot(a.part)
                self.i = min(j + 1, len(atoms))
            if w.started:
                cmd.stdin = w.build()


_OPENERS = frozenset({"if", "then", "else", "elif", "do", "while", "until", "!", "{", "}"})
_CONDITIONS = frozenset({"if", "elif", "while", "until", "!"})
_CLOSERS = frozenset({"fi", "done", "esac", "}"})
_COMPOUND = frozenset({"for", "case", "select", "function"})


def _shell_commands(cmds: list[_ShCmd]) -> list[tuple[_ShCmd, list[_Str], bool, bool]]:
    """(command, argv, guarded, background) for each simple command worth reporting."""
    # keywords off, then the lists (`;`, newline, `&`) each command belongs to
    prepared: list[tuple[_ShCmd, list[_Str], bool]] = []
    for cmd in cmds:
        words = list(cmd.words)
        condition = False
        while words and words[0].literal in _OPENERS:
            condition = condition or words[0].literal in _CONDITIONS
            words.pop(0)
        if words and (words[0].literal in _COMPOUND or words[0].literal in _CLOSERS):
            words = []
        while words and words[0].literal is not None and _ShellReader._assignment(words[0]):
            words.pop(0)  # `FOO=bar cmd`: the prefix only sets the command's environment
        prepared.append((cmd, words, condition))
    lists: list[list[int]] = [[]]
    for i, (cmd, _, _) in enumerate(prepared):
        lists[-1].append(i)
        if cmd.sep in (";", "\n", "&", ";;", ""):
            lists.append([])
    lists = [lst for lst in lists if any(prepared[i][1] for i in lst)]
    out: list[tuple[_ShCmd, list[_Str], bool, bool]] = []
    errexit = False
    for n, lst in enumerate(lists):
        last_list = n == len(lists) - 1
        background = prepared[lst[-1]][0].sep == "&"
        for k, i in enumerate(lst):
            cmd, words, condition = prepared[i]
            if not words:
                continue
            if words[0].literal == "set":
                flags = [w.literal or "" for w in words[1:]]
                for f in flags:
                    if f.startswith("-") and "e" in f[1:] and not f.startswith("--"):
                        errexit = True
                    if f.startswith("+") and "e" in f[1:]:
                        errexit = False
                if "errexit" in flags:
                    errexit = flags[flags.index("errexit") - 1] == "-o"
            later = [prepared[j][0].sep for j in lst[k:]]
            guarded = (
                condition
                or cmd.sep in ("|", "|&")
                or "||" in later[:-1]
                or cmd.sep == "||"
                or background
                or (not last_list and not errexit)
                or (not last_list and cmd.sep == "&&")
            )
            out.append((cmd, words, guarded, background))
    return out


# --------------------------------------------------------------------------- the analyser

_SUBPROCESS = frozenset(
    {"run", "call", "check_call", "check_output", "Popen", "getoutput", "getstatusoutput"}
)
_SDK = "docker.<client>"
_WHALES = "python_on_whales.docker"
_SDK_FACTORIES = frozenset(
    {"docker.from_env", "docker.DockerClient", "docker.client.from_env"}
    | {"docker.client.DockerClient"}
)
_SDK_API_FACTORIES = frozenset(
    {"docker.APIClient", "docker.api.APIClient", "docker.api.client.APIClient"}
)
_WHALES_FACTORIES = frozenset(
    {"python_on_whales.DockerClient", "python_on_whales.docker_client.DockerClient"}
)
_REMOTE = frozenset(
    {"invoke.run", "invoke.sudo", "fabric.api.run", "fabric.api.local", "fabric.api.sudo"}
    | {"fabric.operations.run", "fabric.operations.local", "fabric.operations.sudo"}
    | {"invoke.<context>.run", "invoke.<context>.sudo", "fabric.<connection>.run"}
    | {"fabric.<connection>.sudo", "fabric.<connection>.local"}
)
_SH_API = frozenset(
    {"Command", "ErrorReturnCode", "RunningCommand", "SignalException", "TimeoutException"}
    | {"CommandNotFound", "pushd", "glob", "contrib", "args", "which", "cd"}
)
_BUILTINS = frozenset({"str", "list", "tuple", "open", "print", "exit", "quit", "repr"})
_SWALLOWED = frozenset(
    {"Exception", "BaseException", "CalledProcessError", "SubprocessError", "OSError"}
    | {"ErrorReturnCode", "ProcessExecutionError", "UnexpectedExit", "Failure", "APIError"}
    | {"DockerException", "BuildError", "ContainerError", "ImageNotFound", "NotFound"}
    | {"CommandNotFound", "CommandException"}
)
_NOT_INSPECTING = frozenset({"stdout", "stderr", "args", "pid"})
_NOT_INSPECTING_CALLS = frozenset({"wait", "communicate", "poll", "kill", "terminate", "read"})
_PLUMBUM_RUNS = frozenset({"run", "run_fg", "run_bg", "run_tf", "run_retcode", "run_nohup"})


def _dotted(node: cst.BaseExpression) -> str | None:
    parts: list[str] = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if not isinstance(node, cst.Name):
        return None
    parts.append(node.value)
    return ".".join(reversed(parts))


# `node.children` rebuilds the node (libcst collects them with a visitor), which was the
# largest part of `_inside`. For the nodes it meets most, these are the fields that may
# hold expressions, in the order `children` gives them (`_visit_and_replace_children`).
# The others hold only tokens (parentheses, brackets, operators, commas, whitespace),
# which `_inside` would only enter to count their depth, `_TOKEN_DEPTH` at most: they
# are left out while that cannot reach `_MAX_EVAL_DEPTH`.
_CONTENT_FIELDS: dict[type, tuple[str, ...]] = {}
_TOKEN_DEPTH = 8


def _content_fields() -> dict[type, tuple[str, ...]]:
    if not _CONTENT_FIELDS:
        _CONTENT_FIELDS.update(
            {
                cst.Comparison: ("left", "comparisons"),
                cst.ComparisonTarget: ("comparator",),
                cst.UnaryOperation: ("expression",),
                cst.BooleanOperation: ("left", "right"),
                cst.ListComp: ("elt", "for_in"),
                cst.SetComp: ("elt", "for_in"),
                cst.GeneratorExp: ("elt", "for_in"),
                cst.DictComp: ("key", "value", "for_in"),
                cst.CompFor: ("target", "iter", "ifs", "inner_for_in"),
                cst.CompIf: ("test",),
                cst.Subscript: ("value", "slice"),
                cst.SubscriptElement: ("slice",),
                cst.Slice: ("lower", "upper", "step"),
                cst.Index: ("value",),
                cst.Element: ("value",),
                cst.Set: ("elements",),
                cst.Yield: ("value",),
                cst.From: ("item",),
                cst.Float: (),
                cst.Imaginary: (),
                cst.Ellipsis: (),
            }
        )
    return _CONTENT_FIELDS


def _content(node: cst.CSTNode, fields: tuple[str, ...]) -> list[cst.CSTNode]:
    out: list[cst.CSTNode] = []
    for name in fields:
        value = getattr(node, name)
        if isinstance(value, (list, tuple)):
            out.extend(v for v in value if isinstance(v, cst.CSTNode))
        elif isinstance(value, cst.CSTNode):
            out.append(value)
    return out


@dataclass
class _Args:
    pos: list[_Item] = field(default_factory=list)
    kw: dict[str, _Item] = field(default_factory=dict)

    def get(self, index: int, name: str) -> _Item | None:
        if name in self.kw:
            return self.kw[name]
        if 0 <= index < len(self.pos):
            return self.pos[index]
        return None


class _Analyser:
    def __init__(
        self,
        text: str,
        original: str,
        base: int,
        locate: Locate,
        path: str,
        placeholders: list[tuple[int, int, str]],
    ) -> None:
        self.text = text
        self.original = original  # `text` before `${{ }}` were masked
        self.base = base
        self.locate = locate
        self.path = path
        self.placeholders = placeholders
        self.placeholder_starts = [p[0] for p in placeholders]
        self.starts = _line_starts(text)
        self.regions: list[_Region] = []
        self.region: _Region | None = None
        self.commands: list[Command] = []
        self.operations: list[Operation] = []
        self.references: list[ImageArg] = []
        self.errors: list[str] = []
        self.opaque = False
        self.env: dict[str, _Str] = {}  # os.environ assignments
        self.swallow = 0
        self.sites: list[tuple[int, int]] = []  # calls of local functions being followed
        self.origins: list[int] = []  # where the library call's arguments are written
        self.stack: list[_Func] = []
        self.frames: list[list[_Val]] = []
        self.analysed: set[int] = set()
        self.funcs: list[_Func] = []
        self.called: set[str] = set()
        self.steps = 0
        self.depth = 0
        self.scope_node: cst.FunctionDef | None = None
        self.remote = False  # invoke or fabric imported
        self.strings: dict[int, _Str] = {}
        self.uses: dict[int, str] = {}  # function (or module) id -> its source
        self.used: dict[tuple[int, str], bool] = {}
        self.built: dict[str, int] = {}
        self.pulled: dict[str, ImageArg] = {}
        self.retags: dict[str, tuple[Value, bool]] = {}
        self.writes: list[OutputWrite] = []
        self.pending: dict[tuple[WriteTarget, str], tuple[str, str, list[_Str]]] = {}

    # ---- results and problems

    def result(self) -> PythonScript:
        return PythonScript(
            commands=tuple(self.commands),
            operations=tuple(self.operations),
            errors=tuple(self.errors[:_MAX_ERRORS]),
            opaque=self.opaque,
            references=tuple(self.references),
            writes=tuple(self.writes),
        )

    def problem(self, line: int, message: str) -> None:
        self.opaque = True
        text = f"line {line}: {message}"
        if text not in self.errors:
            self.errors.append(text)

    def _line_of(self, node: cst.CSTNode) -> int:
        return bisect.bisect_right(self.starts, self._range(node)[0])

    # ---- positions

    def _range(self, node: cst.CSTNode) -> tuple[int, int]:
        region = self.region
        r = region.positions.get(id(node)) if region is not None else None
        if r is None or region is None:
            return 0, 0
        first = region.first_line - 1
        return self._offset(first + r[0], r[1]), self._offset(first + r[2], r[3])

    def _offset(self, line: int, column: int) -> int:
        i = min(max(line - 1, 0), len(self.starts) - 1)
        return min(self.starts[i] + column, len(self.text))

    def _span(self, start: int, end: int) -> Span:
        return self.locate(start + self.base, max(0, end - start))

    def _src(self, start: int, end: int) -> str:
        return self.original[start:end]

    def _item(self, node: cst.BaseExpression, value: _Val) -> _Item:
        start, end = self._range(node)
        return _Item(value, start, end)

    def _unknown(self, node: cst.CSTNode) -> _Unknown:
        start, end = self._range(node)
        return _Unknown(self._src(start, end), start, end)

    # ---- parsing

    def parse(self, plan: _Plan) -> None:
        for chunks in plan.regions:
            if not self._parse_region(chunks[0][0], chunks[-1][1]) and len(chunks) > 1:
                for first, last in chunks:
                    self._parse_region(first, last)

    def _parse_region(self, first: int, last: int) -> bool:
        a = self.starts[first - 1]
        b = self.starts[last] if last < len(self.starts) else len(self.text)
        try:
            module = cst.parse_module(self.text[a:b])
            positions = _positions(module)
        except cst.ParserSyntaxError as exc:
            line = first + exc.raw_line - 1
            message = exc.message.splitlines()[0] if exc.message else "syntax error"
            self.problem(line, f"libcst cannot read this code ({message})")
            return False
        except Exception:  # RecursionError, and what libcst makes of it
            self.problem(first, "this code is nested too deeply to analyse")
            return False
        self.regions.append(_Region(module, first, positions, self.text[a:b]))
        return True

    # ---- the walk

    def run(self) -> None:
        self.regions.sort(key=lambda r: r.first_line)
        calls: dict[str, int] = {}
        for region in self.regions:
            code = region.code
            for name in re.findall(r"\b([^\W\d]\w*)\s*\(", code):
                calls[name] = calls.get(name, 0) + 1
            for name in re.findall(r"\b(?:def|class)\s+([^\W\d]\w*)\s*\(", code):
                calls[name] = calls.get(name, 0) - 1
        self.called = {name for name, count in calls.items() if count > 0}
        module = _Scope(None, None)
        try:
            for region in self.regions:
                self.region = region
                for stmt in region.module.body:
                    self._top(stmt, module)
            for strict in (True, False):
                i = 0
                while i < len(self.funcs):
                    func = self.funcs[i]
                    i += 1
                    if id(func.node) in self.analysed:
                        continue
                    if strict and func.node.name.value in self.called:
                        continue
                    self._standalone(func)
        except _Stop:
            self.problem(1, f"the analysis stopped after {MAX_STEPS} statements")
        finally:
            # A scope names its functions and each function points back to its scope:
            # cycles that would keep the syntax trees alive until the cyclic collector
            # runs. Nothing reads the scopes after the walk: clear them.
            module.names.clear()
            for func in self.funcs:
                func.scope.names.clear()

    def _top(self, stmt: cst.CSTNode, scope: _Scope) -> None:
        """One statement, whatever goes wrong in it."""
        try:
            self._stmt(stmt, scope)
        except _Stop:
            raise
        except RecursionError:
            self.problem(self._line_of(stmt), "this code is nested too deeply to analyse")
        except Exception as exc:
            self.problem(
                self._line_of(stmt), f"this statement could not be analysed ({type(exc).__name__})"
            )

    def _standalone(self, func: _Func) -> None:
        self.analysed.add(id(func.node))
        scope = _Scope(func.scope, func.node)
        for param in _params(func.node.params):
            name = param.name.value
            scope.names[name] = self._unknown(param.name)
        saved = self.region, self.scope_node, self.swallow
        self.region, self.scope_node, self.swallow = func.region, func.node, 0
        self.frames.append([])
        try:
            self._body(func.node.body, scope, top=True)
        finally:
            self.frames.pop()
            self.region, self.scope_node, self.swallow = saved

    def _body(self, block: cst.BaseSuite, scope: _Scope, top: bool = False) -> None:
        if isinstance(block, cst.SimpleStatementSuite):
            for small in block.body:
                self._small(small, scope)
            return
        assert isinstance(block, cst.IndentedBlock)
        for stmt in block.body:
            if top:
                self._top(stmt, scope)
            else:
                self._stmt(stmt, scope)

    def _stmt(self, node: cst.CSTNode, scope: _Scope) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise _Stop
        if isinstance(node, cst.SimpleStatementLine):
            for small in node.body:
                self._small(small, scope)
        elif isinstance(node, cst.If):
            self._if(node, scope)
        elif isinstance(node, cst.For):
            self._eval(node.iter, scope)
            self._bind_unknown(node.target, scope)
            self._body(node.body, scope)
            if node.orelse is not None:
                self._body(node.orelse.body, scope)
        elif isinstance(node, cst.While):
            self._eval(node.test, scope)
            self._body(node.body, scope)
            if node.orelse is not None:
                self._body(node.orelse.body, scope)
        elif isinstance(node, (cst.Try, cst.TryStar)):
            self._try(node, scope)
        elif isinstance(node, cst.With):
            self._with(node, scope)
        elif isinstance(node, cst.FunctionDef):
            self._def(node, scope)
        elif isinstance(node, cst.ClassDef):
            inner = _Scope(scope, scope.node, is_class=True)
            self._body(node.body, inner)
            scope.names[node.name.value] = _Unknown(node.name.value, *self._range(node.name))
        elif isinstance(node, cst.Match):
            self._eval(node.subject, scope)
            for case in node.cases:
                self._body(case.body, scope)

    def _if(self, node: cst.If, scope: _Scope) -> None:
        """Every branch is walked (their commands may all run). Afterwards a name keeps
        the value a branch gave it when only one value was given: an optional step
        (`if push: cmd += ["--push"]`) is taken; names that branches set differently
        become unknown."""
        before = dict(scope.names)
        outcomes: list[dict[str, _Val]] = []
        branch: cst.If | cst.Else | None = node
        while branch is not None:
            if isinstance(branch, cst.If):
                self._eval(branch.test, scope)
            self._body(branch.body, scope)
            outcomes.append(dict(scope.names))
            scope.names.clear()
            scope.names.update(before)
            branch = branch.orelse if isinstance(branch, cst.If) else None
        for name in {n for outcome in outcomes for n in outcome}:
            changed: list[_Val] = []
            for outcome in outcomes:
                value = outcome.get(name)
                fresh = value is not None and value is not before.get(name)
                if fresh and value is not None and not any(_same(value, c) for c in changed):
                    changed.append(value)
            if len(changed) == 1:
                scope.names[name] = changed[0]
            elif changed:
                scope.names[name] = _Unknown(name, -1, -1)

    def _try(self, node: cst.Try | cst.TryStar, scope: _Scope) -> None:
        swallows = any(self._swallows(h) for h in node.handlers)
        self.swallow += swallows
        try:
            self._body(node.body, scope)
        finally:
            self.swallow -= swallows
        for handler in node.handlers:
            if handler.name is not None:
                self._bind_unknown(handler.name.name, scope)
            self._body(handler.body, scope)
        if node.orelse is not None:
            self._body(node.orelse.body, scope)
        if node.finalbody is not None:
            self._body(node.finalbody.body, scope)

    def _swallows(self, handler: cst.ExceptHandler | cst.ExceptStarHandler) -> bool:
        if handler.type is not None:
            types = (
                [e.value for e in handler.type.elements]
                if isinstance(handler.type, cst.Tuple)
                else [handler.type]
            )
            names = [(_dotted(t) or "").rsplit(".", 1)[-1] for t in types]
            if not any(n in _SWALLOWED for n in names):
                return False
        code = self._src(*self._range(handler.body))
        return re.search(r"\braise\b|\b(_?exit|abort|fail|quit)\s*\(", code) is None

    def _with(self, node: cst.With, scope: _Scope) -> None:
        swallows = False
        for item in node.items:
            value = self._eval(item.item, scope)
            if isinstance(item.item, cst.Call) and (_dotted(item.item.func) or "").endswith(
                "suppress"
            ):
                swallows = True
            if item.asname is not None:
                self._bind(item.asname.name, value, scope)
        self.swallow += swallows
        try:
            self._body(node.body, scope)
        finally:
            self.swallow -= swallows

    def _def(self, node: cst.FunctionDef, scope: _Scope) -> None:
        defaults: dict[str, _Item] = {}
        for param in _params(node.params):
            if param.default is not None:
                defaults[param.name.value] = self._item(
                    param.default, self._eval(param.default, scope)
                )
        defining = scope.parent if scope.is_class and scope.parent is not None else scope
        assert self.region is not None
        func = _Func(node, defining, self.region, defaults)
        self.funcs.append(func)
        if not scope.is_class:
            scope.names[node.name.value] = func

    def _small(self, node: cst.CSTNode, scope: _Scope) -> None:
        if isinstance(node, cst.Expr):
            self._eval(node.value, scope, _DISCARD)
        elif isinstance(node, cst.Assign):
            targets = [t.target for t in node.targets]
            use = (
                _Use("assign", targets[0].value)
                if len(targets) == 1 and isinstance(targets[0], cst.Name)
                else _USE
            )
            value = self._eval(node.value, scope, use)
            for target in targets:
                self._bind(target, value, scope)
        elif isinstance(node, cst.AnnAssign):
            if node.value is not None:
                use = (
                    _Use("assign", node.target.value) if isinstance(node.target, cst.Name) else _USE
                )
                self._bind(node.target, self._eval(node.value, scope, use), scope)
        elif isinstance(node, cst.AugAssign):
            current = self._eval(node.target, scope)
            value = self._eval(node.value, scope)
            if isinstance(node.operator, cst.AddAssign):
                result = self._add(current, value, node)
            else:
                result = self._unknown(node.target)
            self._bind(node.target, result, scope)
        elif isinstance(node, cst.Return):
            value = self._eval(node.value, scope) if node.value is not None else _Const(None)
            if self.frames:
                self.frames[-1].append(value)
        elif isinstance(node, (cst.Import, cst.ImportFrom)):
            self._import(node, scope)
        elif isinstance(node, cst.Raise):
            if node.exc is not None:
                self._eval(node.exc, scope)
        elif isinstance(node, cst.Assert):
            self._eval(node.test, scope)

    def _import(self, node: cst.Import | cst.ImportFrom, scope: _Scope) -> None:
        if isinstance(node, cst.Import):
            for alias in node.names:
                full = _dotted(alias.name) or ""
                root = full.split(".")[0]
                if root in ("invoke", "fabric"):
                    self.remote = True
                if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                    scope.names[alias.asname.name.value] = _Ref(full)
                else:
                    scope.names[root] = _Ref(root)
            return
        if isinstance(node.names, cst.ImportStar) or node.relative:
            return
        module = _dotted(node.module) if node.module is not None else ""
        module = module or ""
        if module.split(".")[0] in ("invoke", "fabric"):
            self.remote = True
        for alias in node.names:
            name = _dotted(alias.name) or ""
            bound = name
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                bound = alias.asname.name.value
            start, end = self._range(alias.name)
            word = _Item(
                _Str((_Part(PieceKind.LITERAL, name, start, end),), start, end), start, end
            )
            if module == "sh" and name not in _SH_API:
                scope.names[bound] = _Cmd("sh", (word,))
            elif module == "plumbum.cmd":
                scope.names[bound] = _Cmd("plumbum", (word,))
            else:
                scope.names[bound] = _Ref(f"{module}.{name}")

    # ---- binding

    def _bind(self, target: cst.BaseExpression, value: _Val, scope: _Scope) -> None:
        if isinstance(target, cst.Name):
            scope.names[target.value] = value
        elif isinstance(target, (cst.Tuple, cst.List)):
            elements = target.elements
            starred = any(isinstance(e, cst.StarredElement) for e in elements)
            if isinstance(value, _List) and len(value.items) == len(elements) and not starred:
                for element, item in zip(elements, value.items, strict=True):
                    self._bind(element.value, item.value, scope)
            else:
                self._bind_unknown(target, scope)
        elif isinstance(target, cst.Subscript):
            self._bind_subscript(target, value, scope)

    def _bind_subscript(self, target: cst.Subscript, value: _Val, scope: _Scope) -> None:
        if len(target.slice) != 1 or not isinstance(target.slice[0].slice, cst.Index):
            return
        key = self._eval(target.slice[0].slice.value, scope)
        key_text = key.literal if isinstance(key, _Str) else None
        if key_text is None:
            return
        holder = self._eval(target.value, scope)
        if isinstance(holder, _Ref) and holder.qual == "os.environ":
            if isinstance(value, _Str):
                self.env[key_text] = value
            else:
                self.env.pop(key_text, None)
        elif isinstance(holder, _Dict) and isinstance(target.value, cst.Name):
            owner = scope.owner(target.value.value)
            if owner is not None:
                item = self._item(target, value)
                owner.names[target.value.value] = replace(
                    holder, items=(*holder.items, (key_text, item))
                )

    def _bind_unknown(self, target: cst.BaseExpression, scope: _Scope) -> None:
        if isinstance(target, cst.Name):
            scope.names[target.value] = self._unknown(target)
        elif isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self._bind_unknown(element.value, scope)
        elif isinstance(target, cst.StarredElement):
            self._bind_unknown(target.value, scope)

    # ---- expressions

    def _eval(self, node: cst.BaseExpression, scope: _Scope, use: _Use = _USE) -> _Val:
        self.depth += 1
        try:
            if self.depth > _MAX_EVAL_DEPTH:
                self.problem(self._line_of(node), "an expression is nested too deeply to analyse")
                return self._unknown(node)
            return self._eval_node(node, scope, use)
        finally:
            self.depth -= 1

    def _eval_node(self, node: cst.BaseExpression, scope: _Scope, use: _Use) -> _Val:
        if isinstance(node, cst.SimpleString):
            return self._string(node)
        if isinstance(node, cst.ConcatenatedString):
            left = self._eval(node.left, scope)
            right = self._eval(node.right, scope)
            return self._add(left, right, node)
        if isinstance(node, cst.FormattedString):
            return self._fstring(node, scope)
        if isinstance(node, cst.Name):
            return self._name(node, scope)
        if isinstance(node, cst.Attribute):
            recv = self._receiver(node.value, node.attr.value, scope, use)
            return self._attr(recv, node.attr.value, node)
        if isinstance(node, cst.Call):
            return self._call(node, scope, use)
        if isinstance(node, cst.Subscript):
            return self._subscript(node, scope)
        if isinstance(node, cst.BinaryOperation):
            return self._binop(node, scope)
        if isinstance(node, (cst.List, cst.Tuple)):
            return self._list(node, scope)
        if isinstance(node, cst.Dict):
            return self._dict(node, scope)
        if isinstance(node, cst.Integer):
            try:
                return _Const(int(node.value.replace("_", ""), 0))
            except ValueError:
                return self._unknown(node)
        if isinstance(node, cst.Await):
            return self._eval(node.expression, scope, use)
        if isinstance(node, cst.NamedExpr):
            value = self._eval(node.value, scope)
            self._bind(node.target, value, scope)
            return value
        if isinstance(node, cst.IfExp):
            self._eval(node.test, scope)
            body = self._eval(node.body, scope)
            orelse = self._eval(node.orelse, scope)
            if (
                isinstance(body, _Str)
                and isinstance(orelse, _Str)
                and body.display == orelse.display
            ):
                return body
            return self._unknown(node)
        if isinstance(node, cst.Lambda):
            return self._unknown(node)
        if isinstance(node, cst.BooleanOperation) and isinstance(node.operator, cst.Or):
            left = self._eval(node.left, scope)
            self._eval(node.right, scope)
            if isinstance(left, _Str) and [p.kind for p in left.parts] == [PieceKind.VAR]:
                return left  # `os.environ.get("X") or "default"`: the variable, as for .get
            return self._unknown(node)
        self._inside(node, scope)
        return self._unknown(node)

    def _inside(self, node: cst.CSTNode, scope: _Scope) -> None:
        """Evaluate the expressions inside `node` for the calls they make."""
        self.depth += 1
        try:
            if self.depth > _MAX_EVAL_DEPTH:
                self.problem(self._line_of(node), "an expression is nested too deeply to analyse")
                return
            fields = _content_fields().get(type(node))
            if fields is None or self.depth + _TOKEN_DEPTH > _MAX_EVAL_DEPTH:
                children: Iterable[cst.CSTNode] = node.children
            else:
                children = _content(node, fields)
            for child in children:
                if isinstance(child, cst.Lambda):
                    continue
                if isinstance(child, cst.BaseExpression):
                    self._eval(child, scope)
                else:
                    self._inside(child, scope)
        finally:
            self.depth -= 1

    def _string(self, node: cst.SimpleString) -> _Str:
        cached = self.strings.get(id(node))
        if cached is not None:
            return cached
        start, end = self._range(node)
        prefix = node.prefix
        quote = node.quote
        body_start = start + len(prefix) + len(quote)
        body_end = max(body_start, end - len(quote))
        body = node.value[len(prefix) + len(quote) : len(node.value) - len(quote)]
        lowered = prefix.lower()
        lit = _decode(body, body_start, raw="r" in lowered, fstring=False, is_bytes="b" in lowered)
        if lit is not None:
            part = _Part(PieceKind.LITERAL, lit.text, body_start, body_end, lit)
        else:
            try:  # a literal our decoder does not know: ask Python (slower)
                evaluated: object = node.evaluated_value
            except Exception:
                evaluated = body
            if isinstance(evaluated, bytes):
                evaluated = evaluated.decode("latin-1")
            text = evaluated if isinstance(evaluated, str) else body
            part = _Part(PieceKind.LITERAL, text, body_start, body_end)
        value = _Str((part,), start, end)
        self.strings[id(node)] = value
        return value

    def _fstring(self, node: cst.FormattedString, scope: _Scope) -> _Str:
        raw = "r" in node.prefix.lower()
        is_bytes = "b" in node.prefix.lower()
        parts: list[_Part] = []
        for p in node.parts:
            if isinstance(p, cst.FormattedStringText):
                start, end = self._range(p)
                lit = _decode(p.value, start, raw=raw, fstring=True, is_bytes=is_bytes)
                if lit is None:
                    parts.append(_Part(PieceKind.LITERAL, p.value, start, end))
                elif lit.text:
                    parts.append(_Part(PieceKind.LITERAL, lit.text, start, end, lit))
            elif isinstance(p, cst.FormattedStringExpression):
                value = self._eval(p.expression, scope)
                start, end = self._range(p.expression)
                plain = not p.format_spec and p.equal is None
                parts.extend(self._splice(value, p.conversion, plain, start, end))
        start, end = self._range(node)
        if not parts:
            parts.append(_Part(PieceKind.LITERAL, "", start, start))
        return _Str(tuple(parts), start, end)

    def _splice(
        self, value: _Val, conversion: str | None, plain: bool, start: int, end: int
    ) -> list[_Part]:
        """A placeholder's value as string parts (`{x}` in an f-string or `.format`)."""
        if plain and conversion in (None, "s"):
            if isinstance(value, _Str):
                return [p.written_at(start, end) for p in value.parts]
            if isinstance(value, _Const) and type(value.value) in (int, float):
                return [_Part(PieceKind.LITERAL, str(value.value), start, end)]
        return [_Part(PieceKind.VAR, self._src(start, end), start, end)]

    def _name(self, node: cst.Name, scope: _Scope) -> _Val:
        name = node.value
        if name in ("True", "False", "None"):
            return _Const({"True": True, "False": False, "None": None}[name])
        owner = scope.owner(name)
        if owner is None:
            if name in _BUILTINS:
                return _Ref("builtins." + name)
            return self._unknown(node)
        value = owner.names[name]
        if isinstance(value, _Unknown):
            return self._unknown(node)
        return value

    def _receiver(self, node: cst.BaseExpression, attr: str, scope: _Scope, use: _Use) -> _Val:
        if isinstance(node, (cst.Call, cst.Await)):
            return self._eval(node, scope, _Use("attr", attr, use.kind == "discard"))
        return self._eval(node, scope)

    def _attr(self, recv: _Val, attr: str, node: cst.Attribute) -> _Val:
        if isinstance(recv, _Ref):
            if recv.qual == "sh" and attr not in _SH_API:
                return _Cmd("sh", (self._word(attr, node.attr),))
            if recv.qual in ("plumbum.local.cmd", "plumbum.cmd"):
                return _Cmd("plumbum", (self._word(attr, node.attr),))
            return _Ref(f"{recv.qual}.{attr}")
        if isinstance(recv, _Cmd):
            if recv.lib == "sh" and attr != "bake" and not attr.startswith("_"):
                return replace(recv, argv=(*recv.argv, self._word(attr, node.attr)))
            return _Bound(recv, attr)
        if isinstance(recv, _Proc):
            if attr == "stdout" and recv.captured:
                return self._output(recv.text, (recv.start, recv.end))
            return self._unknown(node)
        if isinstance(recv, (_Str, _List, _Dict, _Image, _File)):
            return _Bound(recv, attr)
        return self._unknown(node)

    def _word(self, text: str, node: cst.CSTNode) -> _Item:
        start, end = self._range(node)
        return _Item(_Str((_Part(PieceKind.LITERAL, text, start, end),), start, end), start, end)

    def _output(self, text: str, at: tuple[int, int]) -> _Str:
        """The captured output of a command: a COMMAND piece."""
        return _Str((_Part(PieceKind.COMMAND, text, *at),), *at)

    def _subscript(self, node: cst.Subscript, scope: _Scope) -> _Val:
        recv = self._eval(node.value, scope)
        indexes = [e.slice for e in node.slice]
        if isinstance(recv, _Cmd) and recv.lib == "plumbum":  # cmd["push", x]: arguments
            items: list[_Item] = []
            for element in indexes:
                if isinstance(element, cst.Index):
                    value = self._eval(element.value, scope)
                    if isinstance(value, _List) and len(indexes) == 1:
                        items.extend(value.items)
                    else:
                        items.append(self._item(element.value, value))
            return replace(recv, argv=recv.argv + tuple(items))
        first = indexes[0] if len(indexes) == 1 else None
        if not isinstance(first, cst.Index):
            self._inside(node, scope)
            return self._unknown(node)
        key_node = first.value
        key = self._eval(key_node, scope)
        key_text = key.literal if isinstance(key, _Str) else None
        if isinstance(recv, _Ref):
            if recv.qual == "os.environ" and key_text is not None:
                return self._environ(key_text, node)
            if recv.qual == "plumbum.local" and key_text is not None:
                return _Cmd("plumbum", (self._item(key_node, key),))
        if isinstance(recv, _Dict) and key_text is not None:
            item = recv.get(key_text)
            if item is not None:
                return item.value
            if recv.environ:
                return self._environ(key_text, node)
        if isinstance(recv, _List) and isinstance(key, _Const) and type(key.value) is int:
            index = key.value
            if -len(recv.items) <= index < len(recv.items) and not any(
                isinstance(i.value, _Unknown) and i.value.splat for i in recv.items
            ):
                return recv.items[index].value
        return self._unknown(node)

    def _environ(self, name: str, node: cst.CSTNode) -> _Str:
        known = self.env.get(name)
        if known is not None:
            return known
        start, end = self._range(node)
        return _Str((_Part(PieceKind.VAR, name, start, end),), start, end)

    def _binop(self, node: cst.BinaryOperation, scope: _Scope) -> _Val:
        left = self._eval(node.left, scope)
        right = self._eval(node.right, scope)
        op = node.operator
        if isinstance(op, cst.Add):
            return self._add(left, right, node)
        if isinstance(op, cst.Modulo) and isinstance(left, _Str):
            return self._percent(left, right, node)
        if isinstance(op, cst.BitAnd) and isinstance(left, _Cmd) and left.lib == "plumbum":
            modifier = right.qual.rsplit(".", 1)[-1] if isinstance(right, _Ref) else ""
            if modifier in ("FG", "BG", "TF", "RETCODE", "TEE", "NOHUP"):
                return self._plumbum(left, _Args(), node, _USE, modifier)
        return self._unknown(node)

    def _add(self, left: _Val, right: _Val, node: cst.CSTNode) -> _Val:
        start, end = self._range(node)
        if isinstance(left, _List) and isinstance(right, _List):
            return _List(left.items + right.items, start, end)
        if isinstance(left, _List) and isinstance(right, _Unknown):
            splat = _Item(replace(right, splat=True), right.start, right.end)
            return _List((*left.items, splat), start, end)
        parts: list[_Part] = []
        operands = (
            (node.left, node.right)
            if isinstance(node, cst.BinaryOperation | cst.ConcatenatedString)
            else (None, None)
        )
        for side, operand in zip((left, right), operands, strict=True):
            if isinstance(side, _Str):
                if operand is None:
                    parts.extend(side.parts)
                else:
                    at = self._range(operand)
                    parts.extend(p.written_at(*at) for p in side.parts)
            elif isinstance(side, _Unknown) and not side.splat:
                parts.append(_Part(PieceKind.UNKNOWN, side.text, side.start, side.end))
            else:
                return self._unknown(node)
        if all(p.kind is PieceKind.UNKNOWN for p in parts):
            return self._unknown(node)
        kept = tuple(p for p in parts if p.text or p.kind is not PieceKind.LITERAL)
        return _Str(kept or tuple(parts[:1]), start, end)

    def _percent(self, fmt: _Str, args: _Val, node: cst.CSTNode) -> _Val:
        values = list(args.items) if isinstance(args, _List) else None
        start, end = self._range(node)
        out: list[_Part] = []
        index = 0
        for part in fmt.parts:
            if part.kind is not PieceKind.LITERAL:
                out.append(part)
                continue
            text = part.text
            at = 0
            for m in re.finditer(r"%(\([^)]*\))?[-#0 +]*\d*(\.\d+)?[sdirfx%]", text):
                out.append(part.sub(at, m.start()))
                at = m.end()
                if m.group(0) == "%%":
                    out.append(part.sub(m.start(), m.start() + 1))
                    continue
                if m.group(1):
                    return self._unknown(node)
                if values is None:
                    item = _Item(args, start, end) if index == 0 else None
                else:
                    item = values[index] if index < len(values) else None
                index += 1
                if item is None:
                    return self._unknown(node)
                plain = m.group(0) in ("%s", "%d", "%i")
                out.extend(self._splice(item.value, None, plain, item.start, item.end))
            out.append(part.sub(at, len(text)))
        kept = tuple(p for p in out if p.text or p.kind is not PieceKind.LITERAL)
        return _Str(kept or (_Part(PieceKind.LITERAL, "", start, start),), start, end)

    def _list(self, node: cst.List | cst.Tuple, scope: _Scope) -> _List:
        items: list[_Item] = []
        for element in node.elements:
            if isinstance(element, cst.StarredElement):
                value = self._eval(element.value, scope)
                if isinstance(value, _List):
                    items.extend(value.items)
                else:
                    start, end = self._range(element)
                    items.append(
                        _Item(_Unknown(self._src(start, end), start, end, True), start, end)
                    )
            else:
                items.append(self._item(element.value, self._eval(element.value, scope)))
        return _List(tuple(items), *self._range(node))

    def _dict(self, node: cst.Dict, scope: _Scope) -> _Dict:
        items: list[tuple[str, _Item]] = []
        complete = True
        environ = False
        for element in node.elements:
            if isinstance(element, cst.StarredDictElement):
                value = self._eval(element.value, scope)
                if isinstance(value, _Dict):
                    items.extend(value.items)
                    complete = complete and value.complete
                    environ = environ or value.environ
                else:
                    complete = False
                    environ = environ or (isinstance(value, _Ref) and value.qual == "os.environ")
                continue
            if not isinstance(element, cst.DictElement):
                continue
            key = self._eval(element.key, scope)
            value = self._eval(element.value, scope)
            if isinstance(key, _Str) and key.literal is not None:
                items.append((key.literal, self._item(element.value, value)))
            else:
                complete = False
        return _Dict(tuple(items), complete, environ)

    # ---- calls

    def _call(self, node: cst.Call, scope: _Scope, use: _Use) -> _Val:
        func = node.func
        if isinstance(func, cst.Attribute):
            attr = func.attr.value
            if isinstance(func.value, cst.Name) and attr in ("append", "extend", "insert"):
                owner = scope.owner(func.value.value)
                current = owner.names[func.value.value] if owner is not None else None
                if owner is not None and isinstance(current, _List):
                    args = self._args(node, scope)
                    owner.names[func.value.value] = self._mutate(current, attr, args)
                    return _Const(None)
            recv = self._receiver(func.value, attr, scope, use)
            callee = self._attr(recv, attr, func)
            if self.remote and attr in ("run", "sudo", "local") and isinstance(recv, _Unknown):
                callee = _Ref("invoke.<context>." + ("run" if attr == "local" else attr))
        else:
            callee = self._eval(func, scope)
        args = self._args(node, scope)
        if isinstance(callee, _Func):
            return self._inline(callee, args, node)
        if isinstance(callee, _Cmd):
            if callee.lib == "sh":
                return self._sh(callee, args, node, use)
            return self._plumbum(callee, args, node, use, "")
        if isinstance(callee, _Bound):
            return self._method(callee, args, node, use)
        if isinstance(callee, _Ref):
            return self._ref_call(callee.qual, args, node, use)
        return self._unknown(node)

    def _args(self, node: cst.Call, scope: _Scope) -> _Args:
        out = _Args()
        for arg in node.args:
            value = self._eval(arg.value, scope)
            item = self._item(arg.value, value)
            if arg.star == "*":
                if isinstance(value, _List):
                    out.pos.extend(value.items)
                else:
                    start, end = self._range(arg)
                    out.pos.append(
                        _Item(_Unknown(self._src(start, end), start, end, True), start, end)
                    )
            elif arg.star == "**":
                if isinstance(value, _Dict):
                    out.kw.update(dict(value.items))
            elif arg.keyword is not None:
                out.kw[arg.keyword.value] = item
            else:
                out.pos.append(item)
        return out

    def _mutate(self, current: _List, method: str, args: _Args) -> _List:
        if method == "append" and len(args.pos) == 1:
            return replace(current, items=(*current.items, args.pos[0]))
        if method == "extend" and len(args.pos) == 1:
            item = args.pos[0]
            if isinstance(item.value, _List):
                return replace(current, items=current.items + item.value.items)
            text = "*" + self._src(item.start, item.end)
            splat = _Item(_Unknown(text, item.start, item.end, True), item.start, item.end)
            return replace(current, items=(*current.items, splat))
        if method == "insert" and len(args.pos) == 2:
            index = args.pos[0].value
            if isinstance(index, _Const) and type(index.value) is int:
                items = list(current.items)
                items.insert(index.value, args.pos[1])
                return replace(current, items=tuple(items))
        unknown = _Item(
            _Unknown("...", current.start, current.end, True), current.start, current.end
        )
        return replace(current, items=(*current.items, unknown))

    def _inline(self, func: _Func, args: _Args, node: cst.Call) -> _Val:
        if len(self.stack) >= MAX_INLINE_DEPTH or any(f is func for f in self.stack):
            return self._unknown(node)
        self.analysed.add(id(func.node))
        call_range = self._range(node)
        scope = _Scope(func.scope, func.node)
        self._bind_params(func, args, scope, call_range)
        saved = self.region, self.scope_node
        self.sites.append(call_range)
        self.region, self.scope_node = func.region, func.node
        self.stack.append(func)
        self.frames.append([])
        try:
            self._body(func.node.body, scope)
            returns = self.frames[-1]
        finally:
            self.frames.pop()
            self.stack.pop()
            self.sites.pop()
            self.region, self.scope_node = saved
        if not returns:
            return _Const(None)
        first = returns[0]
        if all(r == first for r in returns):
            return first
        if all(isinstance(r, _Str) for r in returns):
            texts = {r.display for r in returns if isinstance(r, _Str)}
            if len(texts) == 1:
                return first
        return _Unknown(self._src(*call_range), *call_range)

    def _bind_params(
        self, func: _Func, args: _Args, scope: _Scope, call_range: tuple[int, int]
    ) -> None:
        params = func.node.params
        positional = [*params.posonly_params, *params.params]
        used: set[str] = set()
        for i, param in enumerate(positional):
            name = param.name.value
            if i < len(args.pos):
                scope.names[name] = args.pos[i].value
            elif name in args.kw:
                scope.names[name] = args.kw[name].value
                used.add(name)
            elif name in func.defaults:
                scope.names[name] = func.defaults[name].value
            else:
                scope.names[name] = self._unknown(param.name)
        star = params.star_arg
        if isinstance(star, cst.Param):
            rest = tuple(args.pos[len(positional) :])
            scope.names[star.name.value] = _List(rest, *call_range)
        for param in params.kwonly_params:
            name = param.name.value
            if name in args.kw:
                scope.names[name] = args.kw[name].value
                used.add(name)
            elif name in func.defaults:
                scope.names[name] = func.defaults[name].value
            else:
                scope.names[name] = self._unknown(param.name)
        if params.star_kwarg is not None:
            extra = tuple((k, v) for k, v in args.kw.items() if k not in used)
            scope.names[params.star_kwarg.name.value] = _Dict(extra, complete=False)

    def _ref_call(self, qual: str, args: _Args, node: cst.Call, use: _Use) -> _Val:
        module, _, name = qual.rpartition(".")
        if module == "subprocess" and name in _SUBPROCESS:
            return self._subprocess(name, args, node, use)
        if module == "os":
            if name in ("system", "popen"):
                return self._os_shell(name, args, node, use)
            if name.startswith(("exec", "spawn", "posix_spawn")):
                return self._os_exec(name, args, node, use)
            if name == "getenv":
                return self._getenv(args, node)
        if qual in ("os.environ.get", "os.environ.setdefault"):
            return self._getenv(args, node)
        if module == "asyncio" and name in ("create_subprocess_exec", "create_subprocess_shell"):
            return self._asyncio(name, args, node, use)
        if qual == "shutil.which" and args.pos and isinstance(args.pos[0].value, _Str):
            return args.pos[0].value  # the program, found on PATH at run time
        if qual in ("os.path.join", "posixpath.join"):
            return self._path_join(args, node)
        if module == "shlex" and name in ("split", "join", "quote"):
            return self._shlex(name, args, node)
        if module == "builtins":
            return self._builtin(name, args, node)
        if qual in _SDK_FACTORIES:
            return _Ref(_SDK)
        if qual in _SDK_API_FACTORIES:
            return _Ref(_SDK + ".api")
        if qual.startswith((_SDK + ".", _WHALES + ".")):
            return self._library(qual, args, node)
        if qual in _WHALES_FACTORIES:
            return _Ref(_WHALES)
        if qual in ("pathlib.Path", "pathlib.PurePath", "pathlib.PosixPath") and args.pos:
            value = args.pos[0].value
            if isinstance(value, _Str):
                return _File(WriteTarget.FILE, "", value)
            return self._unknown(node)
        if qual == "sh.Command" and args.pos:
            return _Cmd("sh", (args.pos[0],))
        if qual in _REMOTE:
            return self._remote(args, node, use)
        if qual in ("invoke.Context", "invoke.context.Context"):
            return _Ref("invoke.<context>")
        if qual in ("fabric.Connection", "fabric.connection.Connection"):
            return _Ref("fabric.<connection>")
        return self._unknown(node)

    def _truthy(self, item: _Item | None, unknown: bool = True) -> bool:
        """A flag argument: absent is False; a value not known is `unknown`."""
        if item is None:
            return False
        value = item.value
        if isinstance(value, _Const):
            return bool(value.value)
        if isinstance(value, _Str) and value.literal is not None:
            return value.literal.strip().lower() in ("true", "1", "yes", "on")
        if isinstance(value, (_List, _Dict)):
            return bool(value.items)
        return unknown

    def _inspected(self, use: _Use) -> bool:
        """Whether the script looks at a process result (its status could fail it)."""
        if use.kind == "discard":
            return False
        if use.kind == "attr":
            if use.name in _NOT_INSPECTING:
                return False
            return not (use.name in _NOT_INSPECTING_CALLS and use.outer_discard)
        if use.kind == "assign":
            return use.name != "_" and self._used(use.name)
        return True

    def _used(self, name: str) -> bool:
        """Whether `name` is read in the current function (or module) other than for its
        `.stdout`/`.stderr`, or a discarded `.wait()` (a textual, generous reading)."""
        node = self.scope_node
        key = (id(node), name)
        known = self.used.get(key)
        if known is not None:
            return known
        code = self.uses.get(id(node))
        if code is None:
            if node is None:
                code = "\n".join(r.code for r in self.regions)
            else:
                code = self._src(*self._range(node))
            self.uses[id(node)] = code
        word = re.escape(name)
        total = len(re.findall(rf"(?<![\w.]){word}\b", code))
        stores = len(re.findall(rf"(?<![\w.]){word}[ \t]*=(?!=)", code))
        stores += len(re.findall(rf"(?m)^[ \t]*{word}[ \t]*:[^=\n]*=(?!=)", code))
        quiet = len(re.findall(rf"(?<![\w.]){word}\.(?:stdout|stderr|args|pid)\b", code))
        quiet += len(
            re.findall(
                rf"(?m)^[ \t]*{word}\.(?:wait|communicate|poll|kill|terminate)\([^\n]*\)[ \t]*$",
                code,
            )
        )
        used = total - stores - quiet > 0
        self.used[key] = used
        return used

    def _guarded(self, use: _Use, checks: bool) -> bool:
        if self.swallow:
            return True
        if checks:
            return False
        return not self._inspected(use)

    def _subprocess(self, fn: str, args: _Args, node: cst.Call, use: _Use) -> _Val:
        shell_only = fn in ("getoutput", "getstatusoutput")
        program = args.get(0, "cmd" if shell_only else "args")
        if program is None:
            return self._unknown(node)
        shell_arg = args.kw.get("shell")
        shell: bool | None = shell_only or self._truthy(shell_arg, unknown=False)
        if not shell and shell_arg is not None and self._truthy(shell_arg):
            shell = None  # not known: a string runs in a shell, a list does not
        checks = fn in ("check_call", "check_output") or self._truthy(args.kw.get("check"))
        stdout = args.kw.get("stdout")
        capture = (
            fn in ("check_output", "getoutput", "getstatusoutput")
            or self._truthy(args.kw.get("capture_output"), unknown=False)
            or (
                stdout is not None
                and isinstance(stdout.value, _Ref)
                and stdout.value.qual.endswith("PIPE")
            )
        )
        text, at = self._run_program(
            program,
            shell,
            node,
            guarded=self._guarded(use, checks),
            substituted=capture and use.kind != "discard",
            background=fn == "Popen",
            env=args.kw.get("env"),
            stdin=args.kw.get("input"),
        )
        if fn in ("check_output", "getoutput"):
            return self._output(text, at)
        if fn == "getstatusoutput":
            status = _Item(_Unknown("status", *at), *at)
            return _List((status, _Item(self._output(text, at), *at)))
        return _Proc(text, at[0], at[1], capture)

    def _run_program(
        self,
        program: _Item,
        shell: bool | None,
        node: cst.Call,
        *,
        guarded: bool,
        substituted: bool,
        background: bool,
        env: _Item | None = None,
        stdin: _Item | None = None,
    ) -> tuple[str, tuple[int, int]]:
        """Report the command(s) a program argument runs: the command line and the
        range the commands are reported at."""
        value = program.value
        if shell is not False:
            if shell and isinstance(value, _List) and value.items:
                program = value.items[0]  # `[script, $0, $1...]` with shell=True
                value = program.value
            if isinstance(value, _Str):
                at = self._command_range(node, [value.start])
                self._emit_shell(
                    value, at, guarded=guarded, substituted=substituted,
                    background=background, env=env, stdin=stdin,
                )  # fmt: skip
                return value.display, at
        if isinstance(value, _List):
            argv = [self._value(item) for item in value.items]
            origins = [value.start, *(i.start for i in value.items)]
        elif isinstance(value, _Str):
            argv = [self._value(_Item(w, w.start, w.end)) for w in self._words(value, "posix")]
            origins = [value.start]
        else:
            argv = [self._value(program)]
            origins = [program.start]
        at = self._command_range(node, origins)
        text = self._emit(
            argv, at, guarded=guarded, substituted=substituted, background=background,
            stdin=stdin,
        )  # fmt: skip
        return text, at

    def _os_shell(self, name: str, args: _Args, node: cst.Call, use: _Use) -> _Val:
        program = args.get(0, "command" if name == "system" else "cmd")
        if program is None:
            return self._unknown(node)
        popen = name == "popen"
        text, at = self._run_program(
            program, True, node,
            guarded=popen or self._guarded(use, False),
            substituted=popen and use.kind != "discard",
            background=False,
        )  # fmt: skip
        if popen:
            return _Proc(text, at[0], at[1], True)
        return self._unknown(node)

    def _os_exec(self, name: str, args: _Args, node: cst.Call, use: _Use) -> _Val:
        pos = list(args.pos)
        background = name.startswith("posix_spawn")
        if name.startswith("spawn") and pos:
            mode = pos.pop(0).value
            background = not (isinstance(mode, _Ref) and mode.qual.endswith("P_WAIT"))
        if len(pos) < 2:
            return self._unknown(node)
        origins = [pos[1].start]
        if name.startswith("posix_spawn") or name.rstrip("e").endswith(("v", "vp")):
            items = pos[1]
            argv_items = list(items.value.items) if isinstance(items.value, _List) else [items]
            if isinstance(items.value, _List):
                origins = [items.value.start]
        else:
            argv_items = pos[1:-1] if name.endswith("e") else pos[1:]
        if not argv_items:
            argv_items = [pos[0]]
        origins += [i.start for i in argv_items]
        replaces = name.startswith("exec")
        self._emit(
            [self._value(i) for i in argv_items], self._command_range(node, origins),
            guarded=False if replaces else (background or self._guarded(use, False)),
            background=background,
        )  # fmt: skip
        return self._unknown(node)

    def _asyncio(self, name: str, args: _Args, node: cst.Call, use: _Use) -> _Val:
        if not args.pos:
            return self._unknown(node)
        guarded = self._guarded(use, False)
        stdout = args.kw.get("stdout")
        capture = stdout is not None and isinstance(stdout.value, _Ref)
        if name == "create_subprocess_shell":
            text, at = self._run_program(
                args.pos[0], True, node, guarded=guarded, substituted=capture, background=False
            )
        else:
            at = self._command_range(node, [i.start for i in args.pos])
            argv = [self._value(i) for i in args.pos]
            text = self._emit(argv, at, guarded=guarded, substituted=capture)
        return _Proc(text, at[0], at[1], capture)

    def _remote(self, args: _Args, node: cst.Call, use: _Use) -> _Val:
        program = args.get(0, "command")
        if program is None:
            return self._unknown(node)
        checks = not self._truthy(args.kw.get("warn"), unknown=False)
        text, at = self._run_program(
            program, True, node,
            guarded=self._guarded(use, checks),
            substituted=use.kind != "discard",
            background=self._truthy(args.kw.get("asynchronous"), unknown=False)
            or self._truthy(args.kw.get("disown"), unknown=False),
        )  # fmt: skip
        return _Proc(text, at[0], at[1], True)

    def _sh(self, cmd: _Cmd, args: _Args, node: cst.Call, use: _Use) -> _Val:
        argv: list[_Item] = list(cmd.argv)
        for item in args.pos:
            if isinstance(item.value, _List):
                argv.extend(item.value.items)
            else:
                argv.append(item)
        guarded = bool(self.swallow)
        background = False
        stdin: _Item | None = None
        for key, item in args.kw.items():
            if key.startswith("_"):
                if key == "_ok_code":
                    guarded = True
                elif key in ("_bg", "_async"):
                    background = self._truthy(item)
                    guarded = guarded or background
                elif key == "_in":
                    stdin = item
                continue
            argv.extend(self._sh_option(key, item))
        at = self._command_range(node, [i.start for i in argv])
        text = self._emit(
            [self._value(i) for i in argv], at, guarded=guarded,
            substituted=use.kind != "discard", background=background, stdin=stdin,
        )  # fmt: skip
        return self._output(text, at)

    def _sh_option(self, key: str, item: _Item) -> list[_Item]:
        """sh turns `tag="x"` into `--tag=x` and `t="x"` into `-t x`."""
        value = item.value
        if isinstance(value, _Const) and value.value is False:
            return []
        flag = f"-{key}" if len(key) == 1 else "--" + key.replace("_", "-")
        start = item.start
        flag_part = _Part(PieceKind.LITERAL, flag, start, start)
        if isinstance(value, _Const) and value.value is True:
            return [_Item(_Str((flag_part,), start, item.end), start, item.end)]
        if len(key) == 1:
            return [_Item(_Str((flag_part,), start, start), start, start), item]
        if isinstance(value, _Str):
            joined = _Str(
                (_Part(PieceKind.LITERAL, flag + "=", start, start), *value.parts), start, item.end
            )
            return [_Item(joined, item.start, item.end)]
        return [_Item(_Str((flag_part,), start, start), start, start), item]

    def _plumbum(self, cmd: _Cmd, args: _Args, node: cst.CSTNode, use: _Use, modifier: str) -> _Val:
        argv: list[_Item] = list(cmd.argv)
        argv.extend(args.pos)
        checks = "retcode" not in args.kw and modifier not in ("TF", "RETCODE")
        background = modifier in ("BG", "NOHUP")
        guarded = background or self._guarded(use, checks)
        at = self._command_range(node, [i.start for i in argv])
        text = self._emit(
            [self._value(i) for i in argv], at, guarded=guarded,
            substituted=use.kind != "discard" and not modifier, background=background,
        )  # fmt: skip
        return self._output(text, at)

    def _method(self, bound: _Bound, args: _Args, node: cst.Call, use: _Use) -> _Val:
        recv, name = bound.recv, bound.name
        if isinstance(recv, _Str):
            return self._str_method(recv, name, args, node)
        if isinstance(recv, _Cmd):
            if recv.lib == "sh" and name == "bake":
                baked = self._sh_args(args)
                return replace(recv, argv=recv.argv + tuple(baked))
            if recv.lib == "plumbum" and name in _PLUMBUM_RUNS:
                modifier = {"run_bg": "BG", "run_nohup": "NOHUP", "run_tf": "TF"}.get(name, "")
                modifier = "RETCODE" if name == "run_retcode" else modifier
                return self._plumbum(recv, args, node, use, modifier)
            if recv.lib == "plumbum" and name == "popen":
                return self._plumbum(recv, args, node, use, "BG")
        if isinstance(recv, _Image) and name == "tag":
            repo = args.get(0, "repository")
            if repo is not None:
                target = self._join_name(repo, args.get(1, "tag"))
                self._retag(_Item(recv, *self._range(node)), target, node, "docker-py image.tag")
            return _Const(True)
        if isinstance(recv, _File):
            return self._file_method(recv, name, args, node)
        if isinstance(recv, _Dict) and name in ("get", "copy"):
            if name == "copy":
                return recv
            key = args.pos[0].value if args.pos else None
            key_text = key.literal if isinstance(key, _Str) else None
            if key_text is not None:
                item = recv.get(key_text)
                if item is not None:
                    return item.value
                if recv.environ:
                    return self._environ(key_text, node)
                if len(args.pos) > 1:
                    return args.pos[1].value
            return self._unknown(node)
        if isinstance(recv, _List) and name == "copy":
            return recv
        return self._unknown(node)

    def _sh_args(self, args: _Args) -> list[_Item]:
        out: list[_Item] = list(args.pos)
        for key, item in args.kw.items():
            if not key.startswith("_"):
                out.extend(self._sh_option(key, item))
        return out

    def _str_method(self, recv: _Str, name: str, args: _Args, node: cst.Call) -> _Val:
        start, end = self._range(node)
        if name == "join" and len(args.pos) == 1:
            value = args.pos[0].value
            if not isinstance(value, _List):
                return self._unknown(node)
            parts: list[_Part] = []
            for i, item in enumerate(value.items):
                if i:
                    parts.extend(recv.parts)
                if isinstance(item.value, _Str):
                    parts.extend(p.written_at(item.start, item.end) for p in item.value.parts)
                else:
                    text = (
                        item.value.text
                        if isinstance(item.value, _Unknown)
                        else self._src(item.start, item.end)
                    )
                    parts.append(_Part(PieceKind.UNKNOWN, text, item.start, item.end))
            kept = tuple(p for p in parts if p.text or p.kind is not PieceKind.LITERAL)
            return _Str(kept or (_Part(PieceKind.LITERAL, "", start, start),), start, end)
        if name == "format":
            return self._format(recv, args, node)
        if name in ("split", "rsplit") and not args.kw:
            sep = args.pos[0].value if args.pos else _Const(None)
            if isinstance(sep, _Const) and sep.value is None and len(args.pos) <= 1:
                return _List(tuple(_Item(w, w.start, w.end) for w in self._words(recv, "split")))
            if isinstance(sep, _Str) and sep.literal and len(args.pos) == 1:
                return _List(
                    tuple(_Item(w, w.start, w.end) for w in self._split_at(recv, sep.literal))
                )
            return self._unknown(node)
        if name == "splitlines" and not args.pos:
            return _List(tuple(_Item(w, w.start, w.end) for w in self._split_at(recv, "\n")))
        if name in ("strip", "rstrip", "lstrip") and not args.pos:
            return self._strip(recv, name)
        if name in ("decode", "encode"):
            return recv
        return self._unknown(node)

    def _strip(self, recv: _Str, name: str) -> _Str:
        parts = list(recv.parts)
        if name in ("strip", "lstrip"):
            while parts and parts[0].kind is PieceKind.LITERAL:
                text = parts[0].text
                cut = len(text) - len(text.lstrip())
                if cut < len(text):
                    parts[0] = parts[0].sub(cut, len(text))
                    break
                parts.pop(0)
        if name in ("strip", "rstrip"):
            while parts and parts[-1].kind is PieceKind.LITERAL:
                text = parts[-1].text
                keep = len(text.rstrip())
                if keep:
                    parts[-1] = parts[-1].sub(0, keep)
                    break
                parts.pop()
        if not parts:
            return _Str(
                (_Part(PieceKind.LITERAL, "", recv.start, recv.start),), recv.start, recv.end
            )
        return _Str(tuple(parts), recv.start, recv.end)

    def _split_at(self, value: _Str, sep: str) -> list[_Str]:
        out: list[_Str] = []
        current: list[_Part] = []
        for part in value.parts:
            if part.kind is not PieceKind.LITERAL:
                current.append(part)
                continue
            text = part.text
            at = 0
            i = text.find(sep)
            while i >= 0:
                current.append(part.sub(at, i))
                out.append(self._joined(current, part.char_range(i)[0]))
                current = []
                at = i + len(sep)
                i = text.find(sep, at)
            current.append(part.sub(at, len(text)))
        out.append(self._joined(current, value.end))
        return out

    @staticmethod
    def _joined(parts: list[_Part], at: int) -> _Str:
        kept = tuple(p for p in parts if p.text or p.kind is not PieceKind.LITERAL)
        if not kept:
            return _Str((_Part(PieceKind.LITERAL, "", at, at),), at, at)
        return _Str(kept, kept[0].start, kept[-1].end)

    def _format(self, fmt: _Str, args: _Args, node: cst.Call) -> _Val:
        start, end = self._range(node)
        out: list[_Part] = []
        auto = 0
        for part in fmt.parts:
            if part.kind is not PieceKind.LITERAL:
                out.append(part)
                continue
            text = part.text
            at = 0
            i = 0
            while i < len(text):
                c = text[i]
                if c in "{}" and text[i + 1 : i + 2] == c:
                    out.append(part.sub(at, i + 1))
                    i += 2
                    at = i
                    continue
                if c != "{":
                    i += 1
                    continue
                close = text.find("}", i)
                if close < 0:
                    return self._unknown(node)
                out.append(part.sub(at, i))
                spec = text[i + 1 : close]
                field_name, _, fmt_spec = spec.partition(":")
                field_name, _, conversion = field_name.partition("!")
                item: _Item | None
                if field_name == "":
                    item = args.pos[auto] if auto < len(args.pos) else None
                    auto += 1
                elif field_name.isdigit():
                    index = int(field_name)
                    item = args.pos[index] if index < len(args.pos) else None
                else:
                    item = args.kw.get(field_name)
                if item is None:
                    return self._unknown(node)
                out.extend(
                    self._splice(item.value, conversion or None, not fmt_spec, item.start, item.end)
                )
                i = close + 1
                at = i
            out.append(part.sub(at, len(text)))
        kept = tuple(p for p in out if p.text or p.kind is not PieceKind.LITERAL)
        return _Str(kept or (_Part(PieceKind.LITERAL, "", start, start),), start, end)

    def _getenv(self, args: _Args, node: cst.Call) -> _Val:
        key = args.pos[0].value if args.pos else None
        if isinstance(key, _Str) and key.literal is not None:
            return self._environ(key.literal, node)
        return self._unknown(node)

    def _path_join(self, args: _Args, node: cst.Call) -> _Val:
        parts: list[_Part] = []
        start, end = self._range(node)
        for item in args.pos:
            value = item.value
            if not isinstance(value, _Str):
                return self._unknown(node)
            literal = value.literal
            if literal is not None and literal.startswith("/"):
                parts = []
            elif parts and not parts[-1].text.endswith("/"):
                parts.append(_Part(PieceKind.LITERAL, "/", item.start, item.start))
            parts.extend(value.parts)
        if not parts:
            return self._unknown(node)
        return _Str(tuple(parts), start, end)

    def _shlex(self, name: str, args: _Args, node: cst.Call) -> _Val:
        if not args.pos:
            return self._unknown(node)
        value = args.pos[0].value
        if name == "split" and isinstance(value, _Str):
            return _List(tuple(_Item(w, w.start, w.end) for w in self._words(value, "posix")))
        if name == "quote" and isinstance(value, _Str):
            return self._quoted(value)
        if name == "join" and isinstance(value, _List):
            start, end = self._range(node)
            parts: list[_Part] = []
            for i, item in enumerate(value.items):
                if i:
                    parts.append(_Part(PieceKind.LITERAL, " ", item.start, item.start))
                if isinstance(item.value, _Str):
                    parts.extend(self._quoted(item.value).parts)
                else:
                    parts.append(
                        _Part(
                            PieceKind.UNKNOWN, self._src(item.start, item.end), item.start, item.end
                        )
                    )
            return _Str(tuple(parts), start, end)
        return self._unknown(node)

    @staticmethod
    def _quoted(value: _Str) -> _Str:
        """`shlex.quote`: literal text with shell-special characters gets quotes."""
        text = value.literal
        if text is None or (text and re.fullmatch(r"[\w@%+=:,./-]+", text)) or "'" in text:
            return value
        quote_at_start = _Part(PieceKind.LITERAL, "'", value.start, value.start)
        quote_at_end = _Part(PieceKind.LITERAL, "'", value.end, value.end)
        return _Str((quote_at_start, *value.parts, quote_at_end), value.start, value.end)

    def _builtin(self, name: str, args: _Args, node: cst.Call) -> _Val:
        if name == "open" and args.pos:
            return self._open(args.pos[0].value, args.get(1, "mode"), node)
        if name == "print":
            out = args.kw.get("file")
            if out is not None and isinstance(out.value, _File):
                line = self._joined_items(args.pos, " ")
                if args.pos:
                    at = _Item(line, args.pos[0].start, args.pos[-1].end)
                    self._write(out.value, at, "\n", node)
            return _Const(None)
        if name in ("str", "list", "tuple") and len(args.pos) == 1:
            value = args.pos[0].value
            if name == "str":
                if isinstance(value, _Str):
                    return value
                if (
                    isinstance(value, _Const)
                    and isinstance(value.value, int)
                    and not isinstance(value.value, bool)
                ):
                    item = args.pos[0]
                    return _Str(
                        (_Part(PieceKind.LITERAL, str(value.value), item.start, item.end),),
                        item.start,
                        item.end,
                    )
            elif isinstance(value, _List):
                return value
        return self._unknown(node)

    # ---- output writes

    def _open(self, target: _Val, mode: _Item | None, node: cst.CSTNode) -> _Val:
        """`open(path, mode)` for writing: what it writes to, else unknown."""
        mode_value = mode.value if mode is not None else None
        mode_text = mode_value.literal if isinstance(mode_value, _Str) else None
        if mode is None or mode_text is None or not set(mode_text) & set("wax"):
            return self._unknown(node)
        if not isinstance(target, _Str):
            return self._unknown(node)
        if len(target.parts) == 1 and target.parts[0].kind is PieceKind.VAR:
            var = target.parts[0].text
            if var == "GITHUB_OUTPUT":
                return _File(WriteTarget.OUTPUT, var)
            if var == "GITHUB_ENV":
                return _File(WriteTarget.ENV, var)
            if var.startswith("GITHUB_"):  # step summary, path, state: not values
                return self._unknown(node)
        text = target.display
        if text.startswith("/dev/"):
            return self._unknown(node)
        return _File(WriteTarget.FILE, text)

    def _file_method(self, file: _File, name: str, args: _Args, node: cst.Call) -> _Val:
        if file.path is not None:  # a pathlib.Path
            if name == "open":
                return self._open(file.path, args.get(0, "mode"), node)
            if name in ("write_text", "write_bytes") and args.pos:
                opened = self._open(
                    file.path, _Item(_Str((_Part(PieceKind.LITERAL, "w", 0, 0),), 0, 0), 0, 0), node
                )
                if isinstance(opened, _File):
                    self._write(opened, args.pos[0], "", node)
            return self._unknown(node)
        if name == "write" and args.pos:
            self._write(file, args.pos[0], "", node)
        elif name == "writelines" and args.pos and isinstance(args.pos[0].value, _List):
            for item in args.pos[0].value.items:
                self._write(file, item, "", node)
        return _Const(None)

    def _joined_items(self, items: Sequence[_Item], sep: str) -> _Str:
        parts: list[_Part] = []
        for i, item in enumerate(items):
            if i:
                parts.append(_Part(PieceKind.LITERAL, sep, item.start, item.start))
            value = item.value
            if isinstance(value, _Str):
                parts.extend(p.written_at(item.start, item.end) for p in value.parts)
            elif isinstance(value, _Unknown):
                parts.append(_Part(PieceKind.UNKNOWN, value.text, item.start, item.end))
            else:
                text = self._src(item.start, item.end)
                parts.append(_Part(PieceKind.UNKNOWN, text, item.start, item.end))
        if not parts:
            return _Str((_Part(PieceKind.LITERAL, "", -1, -1),), -1, -1)
        return _Str(tuple(parts), parts[0].start, parts[-1].end)

    def _write(self, file: _File, item: _Item, end: str, node: cst.CSTNode) -> None:
        """Record what a write puts in an output file (`name=value` lines and the
        `name<<DELIM` form for GITHUB_OUTPUT/GITHUB_ENV; the whole text for a file)."""
        content = item.value
        if not isinstance(content, _Str):
            text = self._src(item.start, item.end)
            content = _Str((_Part(PieceKind.UNKNOWN, text, item.start, item.end),), *item[1:])
        span = self._span(*self._command_range(node, [item.start]))
        if file.target is WriteTarget.FILE:
            whole = self._value(_Item(self._strip(content, "rstrip"), item.start, item.end))
            self.writes.append(OutputWrite(WriteTarget.FILE, file.name, whole, span, self.path))
            return
        lines = self._split_at(content, "\n")
        if end != "\n" and lines and lines[-1].literal == "":
            lines.pop()
        key = (file.target, file.name)
        for line in lines:
            pending = self.pending.get(key)
            if pending is not None:
                name, delim, body = pending
                if line.literal is not None and line.literal.strip() == delim:
                    del self.pending[key]
                    joined = self._joined_items([_Item(b, b.start, b.end) for b in body], "\n")
                    self._add_write(file, name, joined, span)
                else:
                    body.append(line)
                continue
            first = line.parts[0] if line.parts else None
            if first is None or first.kind is not PieceKind.LITERAL:
                continue
            head = first.text
            heredoc = head.find("<<")
            equals = head.find("=")
            if heredoc > 0 and (equals < 0 or heredoc < equals):
                delimiter = line.display[heredoc + 2 :].strip()
                self.pending[key] = (head[:heredoc].strip(), delimiter, [])
            elif equals > 0:
                rest = (first.sub(equals + 1, len(head)), *line.parts[1:])
                kept = tuple(p for p in rest if p.text or p.kind is not PieceKind.LITERAL)
                value = _Str(kept or rest[:1], (kept or rest)[0].start, line.end)
                self._add_write(file, head[:equals].strip(), value, span)

    def _add_write(self, file: _File, name: str, value: _Val, span: Span) -> None:
        if not isinstance(value, _Str) or not name:
            return
        start = value.parts[0].wstart if value.parts[0].moved else value.parts[0].start
        end = value.parts[-1].wend if value.parts[-1].moved else value.parts[-1].end
        written = self._value(_Item(value, start, end))
        self.writes.append(OutputWrite(file.target, name, written, span, self.path))

    # ---- Docker SDK and python-on-whales

    def _op(
        self,
        role: Role,
        tool: str,
        images: Iterable[ImageArg],
        node: cst.CSTNode,
        *,
        push: bool = False,
        load: bool = False,
        context: Value | None = None,
        dockerfile: Value | None = None,
        platforms: tuple[str, ...] = (),
        push_by_digest: bool = False,
        provenance: bool = False,
        note: str = "",
    ) -> int:
        op = Operation(
            role,
            tool,
            self._call_span(node, self.origins),
            self.path,
            tuple(images),
            push=push,
            load=load,
            context=context,
            dockerfile=dockerfile,
            platforms=platforms,
            push_by_digest=push_by_digest,
            provenance=provenance,
            can_fail=not self.swallow,
            note=note,
        )
        self.operations.append(op)
        return len(self.operations) - 1

    def _join_name(self, repo: _Item, tag: _Item | None) -> Value:
        """`repository` and `tag` arguments as one reference."""
        return self._value(self._join_item(repo, tag))

    def _join_item(self, repo: _Item, tag: _Item | None) -> _Item:
        if tag is None or (isinstance(tag.value, _Const) and tag.value.value is None):
            return repo
        parts: list[_Part] = []
        for item in (repo, tag):
            value = item.value
            if isinstance(value, _Str):
                parts.extend(p.written_at(item.start, item.end) for p in value.parts)
            else:
                text = self._src(item.start, item.end)
                parts.append(_Part(PieceKind.UNKNOWN, text, item.start, item.end))
            if item is repo:
                parts.append(_Part(PieceKind.LITERAL, ":", item.end, item.end))
        start, end = min(repo.start, tag.start), max(repo.end, tag.end)
        return _Item(_Str(tuple(parts), start, end), start, end)

    def _image_value(self, item: _Item) -> Value:
        value = item.value
        if isinstance(value, _Image):
            if value.ref is None:
                return self._value(item)
            return self._value(_Item(value.ref.value, item.start, item.end))
        return self._value(item)

    def _names(self, item: _Item | None) -> list[Value]:
        if item is None:
            return []
        value = item.value
        if isinstance(value, _List):
            return [self._image_value(i) for i in value.items]
        if isinstance(value, _Const) and value.value is None:
            return []
        return [self._image_value(item)]

    def _platforms(self, item: _Item | None) -> tuple[str, ...]:
        out: list[str] = []
        for v in self._names(item):
            if v.is_static:
                out.extend(p.strip() for p in v.text.split(",") if p.strip())
            else:
                out.append(v.text)
        return tuple(out)

    def _pull(self, name: Value, node: cst.CSTNode) -> None:
        ref = ImageArg(name, ImageUse.PULL)
        self.references.append(ref)
        self.pulled[_norm(name.text)] = ref

    def _push(self, name: Value, node: cst.CSTNode, tool: str) -> None:
        source = self.retags.get(_norm(name.text))
        if source is not None and source[1]:
            images = (
                ImageArg(source[0], ImageUse.COPY_SOURCE),
                ImageArg(name, ImageUse.COPY_TARGET),
            )
            self._op(Role.PROMOTE, tool, images, node, push=True, note="pull, tag and push")
            pulled = self.pulled.pop(_norm(source[0].text), None)
            if pulled is not None:
                self.references = [r for r in self.references if r is not pulled]
            return
        self._op(Role.PUSH, tool, (ImageArg(name, ImageUse.PUSH),), node, push=True)

    def _retag(self, source: _Item, target: Value, node: cst.CSTNode, tool: str) -> None:
        value = source.value
        source_ref = self._image_value(source)
        key = _norm(source_ref.text)
        build = value.op if isinstance(value, _Image) and value.origin == "build" else None
        if build is None:
            build = self.built.get(key)
        if build is not None:
            op = self.operations[build]
            self.operations[build] = replace(
                op, images=(*op.images, ImageArg(target, ImageUse.TAG))
            )
            self.built[_norm(target.text)] = build
            return
        pulled = (isinstance(value, _Image) and value.origin == "pull") or key in self.pulled
        self.retags[_norm(target.text)] = (source_ref, pulled)

    def _run_image(
        self,
        image: _Item | None,
        command: _Item | None,
        detach: bool,
        node: cst.Call,
        tool: str,
        run: bool,
    ) -> None:
        if image is None:
            return
        ref = ImageArg(self._image_value(image), ImageUse.RUN)
        value = command.value if command is not None else None
        if isinstance(value, _List):
            has_command = bool(value.items)
        elif isinstance(value, _Const):
            has_command = bool(value.value)
        else:
            has_command = value is not None
        if run and (has_command or detach):
            note = "detached service" if detach and not has_command else ""
            self._op(Role.VALIDATE, tool, (ref,), node, note=note)
        else:
            self.references.append(ref)

    def _library(self, qual: str, args: _Args, node: cst.Call) -> _Val:
        """A Docker SDK or python-on-whales call; operations are reported where the
        arguments are written (see `_command_range`)."""
        saved = self.origins
        self.origins = [_origin(i) for i in (*args.pos, *args.kw.values())]
        try:
            if qual.startswith(_SDK + "."):
                return self._sdk(qual[len(_SDK) + 1 :], args, node)
            return self._whales(qual[len(_WHALES) + 1 :], args, node)
        finally:
            self.origins = saved

    def _sdk(self, method: str, args: _Args, node: cst.Call) -> _Val:
        tool = "docker-py " + method
        start, end = self._range(node)
        if method in ("images.build", "api.build"):
            path = args.get(0 if method == "api.build" else -1, "path")
            tag = args.kw.get("tag")
            names = self._names(tag)
            platform = args.kw.get("platform")
            dockerfile = args.kw.get("dockerfile")
            index = self._op(
                Role.BUILD, tool, [ImageArg(n, ImageUse.TAG) for n in names], node, load=True,
                context=self._value(path) if path is not None else None,
                dockerfile=self._value(dockerfile) if dockerfile is not None else None,
                platforms=self._platforms(platform),
            )  # fmt: skip
            for n in names:
                self.built[_norm(n.text)] = index
            image = _Image(tag, "build", index)
            if method == "images.build":
                logs = _Item(_Unknown("logs", start, end), start, end)
                return _List((_Item(image, start, end), logs))
            return self._unknown(node)
        if method in ("images.push", "api.push"):
            repo = args.get(0, "repository")
            if repo is not None:
                self._push(self._join_name(repo, args.get(1, "tag")), node, tool)
            return self._unknown(node)
        if method in ("images.pull", "api.pull"):
            repo = args.get(0, "repository")
            if repo is None:
                return self._unknown(node)
            joined = self._join_item(repo, args.get(1, "tag"))
            self._pull(self._value(joined), node)
            return _Image(joined, "pull")
        if method == "images.get":
            local = args.get(0, "name")
            return _Image(local, "get") if local is not None else self._unknown(node)
        if method in ("images.get_registry_data", "api.inspect_distribution"):
            remote = args.get(0, "name" if method.startswith("images") else "image")
            if remote is not None:
                self.references.append(ImageArg(self._image_value(remote), ImageUse.INPUT))
            return self._unknown(node)
        if method in ("containers.run", "containers.create", "api.create_container"):
            self._run_image(
                args.get(0, "image"), args.get(1, "command"),
                self._truthy(args.kw.get("detach"), unknown=False), node, tool,
                run=method == "containers.run",
            )  # fmt: skip
            return self._unknown(node)
        if method == "api.tag":
            source, repo = args.get(0, "image"), args.get(1, "repository")
            if source is not None and repo is not None:
                self._retag(source, self._join_name(repo, args.get(2, "tag")), node, tool)
            return _Const(True)
        if method in ("images", "containers", "api", "images.list", "containers.list"):
            return _Ref(f"{_SDK}.{method}")
        return self._unknown(node)

    def _whales(self, method: str, args: _Args, node: cst.Call) -> _Val:
        tool = "python-on-whales " + method
        if method in ("build", "buildx.build", "legacy_build", "image.legacy_build"):
            return self._whales_build(method, args, node, tool)
        if method in ("push", "image.push"):
            for name in self._names(args.get(0, "x")):
                self._push(name, node, tool)
            return self._unknown(node)
        if method in ("pull", "image.pull"):
            target = args.get(0, "x")
            for name in self._names(target):
                self._pull(name, node)
            return _Image(target, "pull") if target is not None else self._unknown(node)
        if method in ("tag", "image.tag"):
            source, target = args.get(0, "source_image"), args.get(1, "new_tag")
            if source is not None and target is not None:
                self._retag(source, self._image_value(target), node, tool)
            return self._unknown(node)
        if method in ("run", "container.run", "create", "container.create"):
            self._run_image(
                args.get(0, "image"), args.get(1, "command"),
                self._truthy(args.kw.get("detach"), unknown=False), node, tool,
                run=method.endswith("run"),
            )  # fmt: skip
            return self._unknown(node)
        if method == "buildx.imagetools.create":
            if self._truthy(args.kw.get("dry_run"), unknown=False):
                return self._unknown(node)
            images = [
                ImageArg(v, ImageUse.COPY_SOURCE) for v in self._names(args.get(0, "sources"))
            ]
            images += [ImageArg(v, ImageUse.COPY_TARGET) for v in self._names(args.get(1, "tags"))]
            self._op(Role.PROMOTE, tool, images, node, push=True)
            return self._unknown(node)
        if method in ("buildx.imagetools.inspect", "manifest.inspect"):
            for name in self._names(args.get(0, "name")):
                self.references.append(ImageArg(name, ImageUse.INPUT))
            return self._unknown(node)
        if method == "buildx.bake":
            return self._whales_bake(args, node)
        if method.startswith("compose.") and method.count(".") == 1:
            return self._whales_compose(method.split(".", 1)[1], args, node)
        if method in ("buildx", "image", "container", "compose", "buildx.imagetools", "manifest"):
            return _Ref(f"{_WHALES}.{method}")
        return self._unknown(node)

    def _whales_build(self, method: str, args: _Args, node: cst.Call, tool: str) -> _Val:
        context = args.get(0, "context_path")
        names = self._names(args.kw.get("tags"))
        legacy = method.endswith("legacy_build")
        push = not legacy and self._truthy(args.kw.get("push"))
        load = legacy or self._truthy(args.kw.get("load"), unknown=False)
        by_digest = False
        output = args.kw.get("output")
        if output is not None and isinstance(output.value, _Dict):
            fields = {
                k: (v.value.literal or "").lower()
                for k, v in output.value.items
                if isinstance(v.value, _Str)
            }
            kind = fields.get("type", "")
            if kind == "registry" or (kind == "image" and fields.get("push") == "true"):
                push = True
            elif kind == "docker":
                load = True
            by_digest = fields.get("push-by-digest") == "true"
        elif output is not None:
            push = push or not isinstance(output.value, _Const)
        if not push and not load and output is None:
            load = True  # the default docker driver keeps the image locally
        provenance = self._truthy(args.kw.get("provenance"), unknown=False)
        attest = args.kw.get("attest")
        if attest is not None and isinstance(attest.value, _Dict):
            kind_item = attest.value.get("type")
            if kind_item is not None and isinstance(kind_item.value, _Str):
                provenance = provenance or kind_item.value.literal == "provenance"
        file = args.kw.get("file")
        platforms = self._platforms(args.kw.get("platforms"))
        context_value = (
            self._value(context)
            if context is not None
            else Value.literal(".", self._call_span(node, self.origins), self.path)
        )
        index = self._op(
            Role.BUILD, tool, [ImageArg(n, ImageUse.TAG) for n in names], node,
            push=push, load=load, context=context_value,
            dockerfile=self._value(file) if file is not None else None,
            platforms=platforms, push_by_digest=by_digest, provenance=provenance and push,
        )  # fmt: skip
        if push:
            self._op(
                Role.PUSH, tool, [ImageArg(n, ImageUse.PUSH) for n in names], node,
                push=True, platforms=platforms, push_by_digest=by_digest,
                provenance=provenance, note="pushed by the build",
            )  # fmt: skip
        for n in names:
            self.built[_norm(n.text)] = index
        tags = args.kw.get("tags")
        first: _Item | None = tags
        if tags is not None and isinstance(tags.value, _List):
            first = tags.value.items[0] if tags.value.items else None
        return _Image(first, "build", index)

    def _synthetic(self, words: list[str | _Item], node: cst.Call) -> None:
        at = self._command_range(node, self.origins)
        span = self._span(*at)
        argv = [
            Value.literal(w, span, self.path) if isinstance(w, str) else self._value(w)
            for w in words
        ]
        self._emit(argv, at, guarded=bool(self.swallow))

    def _whales_bake(self, args: _Args, node: cst.Call) -> _Val:
        words: list[str | _Item] = ["docker", "buildx", "bake"]
        files = args.kw.get("files")
        for item in (
            files.value.items
            if files and isinstance(files.value, _List)
            else [files]
            if files
            else []
        ):
            words += ["-f", item]
        if self._truthy(args.kw.get("push")):
            words.append("--push")
        if self._truthy(args.kw.get("load"), unknown=False):
            words.append("--load")
        settings = args.kw.get("set")
        if settings is not None and isinstance(settings.value, _Dict):
            for key, item in settings.value.items:
                if isinstance(item.value, _Str):
                    joined = _Str(
                        (
                            _Part(PieceKind.LITERAL, key + "=", item.start, item.start),
                            *item.value.parts,
                        ),
                        item.start,
                        item.end,
                    )
                    words += ["--set", _Item(joined, item.start, item.end)]
        targets = args.get(0, "targets")
        if targets is not None:
            words += list(targets.value.items) if isinstance(targets.value, _List) else [targets]
        self._synthetic(words, node)
        return self._unknown(node)

    def _whales_compose(self, sub: str, args: _Args, node: cst.Call) -> _Val:
        words: list[str | _Item] = ["docker", "compose", sub]
        flags = {
            "build": "--build",
            "detach": "-d",
            "push": "--push",
            "abort_on_container_exit": "--abort-on-container-exit",
        }
        for key, flag in flags.items():
            if sub != "build" and self._truthy(args.kw.get(key), unknown=False):
                words.append(flag)
        services = args.get(0, "services" if sub != "run" else "service")
        if services is not None:
            words += list(services.value.items) if isinstance(services.value, _List) else [services]
        command = args.get(1, "command") if sub == "run" else None
        if command is not None:
            words += list(command.value.items) if isinstance(command.value, _List) else [command]
        self._synthetic(words, node)
        return self._unknown(node)

    # ---- reporting commands

    def _command_range(self, node: cst.CSTNode, origins: Iterable[int] = ()) -> tuple[int, int]:
        """Where a command run by the call `node` is reported: at `node`, unless words of
        it (written at `origins`) come from the arguments of a call of a local function
        being followed: then at the innermost such call, where the command is written."""
        here = self._range(node)
        points = [o for o in origins if o >= 0]
        if all(here[0] <= o < here[1] for o in points):
            return here
        for start, end in reversed(self.sites):
            if any(start <= o < end for o in points):
                return start, end
        return here

    def _call_span(self, node: cst.CSTNode, origins: Iterable[int] = ()) -> Span:
        return self._span(*self._command_range(node, origins))

    def _value(self, item: _Item) -> Value:
        value = item.value
        span = self._span(item.start, item.end)
        if isinstance(value, _Str):
            return Value(self._pieces(value, item.start, item.end), span, self.path)
        if (
            isinstance(value, _Const)
            and isinstance(value.value, (int, float))
            and not isinstance(value.value, bool)
        ):
            return Value.literal(str(value.value), span, self.path)
        if isinstance(value, _Image) and value.ref is not None:
            return self._value(_Item(value.ref.value, item.start, item.end))
        text = value.text if isinstance(value, _Unknown) else self._src(item.start, item.end)
        return Value((Piece(PieceKind.UNKNOWN, text, span),), span, self.path)

    def _pieces(self, value: _Str, start: int, end: int) -> tuple[Piece, ...]:
        out: list[Piece] = []
        for part in value.parts:
            if part.kind is PieceKind.LITERAL:
                out.extend(self._literal_pieces(part))
            else:
                out.append(Piece(part.kind, part.text, self._span(part.start, part.end)))
        if not out:
            at = value.parts[0].start if value.parts else start
            out.append(Piece(PieceKind.LITERAL, "", self._span(at, at)))
        return tuple(out)

    def _placeholder_at(self, offset: int) -> int:
        i = bisect.bisect_right(self.placeholder_starts, offset) - 1
        if i >= 0 and offset < self.placeholders[i][1]:
            return i
        return -1

    def _literal_pieces(self, part: _Part) -> list[Piece]:
        text = part.text
        if not text:
            return []
        exact = part.end - part.start == len(text) and "\n" not in text
        if part.lit is None or (exact and not self.placeholders):
            if self.placeholders and part.lit is None:
                i = self._placeholder_at(part.start)
                if i >= 0 and self.placeholders[i][1] >= part.end:
                    p = self.placeholders[i]
                    return [Piece(PieceKind.EXPR, p[2], self._span(p[0], p[1]))]
            return [Piece(PieceKind.LITERAL, text, self._span(part.start, part.end))]
        pieces: list[Piece] = []
        run_start = 0
        run_ph = -2
        prev_end = -1
        last_ph = -1
        for k in range(len(text) + 1):
            if k < len(text):
                a, b = part.char_range(k)
                ph = self._placeholder_at(a)
                single = b - a == 1 and text[k] != "\n"
                continues = k > 0 and ph == run_ph and (ph >= 0 or (single and a == prev_end))
            else:
                continues = False
                a = b = ph = 0
                single = False
            if not continues and k > 0:
                if run_ph >= 0:
                    if run_ph != last_ph:
                        s, e, original = self.placeholders[run_ph]
                        pieces.append(Piece(PieceKind.EXPR, original, self._span(s, e)))
                        last_ph = run_ph
                else:
                    rs = part.char_range(run_start)[0]
                    re_ = part.char_range(k - 1)[1]
                    pieces.append(Piece(PieceKind.LITERAL, text[run_start:k], self._span(rs, re_)))
            if not continues:
                run_start = k
                run_ph = ph if k < len(text) else -2
            if k < len(text):
                prev_end = b if single else -1
        return pieces

    def _emit(
        self,
        argv: list[Value],
        at: tuple[int, int],
        *,
        guarded: bool,
        substituted: bool = False,
        background: bool = False,
        stdin: _Item | None = None,
        redirects: tuple[tuple[str, Value], ...] = (),
    ) -> str:
        stdin_value = self._value(stdin) if stdin is not None else None
        self.commands.append(
            Command(
                tuple(argv),
                self._span(*at),
                self.path,
                guarded=guarded,
                substituted=substituted,
                background=background,
                stdin=stdin_value,
                redirects=redirects,
            )
        )
        return " ".join(v.text for v in argv)

    def _emit_shell(
        self,
        value: _Str,
        at: tuple[int, int],
        *,
        guarded: bool,
        substituted: bool,
        background: bool,
        env: _Item | None,
        stdin: _Item | None,
    ) -> None:
        env_dict = env.value if env is not None and isinstance(env.value, _Dict) else None

        def lookup(name: str) -> _Str | None:
            if env_dict is not None:
                item = env_dict.get(name)
                if item is not None:
                    return item.value if isinstance(item.value, _Str) else None
                if not env_dict.environ:
                    return None
            return self.env.get(name)

        cmds = _ShellReader(_atoms(value), "shell", lookup).run()
        for cmd, words, inner_guard, inner_bg in _shell_commands(cmds):
            redirects = tuple(
                (op, self._value(_Item(target, target.start, target.end)))
                for op, target in cmd.redirects
            )
            self._emit(
                [self._value(_Item(w, w.start, w.end)) for w in words], at,
                guarded=guarded or inner_guard, substituted=substituted,
                background=background or inner_bg,
                stdin=_Item(cmd.stdin, cmd.stdin.start, cmd.stdin.end) if cmd.stdin else stdin,
                redirects=redirects,
            )  # fmt: skip

    def _words(self, value: _Str, mode: str) -> list[_Str]:
        cmds = _ShellReader(_atoms(value), mode, lambda name: None).run()
        return cmds[0].words if cmds else []


def _same(a: _Val, b: _Val) -> bool:
    """Two values that read the same (different literals with the same text too)."""
    if a is b:
        return True
    if isinstance(a, _Str) and isinstance(b, _Str):
        return a.display == b.display
    if isinstance(a, _List) and isinstance(b, _List):
        return len(a.items) == len(b.items) and all(
            _same(x.value, y.value) for x, y in zip(a.items, b.items, strict=True)
        )
    return a == b


def _origin(item: _Item) -> int:
    """Where the value an argument passes was written."""
    value = item.value
    if isinstance(value, _Image) and value.ref is not None:
        value = value.ref.value
    if isinstance(value, (_Str, _List)) and value.start >= 0:
        return value.start
    return item.start


def _params(params: cst.Parameters) -> list[cst.Param]:
    out = [*params.posonly_params, *params.params, *params.kwonly_params]
    if isinstance(params.star_arg, cst.Param):
        out.append(params.star_arg)
    if params.star_kwarg is not None:
        out.append(params.star_kwarg)
    return out


def _analyse(source: str, path: str, locate: Locate | None) -> PythonScript:
    base = 0
    text = source
    if text.startswith("\ufeff"):
        text, base = text[1:], 1
    original = text
    placeholders: list[tuple[int, int, str]] = []
    if locate is not None and "${{" in text:
        text, placeholders = _mask_placeholders(text)
    plan = _plan(text)
    if isinstance(plan, str):
        return PythonScript(errors=(plan,), opaque=True)
    if not plan.regions:  # nothing to walk: what the analyser would give, without it
        return PythonScript(errors=tuple(plan.errors[:_MAX_ERRORS]), opaque=plan.opaque)
    analyser = _Analyser(text, original, base, locate or file_locator(source), path, placeholders)
    analyser.errors.extend(plan.errors)
    analyser.opaque = plan.opaque
    analyser.parse(plan)
    analyser.run()
    return analyser.result()
