"""Shell scripts (bash and sh): the commands a script runs and the outputs it writes.

`analyse` parses a `run:` body or a script file with tree-sitter-bash and returns a
`ShellScript`: every simple command (`Command`, with its arguments as `Value`s), every
`$GITHUB_OUTPUT` / `$GITHUB_ENV` write and every write of a value to an ordinary file
(`OutputWrite`), the variables the script assigns, and the parse errors met. It never
runs anything and never raises.

How the script is read
----------------------
* `${{ }}` placeholders are replaced, before parsing, by a word of the same length
  (`_` repeated, or `.` repeated right after a `$NAME` so that the placeholder does not
  extend the variable name), and mapped back: any piece of a word that overlaps a
  placeholder becomes an EXPR piece holding the original `${{ ... }}` text. Offsets
  are kept, so every span is exact.
* Words become `Value`s: quotes removed and escapes resolved the way bash does for
  unquoted text, `"..."`, `'...'`, `$'...'` and here-documents; `$VAR` and `${VAR}`
  are replaced by the pieces of the variable's known value (from earlier assignments
  in the script, or from `env`), keeping the spans where those pieces are written,
  else they are VAR pieces; `$(...)` and backticks are COMMAND pieces whose text is
  the inner source with known variables substituted; `${VAR:-x}`, `${VAR:=x}`,
  `${VAR:?x}` are the variable (VAR when unknown); `${VAR#p}`, `%`, `/`, `^^`, `,,`
  are computed when the value and the pattern are static, else UNKNOWN; arithmetic,
  arrays, indirection, `${#VAR}`, process substitution and words with an unquoted `*`
  are UNKNOWN; a leading `~` is `$HOME`.
* Argument expansion follows bash: `FOO=bar cmd $FOO` expands `$FOO` with the value
  *before* the prefix assignment (the prefix only sets the command's environment).
* `guarded` follows bash `-e` semantics: the command is in an `if`/`while`/`until`
  condition, negated with `!`, not the last element of a pipeline without
  `pipefail`, on the left of `|| <cannot fail>` (`true`, `:`, `exit 0`, `echo`,
  `printf`, an assignment), on the left of `&&` when the list is not the last
  statement of the script (bash ignores the failure there), in the background, or
  after `set +e` (or under a `shell:` without `-e`). A condition whose failure branch
  exits non-zero (`if ! pytest; then exit 1; fi`) is a check, not a guard; and a
  guarded command whose status is saved (`rc=$?`, `cmd || rc=$?`) and later tested or
  passed to `exit` (or whose `$?` is tested directly) is not guarded either.
* Writes: `echo`/`printf`/`cat <<EOF`/`tee` to `$GITHUB_OUTPUT` or `$GITHUB_ENV`,
  through redirects, redirected groups `{ ...; } >> $GITHUB_OUTPUT`, and pipes into
  `tee`, in both the `name=value` and the multi-line `name<<DELIM` forms; writes to
  other files (not `/dev/*`, not `$GITHUB_STEP_SUMMARY`, `$GITHUB_PATH`,
  `$GITHUB_STATE`) are FILE writes named by the path text. The output of any other
  command is a COMMAND piece (so `crane digest x > d.txt` writes `$(crane digest x)`).
  The deprecated `echo "::set-output name=x::v"` is an OUTPUT write too.
* `$(...)` nested deeper than `MAX_SUBSTITUTION_DEPTH` is not analysed (an error, and
  the script is opaque); the walk over the syntax tree is iterative, and word
  structures nested deeper than 64 levels are UNKNOWN pieces.

What is not modelled: functions are analysed once where defined (not per call), and
their assignments, like those of subshells, do not leak out; loops run once; `eval`,
`source`, aliases and `shopt` are not followed; several here-documents on one line,
and constructs tree-sitter-bash cannot parse, give errors and an opaque script.
"""

from __future__ import annotations

import bisect
import fnmatch
import itertools
import operator
import re
import threading
from array import array
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from digestgate.expressions import find_placeholders
from digestgate.facts import Command, OutputWrite, Piece, PieceKind, Value, WriteTarget
from digestgate.span import Locate, Span, file_locator

if TYPE_CHECKING:
    from tree_sitter import Node, Parser

__all__ = ["ShellMode", "ShellScript", "analyse", "file_locator", "shell_mode"]

MAX_SUBSTITUTION_DEPTH = 64
"""Nested `$(...)` deeper than this are not analysed (the script is marked opaque)."""

_MAX_WORD_DEPTH = 64
_MAX_SCAN = 5000
_MAX_ERRORS = 20

# A NamedTuple's constructor is a Python function, one frame per tuple made. A script
# makes some fifty `_Pc`, `_V`, `Piece`, `Value` and `Span` tuples, so the hot paths
# make them with `_new(cls, (field, ...))`: tuple.__new__, a C call, every field given
# in declaration order. About twice as fast; the tuples are the same.
_new = tuple.__new__


@dataclass(frozen=True)
class ShellScript:
    """What a shell script does, as far as can be read without running it."""

    commands: tuple[Command, ...] = ()
    writes: tuple[OutputWrite, ...] = ()
    variables: Mapping[str, Value] = field(default_factory=dict)
    errors: tuple[str, ...] = ()
    opaque: bool = False


# --------------------------------------------------------------------------- shells


@dataclass(frozen=True, slots=True)
class ShellMode:
    """How a `shell:` runs the script: the shell and its `-e` / `pipefail` options."""

    name: str  # "bash" or "sh"
    errexit: bool
    pipefail: bool


_SHELL_PROGRAMS = {"bash": "bash", "sh": "sh", "dash": "sh", "ash": "sh"}


def shell_mode(shell: str | None) -> ShellMode | None:
    """GitHub's reading of a step's `shell:`; None when it is not bash or sh.

    No shell (Linux default) is `bash -e {0}`; `bash` is
    `bash --noprofile --norc -eo pipefail {0}`; `sh` is `sh -e {0}`; a custom
    command line is read for its program and its `-e`/`-o pipefail` flags.
    """
    if shell is None or not shell.strip():
        return ShellMode("bash", True, False)
    text = shell.strip()
    if text == "bash":
        return ShellMode("bash", True, True)
    if text == "sh":
        return ShellMode("sh", True, False)
    tokens = text.split()
    i = 0
    if _basename(tokens[0]) == "env":
        i = 1
        while i < len(tokens) and (tokens[i].startswith("-") or "=" in tokens[i]):
            i += 1
    program = _SHELL_PROGRAMS.get(_basename(tokens[i])) if i < len(tokens) else None
    if program is None:
        return None
    options = {"errexit": False, "pipefail": False}
    _apply_set_flags(tokens[i + 1 :], options)
    return ShellMode(program, options["errexit"], options["pipefail"])


def _basename(word: str) -> str:
    return word.rsplit("/", 1)[-1].rsplit("\\", 1)[-1].lower().removesuffix(".exe")


def _apply_set_flags(args: list[str], options: dict[str, bool]) -> None:
    """Apply `set`-style flags (`-e`, `+e`, `-o pipefail`, `-euo pipefail`)."""
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg in ("--", "-") or len(arg) < 2 or arg[0] not in "-+" or arg.startswith("--"):
            if arg.startswith("--") and arg != "--":
                continue  # long options of a shell command line (--noprofile)
            if arg == "{0}":
                continue
            break
        on = arg[0] == "-"
        for ch in arg[1:]:
            if ch == "e":
                options["errexit"] = on
            elif ch == "o" and i < len(args):
                name = args[i]
                i += 1
                if name in options:
                    options[name] = on


def _shell_label(shell: str) -> str:
    tokens = shell.split()
    return _basename(tokens[0]) if tokens else shell


# --------------------------------------------------------------------------- locating


_BYTE_RANGE = operator.attrgetter("start_byte", "end_byte")
_CONTINUATION = bytes(0 if 0x80 <= b < 0xC0 else 1 for b in range(256))
# tree-sitter-bash's scanner passes characters to isalpha() and kin, which index a
# 384-entry table: one far above U+00FF reads outside it and can crash the process
# ("{" then U+E0067). So the parser sees each non-ASCII byte as "." (a word character
# that is no part of a name), offsets unchanged; texts are still read from the source.
_ASCII_ONLY = bytes(b if b < 0x80 else ord(".") for b in range(256))


class _Bytes:
    """The UTF-8 encoding of the parsed text, and byte -> character offsets."""

    __slots__ = ("ascii", "data", "marks", "parsed")

    def __init__(self, text: str) -> None:
        self.data = text.encode("utf-8", "surrogatepass")
        self.ascii = len(self.data) == len(text)
        self.parsed = self.data if self.ascii else self.data.translate(_ASCII_ONLY)
        # marks[b]: how many characters start before byte b (non-continuation bytes)
        self.marks = (
            array("l")
            if self.ascii
            else array("l", itertools.accumulate(self.data.translate(_CONTINUATION), initial=0))
        )

    def char(self, offset: int) -> int:
        if self.ascii:
            return offset
        if offset < 0:
            return 0
        marks = self.marks
        return marks[offset] if offset < len(marks) else marks[-1]

    def char_range(self, node: Node) -> tuple[int, int]:
        """The character range of a node of text that is not all ASCII."""
        marks = self.marks
        return marks[node.start_byte], marks[node.end_byte]


_PARSER: Parser | None = None
_PARSER_LOCK = threading.Lock()


def _parse(data: bytes) -> Node:
    global _PARSER
    with _PARSER_LOCK:
        if _PARSER is None:
            import tree_sitter_bash
            from tree_sitter import Language, Parser

            _PARSER = Parser(Language(tree_sitter_bash.language()))
        return _PARSER.parse(data).root_node


def warm_up() -> None:
    """Import tree-sitter and make the parser now (before worker processes fork)."""
    _parse(b"")


# --------------------------------------------------------------------------- pieces


class _Pc(NamedTuple):
    """A piece while the script is read: offsets instead of spans.

    `start`/`end` is the source range of the piece's own text (-1 when it has none,
    then `span` is set or the piece is synthetic); `exact` says `text` is exactly
    that source text; `ws`/`we` is where the piece is written in the word being
    built (differs from start/end for pieces spliced in from a variable)."""

    kind: PieceKind
    text: str
    start: int = -1
    end: int = -1
    exact: bool = False
    span: Span | None = None
    ws: int = -1
    we: int = -1
    spliced: bool = False


class _V(NamedTuple):
    """A value while the script is read: its pieces and the range it is written at."""

    pieces: tuple[_Pc, ...]
    start: int
    end: int

    @property
    def static(self) -> bool:
        # a loop, not all(...) over a generator: asked of nearly every word
        for p in self.pieces:  # noqa: SIM110
            if p.kind is not PieceKind.LITERAL:
                return False
        return True

    @property
    def literal(self) -> str:
        pieces = self.pieces
        if len(pieces) == 1:  # most words: no joining
            return pieces[0].text
        return "".join([p.text for p in pieces])


def _pc(kind: PieceKind, text: str, start: int, end: int, exact: bool = False) -> _Pc:
    return _new(_Pc, (kind, text, start, end, exact, None, start, end, False))


def _spliced(pieces: Iterable[_Pc], ws: int, we: int) -> list[_Pc]:
    """A variable's pieces, spliced into a word at `ws`/`we` (where the `$VAR` is)."""
    return [_new(_Pc, (*p[:6], ws, we, True)) for p in pieces]  # kind..span kept


def _slot_text(pieces: Iterable[_Pc]) -> str:
    out = []
    for p in pieces:
        if p.kind is PieceKind.VAR:
            out.append("${" + p.text + "}")
        elif p.kind is PieceKind.COMMAND:
            out.append("$(" + p.text + ")")
        else:
            out.append(p.text)
    return "".join(out)


def _merge(pieces: list[_Pc], src: str) -> list[_Pc]:
    """Join adjacent literal pieces of one word (not those spliced from a variable),
    when only quotes come between them (`ab"cd"`)."""
    out: list[_Pc] = []
    for p in pieces:
        if p.kind is PieceKind.LITERAL and not p.text:
            continue
        if (
            out
            and p.kind is PieceKind.LITERAL
            and out[-1].kind is PieceKind.LITERAL
            and not p.spliced
            and not out[-1].spliced
            and p.start >= 0
            and out[-1].start >= 0
            and p.span is None
            and out[-1].span is None
            and out[-1].end <= p.start
            and not src[out[-1].end : p.start].strip("\"'$")
        ):
            a = out[-1]
            exact = a.exact and p.exact and a.end == p.start
            out[-1] = _Pc(
                PieceKind.LITERAL, a.text + p.text, a.start, p.end, exact, None, a.ws, p.we
            )
        else:
            out.append(p)
    return out


# --------------------------------------------------------------------------- escapes

_PLAIN_ESCAPE = re.compile(r"\\(.)", re.S)
_DQUOTE_ESCAPE = re.compile(r'\\([$`"\\\n])')
_HEREDOC_ESCAPE = re.compile(r"\\([$`\\\n])")
_ANSI_ESCAPE = re.compile(
    r"\\(?:([abeEfnrtv\\'\"?])|x([0-9a-fA-F]{1,2})|u([0-9a-fA-F]{1,4})|U([0-9a-fA-F]{1,8})"
    r"|([0-7]{1,3})|c(.))",
    re.S,
)
_ANSI_SIMPLE = {
    "a": "\a",
    "b": "\b",
    "e": "\x1b",
    "E": "\x1b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
    "?": "?",
}


def _drop_newline(m: re.Match[str]) -> str:
    return "" if m.group(1) == "\n" else m.group(1)


def _unescape_plain(raw: str) -> str:
    return _PLAIN_ESCAPE.sub(_drop_newline, raw) if "\\" in raw else raw


def _unescape_dquote(raw: str) -> str:
    return _DQUOTE_ESCAPE.sub(_drop_newline, raw) if "\\" in raw else raw


def _unescape_heredoc(raw: str) -> str:
    return _HEREDOC_ESCAPE.sub(_drop_newline, raw) if "\\" in raw else raw


def _ansi_char(m: re.Match[str]) -> str:
    simple, hx, u4, u8, octal, ctrl = m.groups()
    try:
        if simple is not None:
            return _ANSI_SIMPLE[simple]
        if hx is not None:
            return chr(int(hx, 16))
        if u4 is not None:
            return chr(int(u4, 16))
        if u8 is not None:
            return chr(min(int(u8, 16), 0x10FFFF))
        if octal is not None:
            return chr(int(octal, 8) & 0xFF)
        if ctrl is not None:
            return chr(ord(ctrl) & 0x1F)
    except (ValueError, OverflowError):
        pass
    return m.group(0)


def _unescape_ansi(raw: str) -> str:
    return _ANSI_ESCAPE.sub(_ansi_char, raw) if "\\" in raw else raw


_UNESCAPE = {
    "plain": _unescape_plain,
    "dquote": _unescape_dquote,
    "heredoc": _unescape_heredoc,
    "raw": lambda raw: raw,
    "ansi": _unescape_ansi,
}

_GLOB_STAR = re.compile(r"(?<!\\)\*")
_BACKTICKS = re.compile(r"(?<!\\)`((?:[^`\\]|\\.)*)`", re.S)


# --------------------------------------------------------------------------- analysis

_WORDISH = frozenset(
    {
        "word",
        "string",
        "raw_string",
        "ansi_c_string",
        "translated_string",
        "concatenation",
        "simple_expansion",
        "expansion",
        "number",
        "arithmetic_expansion",
        "brace_expression",
        "array",
        "string_content",
    }
)
_DECLARATIONS = frozenset({"export", "local", "declare", "typeset", "readonly"})
_SILENT = frozenset(
    {
        *_DECLARATIONS,
        "read",
        "cd",
        "set",
        "unset",
        "shift",
        "true",
        "false",
        ":",
        "exit",
        "return",
        "sleep",
        "test",
        "[",
        "mkdir",
        "rm",
        "cp",
        "mv",
        "touch",
        "chmod",
        "wait",
        "trap",
    }
)
"""Commands that print nothing: a redirect of their enclosing block is no write of theirs."""
_WRAPPERS = frozenset({"sudo", "command", "builtin", "exec"})
"""Commands that run their arguments as a command."""
_MAY_WRITE = frozenset({"echo", "printf", "tee", *_WRAPPERS})
"""Commands that can write a file or an output with no redirect of theirs (`detect_writes`)."""
_STDOUT_OPS = frozenset({">", ">>", ">|", "&>", "&>>", ">&"})
_SKIP_TARGET_VARS = frozenset({"GITHUB_STEP_SUMMARY", "GITHUB_PATH", "GITHUB_STATE"})
_RUNNER_FILES = frozenset({"GITHUB_OUTPUT", "GITHUB_ENV", *_SKIP_TARGET_VARS})
"""Set by the runner for each step: never resolved from `env`."""
_STATUS_REF = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*|\?|!)")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PRINTF_CONV = re.compile(r"%(?:%|[-+ #0']*(?:\d+|\*)?(?:\.(?:\d+|\*)?)?([diouxXfFeEgGaAcsbq]))")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_ECHO_OPTIONS = re.compile(r"-[neE]+")
_NODE, _RESTORE, _PIPEFAIL_DONE = 0, 1, 2


class _Ctx(NamedTuple):
    guarded: bool = False
    substituted: bool = False
    background: bool = False
    redirects: tuple[tuple[str, _V, bool], ...] = ()  # (op, target, writes stdout)
    tail: bool = False  # its exit status is that of the script (or subshell, function)
    piped: bool = False  # its standard output goes into a pipe
    depth: int = 0  # nested command substitutions
    checked: bool = False  # a failure is acted on explicitly (`|| exit 1`, `if ! x; then exit 1`)

    def not_last(self) -> _Ctx:
        """The context of a statement that is not the last of its block (made for every
        block: `_replace` would be three times slower)."""
        if not self.tail and not self.checked:
            return self
        guarded, substituted, background, redirects, _, piped, depth, _ = self
        return _new(_Ctx, (guarded, substituted, background, redirects, False, piped, depth, False))


@dataclass(slots=True)
class _Rec:
    """A command found, before it is frozen into a `Command`."""

    argv: list[_V]
    start: int
    end: int
    guarded: bool
    substituted: bool
    background: bool
    stdin: _V | None
    redirects: list[tuple[str, _V, bool]]
    inherited: tuple[tuple[str, _V, bool], ...]
    piped: bool
    name: str  # the command name when it is static
    node_id: int
    words: list[Node]  # the command's words, for its source text
    text: str | None = None  # that text with known variables substituted (on demand)


@dataclass
class _Pending:
    """A multi-line `name<<DELIM` write waiting for its delimiter."""

    name: str
    delimiter: tuple[tuple[PieceKind, str], ...]
    lines: list[list[_Pc]]
    start: int


# text ending in `$NAME` or `$`: a placeholder right after it must not extend the name
_ENDS_IN_VAR = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*)?\Z")
# `$NAME` in the middle of a word, and the punctuation right after it (the look-behind
# comes after the `$`, so that the regex engine only stops at a `$`: ten times faster)
_MID_WORD_VAR = re.compile(r"(\$(?<=[^\s\"'=(|&;<>`$]\$)[A-Za-z_][A-Za-z0-9_]*)[-./+,^]")


class _Analyser:
    def __init__(
        self,
        source: str,
        path: str,
        locate: Locate,
        env: Mapping[str, Value],
        mode: ShellMode,
    ) -> None:
        self.src = source
        self.path = path
        self._locate = locate
        self._spans: dict[tuple[int, int], Span] = {}
        self._values: dict[int, tuple[_V, Value]] = {}
        self.env = env
        self.mode = mode
        self.errexit = mode.errexit
        self.pipefail = mode.pipefail
        self.vars: dict[str, _V] = {}
        self.hidden: set[str] = set()
        self.assigned: set[str] = set()
        self.recs: list[_Rec] = []
        self.rec_by_node: dict[int, int] = {}
        self.pipe_from: dict[int, Node] = {}
        self.writes: list[OutputWrite] = []
        self.pending: dict[WriteTarget, _Pending] = {}
        self.errors: list[str] = []
        self.opaque = False
        self.last_status: list[int] = []
        self.captures: dict[str, list[int]] = {}
        self.checked: set[int] = set()
        self.background_recs: list[int] = []
        self.job_ids: dict[str, list[int]] = {}
        self.stack: list[tuple[int, Any, _Ctx]] = []
        self.ph_starts: list[int] = []
        self.ph_ends: list[int] = []
        self.prepared = self._prepare(source)
        self.bytes = _Bytes(self.prepared)
        # rng(node): the node's range in `source`. It is asked of nearly every node, and
        # for ASCII text (nearly all) it is the byte range: read by a getter made in C.
        # (Not a method of the analyser: a bound method kept on it is a reference cycle.)
        self.rng: Callable[[Node], tuple[int, int]] = (
            _BYTE_RANGE if self.bytes.ascii else self.bytes.char_range
        )

    # ------------------------------------------------------------------ plumbing

    def span(self, start: int, end: int) -> Span:
        key = (start, end)
        hit = self._spans.get(key)
        if hit is None:
            hit = self._locate(start, end - start if end > start else 0)
            self._spans[key] = hit
        return hit

    def text(self, node: Node) -> str:
        s, e = self.rng(node)
        return self.src[s:e]

    def line_of(self, offset: int) -> int:
        try:
            return self.span(offset, offset).line
        except Exception:
            return self.src.count("\n", 0, offset) + 1

    def error(self, offset: int, message: str) -> None:
        self.opaque = True
        text = f"line {self.line_of(offset)}: {message}"
        if len(self.errors) < _MAX_ERRORS and text not in self.errors:
            self.errors.append(text)

    def _prepare(self, source: str) -> str:
        """Replace each `${{ }}` by a same-length word the shell parser accepts, and
        work around a tree-sitter-bash quirk (values are always read from the original
        text, so what is changed here only guides the parse)."""
        return self._fix_colon_dollar(self._mask_placeholders(source))

    @staticmethod
    def _fix_colon_dollar(text: str) -> str:
        """tree-sitter-bash reads `$A:$B-x` as `$A:$` and a separate word `B-x`: a
        `$NAME` inside a word followed by `-`, `.`, `/`, `+`, `,` or `^` (a docker
        `-t $IMAGE:$VERSION-slim` is that shape). A `%` in place of that character
        parses as intended (it cannot extend the name) and keeps every offset."""
        if "$" not in text:
            return text
        return _MID_WORD_VAR.sub(lambda m: m.group(1) + "%", text)

    def _mask_placeholders(self, source: str) -> str:
        if "${{" not in source:
            return source
        out: list[str] = []
        at = 0
        for ph in find_placeholders(source):
            if ph.error is not None and ph.inner_end >= len(source):
                break  # `${{` never closed: GitHub rejects the workflow; leave it as is
            out.append(source[at : ph.start])
            before = "".join(out[-2:])[-300:]
            length = ph.end - ph.start
            if _ENDS_IN_VAR.search(before) and not before.endswith("$"):
                filler = "." * length  # `$NAME${{ x }}`: do not extend the name
            else:
                filler = "_" * length
            out.append(filler)
            self.ph_starts.append(ph.start)
            self.ph_ends.append(ph.end)
            at = ph.end
        out.append(source[at:])
        return "".join(out)

    def placeholders_in(self, start: int, end: int) -> list[int]:
        """Indexes of the placeholders overlapping `[start, end)`."""
        found = []
        i = bisect.bisect_right(self.ph_ends, start)
        while i < len(self.ph_starts) and self.ph_starts[i] < end:
            found.append(i)
            i += 1
        return found

    # ------------------------------------------------------------------ entry

    def run(self) -> ShellScript:
        try:
            root = _parse(self.bytes.parsed)
            if root.has_error:
                self._collect_errors(root)
            self.stack.append((_NODE, root, _Ctx(tail=True)))
            self._walk()
        except Exception as exc:
            self.error(0, f"the script could not be fully analysed ({type(exc).__name__})")
        return self._result()

    def _collect_errors(self, root: Node) -> None:
        stack = [root]
        while stack:
            node = stack.pop()
            if node.is_missing:
                s, _ = self.rng(node)
                self.error(s, f"syntax error: missing `{node.type}`")
                continue
            if node.is_error:
                s, e = self.rng(node)
                near = self.src[s:e].strip().splitlines()
                shown = near[0][:40] if near else ""
                self.error(s, f"syntax error near `{shown}`" if shown else "syntax error")
                if len(self.errors) >= _MAX_ERRORS:
                    return
            if node.has_error:
                stack.extend(reversed(node.children))

    def _result(self) -> ShellScript:
        value = self.value
        commands = []
        for i, rec in enumerate(self.recs):
            guarded = rec.guarded and i not in self.checked
            redirects: tuple[tuple[str, Value], ...] = ()
            if rec.inherited or rec.redirects:
                redirects = tuple([(op, value(v)) for op, v, _ in (*rec.inherited, *rec.redirects)])
            commands.append(
                Command(
                    argv=tuple([value(v) for v in rec.argv]),
                    span=self.span(rec.start, rec.end),
                    path=self.path,
                    guarded=guarded,
                    substituted=rec.substituted,
                    background=rec.background,
                    stdin=value(rec.stdin) if rec.stdin is not None else None,
                    redirects=redirects,
                )
            )
        variables = {
            name: self.value(self.vars[name]) for name in self.vars if name in self.assigned
        }
        return ShellScript(
            commands=tuple(commands),
            writes=tuple(self.writes),
            variables=variables,
            errors=tuple(self.errors),
            opaque=self.opaque,
        )

    def value(self, v: _V, *, keep: bool = False) -> Value:
        """The `Value` of `v` (`keep`: remember it, `v` is converted again later)."""
        if self._values:
            hit = self._values.get(id(v))
            if hit is not None and hit[0] is v:
                return hit[1]
        span = self.span(v.start, v.end)
        pieces = v.pieces
        p = pieces[0] if len(pieces) == 1 else None
        if p is not None and p.span is None and p.start == v.start >= 0 and p.end == v.end:
            converted: tuple[Piece, ...] = (_new(Piece, (p.kind, p.text, span)),)  # most words
        else:
            piece = self.piece
            converted = tuple([piece(p) for p in pieces])
        value = _new(Value, (converted, span, self.path))
        if keep:
            self._values[id(v)] = (v, value)  # `v` is kept alive with its result
        return value

    def piece(self, p: _Pc) -> Piece:
        if p.span is not None:
            span = p.span
        elif p.start >= 0:
            span = self.span(p.start, p.end)
        elif p.ws >= 0:
            span = self.span(p.ws, p.we)
        else:
            span = None
        return _new(Piece, (p.kind, p.text, span))

    # ------------------------------------------------------------------ walking

    def push(self, node: Node, ctx: _Ctx) -> None:
        self.stack.append((_NODE, node, ctx))

    def push_all(self, items: list[tuple[Node, _Ctx]]) -> None:
        for node, ctx in reversed(items):
            self.stack.append((_NODE, node, ctx))

    def push_restore(self) -> None:
        state = (dict(self.vars), set(self.hidden), set(self.assigned), self.errexit, self.pipefail)
        self.stack.append((_RESTORE, state, _Ctx()))

    def _walk(self) -> None:
        handlers = _HANDLERS
        other = _Analyser.h_other
        stack = self.stack
        while stack:
            kind, item, ctx = stack.pop()
            if kind == _RESTORE:
                self.vars, self.hidden, self.assigned, self.errexit, self.pipefail = item
                continue
            if kind == _PIPEFAIL_DONE:
                self.last_status = [
                    i for i in range(item, len(self.recs)) if not self.recs[i].substituted
                ]
                continue
            handlers.get(item.type, other)(self, item, ctx)

    def statements(self, nodes: list[Node], ctx: _Ctx, *, tail: bool) -> list[tuple[Node, _Ctx]]:
        """Statements of a block with their context (`&` after one: background)."""
        kept: list[Node] = []
        background: list[int] = []  # indexes in `kept`
        for node in nodes:
            if not node.is_named:
                if node.type == "&" and kept:
                    background.append(len(kept) - 1)
                continue
            if node.type == "comment":
                continue
            kept.append(node)
        if not kept:
            return []
        # only the last statement gives the block its status (each context made once)
        inner = ctx.not_last()
        out = [(node, inner) for node in kept]
        out[-1] = (kept[-1], ctx if ctx.tail == tail else ctx._replace(tail=tail))
        for i in background:
            node, c = out[i]
            out[i] = (node, c._replace(background=True, guarded=True))
        return out

    def h_program(self, node: Node, ctx: _Ctx) -> None:
        self.push_all(self.statements(node.children, ctx, tail=True))

    def h_block(self, node: Node, ctx: _Ctx) -> None:
        kids = [k for k in node.children if k.type not in ("do", "done", "else", "{", "}")]
        self.push_all(self.statements(kids, ctx, tail=ctx.tail))

    def h_compound(self, node: Node, ctx: _Ctx) -> None:
        kids = node.children
        if kids and kids[0].type == "((":
            self.check_status_refs(self.text(node), arithmetic=True)
            self.walk_substitutions(node, ctx._replace(guarded=True))
            return
        self.h_block(node, ctx)

    def h_subshell(self, node: Node, ctx: _Ctx) -> None:
        kids = [k for k in node.children if k.type not in ("(", ")")]
        self.push_restore()
        self.push_all(self.statements(kids, ctx._replace(piped=False), tail=True))

    def h_substitution(self, node: Node, ctx: _Ctx) -> None:
        if ctx.depth > MAX_SUBSTITUTION_DEPTH:
            s, _ = self.rng(node)
            self.error(s, f"command substitutions nested deeper than {MAX_SUBSTITUTION_DEPTH}")
            return
        kids = [k for k in node.children if k.type not in ("$(", "`", ")", "<(", ">(")]
        self.push_restore()
        self.push_all(self.statements(kids, ctx, tail=True))

    def h_skip(self, node: Node, ctx: _Ctx) -> None:
        pass

    def h_other(self, node: Node, ctx: _Ctx) -> None:
        if node.type in _WORDISH:
            self.walk_substitutions(node, ctx._replace(guarded=True))
            return
        self.push_all(self.statements(node.children, ctx, tail=ctx.tail))

    def walk_substitutions(self, node: Node, ctx: _Ctx) -> None:
        """Walk the command substitutions found anywhere under `node`."""
        found: list[Node] = []
        stack = [node]
        seen = 0
        while stack and seen < _MAX_SCAN:
            n = stack.pop()
            seen += 1
            if n.type in ("command_substitution", "process_substitution"):
                found.append(n)
                continue
            stack.extend(reversed(n.named_children))
        self.push_subs(found, ctx, guarded=ctx.guarded)

    def push_subs(self, subs: list[Node], ctx: _Ctx, *, guarded: bool) -> None:
        """Walk these command substitutions next (`guarded`: a failure of theirs is not
        the step's; the context is only made when there are any, which is seldom)."""
        if not subs:
            return
        sub_ctx = ctx._replace(
            guarded=guarded,
            substituted=True,
            piped=False,
            redirects=(),
            tail=True,
            depth=ctx.depth + 1,
            checked=False,
        )
        self.push_all([(s, sub_ctx) for s in subs])

    # ------------------------------------------------------------------ compound

    def h_list(self, node: Node, ctx: _Ctx) -> None:
        named = [k for k in node.children if k.is_named and k.type != "comment"]
        ops = [k.type for k in node.children if not k.is_named]
        if len(named) < 2 or not ops:
            self.push_all([(k, ctx) for k in named])
            return
        left, right = named[0], named[-1]
        op = ops[0]
        left_ctx = ctx._replace(
            guarded=ctx.guarded or self.list_guard(op, right, ctx),
            tail=ctx.tail if op == "&&" else False,
            checked=ctx.checked if op == "&&" else self.fails([right]),
        )
        self.push_all([(left, left_ctx), (right, ctx)])

    def list_guard(self, op: str, right: Node, ctx: _Ctx) -> bool:
        """Does `left <op> right` keep a failure of `left` from failing the step?"""
        if op == "||":
            return self.cannot_fail(right)
        return not ctx.tail  # bash -e ignores a failure on the left of `&&`

    def cannot_fail(self, node: Node) -> bool:
        t = node.type
        if t == "command":
            name = node.child_by_field_name("name")
            if name is None:
                return True
            word = self.text(name)
            args = [self.text(a) for a in node.children_by_field_name("argument")]
            if word in ("true", ":", "echo", "printf"):
                return True
            if word in ("exit", "return"):
                return args == ["0"]
            return False
        if t in ("variable_assignment", "variable_assignments"):
            text = self.text(node)
            return "$(" not in text and "`" not in text
        if t == "redirected_statement":
            body = node.child_by_field_name("body")
            return body is not None and self.cannot_fail(body)
        if t in ("compound_statement", "subshell"):
            kids = [k for k in node.named_children if k.type != "comment"]
            return bool(kids) and len(kids) < 50 and all(self.cannot_fail(k) for k in kids)
        return False

    def h_pipeline(self, node: Node, ctx: _Ctx) -> None:
        elems = [k for k in node.children if k.is_named and k.type != "comment"]
        pipefail = self.pipefail
        items: list[tuple[Node, _Ctx]] = []
        for i, el in enumerate(elems):
            last = i == len(elems) - 1
            c = ctx._replace(
                guarded=ctx.guarded or (not last and not pipefail),
                piped=not last or ctx.piped,
                tail=True,
            )
            if i > 0:
                receiver = self.leftmost_command(el)
                if receiver is not None:
                    self.pipe_from[receiver.id] = elems[i - 1]
            items.append((el, c))
        if pipefail and len(elems) > 1:
            self.stack.append((_PIPEFAIL_DONE, len(self.recs), ctx))
        for el, c in reversed(items):
            if el.type not in ("command", "redirected_statement"):
                self.push_restore()  # a compound in a pipeline runs in a subshell
            self.stack.append((_NODE, el, c))

    def leftmost_command(self, node: Node) -> Node | None:
        n: Node | None = node
        for _ in range(100):
            if n is None:
                return None
            if n.type == "command":
                return n
            if n.type == "redirected_statement":
                n = n.child_by_field_name("body")
            elif n.type in ("pipeline", "list", "negated_command"):
                named = [k for k in n.children if k.is_named]
                n = named[0] if named else None
            else:
                return None
        return None

    def h_negated(self, node: Node, ctx: _Ctx) -> None:
        c = ctx._replace(guarded=True)
        self.push_all([(k, c) for k in node.children if k.is_named])

    def h_if(self, node: Node, ctx: _Ctx) -> None:
        clauses: list[tuple[list[Node], list[Node]]] = []  # (conditions, body)
        conditions: list[Node] = []
        body: list[Node] = []
        in_body = False
        else_body: list[Node] | None = None
        for k in node.children:
            if k.type == "then":
                in_body = True
            elif k.type == "elif_clause":
                sub_cond, sub_body = self.split_clause(k)
                clauses.append((sub_cond, sub_body))
            elif k.type == "else_clause":
                else_body = [x for x in k.children if x.type != "else"]
            elif k.is_named and k.type != "comment":
                (body if in_body else conditions).append(k)
            elif in_body and k.type == "&":
                body.append(k)
        clauses.insert(0, (conditions, body))
        items: list[tuple[Node, _Ctx]] = []
        for cond, then in clauses:
            failure_branch: list[Node] | None = None
            inner = cond[0] if len(cond) == 1 else None
            negated = inner is not None and inner.type == "negated_command"
            if inner is not None and negated:
                failure_branch = then
                named = [k for k in inner.children if k.is_named]
                inner = named[0] if len(named) == 1 else None
            elif inner is not None and len(clauses) == 1:
                failure_branch = else_body
            if inner is not None and failure_branch is not None and self.fails(failure_branch):
                items.append((inner, ctx._replace(tail=True, piped=False, checked=True)))
            else:
                c = ctx._replace(guarded=True, tail=False, piped=False)
                items.extend((k, c) for k in cond)
            items.extend(self.statements(then, ctx, tail=ctx.tail))
        if else_body is not None:
            items.extend(self.statements(else_body, ctx, tail=ctx.tail))
        self.push_all(items)

    def split_clause(self, clause: Node) -> tuple[list[Node], list[Node]]:
        cond: list[Node] = []
        body: list[Node] = []
        in_body = False
        for k in clause.children:
            if k.type == "then":
                in_body = True
            elif k.is_named and k.type != "comment":
                (body if in_body else cond).append(k)
            elif in_body:
                body.append(k)  # keep `&` tokens
        return cond, body

    def fails(self, nodes: list[Node]) -> bool:
        """Does this branch exit non-zero (`exit 1`, `return 1`, `false`)?"""
        stack = list(nodes)
        seen = 0
        while stack and seen < _MAX_SCAN:
            n = stack.pop()
            seen += 1
            if n.type == "command":
                name = n.child_by_field_name("name")
                word = self.text(name) if name is not None else ""
                args = [self.text(a) for a in n.children_by_field_name("argument")]
                if word in ("exit", "return") and args and args[0].isdigit() and args[0] != "0":
                    return True
                if word == "false" and not args:
                    return True
                continue
            if n.type in ("function_definition", "command_substitution", "subshell"):
                continue
            stack.extend(n.named_children)
        return False

    def h_while(self, node: Node, ctx: _Ctx) -> None:
        cond_ctx = ctx._replace(guarded=True, tail=False, piped=False)
        items: list[tuple[Node, _Ctx]] = []
        for i, k in enumerate(node.children):
            if not k.is_named or k.type == "comment":
                continue
            if node.field_name_for_child(i) == "condition":
                items.append((k, cond_ctx))
            else:
                items.append((k, ctx))
        self.push_all(items)

    def h_for(self, node: Node, ctx: _Ctx) -> None:
        variable = node.child_by_field_name("variable")
        for value in node.children_by_field_name("value"):
            self.walk_substitutions(value, ctx._replace(guarded=True))
        if variable is not None:
            self.forget(self.text(variable))
        body = node.child_by_field_name("body")
        if body is not None:
            self.push(body, ctx)

    def h_c_for(self, node: Node, ctx: _Ctx) -> None:
        body = node.child_by_field_name("body")
        if body is not None:
            self.push(body, ctx)

    def h_case(self, node: Node, ctx: _Ctx) -> None:
        value = node.child_by_field_name("value")
        if value is not None:
            self.walk_substitutions(value, ctx._replace(guarded=True))
        items: list[tuple[Node, _Ctx]] = []
        for item in node.children:
            if item.type != "case_item":
                continue
            kids = [
                k
                for i, k in enumerate(item.children)
                if item.field_name_for_child(i) != "value" and k.type not in (")", "(", "|")
            ]
            items.extend(self.statements(kids, ctx, tail=ctx.tail))
        self.push_all(items)

    def h_function(self, node: Node, ctx: _Ctx) -> None:
        body = node.child_by_field_name("body")
        if body is None:
            return
        self.push_restore()
        self.push(body, _Ctx(tail=True, depth=ctx.depth))

    def h_test(self, node: Node, ctx: _Ctx) -> None:
        self.check_status_refs(self.text(node), arithmetic=False)
        self.walk_substitutions(node, ctx._replace(guarded=True))

    # ------------------------------------------------------------------ exit status

    def check_status_refs(self, text: str, *, arithmetic: bool) -> None:
        """A test or `exit` that reads a saved exit status: the command is checked."""
        names = {m.group(1) for m in _STATUS_REF.finditer(text)}
        if arithmetic:
            names |= set(_IDENT.findall(text))
        for name in names:
            if name == "?":
                self.checked.update(self.last_status)
            elif name in self.captures:
                self.checked.update(self.captures[name])

    # ------------------------------------------------------------------ assignments

    def forget(self, name: str) -> None:
        self.vars.pop(name, None)
        self.hidden.add(name)
        self.assigned.discard(name)

    def lookup(self, name: str) -> tuple[_Pc, ...] | None:
        v = self.vars.get(name)
        if v is not None:
            return v.pieces
        if name in self.hidden or name in _RUNNER_FILES:
            return None
        ev = self.env.get(name)
        if ev is None:
            return None
        return tuple(_Pc(p.kind, p.text, -1, -1, False, p.span or ev.span) for p in ev.pieces)

    def h_assignments(self, node: Node, ctx: _Ctx) -> None:
        nodes = [node] if node.type == "variable_assignment" else node.named_children
        subs: list[Node] = []
        for n in nodes:
            if n.type == "variable_assignment":
                self.assign(n, subs)
        self.push_subs(subs, ctx, guarded=ctx.guarded or not self.errexit)

    def assign(self, node: Node, subs: list[Node]) -> None:
        name_node = node.child_by_field_name("name")
        if name_node is None:
            return
        s, e = self.rng(name_node)
        value_node = node.child_by_field_name("value")
        if name_node.type != "variable_name" or self.placeholders_in(s, e):
            if value_node is not None:
                self.build(value_node, subs)
            return
        name = self.src[s:e]
        append = any(k.type == "+=" for k in node.children)
        if value_node is None:
            _, end = self.rng(node)
            v = _V((), end, end)
        elif value_node.type == "array":
            self.build(value_node, subs)
            self.forget(name)
            return
        else:
            v = self.build(value_node, subs, first=True)
            status = self.text(value_node).strip('"')
            if status in ("$!", "${!}"):  # a background job's id, for a later `wait`
                self.job_ids[name] = self.background_recs[-1:]
                self.forget(name)
                return
            if status in ("$?", "${?}"):
                # an exit status saved for a later check: known only at run time
                self.captures[name] = list(self.last_status)
                self.forget(name)
                return
        self.set_var(name, v, append)

    def set_var(self, name: str, v: _V, append: bool = False) -> None:
        if append:
            old = self.lookup(name)
            pieces = old if old is not None else (_pc(PieceKind.VAR, name, v.start, v.start),)
            spliced = tuple(_spliced(pieces, v.start, v.start))
            v = _V(spliced + v.pieces, v.start, v.end)
        self.vars[name] = v
        self.hidden.discard(name)
        self.assigned.add(name)

    def h_declaration(self, node: Node, ctx: _Ctx) -> None:
        subs: list[Node] = []
        argv: list[_V] = []
        keyword = ""
        assigns: list[Node] = []
        unset_only = []
        for k in node.children:
            if not k.is_named:
                if not argv and k.type in _DECLARATIONS:
                    keyword = k.type
                    s, e = self.rng(k)
                    argv.append(_V((_pc(PieceKind.LITERAL, keyword, s, e, True),), s, e))
                continue
            if k.type == "comment":
                continue
            argv.append(self.build(k, subs, first=True))
            if k.type == "variable_assignment":
                assigns.append(k)
            elif k.type == "variable_name":
                unset_only.append(self.text(k))
        s, e = self.rng(node)
        self.emit(node, ctx, argv, s, e, [], None)
        for a in assigns:
            self.assign(a, [])
        if keyword == "local":
            for name in unset_only:
                self.set_var(name, _V((), e, e))
        self.push_subs(subs, ctx, guarded=True)

    def h_unset(self, node: Node, ctx: _Ctx) -> None:
        subs: list[Node] = []
        argv: list[_V] = []
        functions = False
        for k in node.children:
            if not k.is_named:
                if not argv:
                    s, e = self.rng(k)
                    argv.append(_V((_pc(PieceKind.LITERAL, k.type, s, e, True),), s, e))
                continue
            v = self.build(k, subs, first=True)
            argv.append(v)
            if v.literal == "-f":
                functions = True
        s, e = self.rng(node)
        self.emit(node, ctx, argv, s, e, [], None)
        if not functions:
            for v in argv[1:]:
                if v.static and _NAME.match(v.literal):
                    self.forget(v.literal)
        self.push_subs(subs, ctx, guarded=True)

    # ------------------------------------------------------------------ commands

    def h_command(self, node: Node, ctx: _Ctx) -> None:
        self.command(node, ctx, [], None, None, False)

    def command(
        self,
        node: Node,
        ctx: _Ctx,
        redirect_nodes: list[Node],
        stdin: _V | None,
        end: int | None,
        extra_guard: bool,
    ) -> None:
        kids = node.children
        prefix: list[Node] = []
        words: list[Node] = []
        redirects = list(redirect_nodes)
        name_seen = False
        start, node_end = self.rng(node)
        for i, k in enumerate(kids):
            fname = node.field_name_for_child(i)
            if fname == "name":
                name_seen = True
                words.append(k)
            elif fname == "argument":
                words.append(k)
            elif fname == "redirect" or k.type in ("file_redirect", "herestring_redirect"):
                redirects.append(k)
            elif k.type == "variable_assignment" and not name_seen:
                prefix.append(k)
            elif k.is_named and k.type != "comment":
                words.append(k)
        subs: list[Node] = []
        if prefix and words:
            # tree-sitter-bash joins `A=1 B=2<newline>cmd` into one command: split it
            _, gap_start = self.rng(prefix[-1])
            gap_end, _ = self.rng(words[0])
            gap = self.src[gap_start:gap_end].replace("\\\n", "")
            if "\n" in gap:
                for a in prefix:
                    self.assign(a, subs)
                self.push_subs(subs, ctx, guarded=ctx.guarded or not self.errexit)
                subs = []
                start = gap_end
                prefix = []
        if not words:
            for a in prefix:
                self.assign(a, subs)
            self.push_subs(subs, ctx, guarded=ctx.guarded or not self.errexit)
            return
        for a in prefix:  # values are expanded, but only for the command's environment
            self.build(a, subs)
        own: list[tuple[str, _V, bool]] = []
        for r in redirects:
            if r.type == "herestring_redirect":
                word = [k for k in r.children if k.is_named]
                if word:
                    stdin = self.build_seq(word, subs)
                continue
            if r.type != "file_redirect":
                continue
            entry, extra = self.redirect(r, subs)
            if entry is not None:
                own.append(entry)
            if extra:
                words.extend(extra)
                words.sort(key=lambda n: n.start_byte)
        argv = self.argv(words, subs)
        # the node's own words and redirects lie inside it; stray words lie inside their
        # redirect: only the redirects given from outside can end later
        last_end = node_end
        for r in redirect_nodes:
            last_end = max(last_end, self.rng(r)[1])
        if end is not None:
            last_end = max(last_end, end)
        idx = self.emit(
            node, ctx, argv, start, last_end, own, stdin, extra_guard=extra_guard, words=words
        )
        self.after_command(idx, ctx)
        self.push_subs(subs, ctx, guarded=True)

    def argv(self, words: list[Node], subs: list[Node]) -> list[_V]:
        """Build the words; `a\\<newline>b` with nothing around the break is one word."""
        groups: list[list[Node]] = []
        prev_end = -1
        for w in words:
            s, e = self.rng(w)
            if groups and s - prev_end == 2 and self.src.startswith("\\\n", prev_end):
                groups[-1].append(w)
            else:
                groups.append([w])
            prev_end = e
        argv = []
        for group in groups:
            plain = self.plain_word(group[0], True) if len(group) == 1 else None
            argv.append(plain if plain is not None else self.build_seq(group, subs))
        return argv

    def redirect(self, r: Node, subs: list[Node]) -> tuple[tuple[str, _V, bool] | None, list[Node]]:
        """(operator, target, writes stdout) of a file redirect, and stray argument words."""
        descriptor = ""
        op = ""
        dests: list[Node] = []
        for i, k in enumerate(r.children):
            fname = r.field_name_for_child(i)
            if k.type == "file_descriptor":
                descriptor = self.text(k)
            elif fname == "destination":
                dests.append(k)
            elif not k.is_named and not op:
                op = k.type
        if not dests:
            return None, []
        target = self.build(dests[0], subs)
        full_op = descriptor + op
        writes = op in _STDOUT_OPS and descriptor in ("", "1")
        if op == ">&" and target.static and (target.literal.isdigit() or target.literal == "-"):
            writes = False  # a descriptor duplication (`>&2`), not a file
        return (full_op, target, writes), dests[1:]

    def emit(
        self,
        node: Node,
        ctx: _Ctx,
        argv: list[_V],
        start: int,
        end: int,
        own: list[tuple[str, _V, bool]],
        stdin: _V | None,
        *,
        extra_guard: bool = False,
        words: list[Node] | None = None,
    ) -> int:
        errexit = self.errexit or ctx.checked
        guarded = ctx.guarded or extra_guard or not errexit or ctx.background
        name = argv[0].literal if argv and argv[0].static else ""
        rec = _Rec(  # fields in order: a positional call is the faster, for every command
            argv,
            start,
            end,
            guarded,
            ctx.substituted,
            ctx.background,
            stdin,
            own,
            ctx.redirects,
            ctx.piped,
            name,
            node.id,
            words or [],
        )
        idx = len(self.recs)
        self.recs.append(rec)
        self.rec_by_node[node.id] = idx
        if not ctx.substituted:
            self.last_status = [idx]
        if ctx.background:
            self.background_recs.append(idx)
        return idx

    def after_command(self, idx: int, ctx: _Ctx) -> None:
        """What a command does to the shell's state, and the writes it makes."""
        rec = self.recs[idx]
        name = rec.name
        args: list[str | None] = []  # the static arguments (None for others), when needed
        if name in ("set", "read", "mapfile", "readarray", "printf", "wait"):
            args = [v.literal if v.static else None for v in rec.argv[1:]]
        if name == "set":
            options = {"errexit": self.errexit, "pipefail": self.pipefail}
            _apply_set_flags([a if a is not None else "" for a in args], options)
            self.errexit, self.pipefail = options["errexit"], options["pipefail"]
        elif name in _DECLARATIONS:
            for v in rec.argv[1:]:
                self.declare_word(v)
        elif name in ("read", "mapfile", "readarray"):
            skip_next = False
            for a in args:
                if skip_next:
                    skip_next = False
                elif a is None:
                    continue
                elif a.startswith("-"):
                    skip_next = a[-1] in "adpntuNC" and len(a) == 2
                elif _NAME.match(a):
                    self.forget(a)
        elif name == "printf" and len(args) >= 2 and args[0] == "-v" and args[1]:
            self.forget(args[1])
        elif name in ("exit", "return", "[", "test"):
            s, e = rec.start, rec.end
            self.check_status_refs(self.src[s:e], arithmetic=False)
        elif name == "wait" and args:
            # `wait PID` returns that job's status (plain `wait` returns 0)
            named = {m.group(1) for m in _STATUS_REF.finditer(self.src[rec.start : rec.end])}
            jobs = [i for n in named for i in self.job_ids.get(n, [])]
            if "!" in self.src[rec.start : rec.end]:
                jobs.extend(self.background_recs[-1:])
            self.checked.update(jobs if jobs or named else self.background_recs)
        self.detect_writes(idx, ctx)

    def declare_word(self, v: _V) -> None:
        """`export NAME=value` read as a plain command (tree-sitter joins some lines)."""
        if not v.pieces or v.pieces[0].kind is not PieceKind.LITERAL:
            return
        first = v.pieces[0]
        eq = first.text.find("=")
        if eq <= 0 or not _NAME.match(first.text[:eq]):
            return
        rest = self.cut(first, eq + 1)
        pieces = ((rest,) if rest is not None else ()) + v.pieces[1:]
        start = pieces[0].ws if pieces else v.end
        self.set_var(first.text[:eq], _V(pieces, start, v.end))

    def cut(self, p: _Pc, at: int) -> _Pc | None:
        """The part of a literal piece from character `at`."""
        text = p.text[at:]
        if not text:
            return None
        if p.exact and not p.spliced:
            return _Pc(p.kind, text, p.start + at, p.end, True, p.span, p.ws + at, p.we)
        if p.exact and p.spliced:
            return _Pc(p.kind, text, p.start + at, p.end, True, p.span, p.ws, p.we, True)
        return p._replace(text=text)

    def cut_to(self, p: _Pc, at: int) -> _Pc | None:
        """The part of a literal piece before character `at`."""
        text = p.text[:at]
        if not text:
            return None
        if p.exact and not p.spliced:
            return _Pc(p.kind, text, p.start, p.start + at, True, p.span, p.ws, p.ws + at)
        if p.exact and p.spliced:
            return _Pc(p.kind, text, p.start, p.start + at, True, p.span, p.ws, p.we, True)
        return p._replace(text=text)

    def h_redirected(self, node: Node, ctx: _Ctx) -> None:
        body = node.child_by_field_name("body")
        file_redirects: list[Node] = []
        stdin: _V | None = None
        subs: list[Node] = []
        after: list[tuple[Node, _Ctx]] = []
        pipe_after: Node | None = None
        list_op: str | None = None
        list_right: Node | None = None
        end = self.rng(body)[1] if body is not None else self.rng(node)[0]
        for r in node.children_by_field_name("redirect"):
            if r.type in ("file_redirect", "herestring_redirect"):
                file_redirects.append(r)
                end = max(end, self.rng(r)[1])
            elif r.type == "heredoc_redirect":
                for i, k in enumerate(r.children):
                    fname = r.field_name_for_child(i)
                    if k.type == "heredoc_body":
                        stdin = self.heredoc(r, k, subs)
                    elif k.type in ("heredoc_end", "comment"):
                        continue
                    elif k.type in ("file_redirect", "herestring_redirect"):
                        file_redirects.append(k)
                        end = max(end, self.rng(k)[1])
                    elif k.type == "heredoc_start" or (not k.is_named and fname != "operator"):
                        end = max(end, self.rng(k)[1])
                    elif fname == "operator":
                        list_op = k.type
                    elif fname == "right":
                        list_right = k
                    elif k.type == "pipeline":
                        pipe_after = k
                    elif k.is_named:
                        after.append((k, ctx))
                if stdin is None:
                    stdin = _V((), end, end)
        body_ctx = ctx
        if pipe_after is not None:
            body_ctx = body_ctx._replace(piped=True, guarded=body_ctx.guarded or not self.pipefail)
        if list_op is not None and list_right is not None:
            body_ctx = body_ctx._replace(
                guarded=body_ctx.guarded or self.list_guard(list_op, list_right, ctx),
                tail=ctx.tail if list_op == "&&" else False,
                checked=ctx.checked if list_op == "&&" else self.fails([list_right]),
            )
        tasks: list[tuple[Node, _Ctx]] = []
        if pipe_after is not None:
            tasks.append((pipe_after, ctx))
            receiver = self.leftmost_command(pipe_after)
            if receiver is not None and body is not None:
                self.pipe_from[receiver.id] = body
        if list_right is not None:
            tasks.append((list_right, ctx))
        tasks.extend(after)
        self.push_all(tasks)  # what follows the here-document's first line runs after
        self.push_subs(subs, ctx, guarded=True)
        if body is None:
            return
        if body.type == "command":
            self.command(body, body_ctx, file_redirects, stdin, end, False)
            return
        inherited: list[tuple[str, _V, bool]] = []
        redirect_subs: list[Node] = []
        for r in file_redirects:
            if r.type == "file_redirect":
                entry, _ = self.redirect(r, redirect_subs)
                if entry is not None:
                    inherited.append(entry)
        self.push_subs(redirect_subs, ctx, guarded=True)
        self.push(body, body_ctx._replace(redirects=body_ctx.redirects + tuple(inherited)))

    def heredoc(self, redirect: Node, body: Node, subs: list[Node]) -> _V:
        start_node = next((k for k in redirect.children if k.type == "heredoc_start"), None)
        delimiter = self.text(start_node) if start_node is not None else ""
        quoted = any(c in delimiter for c in "'\"\\")
        strip_tabs = any(k.type == "<<-" for k in redirect.children)
        s, e = self.rng(body)
        out: list[_Pc] = []
        seen: set[int] = set()
        if quoted:
            self.leaf(s, e, "raw", out, seen)
        else:
            self.seq(body, s, e, "heredoc", out, seen, subs, 0)
        if strip_tabs:
            out = self.strip_tabs(out)
        # the final newline belongs to the syntax, not to the text
        if out and out[-1].kind is PieceKind.LITERAL and out[-1].text.endswith("\n"):
            trimmed = self.cut_to(out[-1], len(out[-1].text) - 1)
            out = out[:-1] + ([trimmed] if trimmed is not None else [])
        pieces = tuple(_merge(out, self.src))
        end = pieces[-1].we if pieces and pieces[-1].we >= 0 else s
        return _V(pieces, s, max(end, s))

    def strip_tabs(self, pieces: list[_Pc]) -> list[_Pc]:
        """`<<-`: leading tabs of each line are removed."""
        out: list[_Pc] = []
        at_line_start = True
        for p in pieces:
            if p.kind is not PieceKind.LITERAL:
                out.append(p)
                at_line_start = False
                continue
            parts = p.text.split("\n")
            offset = 0
            for j, part in enumerate(parts):
                chunk = part + ("\n" if j < len(parts) - 1 else "")
                drop = 0
                if at_line_start or j > 0:
                    drop = len(part) - len(part.lstrip("\t"))
                if chunk[drop:]:
                    if p.exact:
                        a = p.start + offset + drop
                        out.append(
                            _pc(PieceKind.LITERAL, chunk[drop:], a, a + len(chunk) - drop, True)
                        )
                    else:
                        out.append(p._replace(text=chunk[drop:]))
                offset += len(chunk)
            at_line_start = p.text.endswith("\n")
        return out

    # ------------------------------------------------------------------ words

    def build(self, node: Node, subs: list[Node], *, first: bool = False) -> _V:
        plain = self.plain_word(node, first)
        if plain is not None:
            return plain
        out: list[_Pc] = []
        seen: set[int] = set()
        s, e = self.rng(node)
        if node.type == "variable_assignment":
            name = node.child_by_field_name("name")
            value = node.child_by_field_name("value")
            ns, _ = self.rng(name) if name is not None else (s, s)
            eq_end = self.rng(value)[0] if value is not None else e
            self.leaf(ns, eq_end, "plain", out, seen)
            if value is not None:
                self.word(value, out, seen, subs, 0, first=True)
        elif node.type == "command_name":
            self.seq(node, s, e, "plain", out, seen, subs, 0, first=True)
        else:
            self.word(node, out, seen, subs, 0, first=first)
        return _new(_V, (tuple(_merge(out, self.src)), s, e))

    def plain_word(self, node: Node, first: bool) -> _V | None:
        """A word that is just its source text (no quotes, escapes, expansions, `*`,
        leading `~` or `${{ }}`), made as `build` would make it but without the general
        walk: three words in four are like this. None for any other word."""
        t = node.type
        if t == "command_name":
            kids = node.children
            if len(kids) != 1 or kids[0].type != "word":
                return None
            first = True
        elif t != "word" and t != "number":
            return None
        s, e = self.rng(node)
        text = self.src[s:e]
        if not text or "\\" in text or "*" in text or (first and text.startswith("~")):
            return None
        if self.ph_starts and self.placeholders_in(s, e):
            return None
        piece = _new(_Pc, (PieceKind.LITERAL, text, s, e, True, None, s, e, False))
        return _new(_V, ((piece,), s, e))

    def build_seq(self, nodes: list[Node], subs: list[Node]) -> _V:
        if len(nodes) == 1:
            return self.build(nodes[0], subs, first=True)
        out: list[_Pc] = []
        seen: set[int] = set()
        for i, n in enumerate(nodes):
            if n.type == "command_name":
                s, e = self.rng(n)
                self.seq(n, s, e, "plain", out, seen, subs, 0, first=i == 0)
            else:
                self.word(n, out, seen, subs, 0, first=i == 0)
        s, _ = self.rng(nodes[0])
        _, e = self.rng(nodes[-1])
        return _new(_V, (tuple(_merge(out, self.src)), s, e))

    def leaf(self, start: int, end: int, mode: str, out: list[_Pc], seen: set[int]) -> None:
        """Literal source text (quotes already stripped), with placeholders mapped back."""
        if start >= end:
            return
        if not self.ph_starts:
            self.literal(start, end, mode, out)
            return
        for i in self.placeholders_in(start, end):
            a, b = self.ph_starts[i], self.ph_ends[i]
            if a > start:
                self.literal(start, a, mode, out)
            if i not in seen:
                seen.add(i)
                out.append(_pc(PieceKind.EXPR, self.src[a:b], a, b, True))
            start = max(start, b)
            if start >= end:
                return
        self.literal(start, end, mode, out)

    def literal(self, start: int, end: int, mode: str, out: list[_Pc]) -> None:
        raw = self.src[start:end]
        if mode == "heredoc" and "`" in raw:
            at = 0
            for m in _BACKTICKS.finditer(raw):
                if m.start() > at:
                    self.literal(start + at, start + m.start(), mode, out)
                inner = m.group(1).strip()
                a, b = start + m.start(1), start + m.end(1)
                out.append(_pc(PieceKind.COMMAND, inner, a, b))
                at = m.end()
            if at:
                if at < len(raw):
                    self.literal(start + at, end, mode, out)
                return
        text = _UNESCAPE[mode](raw)
        if mode == "plain" and "*" in raw and _GLOB_STAR.search(raw):
            out.append(_pc(PieceKind.UNKNOWN, text, start, end, text == raw))
            return
        if text:
            out.append(_pc(PieceKind.LITERAL, text, start, end, text == raw))

    def seq(
        self,
        node: Node,
        start: int,
        end: int,
        mode: str,
        out: list[_Pc],
        seen: set[int],
        subs: list[Node],
        depth: int,
        *,
        first: bool = False,
    ) -> None:
        """The text from `start` to `end` of `node`: named children, and the gaps as text."""
        at = start
        for k in node.children:
            if not k.is_named:
                continue
            s, e = self.rng(k)
            if e <= start or s >= end:
                continue
            if s > at:
                self.leaf(at, s, mode, out, seen)
            if k.type in ("string_content", "heredoc_content"):
                self.leaf(max(s, at), min(e, end), mode, out, seen)
            else:
                self.word(k, out, seen, subs, depth + 1, first=first and s == start)
            at = max(at, e)
        if at < end:
            self.leaf(at, end, mode, out, seen)

    def word(
        self,
        node: Node,
        out: list[_Pc],
        seen: set[int],
        subs: list[Node],
        depth: int,
        *,
        first: bool = False,
    ) -> None:
        t = node.type
        s, e = self.rng(node)
        if depth > _MAX_WORD_DEPTH:
            out.append(_pc(PieceKind.UNKNOWN, self.src[s:e], s, e, True))
            return
        if t in (
            "word",
            "number",
            "extglob_pattern",
            "regex",
            "variable_name",
            "file_descriptor",
            "test_operator",
            "special_variable_name",
        ):
            if first and self.src.startswith("~", s) and (e == s + 1 or self.src[s + 1] == "/"):
                out.append(_pc(PieceKind.VAR, "HOME", s, s + 1))
                s += 1
            self.leaf(s, e, "plain", out, seen)
        elif t == "string":
            inner_s = s + 1 if self.src.startswith('"', s) else s
            inner_e = e - 1 if e - 1 > inner_s and self.src.startswith('"', e - 1) else e
            self.seq(node, inner_s, inner_e, "dquote", out, seen, subs, depth)
        elif t == "translated_string":
            named = [k for k in node.children if k.is_named]
            for k in named:
                self.word(k, out, seen, subs, depth + 1)
        elif t == "raw_string":
            self.leaf(s + 1, max(s + 1, e - 1), "raw", out, seen)
        elif t == "ansi_c_string":
            self.leaf(s + 2, max(s + 2, e - 1), "ansi", out, seen)
        elif t == "concatenation" or t == "command_name":
            self.seq(node, s, e, "plain", out, seen, subs, depth, first=first)
        elif t in ("string_content", "heredoc_content"):
            self.leaf(s, e, "dquote", out, seen)
        elif t == "simple_expansion":
            if self.ph_starts and self.placeholders_in(s, e):
                out.append(_pc(PieceKind.UNKNOWN, self.src[s:e], s, e, True))
                return
            name = self.src[s + 1 : e]
            if not name or name[0] == "{":
                self.leaf(s, e, "plain", out, seen)
                return
            self.var_ref(name, s, e, out)
        elif t == "expansion":
            self.expansion(node, s, e, out, seen, subs, depth)
        elif t == "command_substitution":
            if self.src.startswith("$(", s):
                a, b = s + 2, e - 1 if self.src.startswith(")", e - 1) else e
            else:
                a, b = s + 1, e - 1 if self.src.startswith("`", e - 1) else e
            inner = [k for k in node.children if k.is_named]
            text = self.substituted_text(a, b, inner).strip()
            out.append(_pc(PieceKind.COMMAND, text, a, max(a, b)))
            subs.append(node)
        elif t == "process_substitution":
            out.append(_pc(PieceKind.UNKNOWN, self.src[s:e], s, e, True))
            subs.append(node)
        elif t == "command_name":
            self.seq(node, s, e, "plain", out, seen, subs, depth, first=first)
        else:
            # arithmetic, arrays, brace expressions and anything unexpected
            out.append(_pc(PieceKind.UNKNOWN, self.src[s:e], s, e, True))

    def var_ref(self, name: str, s: int, e: int, out: list[_Pc]) -> None:
        known = self.lookup(name)
        if known is None:
            out.append(_pc(PieceKind.VAR, name, s, e))
            return
        out.extend(_spliced(known, s, e))

    def expansion(
        self,
        node: Node,
        s: int,
        e: int,
        out: list[_Pc],
        seen: set[int],
        subs: list[Node],
        depth: int,
    ) -> None:
        kids = node.children
        inner = kids[1:-1] if len(kids) >= 2 and kids[-1].type == "}" else kids[1:]
        close = self.rng(kids[-1])[0] if kids and kids[-1].type == "}" else e

        def unknown() -> None:
            out.append(_pc(PieceKind.UNKNOWN, self.src[s:e], s, e, True))

        name_i = next(
            (
                i
                for i, k in enumerate(inner)
                if k.type in ("variable_name", "special_variable_name", "subscript")
            ),
            None,
        )
        if name_i is None or name_i > 0 or inner[name_i].type == "subscript":
            unknown()
            return
        name = self.text(inner[name_i])
        if self.placeholders_in(s, e) and not inner[name_i + 1 :]:
            unknown()
            return
        after = inner[name_i + 1 :]
        if not after:
            self.var_ref(name, s, e, out)
            return
        op = after[0].type if not after[0].is_named else ""
        rest_start = self.rng(after[0])[1]
        known = self.lookup(name)
        static = known is not None and all(p.kind is PieceKind.LITERAL for p in known)
        current = "".join(p.text for p in known) if known is not None and static else ""
        if op in (":-", "-", ":=", "=", ":?", "?"):
            if known is not None and (current or not static or op in ("-", "=", "?")):
                out.extend(_spliced(known, s, e))
            elif known is not None:  # known to be empty: the default is used
                self.seq(node, rest_start, close, "plain", out, seen, subs, depth)
            else:
                out.append(_pc(PieceKind.VAR, name, s, e))
            return
        if op in (":+", "+"):
            if known is not None and static and not current and op == ":+":
                return
            if known is not None and (static or op == "+"):
                self.seq(node, rest_start, close, "plain", out, seen, subs, depth)
                return
            unknown()
            return
        raw_rest = self.src[rest_start:close]
        if known is not None and not static and op in ("#", "##", "%", "%%"):
            # `${digest#sha256:}`, `${ref#*@}` on a value known only in part: cut the
            # affix out of its literal pieces and keep the slots, whose provenance
            # (a digest, a read-back) is what the result is made of.
            kept = _cut_affix(list(known), raw_rest, op)
            out.extend(_spliced(kept, s, e))
            return
        if known is None or not static or len(current) > 4096:
            unknown()
            return
        result: str | None = None
        if op in ("#", "##", "%", "%%"):
            if _plain_pattern(raw_rest):
                result = _remove_affix(current, _unescape_plain(raw_rest), op)
        elif op in ("/", "//", "/#", "/%"):
            pattern, _, replacement = raw_rest.partition("/")
            if _plain_pattern(pattern) and _plain_pattern(replacement):
                result = _replace_pattern(
                    current, _unescape_plain(pattern), _unescape_plain(replacement), op
                )
        elif op == "^^" and not raw_rest:
            result = current.upper()
        elif op == ",," and not raw_rest:
            result = current.lower()
        elif op == "^" and not raw_rest:
            result = current[:1].upper() + current[1:]
        elif op == "," and not raw_rest:
            result = current[:1].lower() + current[1:]
        if result is None:
            unknown()
        elif result:
            out.append(_Pc(PieceKind.LITERAL, result, s, e, False, None, s, e, True))

    def substituted_text(self, a: int, b: int, roots: list[Node]) -> str:
        """Source text from `a` to `b` with the known variables written in."""
        replacements: list[tuple[int, int, str]] = []
        stack = list(reversed(roots))
        seen = 0
        while stack:
            n = stack.pop()
            seen += 1
            if seen > _MAX_SCAN:
                return self.src[a:b]
            t = n.type
            if t in ("simple_expansion", "expansion"):
                kids = n.children
                named = [k for k in kids if k.is_named]
                plain = t == "simple_expansion" or (len(kids) == 3 and len(named) == 1)
                if plain and named and named[0].type in ("variable_name", "special_variable_name"):
                    known = self.lookup(self.text(named[0]))
                    if known is not None:
                        s, e = self.rng(n)
                        replacements.append((s, e, _slot_text(known)))
                        continue
            stack.extend(reversed(n.named_children))
        if not replacements:
            return self.src[a:b]
        replacements.sort()
        parts = []
        at = a
        for s, e, text in replacements:
            if s < at or e > b:
                continue
            parts.append(self.src[at:s])
            parts.append(text)
            at = e
        parts.append(self.src[at:b])
        return "".join(parts)

    # ------------------------------------------------------------------ writes

    def detect_writes(self, idx: int, ctx: _Ctx) -> None:
        rec = self.recs[idx]
        if not rec.redirects and not rec.inherited and rec.name not in _MAY_WRITE:
            return  # most commands: no redirect, and not one of those that write below
        name, args = self.peeled(rec)
        targets: list[_V] = []
        own_out = [v for _, v, w in rec.redirects if w]
        if own_out:
            targets.append(own_out[-1])
        elif not rec.piped and not rec.substituted and name not in _SILENT:
            inherited = [v for _, v, w in rec.inherited if w]
            if inherited:
                targets.append(inherited[-1])
        tee_files: list[_V] = []
        if name == "tee":
            tee_files = [a for a in args if not (a.static and a.literal.startswith("-"))]
        content: _V | None = None
        if not targets and not tee_files:
            if name in ("echo", "printf") and not rec.piped and not rec.substituted:
                content = self.content(rec)
                if content is not None:
                    self.set_output_commands(rec, content)
            return
        for target in (*targets, *tee_files):
            kind = _classify(target)
            if kind is None:
                continue
            if content is None:
                content = self.content(rec)
            if content is None:
                return
            if kind is WriteTarget.FILE:
                self.write_file(rec, target, content)
            else:
                self.feed(kind, rec, content)

    def peeled(self, rec: _Rec) -> tuple[str, list[_V]]:
        """The command name and arguments, past `sudo`/`command`/`builtin`/`exec`."""
        argv = rec.argv
        if rec.name not in _WRAPPERS:  # nearly always: the static name is argv[0]'s
            return rec.name, argv[1:]
        i = 0
        while i < len(argv) - 1 and argv[i].static and argv[i].literal in _WRAPPERS:
            i += 1
            while i < len(argv) - 1 and argv[i].static and argv[i].literal.startswith("-"):
                i += 1
        name = argv[i].literal if i < len(argv) and argv[i].static else ""
        return name, argv[i + 1 :]

    def content(self, rec: _Rec) -> _V | None:
        """What a command writes to its standard output, as far as it is known."""
        name, args = self.peeled(rec)
        if name == "echo":
            return self.echo(args, rec)
        if name == "printf":
            return self.printf(args, rec)
        if name == "cat" and all(a.static and a.literal == "-" for a in args):
            return self.stdin_content(rec)
        if name == "tee":
            return self.stdin_content(rec)
        return self.command_piece(rec)

    def stdin_content(self, rec: _Rec) -> _V | None:
        if rec.stdin is not None:
            return rec.stdin
        source = self.pipe_from.get(rec.node_id)
        return self.node_content(source) if source is not None else None

    def node_content(self, node: Node) -> _V | None:
        target = self.leftmost_command(node) if node.type != "command" else node
        if target is not None and target.id in self.rec_by_node:
            return self.content(self.recs[self.rec_by_node[target.id]])
        s, e = self.rng(node)
        return _V((_pc(PieceKind.COMMAND, self.src[s:e].strip(), s, e),), s, e)

    def command_piece(self, rec: _Rec) -> _V:
        if rec.words:
            s, e = self.rng(rec.words[0])[0], self.rng(rec.words[-1])[1]
        else:
            s, e = rec.start, rec.end
        if rec.text is None:
            rec.text = self.substituted_text(s, e, rec.words).strip()
        return _V((_pc(PieceKind.COMMAND, rec.text, s, e),), s, e)

    def echo(self, args: list[_V], rec: _Rec) -> _V:
        interpret = self.mode.name == "sh"
        i = 0
        while i < len(args) and args[i].static and _ECHO_OPTIONS.fullmatch(args[i].literal):
            for ch in args[i].literal[1:]:
                if ch == "e":
                    interpret = True
                elif ch == "E":
                    interpret = False
            i += 1
        words = args[i:]
        if not words:
            e = rec.argv[-1].end
            return _V((), e, e)
        pieces: list[_Pc] = []
        for k, w in enumerate(words):
            if k:
                pieces.append(_Pc(PieceKind.LITERAL, " ", -1, -1, False, None, w.start, w.start))
            pieces.extend(w.pieces)
        if interpret:
            pieces = [
                p._replace(text=_unescape_ansi(p.text), exact=False)
                if p.kind is PieceKind.LITERAL and "\\" in p.text
                else p
                for p in pieces
            ]
        return _V(tuple(pieces), words[0].start, words[-1].end)

    def printf(self, args: list[_V], rec: _Rec) -> _V | None:
        i = 0
        while i < len(args) and args[i].static and args[i].literal.startswith("-"):
            if args[i].literal == "-v":
                return None  # assigns a variable, writes nothing
            i += 1
            if args[i - 1].literal == "--":
                break
        if i >= len(args):
            return None
        fmt = args[i]
        values = args[i + 1 :]
        if not fmt.static:
            return self.command_piece(rec)
        segments = self.format_segments(fmt)
        conversions = sum(1 for seg in segments if isinstance(seg, str))
        pieces: list[_Pc] = []
        used = 0
        while True:
            for seg in segments:
                if isinstance(seg, str):
                    if used < len(values):
                        pieces.extend(values[used].pieces)
                    used += 1
                else:
                    pieces.append(seg)
            if conversions == 0 or used >= len(values):
                break
        end = values[-1].end if values else fmt.end
        return _V(tuple(pieces), fmt.start, end)

    def format_segments(self, fmt: _V) -> list[_Pc | str]:
        """A static printf format: literal pieces, and a marker (a str) per conversion."""
        single = fmt.pieces[0] if len(fmt.pieces) == 1 else None
        exact = single is not None and single.exact and not single.spliced and single.start >= 0
        text = fmt.literal
        base = single.start if exact and single is not None else -1
        out: list[_Pc | str] = []

        def lit(a: int, b: int) -> None:
            raw = text[a:b]
            if not raw:
                return
            cooked = _unescape_ansi(raw).replace("%%", "%")
            if exact and cooked == raw:
                out.append(_pc(PieceKind.LITERAL, cooked, base + a, base + b, True))
            elif exact:
                out.append(
                    _Pc(
                        PieceKind.LITERAL,
                        cooked,
                        base + a,
                        base + b,
                        False,
                        None,
                        base + a,
                        base + b,
                    )
                )
            else:
                out.append(_Pc(PieceKind.LITERAL, cooked, -1, -1, False, None, fmt.start, fmt.end))

        at = 0
        for m in _PRINTF_CONV.finditer(text):
            if m.group(1) is None:  # %%
                continue
            lit(at, m.start())
            out.append(m.group(1))
            at = m.end()
        lit(at, len(text))
        return out

    def write_file(self, rec: _Rec, target: _V, content: _V) -> None:
        pieces = list(content.pieces)
        if pieces and pieces[-1].kind is PieceKind.LITERAL and pieces[-1].text.endswith("\n"):
            trimmed = self.cut_to(pieces[-1], len(pieces[-1].text) - 1)
            pieces = pieces[:-1] + ([trimmed] if trimmed is not None else [])
            content = _V(tuple(pieces), content.start, content.end)
        value = self.value(content, keep=content is rec.stdin)
        self.writes.append(
            OutputWrite(
                target=WriteTarget.FILE,
                name=_slot_text(target.pieces),
                value=value,
                span=self.span(rec.start, rec.end),
                path=self.path,
            )
        )

    def feed(self, kind: WriteTarget, rec: _Rec, content: _V) -> None:
        """Read `name=value` and `name<<DELIM ... DELIM` lines written to a command file."""
        for line in _split_lines(content):
            pending = self.pending.get(kind)
            if pending is not None:
                if tuple((p.kind, p.text) for p in line) == pending.delimiter:
                    del self.pending[kind]
                    self.finish_multiline(kind, pending, rec)
                else:
                    pending.lines.append(line)
                continue
            if not line:
                continue
            prefix = ""
            for p in line:
                if p.kind is not PieceKind.LITERAL:
                    break
                prefix += p.text
            eq = prefix.find("=")
            heredoc = prefix.find("<<")
            if heredoc > 0 and (eq < 0 or heredoc < eq):
                name = prefix[:heredoc]
                rest = self.after(line, heredoc + 2)
                delimiter = tuple((p.kind, p.text) for p in rest)
                if delimiter:
                    self.pending[kind] = _Pending(name, delimiter, [], rec.start)
                continue
            if eq <= 0:
                continue
            name = prefix[:eq]
            rest = self.after(line, eq + 1)
            if rest:
                start = rest[0].ws if rest[0].ws >= 0 else rec.start
                end = rest[-1].we if rest[-1].we >= 0 else rec.end
            else:
                start = end = self.position_after(line, eq + 1, rec)
            value = self.value(_V(tuple(rest), start, max(start, end)))
            self.writes.append(
                OutputWrite(kind, name, value, self.span(rec.start, rec.end), self.path)
            )

    def set_output_commands(self, rec: _Rec, content: _V) -> None:
        """The deprecated `echo "::set-output name=x::value"` (still honoured by runners)."""
        marker = "::set-output name="
        if not any(marker in p.text for p in content.pieces if p.kind is PieceKind.LITERAL):
            return  # nearly always: spare splitting the content into lines
        for line in _split_lines(content):
            prefix = "".join(p.text for p in line[:1] if p.kind is PieceKind.LITERAL)
            if not prefix.startswith(marker):
                continue
            end = prefix.find("::", len(marker))
            if end < 0:
                continue
            rest = self.after(line, end + 2)
            if rest:
                start, stop = rest[0].ws, rest[-1].we
            else:
                start = stop = self.position_after(line, end + 2, rec)
            value = self.value(_V(tuple(rest), start, max(start, stop)))
            self.writes.append(
                OutputWrite(
                    WriteTarget.OUTPUT,
                    prefix[len(marker) : end],
                    value,
                    self.span(rec.start, rec.end),
                    self.path,
                )
            )

    def position_after(self, line: list[_Pc], at: int, rec: _Rec) -> int:
        count = 0
        for p in line:
            if count + len(p.text) >= at:
                if p.exact and not p.spliced and p.start >= 0:
                    return p.start + (at - count)
                return p.we if p.we >= 0 else rec.end
            count += len(p.text)
        return rec.end

    def after(self, line: list[_Pc], at: int) -> list[_Pc]:
        """The pieces of a line after character `at` (which lies in its literal prefix)."""
        count = 0
        for i, p in enumerate(line):
            if count + len(p.text) > at:
                cut = self.cut(p, at - count)
                return ([cut] if cut is not None else []) + line[i + 1 :]
            count += len(p.text)
        return []

    def finish_multiline(self, kind: WriteTarget, pending: _Pending, rec: _Rec) -> None:
        pieces: list[_Pc] = []
        for i, line in enumerate(pending.lines):
            if i:
                a = pieces[-1] if pieces else None
                b = line[0] if line else None
                if (
                    a is not None
                    and b is not None
                    and a.kind is b.kind is PieceKind.LITERAL
                    and a.exact
                    and b.exact
                    and not a.spliced
                    and not b.spliced
                    and a.start >= 0
                    and b.start == a.end + 1
                    and self.src[a.end] == "\n"
                ):
                    pieces[-1] = _pc(
                        PieceKind.LITERAL, a.text + "\n" + b.text, a.start, b.end, True
                    )
                    pieces.extend(line[1:])
                    continue
                at = pieces[-1].we if pieces and pieces[-1].we >= 0 else -1
                pieces.append(_Pc(PieceKind.LITERAL, "\n", -1, -1, False, None, at, at))
            pieces.extend(line)
        positioned = [p for p in pieces if p.ws >= 0]
        if positioned:
            start = min(p.ws for p in positioned)
            end = max(p.we for p in positioned)
        else:
            start = end = rec.start
        value = self.value(_V(tuple(pieces), start, end))
        self.writes.append(
            OutputWrite(kind, pending.name, value, self.span(pending.start, rec.end), self.path)
        )


# The handler of each node type, made once (not per script: most scripts are short).
_HANDLERS: dict[str, Callable[[_Analyser, Node, _Ctx], None]] = {
    "program": _Analyser.h_program,
    "compound_statement": _Analyser.h_compound,
    "subshell": _Analyser.h_subshell,
    "do_group": _Analyser.h_block,
    "else_clause": _Analyser.h_block,
    "command": _Analyser.h_command,
    "declaration_command": _Analyser.h_declaration,
    "unset_command": _Analyser.h_unset,
    "variable_assignment": _Analyser.h_assignments,
    "variable_assignments": _Analyser.h_assignments,
    "list": _Analyser.h_list,
    "pipeline": _Analyser.h_pipeline,
    "negated_command": _Analyser.h_negated,
    "redirected_statement": _Analyser.h_redirected,
    "if_statement": _Analyser.h_if,
    "while_statement": _Analyser.h_while,
    "for_statement": _Analyser.h_for,
    "c_style_for_statement": _Analyser.h_c_for,
    "case_statement": _Analyser.h_case,
    "function_definition": _Analyser.h_function,
    "test_command": _Analyser.h_test,
    "command_substitution": _Analyser.h_substitution,
    "process_substitution": _Analyser.h_substitution,
    "comment": _Analyser.h_skip,
    "heredoc_body": _Analyser.h_skip,
}


def _split_lines(content: _V) -> list[list[_Pc]]:
    lines: list[list[_Pc]] = [[]]
    for p in content.pieces:
        if p.kind is not PieceKind.LITERAL or "\n" not in p.text:
            if p.text or p.kind is not PieceKind.LITERAL:
                lines[-1].append(p)
            continue
        parts = p.text.split("\n")
        offset = 0
        for j, part in enumerate(parts):
            if j:
                lines.append([])
            if part:
                if p.exact and p.start >= 0:
                    a = offset
                    if p.spliced:
                        piece = _Pc(
                            p.kind,
                            part,
                            p.start + a,
                            p.start + a + len(part),
                            True,
                            p.span,
                            p.ws,
                            p.we,
                            True,
                        )
                    else:
                        piece = _Pc(
                            p.kind,
                            part,
                            p.start + a,
                            p.start + a + len(part),
                            True,
                            None,
                            p.ws + a,
                            p.ws + a + len(part),
                        )
                else:
                    piece = p._replace(text=part)
                lines[-1].append(piece)
            offset += len(part) + 1
    if lines and not lines[-1]:
        lines.pop()
    return lines


def _classify(target: _V) -> WriteTarget | None:
    pieces = target.pieces
    if len(pieces) == 1 and pieces[0].kind is PieceKind.VAR:
        name = pieces[0].text
        if name == "GITHUB_OUTPUT":
            return WriteTarget.OUTPUT
        if name == "GITHUB_ENV":
            return WriteTarget.ENV
        if name in _SKIP_TARGET_VARS:
            return None
    if not pieces:
        return None
    if target.static and (target.literal.startswith("/dev/") or target.literal.startswith("&")):
        return None
    return WriteTarget.FILE


def _cut_affix(pieces: list[_Pc], raw: str, op: str) -> list[_Pc]:
    """Remove a `#`/`%` pattern from partly known pieces, where it can be seen in the
    literal pieces: a plain prefix/suffix, or `*X` / `X*` up to a literal `X`."""
    prefix = op in ("#", "##")
    if _plain_pattern(raw):
        text = _unescape_plain(raw)
        edge = pieces[0] if prefix else pieces[-1]
        if edge.kind is PieceKind.LITERAL and text:
            if prefix and edge.text.startswith(text):
                pieces[0] = edge._replace(text=edge.text[len(text) :], exact=False)
            elif not prefix and edge.text.endswith(text):
                pieces[-1] = edge._replace(text=edge.text[: -len(text)], exact=False)
        return [p for p in pieces if p.kind is not PieceKind.LITERAL or p.text]
    if prefix and raw.startswith("*") and _plain_pattern(raw[1:]) and raw[1:]:
        mark = _unescape_plain(raw[1:])
        order = range(len(pieces)) if op == "#" else range(len(pieces) - 1, -1, -1)
        for i in order:
            p = pieces[i]
            if p.kind is PieceKind.LITERAL and mark in p.text:
                cut = p.text.index(mark) if op == "#" else p.text.rindex(mark)
                rest = p.text[cut + len(mark) :]
                head = [p._replace(text=rest, exact=False)] if rest else []
                return head + pieces[i + 1 :]
        return pieces
    if not prefix and raw.endswith("*") and _plain_pattern(raw[:-1]) and raw[:-1]:
        mark = _unescape_plain(raw[:-1])
        order = range(len(pieces) - 1, -1, -1) if op == "%" else range(len(pieces))
        for i in order:
            p = pieces[i]
            if p.kind is PieceKind.LITERAL and mark in p.text:
                cut = p.text.rindex(mark) if op == "%" else p.text.index(mark)
                rest = p.text[:cut]
                tail = [p._replace(text=rest, exact=False)] if rest else []
                return pieces[:i] + tail
        return pieces
    return pieces


def _plain_pattern(raw: str) -> bool:
    return not any(c in raw for c in "$`\"'")


def _glob_regex(pattern: str) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(pattern), re.S)


def _remove_affix(value: str, pattern: str, op: str) -> str:
    rx = _glob_regex(pattern)
    n = len(value)
    if op in ("#", "##"):
        order = range(n + 1) if op == "#" else range(n, -1, -1)
        for i in order:
            if rx.match(value[:i]):
                return value[i:]
        return value
    order = range(n, -1, -1) if op == "%" else range(n + 1)
    for i in order:
        if rx.match(value[i:]):
            return value[:i]
    return value


def _replace_pattern(value: str, pattern: str, replacement: str, op: str) -> str:
    if not pattern:
        return value
    if not any(c in pattern for c in "*?["):
        if op == "//":
            return value.replace(pattern, replacement)
        if op == "/#":
            return replacement + value[len(pattern) :] if value.startswith(pattern) else value
        if op == "/%":
            return value[: -len(pattern)] + replacement if value.endswith(pattern) else value
        return value.replace(pattern, replacement, 1)
    rx = fnmatch.translate(pattern)
    body = rx[4:-3] if rx.startswith("(?s:") and rx.endswith(")\\Z") else rx
    if op == "/#":
        return re.sub("^(?:" + body + ")", lambda m: replacement, value, count=1, flags=re.S)
    if op == "/%":
        return re.sub("(?:" + body + ")$", lambda m: replacement, value, count=1, flags=re.S)
    return re.sub(body, lambda m: replacement, value, count=0 if op == "//" else 1, flags=re.S)


# --------------------------------------------------------------------------- API


def analyse(
    source: str,
    path: str,
    locate: Locate,
    *,
    env: Mapping[str, Value] | None = None,
    shell: str | None = None,
) -> ShellScript:
    """Read a bash/sh script: its commands, its output writes, its variables.

    `locate(offset, length)` maps a character range of `source` to its file span
    (`Text.locate` for a `run:` value, `file_locator(text)` for a script file).
    `env` is the environment the step gives the script; `shell` is the step's `shell:`.
    Never raises: problems are in `errors`, and `opaque` says parts were not read.
    """
    try:
        mode = shell_mode(shell)
    except Exception:
        mode = None
    if mode is None:
        label = _shell_label(shell or "")
        return ShellScript(errors=(f"shell {label} is not analysed",), opaque=True)
    try:
        return _Analyser(source, path, locate, env or {}, mode).run()
    except Exception as exc:
        return ShellScript(
            errors=(f"line 1: the script could not be analysed ({type(exc).__name__})",),
            opaque=True,
        )
