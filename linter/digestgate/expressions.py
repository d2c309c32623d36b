"""GitHub Actions expressions (`${{ ... }}`): parser and three-valued evaluator.

The same language is used by GitHub, Gitea and Forgejo; the reference behaviour
followed here is GitHub's (docs "Evaluate expressions in workflows and actions"
and the `@actions/expressions` implementation).

Parsing
-------
`parse_expression` is a small hand-written lexer plus a recursive-descent parser.
Precedence, loosest first: `||`, `&&`, `== !=`, `< <= > >=`, `!`, then the postfix
accesses `.name`, `.*`, `[expr]`, `[*]`. Binary operators are left-associative.
Like GitHub, postfix access is only allowed after a context name, a function call or
a parenthesised expression, function names are checked against the built-in
functions (with their argument counts), the keywords `true`, `false`, `null` are
case-sensitive, and nesting is limited to 50 levels (GitHub's limit, counted the way
GitHub counts it). Nesting is the only source of recursion, so hostile input ends in
`ExprError("... nested too deeply ...")`, never `RecursionError`, and lexing and
parsing take linear time.

Every node carries `start`/`end` offsets (end exclusive) into the parsed string, plus
the `offset` given to `parse_expression`, so a caller that knows where the string
sits in its file can map them to a `Span`. A node's span covers any parentheses that
enclose it, so `text[node.start:node.end]` always re-parses to the same node.
Context names, function names and reference paths are lower-cased (the language is
case-insensitive there); property names keep their spelling in the `Literal` key.

Three-valued evaluation
-----------------------
`evaluate` computes what GitHub would compute, over a value domain extended for
partial knowledge:

* a concrete JSON-like value: `None`, `bool`, `float`, `str`, `list`, `dict`;
* a `frozenset` of possible scalar values, e.g. `needs.build.result` known to be
  one of `{'success', 'failure'}`;
* `PartialString`: a non-empty string of which only some substrings are known
  (what `toJSON` gives for a partly known object, so `contains(toJSON(needs),
  'failure')` still works);
* `UNKNOWN`: nothing is known.

Context values come from `Assumptions.values`, keyed by lower-cased paths. An object
assembled from deeper paths (e.g. `needs` from `('needs', 'build', 'result')`) is
*partial*: a key it does not list is UNKNOWN rather than null, but a `.*` filter
over it enumerates just the keys given (list every job of `needs` and
`needs.*.result` is the list of their results). Everything else
follows GitHub: `==` coerces like JavaScript's loose equality (null -> 0,
bool -> 1/0, string -> number, NaN never equal), string comparison ignores case,
objects compare by identity, property access on a non-object gives null.

Operators and functions are lifted over sets: the operation is done for every
combination of possible operands, and the results are merged (all equal -> that
value; several strings -> a set; a boolean that may be either -> UNKNOWN). For a
comparison that means: true for every possibility -> true, for none -> false, else
UNKNOWN.

`truthiness` is Kleene logic on top: `!UNKNOWN` is UNKNOWN, `FALSE && UNKNOWN` is
FALSE, `TRUE || UNKNOWN` is TRUE. Note that `&&` and `||` return one of their
operands (like JavaScript), which `evaluate` models with sets where it can.
`evaluate` and `truthiness` never raise; anything odd (including GitHub evaluation
errors such as a bad `format` string) gives UNKNOWN.

`evaluate_condition` reads an `if:` string the way GitHub does: a bare expression,
or exactly one `${{ }}`; any text outside `${{ }}` makes the condition a non-empty
string, hence truthy. Unless a status function (`success`, `failure`, `always`,
`cancelled`) is called somewhere, the condition is `success() && (condition)`.
"""

from __future__ import annotations

import enum
import itertools
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Final, TypeAlias, TypeGuard

__all__ = [
    "FUNCTIONS",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "STATUS_FUNCTIONS",
    "UNKNOWN",
    "Assumptions",
    "Binary",
    "Call",
    "Context",
    "Expr",
    "ExprError",
    "Index",
    "Literal",
    "Not",
    "PartialString",
    "Placeholder",
    "Reference",
    "Star",
    "Tri",
    "Unknown",
    "Value",
    "evaluate",
    "evaluate_condition",
    "find_placeholders",
    "is_whole_expression",
    "parse_expression",
    "references",
    "status_functions",
    "truthiness",
    "walk",
]

MAX_DEPTH: Final = 50
"""GitHub's limit on expression nesting."""

MAX_LENGTH: Final = 21000
"""GitHub's limit on the length of one expression."""

STATUS_FUNCTIONS: Final = frozenset({"success", "always", "cancelled", "failure"})

FUNCTIONS: Final[Mapping[str, tuple[int, int]]] = {
    "contains": (2, 2),
    "startswith": (2, 2),
    "endswith": (2, 2),
    "format": (1, 255),
    "join": (1, 2),
    "tojson": (1, 1),
    "fromjson": (1, 1),
    "hashfiles": (1, 255),
    "case": (3, 255),
    "success": (0, 0),
    "always": (0, 0),
    "cancelled": (0, 0),
    "failure": (0, 0),
}
"""Built-in functions (lower-cased) with their minimum and maximum argument counts."""


class ExprError(Exception):
    """A syntax error; `offset` is where it was found (including the parse offset)."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


# --------------------------------------------------------------------------- AST


@dataclass(frozen=True, slots=True)
class Literal:
    value: bool | float | str | None
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Context:
    name: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Index:
    obj: Expr
    key: Expr
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Star:
    obj: Expr
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Not:
    operand: Expr
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Binary:
    op: str
    left: Expr
    right: Expr
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    args: tuple[Expr, ...]
    start: int
    end: int


Expr: TypeAlias = Literal | Context | Index | Star | Not | Binary | Call


def walk(expr: Expr) -> Iterator[Expr]:
    """Every node of the tree, parents before children, left to right (no recursion)."""
    stack: list[Expr] = [expr]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, Index):
            stack += (node.key, node.obj)
        elif isinstance(node, Star):
            stack.append(node.obj)
        elif isinstance(node, Not):
            stack.append(node.operand)
        elif isinstance(node, Binary):
            stack += (node.right, node.left)
        elif isinstance(node, Call):
            stack.extend(reversed(node.args))


# ------------------------------------------------------------------------- lexer


class _Token:
    """A lexer token (a plain slotted class: the lexer makes a great many of them)."""

    __slots__ = ("end", "kind", "start", "text", "value")

    def __init__(
        self, kind: str, text: str, start: int, end: int, value: bool | float | str | None = None
    ) -> None:
        self.kind = kind  # punctuation/operator text, or NUMBER, STRING, IDENT, KEYWORD, EOF
        self.text = text
        self.start = start
        self.end = end
        self.value = value


_NUMBER, _STRING, _IDENT, _KEYWORD, _EOF = "NUMBER", "STRING", "IDENT", "KEYWORD", "EOF"
_SKIP = frozenset(" \t\r\n")
# A word runs until one of GitHub's boundary characters; numbers may contain dots.
_WORD_END = re.compile(r"[()\[\],.!<>=&|\s]")
_NUMBER_END = re.compile(r"[()\[\],!<>=&|\s]")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_KEYWORDS: Final[Mapping[str, bool | float | None]] = {
    "true": True,
    "false": False,
    "null": None,
    "NaN": math.nan,
    "Infinity": math.inf,
}


def _lex(text: str, base: int) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in _SKIP:
            i += 1
            continue
        start = i
        prev = tokens[-1].kind if tokens else _EOF
        if c in "()[],*":
            i += 1
            kind = c
        elif c == "." and prev in (_IDENT, "]", ")", "*"):
            i += 1
            kind = "."
        elif c in "-+." or "0" <= c <= "9":
            if c == "." and not ("0" <= text[i + 1 : i + 2] <= "9"):
                raise ExprError("unexpected '.'", base + i)
            i = _run_end(_NUMBER_END, text, i + 1)
            number = _js_number(text[start:i], trim=False)
            if math.isnan(number):
                raise ExprError(f"invalid number '{text[start:i]}'", base + start)
            tokens.append(_Token(_NUMBER, text[start:i], base + start, base + i, number))
            continue
        elif c in "!<>=":
            i += 2 if text[i + 1 : i + 2] == "=" else 1
            kind = text[start:i]
            if kind == "=":
                raise ExprError("unexpected '=' (use '==' to compare)", base + start)
        elif c in "&|":
            if text[i + 1 : i + 2] != c:
                raise ExprError(f"unexpected '{c}' (use '{c}{c}')", base + start)
            i += 2
            kind = c + c
        elif c == "'":
            value, i = _lex_string(text, i, base)
            tokens.append(_Token(_STRING, text[start:i], base + start, base + i, value))
            continue
        else:
            i = _run_end(_WORD_END, text, i + 1)
            word = text[start:i]
            if prev != "." and word in _KEYWORDS:
                keyword = _KEYWORDS[word]
                kind = _NUMBER if isinstance(keyword, float) else _KEYWORD
                tokens.append(_Token(kind, word, base + start, base + i, keyword))
                continue
            if not _IDENTIFIER.fullmatch(word):
                if c == '"':
                    raise ExprError("strings must be in single quotes", base + start)
                raise ExprError(f"unexpected symbol '{word}'", base + start)
            kind = _IDENT
        tokens.append(_Token(kind, text[start:i], base + start, base + i))
    tokens.append(_Token(_EOF, "", base + n, base + n))
    return tokens


def _run_end(boundary: re.Pattern[str], text: str, i: int) -> int:
    found = boundary.search(text, i)
    return found.start() if found else len(text)


def _lex_string(text: str, i: int, base: int) -> tuple[str, int]:
    """Read the string literal whose opening quote is at `i`; `''` is a quote."""
    j = i + 1
    while True:
        j = text.find("'", j)
        if j < 0:
            raise ExprError("unterminated string literal", base + i)
        if text[j + 1 : j + 2] != "'":
            return text[i + 1 : j].replace("''", "'"), j + 1
        j += 2


_DECIMAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_RADIX = re.compile(r"0(?:[xX][0-9a-fA-F]+|[oO][0-7]+|[bB][01]+)")


def _js_number(text: str, *, trim: bool = True) -> float:
    """JavaScript's `Number(text)`: what GitHub uses for literals and string coercion."""
    s = text.strip().strip("\ufeff").strip() if trim else text
    if not s:
        return 0.0
    if _DECIMAL.fullmatch(s):
        return float(s)
    if s in ("Infinity", "+Infinity", "-Infinity"):
        return -math.inf if s[0] == "-" else math.inf
    if _RADIX.fullmatch(s):
        try:
            return float(int(s[2:], {"x": 16, "o": 8, "b": 2}[s[1].lower()]))
        except OverflowError:
            return math.inf
    return math.nan


# ------------------------------------------------------------------------ parser


class _Parser:
    def __init__(self, text: str, base: int) -> None:
        self.tokens = _lex(text, base)
        self.pos = 0
        self.depth = 0

    def peek(self) -> _Token:
        return self.tokens[self.pos]

    def advance(self) -> _Token:
        tok = self.tokens[self.pos]
        if tok.kind != _EOF:
            self.pos += 1
        return tok

    def unexpected(self, tok: _Token) -> ExprError:
        if tok.kind == _EOF:
            return ExprError("unexpected end of expression", tok.start)
        return ExprError(f"unexpected symbol '{tok.text}'", tok.start)

    def expect(self, kind: str) -> _Token:
        if self.peek().kind != kind:
            raise self.unexpected(self.peek())
        return self.advance()

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExprError(
                f"expression nested too deeply (more than {MAX_DEPTH} levels)", self.peek().start
            )

    def parse(self) -> Expr:
        if self.peek().kind == _EOF:
            raise ExprError("expected an expression", self.peek().start)
        expr = self.expression()
        if self.peek().kind != _EOF:
            raise self.unexpected(self.peek())
        return expr

    def expression(self) -> Expr:
        self.enter()
        try:
            return self.binary(0)
        finally:
            self.depth -= 1

    _LEVELS: Final = (("||",), ("&&",), ("==", "!="), ("<", "<=", ">", ">="))

    def binary(self, level: int) -> Expr:
        if level == len(self._LEVELS):
            return self.unary()
        ops = self._LEVELS[level]
        left = self.binary(level + 1)
        if self.peek().kind not in ops:
            return left
        logical = level < 2  # GitHub counts a chain of && or || as one nesting level
        if logical:
            self.enter()
        try:
            while self.peek().kind in ops:
                op = self.advance().kind
                right = self.binary(level + 1)
                left = Binary(op, left, right, left.start, right.end)
        finally:
            if logical:
                self.depth -= 1
        return left

    def unary(self) -> Expr:
        if self.peek().kind != "!":
            return self.postfix()
        bang = self.advance()
        self.enter()
        try:
            operand = self.unary()
        finally:
            self.depth -= 1
        return Not(operand, bang.start, operand.end)

    def postfix(self) -> Expr:
        tok = self.peek()
        expr: Expr
        if tok.kind == _IDENT:
            self.advance()
            if self.peek().kind == "(":
                expr = self.call(tok)
            else:
                expr = Context(tok.text.lower(), tok.start, tok.end)
        elif tok.kind == "(":
            self.advance()
            inner = self.expression()
            close = self.expect(")")
            expr = replace(inner, start=tok.start, end=close.end)
        else:
            return self.literal()
        entered = 0
        try:
            while self.peek().kind in (".", "["):
                opener = self.advance()
                nxt = self.peek()
                if nxt.kind == "*":
                    self.advance()
                    end = self.expect("]").end if opener.kind == "[" else nxt.end
                    expr = Star(expr, expr.start, end)
                elif opener.kind == "[":
                    key = self.expression()
                    expr = Index(expr, key, expr.start, self.expect("]").end)
                elif nxt.kind == _IDENT:
                    self.advance()
                    key = Literal(nxt.text, nxt.start, nxt.end)
                    expr = Index(expr, key, expr.start, nxt.end)
                else:
                    raise ExprError("expected a property name or '*' after '.'", nxt.start)
                self.enter()  # GitHub counts each access in a chain as a level
                entered += 1
        finally:
            self.depth -= entered
        return expr

    def call(self, name: _Token) -> Call:
        self.advance()  # "("
        args: list[Expr] = []
        if self.peek().kind == ")":
            close = self.advance()
        else:
            while True:
                args.append(self.expression())
                if self.peek().kind != ",":
                    close = self.expect(")")
                    break
                self.advance()
        lowered = name.text.lower()
        arity = FUNCTIONS.get(lowered)
        if arity is None:
            raise ExprError(f"unknown function '{name.text}'", name.start)
        low, high = arity
        if not low <= len(args) <= high:
            expected = str(low) if low == high else f"{low} to {high}"
            raise ExprError(
                f"{name.text}() takes {expected} argument(s), {len(args)} given", name.start
            )
        if lowered == "case" and len(args) % 2 == 0:
            raise ExprError("case() needs an odd number of arguments", name.start)
        return Call(lowered, tuple(args), name.start, close.end)

    def literal(self) -> Expr:
        tok = self.advance()
        if tok.kind in (_NUMBER, _STRING, _KEYWORD):
            return Literal(tok.value, tok.start, tok.end)
        raise self.unexpected(tok)


def parse_expression(text: str, offset: int = 0) -> Expr:
    """Parse one expression (the inside of `${{ }}`); raises `ExprError`.

    `offset` is added to every node's `start`/`end` and to error offsets.
    """
    if len(text) > MAX_LENGTH:
        raise ExprError(f"expression longer than {MAX_LENGTH} characters", offset)
    path = _CONTEXT_PATH.fullmatch(text)
    if path is not None:
        found = _context_path(path, offset)
        if found is not None:
            return found
    return _Parser(text, offset).parse()


# Three expressions in four are a bare context path (`github.sha`, `matrix.os`,
# `steps.build.outputs.digest`): read without the lexer and parser, the same tree.
# The lexer's whitespace is these four characters, its identifiers ASCII.
_CONTEXT_PATH = re.compile(
    r"[ \t\r\n]*([A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z_][A-Za-z0-9_-]*)*)[ \t\r\n]*"
)


def _context_path(match: re.Match[str], base: int) -> Expr | None:
    """The parser's tree for a matched path: `Context`, then an `Index` by a property
    name `Literal` per dot. A leading keyword (`true`, `null`, ...) and a chain deeper
    than `MAX_DEPTH` are left to the parser."""
    names = match.group(1).split(".")
    if names[0] in _KEYWORDS or len(names) > MAX_DEPTH:
        return None
    start = base + match.start(1)
    end = start + len(names[0])
    expr: Expr = Context(names[0].lower(), start, end)
    for name in names[1:]:
        key_start = end + 1
        end = key_start + len(name)
        expr = Index(expr, Literal(name, key_start, end), start, end)
    return expr


# ------------------------------------------------------------------ placeholders


@dataclass(frozen=True, slots=True)
class Placeholder:
    """One `${{ ... }}` in a string: its span, the span of its inside, and the parse."""

    start: int
    end: int
    inner_start: int
    inner_end: int
    expr: Expr | None
    error: ExprError | None


_QUOTE_OR_BRACE = re.compile(r"['}]")


_FOUND: dict[str, tuple[Placeholder, ...]] = {}
_FOUND_SIZE = 20_000


def find_placeholders(text: str) -> list[Placeholder]:
    """Every `${{ ... }}` in `text`, in order; never raises.

    Like GitHub, the closing `}}` is the first one outside a single-quoted string.
    An unclosed `${{` gives a last placeholder with `error` set that runs to the end.
    The answer depends on the text alone and is remembered (the same values come back
    in every job and step that uses them, and several stages ask).
    """
    if "${{" not in text:
        return []
    found = _FOUND.get(text)
    if found is None:
        if len(_FOUND) >= _FOUND_SIZE:
            _FOUND.clear()
        found = _FOUND[text] = tuple(_find_placeholders(text))
    return list(found)


def _find_placeholders(text: str) -> list[Placeholder]:
    found: list[Placeholder] = []
    start = text.find("${{")
    while start >= 0:
        in_string = False
        close = -1
        for match in _QUOTE_OR_BRACE.finditer(text, start + 3):
            i = match.start()
            if text[i] == "'":
                in_string = not in_string
            elif not in_string and text[i - 1] == "}":
                close = i
                break
        if close < 0:
            error = ExprError("'${{' is not closed by '}}'", start)
            found.append(Placeholder(start, len(text), start + 3, len(text), None, error))
            break
        inner_start, inner_end = start + 3, close - 1
        try:
            expr: Expr | None = parse_expression(text[inner_start:inner_end], inner_start)
            problem = None
        except ExprError as exc:
            # kept (and remembered): without its traceback, whose frames would keep
            # the caller's whole repository alive
            expr, problem = None, exc.with_traceback(None)
        found.append(Placeholder(start, close + 1, inner_start, inner_end, expr, problem))
        start = text.find("${{", close + 1)
    return found


def is_whole_expression(text: str) -> bool:
    """True if `text`, less surrounding whitespace, is exactly one closed `${{ }}`."""
    stripped = text.strip()
    return _single_placeholder(stripped) is not None


def _single_placeholder(text: str) -> Placeholder | None:
    if not text.startswith("${{"):
        return None
    found = find_placeholders(text)
    closed = len(found) == 1 and found[0].end == found[0].inner_end + 2
    return found[0] if closed and found[0].end == len(text) else None


# -------------------------------------------------------------------- references


@dataclass(frozen=True, slots=True)
class Reference:
    """A context access such as `needs.build.outputs.digest`, lower-cased."""

    path: tuple[str, ...]
    start: int
    end: int


def references(expr: Expr) -> list[Reference]:
    """Every maximal context access, in source order.

    Literal keys (`.name`, `['name']`, `[0]`) extend the path, `.*` and `[*]` add
    `'*'`, and a computed key ends the path (its own references are reported too).
    """
    found: list[Reference] = []
    stack: list[Expr] = [expr]
    while stack:
        node = stack.pop()
        links: list[Index | Star] = []
        root = node
        while isinstance(root, (Index, Star)):
            links.append(root)
            root = root.obj
        if not isinstance(root, Context):
            if isinstance(node, (Index, Star)):
                stack.append(root)
                stack.extend(link.key for link in links if isinstance(link, Index))
            elif isinstance(node, Not):
                stack.append(node.operand)
            elif isinstance(node, Binary):
                stack += (node.left, node.right)
            elif isinstance(node, Call):
                stack.extend(node.args)
            continue
        path = [root.name]
        last: Expr = root
        for link in reversed(links):
            if isinstance(link, Star):
                path.append("*")
            elif isinstance(link.key, Literal):
                path.append(_coerce_str(link.key.value).lower())
            else:
                break
            last = link
        found.append(Reference(tuple(path), last.start, last.end))
        stack.extend(
            link.key
            for link in links
            if isinstance(link, Index) and not isinstance(link.key, Literal)
        )
    found.sort(key=lambda ref: (ref.start, -ref.end))
    return found


def status_functions(expr: Expr) -> set[str]:
    """Which of success/always/cancelled/failure are called anywhere in `expr`."""
    return {n.name for n in walk(expr) if isinstance(n, Call) and n.name in STATUS_FUNCTIONS}


# ---------------------------------------------------------------- value domain


class Tri(enum.Enum):
    """Three-valued truth. Combine with `&`, `|`, `~` (Kleene logic)."""

    TRUE = "true"
    FALSE = "false"
    UNKNOWN = "unknown"

    @staticmethod
    def of(value: bool | None) -> Tri:
        """`True` -> TRUE, `False` -> FALSE, `None` -> UNKNOWN."""
        return Tri.UNKNOWN if value is None else Tri.TRUE if value else Tri.FALSE

    @property
    def known(self) -> bool:
        return self is not Tri.UNKNOWN

    def __invert__(self) -> Tri:
        return {Tri.TRUE: Tri.FALSE, Tri.FALSE: Tri.TRUE}.get(self, Tri.UNKNOWN)

    def __and__(self, other: Tri) -> Tri:
        if Tri.FALSE in (self, other):
            return Tri.FALSE
        return Tri.TRUE if self is other is Tri.TRUE else Tri.UNKNOWN

    def __or__(self, other: Tri) -> Tri:
        if Tri.TRUE in (self, other):
            return Tri.TRUE
        return Tri.FALSE if self is other is Tri.FALSE else Tri.UNKNOWN

    def __bool__(self) -> bool:
        raise TypeError("a Tri has no plain truth value; compare it with Tri.TRUE etc.")


class Unknown(enum.Enum):
    """The type of `UNKNOWN`, the value about which nothing is known."""

    UNKNOWN = "UNKNOWN"

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __str__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Final = Unknown.UNKNOWN


@dataclass(frozen=True, slots=True)
class PartialString:
    """A non-empty string of which only these substrings are known."""

    parts: frozenset[str]


Scalar: TypeAlias = bool | float | str | None
Value: TypeAlias = (
    Scalar | list["Value"] | dict[str, "Value"] | frozenset[Scalar] | PartialString | Unknown
)


class _Filtered(list[Value]):
    """What a `*` filter gives: an array that further accesses map over.

    `complete` is False when there may be elements besides the known ones.
    """

    __slots__ = ("complete",)

    def __init__(self, items: Iterable[Value] = (), complete: bool = True) -> None:
        super().__init__(items)
        self.complete = complete


class _Partial(dict[str, Value]):
    """An object assembled from known paths: a key it lacks is unknown, not null.

    A `*` over it enumerates the keys it has: the caller lists every job of
    `needs` (say) and `needs.*.result` is the list of their results.
    """

    __slots__ = ()


@dataclass(frozen=True)
class Assumptions:
    """What is known when evaluating: status function results and context values.

    `status` maps `success`/`failure`/`always`/`cancelled` to a bool (missing or
    None: unknown). `values` maps lower-cased context paths to values: JSON-like
    data, or a set of possible scalar values (`frozenset({'success', 'failure'})`).
    """

    status: Mapping[str, bool | None] = field(default_factory=dict)
    values: Mapping[tuple[str, ...], object] = field(default_factory=dict)

    @staticmethod
    def after_failure(values: Mapping[tuple[str, ...], object] | None = None) -> Assumptions:
        """An earlier step or needed job failed: only `failure()`/`always()` are true."""
        status = {"success": False, "failure": True, "always": True, "cancelled": False}
        return Assumptions(status, dict(values or {}))

    @staticmethod
    def after_success(values: Mapping[tuple[str, ...], object] | None = None) -> Assumptions:
        """Everything so far succeeded."""
        status = {"success": True, "failure": False, "always": True, "cancelled": False}
        return Assumptions(status, dict(values or {}))


def _is_scalar(v: object) -> TypeGuard[Scalar]:
    return v is None or type(v) in (bool, float, str)


def _kind(v: Value) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return "other"  # sets, PartialString, UNKNOWN: handled before kinds matter


def _possibilities(results: Iterable[Value]) -> Value:
    """Merge the possible results of an operation into one value."""
    flat: list[Value] = []
    for result in results:
        if isinstance(result, frozenset):
            flat.extend(result)
        else:
            flat.append(result)
    if not flat:
        return UNKNOWN
    first = flat[0]
    if all(type(r) is type(first) and r == first for r in flat[1:]):
        return first
    scalars: list[Scalar] = [r for r in flat if r is None or isinstance(r, (bool, float, str))]
    if len(scalars) < len(flat):
        return UNKNOWN
    kinds = {_kind(s) for s in scalars}
    if kinds == {"bool"} or {"bool", "number"} <= kinds:
        return UNKNOWN  # {True, False} says nothing; True == 1.0 would merge in a set
    return frozenset(scalars)


def _alternatives(v: Value) -> list[Value]:
    return list(v) if isinstance(v, frozenset) else [v]


def _lift(fn: Callable[..., Value], *args: Value) -> Value:
    """Apply `fn` to every combination of the possible values of `args`."""
    choices = [_alternatives(a) for a in args]
    if math.prod(len(c) for c in choices) > 256:
        return UNKNOWN
    return _possibilities(fn(*combo) for combo in itertools.product(*choices))


def _normalize(obj: object) -> Value:
    """Turn caller data (ints, tuples, sets, mappings) into the value domain."""
    if obj is None or isinstance(obj, (bool, str, float, PartialString, Unknown)):
        return obj
    if isinstance(obj, int):
        return float(obj)
    if isinstance(obj, (set, frozenset)):
        return _possibilities(_normalize(item) for item in obj)
    if isinstance(obj, Mapping):
        return {str(k): _normalize(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_normalize(item) for item in obj]
    return UNKNOWN


def _truthy(v: Value) -> Tri:
    if isinstance(v, Unknown):
        return Tri.UNKNOWN
    if isinstance(v, frozenset):
        truths = {_truthy(item) for item in v}
        return truths.pop() if len(truths) == 1 else Tri.UNKNOWN
    if v is None:
        return Tri.FALSE
    if isinstance(v, (bool, str)):
        return Tri.of(bool(v))
    if isinstance(v, float):
        return Tri.of(not (v == 0 or math.isnan(v)))
    return Tri.TRUE  # arrays, objects, PartialString (never empty)


def _number_str(v: float) -> str:
    """JavaScript-style number formatting, limited to 15 decimals like GitHub."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    if abs(v) < 1e21:
        v = float(f"{v:.15f}")
        if v.is_integer():
            return str(int(v))
    text = repr(v)
    if "e" in text:
        mantissa, _, exp = text.partition("e")
        e = int(exp)
        if -7 < e < 21:
            return format(Decimal(text), "f")
        return f"{mantissa}e{'+' if e > 0 else '-'}{abs(e)}"
    return text


def _coerce_str(v: Scalar) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return _number_str(v)
    return v


def _fold(s: str) -> str:
    """Case-insensitive key, as GitHub does it (upper case, but not the dotless i)."""
    dotless_i = "\u0131"
    return dotless_i.join(part.upper() for part in s.split(dotless_i))


def _to_number(v: Value) -> float:
    if v is None:
        return 0.0
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if isinstance(v, float):
        return v
    if isinstance(v, str):
        return _js_number(v)
    return math.nan


def _coerce_pair(a: Value, b: Value) -> tuple[Value, Value]:
    """GitHub's coercion before comparing (JavaScript-like, objects left alone)."""
    ka, kb = _kind(a), _kind(b)
    if ka == kb:
        return a, b
    if ka == "number" and kb == "string":
        return a, _to_number(b)
    if ka == "string" and kb == "number":
        return _to_number(a), b
    if ka in ("null", "bool"):
        return _coerce_pair(_to_number(a), b)
    if kb in ("null", "bool"):
        return _coerce_pair(a, _to_number(b))
    return a, b


def _loose_eq(a: Value, b: Value) -> bool | None:
    """GitHub's `==` on two single values; None when it cannot be known."""
    a, b = _coerce_pair(a, b)
    if _kind(a) != _kind(b):
        return False
    if isinstance(a, str) and isinstance(b, str):
        return _fold(a) == _fold(b)
    if isinstance(a, (list, dict)):
        return True if a is b else None  # identity: ours is not GitHub's
    return a == b  # null, bool, number (NaN is never equal)


def _less(a: Value, b: Value) -> bool:
    a, b = _coerce_pair(a, b)
    if isinstance(a, bool) and isinstance(b, bool):
        return not a and b
    if isinstance(a, float) and isinstance(b, float):
        return a < b
    if isinstance(a, str) and isinstance(b, str):
        return _fold(a) < _fold(b)
    return False


def _compare(op: str, a: Value, b: Value) -> Value:
    if any(isinstance(x, (Unknown, PartialString)) for x in (a, b)):
        return UNKNOWN
    if op in ("==", "!="):
        eq = _loose_eq(a, b)
        return UNKNOWN if eq is None else eq == (op == "==")
    left, right = (a, b) if op[0] == "<" else (b, a)
    if _less(left, right):
        return True
    if len(op) == 1:
        return False
    eq = _loose_eq(a, b)
    return UNKNOWN if eq is None else eq


def _is_concrete(v: Value) -> bool:
    if isinstance(v, _Filtered) and not v.complete:
        return False
    if isinstance(v, list):
        return all(_is_concrete(item) for item in v)
    if isinstance(v, dict):
        return not isinstance(v, _Partial) and all(_is_concrete(x) for x in v.values())
    return _is_scalar(v)


def _json_ready(v: Value) -> object:
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e21:
        return int(v)
    if isinstance(v, list):
        return [_json_ready(item) for item in v]
    if isinstance(v, dict):
        return {k: _json_ready(x) for k, x in v.items()}
    return v


def _fragments(v: Value, parts: set[str]) -> None:
    if isinstance(v, str) and v:
        parts.add(json.dumps(v, ensure_ascii=False)[1:-1])
    elif isinstance(v, dict):
        for key, item in v.items():
            _fragments(key, parts)
            _fragments(item, parts)
    elif isinstance(v, list):
        for item in v:
            _fragments(item, parts)


def _to_json(v: Value) -> Value:
    if isinstance(v, (Unknown, PartialString)):
        return UNKNOWN
    if _is_concrete(v):
        return json.dumps(_json_ready(v), indent=2, ensure_ascii=False)
    parts: set[str] = set()
    _fragments(v, parts)
    return PartialString(frozenset(parts)) if parts else UNKNOWN


def _from_json(v: Value) -> Value:
    if not _is_scalar(v):
        return UNKNOWN
    try:
        return _normalize(json.loads(_coerce_str(v)))
    except ValueError:
        return UNKNOWN


def _affix(which: str, text: Value, affix: Value) -> Value:
    if isinstance(text, (Unknown, PartialString)) or isinstance(affix, (Unknown, PartialString)):
        return UNKNOWN
    if not (_is_scalar(text) and _is_scalar(affix)):
        return False
    s, a = _fold(_coerce_str(text)), _fold(_coerce_str(affix))
    return s.startswith(a) if which == "startswith" else s.endswith(a)


def _contains(search: Value, item: Value) -> Value:
    """`contains` with one possible `item`; `search` may hold sets and unknowns."""
    if isinstance(search, Unknown) or isinstance(item, (Unknown, PartialString)):
        return UNKNOWN
    if isinstance(search, list):
        result = Tri.FALSE if not isinstance(search, _Filtered) or search.complete else Tri.UNKNOWN
        for element in search:
            found = _truthy(_lift(lambda e: _compare("==", e, item), element))
            if found is Tri.TRUE:
                return True
            if found is Tri.UNKNOWN:
                result = Tri.UNKNOWN
        return False if result is Tri.FALSE else UNKNOWN
    if isinstance(search, dict) or not _is_scalar(item):
        return False
    needle = _fold(_coerce_str(item))
    if isinstance(search, PartialString):
        return True if any(needle in _fold(part) for part in search.parts) else UNKNOWN
    return _lift(lambda s: needle in _fold(_coerce_str(s)), search)


def _format(fmt: Value, *args: Value) -> Value:
    values = [_coerce_str(a) for a in args if _is_scalar(a)]
    if not _is_scalar(fmt) or len(values) < len(args):
        return UNKNOWN
    text = _coerce_str(fmt)
    out: list[str] = []
    i = 0
    while i < len(text):
        lbrace, rbrace = text.find("{", i), text.find("}", i)
        if lbrace >= 0 and (rbrace < 0 or rbrace > lbrace):
            if text[lbrace + 1 : lbrace + 2] == "{":
                out.append(text[i : lbrace + 1])
                i = lbrace + 2
                continue
            digits = re.match(r"\d+", text[lbrace + 1 : rbrace]) if rbrace > lbrace else None
            if digits is None or int(digits[0]) >= len(values):
                return UNKNOWN  # GitHub: invalid format string / too few arguments
            out += (text[i:lbrace], values[int(digits[0])])
            i = rbrace + 1
        elif rbrace >= 0:
            if text[rbrace + 1 : rbrace + 2] != "}":
                return UNKNOWN
            out.append(text[i : rbrace + 1])
            i = rbrace + 2
        else:
            out.append(text[i:])
            break
    return "".join(out)


def _join(array: Value, separator: Value = ",") -> Value:
    if isinstance(array, (Unknown, PartialString)) or isinstance(separator, Unknown):
        return array if isinstance(array, PartialString) else UNKNOWN
    if _is_scalar(array):
        return _coerce_str(array)
    if isinstance(array, dict):
        return ""
    if not isinstance(array, list) or not _is_concrete(array):
        return UNKNOWN
    items = [_coerce_str(item) for item in array if _is_scalar(item)]
    if len(items) < len(array):
        return UNKNOWN
    sep = _coerce_str(separator) if _is_scalar(separator) else ","
    return sep.join(items)


def _find_key(obj: Mapping[str, Value], key: str) -> str | None:
    if key in obj:
        return key
    folded = _fold(key)
    return next((k for k in obj if _fold(k) == folded), None)


def _index_one(obj: Value, key: Value) -> Value:
    """`obj[key]` for one possible object and key (not a filtered array)."""
    if isinstance(obj, Unknown):
        return UNKNOWN
    if not isinstance(obj, (list, dict)):
        return None  # indexing a primitive gives null
    if isinstance(key, (Unknown, PartialString)):
        return UNKNOWN
    if isinstance(obj, dict):
        if not _is_scalar(key):
            return None
        real = _find_key(obj, _coerce_str(key))
        if real is None:
            return UNKNOWN if isinstance(obj, _Partial) else None
        return obj[real]
    position = _to_number(key) if _is_scalar(key) else math.nan
    if math.isfinite(position) and 0 <= position < len(obj):
        return obj[int(position)]
    return None


def _filtered_index(array: _Filtered, key: Value) -> _Filtered:
    """`key` applied to each element of a filtered array (GitHub drops misses)."""
    if not _is_scalar(key):
        return _Filtered(complete=False)
    name = _coerce_str(key)
    position = _to_number(key)
    out = _Filtered(complete=array.complete)
    for item in array:
        if isinstance(item, dict):
            real = _find_key(item, name)
            if real is not None:
                out.append(item[real])
            elif isinstance(item, _Partial):
                out.complete = False
        elif isinstance(item, list):
            if math.isfinite(position) and 0 <= position < len(item):
                out.append(item[int(position)])
        elif isinstance(item, Unknown):
            out.complete = False
    return out


def _star(obj: Value) -> _Filtered:
    if isinstance(obj, _Filtered):
        out = _Filtered(complete=obj.complete)
        for item in obj:
            if isinstance(item, (list, dict)):
                out.extend(item.values() if isinstance(item, dict) else item)
            elif isinstance(item, Unknown):
                out.complete = False
        return out
    if isinstance(obj, list):
        return _Filtered(obj)
    if isinstance(obj, dict):
        return _Filtered(obj.values())  # an assembled object: the keys given are all keys
    return _Filtered(complete=not isinstance(obj, Unknown))


def _operands(node: Binary) -> list[Expr]:
    """`a && b && c` (left-nested) as [a, b, c], without recursion."""
    out: list[Expr] = []
    current: Expr = node
    while isinstance(current, Binary) and current.op == node.op:
        out.append(current.right)
        current = current.left
    out.append(current)
    out.reverse()
    return out


class _Evaluator:
    def __init__(self, assumptions: Assumptions) -> None:
        self.status = {k.lower(): v for k, v in assumptions.status.items()}
        self.values = assumptions.values
        self.roots: dict[str, Value] = {}

    def context(self, name: str) -> Value:
        if name not in self.roots:
            self.roots[name] = self._assemble(name)
        return self.roots[name]

    def _assemble(self, name: str) -> Value:
        base: Value = UNKNOWN
        deeper: list[tuple[tuple[str, ...], Value]] = []
        for path, raw in self.values.items():
            keys = tuple(str(k).lower() for k in path)
            if keys[:1] == (name,):
                if len(keys) == 1:
                    base = _normalize(raw)
                else:
                    deeper.append((keys[1:], _normalize(raw)))
        if not deeper:
            return base
        root: dict[str, Value] = base if isinstance(base, dict) else _Partial()
        for keys, value in sorted(deeper, key=lambda pair: len(pair[0])):
            node = root
            for key in keys[:-1]:
                real = _find_key(node, key)
                child = node[real] if real is not None else None
                if not isinstance(child, dict):
                    child = node[real or key] = _Partial()
                node = child
            node[_find_key(node, keys[-1]) or keys[-1]] = value
        return root

    def eval(self, e: Expr) -> Value:
        if isinstance(e, Literal):
            return e.value
        if isinstance(e, Context):
            return self.context(e.name)
        if isinstance(e, Index):
            key = self.eval(e.key)
            obj = self.eval(e.obj)
            if isinstance(obj, _Filtered):
                return _filtered_index(obj, key)
            return _lift(_index_one, obj, key)
        if isinstance(e, Star):
            return _star(self.eval(e.obj))
        if isinstance(e, Not):
            return {Tri.TRUE: False, Tri.FALSE: True}.get(self.truth(e.operand), UNKNOWN)
        if isinstance(e, Binary):
            if e.op in ("&&", "||"):
                return self.logical(e)
            return _lift(lambda a, b: _compare(e.op, a, b), self.eval(e.left), self.eval(e.right))
        return self.call(e)

    def logical(self, e: Binary) -> Value:
        """JavaScript-like `&&`/`||`: the first operand that decides, or the last."""
        stop = Tri.FALSE if e.op == "&&" else Tri.TRUE
        outcomes: list[Value] = []
        operands = _operands(e)
        for position, operand in enumerate(operands):
            value = self.eval(operand)
            truth = _truthy(value)
            if position == len(operands) - 1 or truth is stop:
                outcomes.append(value)
                break
            if truth is Tri.UNKNOWN:  # it stops here in some cases
                stops = [v for v in _alternatives(value) if _truthy(v) is stop]
                outcomes += stops if isinstance(value, frozenset) else [UNKNOWN]
        return _possibilities(outcomes)

    def truth(self, e: Expr) -> Tri:
        if isinstance(e, Not):
            return ~self.truth(e.operand)
        if isinstance(e, Binary) and e.op in ("&&", "||"):
            is_and = e.op == "&&"
            result = Tri.TRUE if is_and else Tri.FALSE
            for operand in _operands(e):
                t = self.truth(operand)
                result = result & t if is_and else result | t
                if result is (Tri.FALSE if is_and else Tri.TRUE):
                    break
            return result
        return _truthy(self.eval(e))

    def call(self, e: Call) -> Value:
        name = e.name
        if name in STATUS_FUNCTIONS:
            status = self.status.get(name)
            return UNKNOWN if status is None else bool(status)
        if name == "case":
            return self.case(e.args)
        args = [self.eval(a) for a in e.args]
        if name == "contains":
            search = args[0]
            return _lift(lambda item: _contains(search, item), args[1])
        if name in ("startswith", "endswith"):
            return _lift(lambda a, b: _affix(name, a, b), *args)
        if name == "format":
            return _lift(_format, *args)
        if name == "join":
            array = args[0]
            if len(args) == 1:
                return _lift(_join, array)
            if isinstance(array, list):  # lift over the separator only
                return _lift(lambda sep: _join(array, sep), args[1])
            return _lift(_join, *args)
        if name == "tojson":
            return _lift(_to_json, args[0])
        if name == "fromjson":
            return _lift(_from_json, args[0])
        return UNKNOWN  # hashFiles, and anything unforeseen

    def case(self, args: tuple[Expr, ...]) -> Value:
        outcomes: list[Value] = []
        for i in range(0, len(args) - 1, 2):
            predicate = self.eval(args[i])
            if predicate is True:
                outcomes.append(self.eval(args[i + 1]))
                return _possibilities(outcomes)
            if isinstance(predicate, Unknown):
                outcomes.append(self.eval(args[i + 1]))
            elif predicate is not False:
                return UNKNOWN  # GitHub: a predicate must be a boolean
        outcomes.append(self.eval(args[-1]))
        return _possibilities(outcomes)


def evaluate(expr: Expr, assumptions: Assumptions) -> Value:
    """The value of `expr` under `assumptions`; never raises (oddities give UNKNOWN)."""
    try:
        return _Evaluator(assumptions).eval(expr)
    except Exception:  # includes RecursionError on absurd comparison chains
        return UNKNOWN


def truthiness(expr: Expr, assumptions: Assumptions) -> Tri:
    """How an `if:` would see the value of `expr` (Kleene logic for `!`, `&&`, `||`)."""
    try:
        return _Evaluator(assumptions).truth(expr)
    except Exception:
        return Tri.UNKNOWN


def evaluate_condition(condition: str, assumptions: Assumptions) -> Tri:
    """Whether an `if:` string lets the job or step run.

    The string is a bare expression, or exactly one `${{ }}` (surrounding whitespace
    counts as text: GitHub does not trim it, so a `|` block scalar's final newline
    makes the condition a string). A string with text outside `${{ }}` becomes a
    non-empty string: truthy. Without a status function anywhere, GitHub evaluates
    `success() && (condition)`; an empty condition is `success()`. A syntax error
    gives UNKNOWN.
    """
    try:
        evaluator = _Evaluator(assumptions)
        truth: Tri
        if "${{" in condition:
            found = find_placeholders(condition)
            if any(p.expr is None for p in found):
                return Tri.UNKNOWN
            exprs = [p.expr for p in found if p.expr is not None]
            whole = _single_placeholder(condition)
            truth = evaluator.truth(exprs[0]) if whole is not None else Tri.TRUE
        elif condition.strip():
            exprs = [parse_expression(condition)]
            truth = evaluator.truth(exprs[0])
        else:
            exprs, truth = [], Tri.TRUE
        if not any(status_functions(e) for e in exprs):
            truth = _truthy(evaluator.call(Call("success", (), 0, 0))) & truth
        return truth
    except Exception:
        return Tri.UNKNOWN
