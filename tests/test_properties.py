"""Property tests (hypothesis): nothing digestgate reads can make it crash.

Hostile or odd input must end as a finding or a clean error, never as an exception,
and the safety nets some analysers have (a catch-all that makes a script opaque, an
evaluator that answers UNKNOWN when it fails) must never be needed: a test here
fails when one of them fires, because that hides a bug.

* the loader: arbitrary bytes, YAML-ish token soup, and JSON-like structures written
  in every scalar style, which must load back to the same values and exact spans;
* expressions: token soup never raises anything but `ExprError`; generated valid
  expressions parse, re-parse from their own spans, and evaluate without the safety
  net, and three-valued evaluation is sound (what it claims to know holds for every
  concrete case it stands for);
* shell scripts: bash-ish text with `${{ }}` pieces, with exact spans for placeholders;
* image references: any string parses or raises `RefError`, consistently;
* the whole check: generated repositories (valid ones must have no DG000/DG001),
  mutated ones (wrong types at every key, missing keys, huge strings, odd unicode,
  unbalanced braces) and damaged text, in process and through the command line.

Examples that once failed are kept as ordinary tests in test_regressions_fuzz.py.
`pytest --hypothesis-show-statistics tests/test_properties.py` prints the counts.
"""

from __future__ import annotations

import contextlib
import copy
import gc
import itertools
import json
import math
import os
import random
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from conftest import FIXTURES
from digestgate import cli, engine, expressions, imageref
from digestgate.analysis import Analysis
from digestgate.expressions import (
    Assumptions,
    Expr,
    ExprError,
    PartialString,
    evaluate,
    evaluate_condition,
    find_placeholders,
    parse_expression,
    truthiness,
)
from digestgate.facts import PieceKind
from digestgate.loader import Loaded, LoadError, load_bytes, load_text
from digestgate.nodes import Source, YMap, YNode, YScalar, YSeq
from digestgate.registry import known_codes
from digestgate.shell import analyse, file_locator
from digestgate.span import Span

#: DIGESTGATE_PROPERTY_SCALE=20 runs twenty times the examples (a longer search).
SCALE = max(1, int(os.environ.get("DIGESTGATE_PROPERTY_SCALE", "1")))


def profile(examples: int) -> settings:
    """A modest number of examples, so that the file runs in well under a minute;
    `bench/fuzz.py` runs the loader and parser properties for as long as one likes."""
    return settings(
        max_examples=examples * SCALE,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# ===================================================================== YAML writing
# A small emitter: hypothesis builds Python structures; this writes them as YAML with
# a style per scalar chosen at random (plain, single, double quoted, literal block),
# so the loader, `locate` and the builder see every way a value can be written.


def _printable(c: str) -> bool:
    """Safe to write raw in YAML (c-printable, less line breaks YAML 1.1 knew and BOM)."""
    o = ord(c)
    return (
        0x20 <= o <= 0x7E
        or (0xA0 <= o <= 0xD7FF and o not in (0x2028, 0x2029))
        or (0xE000 <= o <= 0xFFFD and o != 0xFEFF)
        or o >= 0x10000
    )


def double_quoted(s: str) -> str:
    out = ['"']
    for c in s:
        o = ord(c)
        if c in '"\\':
            out.append("\\" + c)
        elif c == "\n":
            out.append("\\n")
        elif c == "\t":
            out.append("\\t")
        elif _printable(c):
            out.append(c)
        elif o < 0x100:
            out.append(f"\\x{o:02x}")
        elif o < 0x10000:
            out.append(f"\\u{o:04x}")
        else:
            out.append(f"\\U{o:08x}")
    out.append('"')
    return "".join(out)


_PLAIN = re.compile(r"[A-Za-z_$][A-Za-z0-9_./${}()=,*+@~^'\"!&|<>;%\[\] -]*")
_RESERVED = {"true", "false", "null"}


def _plain_ok(s: str) -> bool:
    return (
        _PLAIN.fullmatch(s) is not None
        and ": " not in s
        and " #" not in s
        and not s.endswith((" ", ":"))
        and s.lower() not in _RESERVED
    )


def _literal_ok(s: str) -> bool:
    body = s.rstrip("\n")
    return (
        "\n" in body
        and not body.startswith((" ", "\n"))
        and all(_printable(c) or c in "\n\t" for c in s)
        and all(line.strip() for line in body.split("\n"))  # no blank lines inside
        and not any(line != line.rstrip() for line in body.split("\n"))
    )


def scalar_text(value: object, rnd: random.Random, indent: int, is_key: bool = False) -> str:
    if value is None:
        return rnd.choice(["null", "~", ""]) if not is_key else '"null"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else double_quoted(repr(value))
    assert isinstance(value, str)
    styles = ["double"]
    if _plain_ok(value):
        styles += ["plain"] * 3
    if "\n" not in value and all(_printable(c) for c in value):
        styles.append("single")
    if not is_key and _literal_ok(value):
        styles += ["literal"] * 3
    style = rnd.choice(styles)
    if style == "plain":
        return value
    if style == "single":
        return "'" + value.replace("'", "''") + "'"
    if style == "literal":
        trailing = len(value) - len(value.rstrip("\n"))
        chomp = "-" if trailing == 0 else "" if trailing == 1 else "+"
        pad = " " * (indent + 2)
        lines = value.rstrip("\n").split("\n")
        return f"|{chomp}\n" + "\n".join(pad + line for line in lines) + "\n" * (trailing - 1)
    return double_quoted(value)


def to_yaml(obj: object, rnd: random.Random, indent: int = 0) -> str:
    """Block-style YAML for `obj` (a mapping at the top); the text ends with a newline."""
    pad = " " * indent
    lines: list[str] = []
    if isinstance(obj, dict):
        if not obj:
            return pad + "{}\n"
        for key, value in obj.items():
            k = scalar_text(key, rnd, indent, is_key=True)
            lines.append(_entry(f"{pad}{k}:", value, rnd, indent))
    elif isinstance(obj, list):
        if not obj:
            return pad + "[]\n"
        for item in obj:
            lines.append(_entry(f"{pad}-", item, rnd, indent))
    else:
        return pad + scalar_text(obj, rnd, indent) + "\n"
    return "".join(lines)


def _entry(head: str, value: object, rnd: random.Random, indent: int) -> str:
    if isinstance(value, dict) and value:
        return head + "\n" + to_yaml(value, rnd, indent + 2)
    if isinstance(value, list) and value:
        return head + "\n" + to_yaml(value, rnd, indent + 2)
    if isinstance(value, (dict, list)):
        return f"{head} {'{}' if isinstance(value, dict) else '[]'}\n"
    text = scalar_text(value, rnd, indent)
    if text.startswith("|"):
        return f"{head} {text}\n"
    return f"{head} {text}".rstrip() + "\n"


def plain_value(node: YNode) -> object:
    """Loaded nodes back to Python values, as YAML 1.2's core schema types them."""
    if isinstance(node, YMap):
        return {k.value: plain_value(v) for k, v in node.items}
    if isinstance(node, YSeq):
        return [plain_value(i) for i in node.items]
    assert isinstance(node, YScalar)
    if node.tag == "null":
        return None
    if node.tag == "bool":
        return node.value.lower() == "true"
    if node.tag == "int":
        return int(node.value, 0)
    if node.tag == "float":
        return float(node.value)
    return node.value


def walk_nodes(node: YNode) -> Iterator[YNode]:
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        if isinstance(n, YMap):
            for k, v in n.items:
                stack += (k, v)
        elif isinstance(n, YSeq):
            stack.extend(n.items)


def assert_span_in(span: Span, source: Source) -> None:
    assert 1 <= span.line <= span.end_line <= source.line_count, (span, source.line_count)
    assert span.column >= 1 and span.end_column >= 1, span
    if span.line == span.end_line:
        assert span.column <= span.end_column, span
    assert span.column <= len(source.line_text(span.line)) + 1, span


def text_at(source: Source, span: Span) -> str:
    """The file text a single-line span covers."""
    assert span.line == span.end_line
    return source.line_text(span.line)[span.column - 1 : span.end_column - 1]


# ========================================================================== loader

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(max_size=30),
    st.sampled_from(["on", "yes", "no", "~", "0x1F", "1e3", "${{ x }}", "a: b", "#c", "- x"]),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(min_size=1, max_size=12), inner, max_size=4),
    ),
    max_leaves=20,
)
# fmt: off
yaml_tokens = st.sampled_from(
    [
        "a", "on", "jobs", "- ", "-", ": ", ":", "[", "]", "{", "}", ",", "&x ", "*x", "&y ", "*y",
        "!!str ", "!!int ", "!custom ", "|", ">", "|-", ">+", "'", '"', "\\", "\n", "  ", "\t",
        "# c", "---", "...", "? ", "<<: ", "%YAML 1.2", "%TAG ! x", "@", "`", "${{", "}}",
        "\ufeff", "\u2028", "\x85", "é", "\U0001f600", "0x1", "1e9", ".inf", "~",
    ]
)
# fmt: on
yamlish = st.lists(yaml_tokens, max_size=60).map("".join)


def load_or_error(load: Callable[[], Loaded]) -> Loaded | None:
    """The loaded file, or None after checking the LoadError is well-formed."""
    try:
        return load()
    except LoadError as exc:
        assert exc.message and "\n" not in exc.message
        assert exc.span.line >= 1 and exc.span.column >= 1
        return None


@profile(300)
@given(st.binary(max_size=400) | yamlish.map(lambda s: s.encode("utf-8", "surrogatepass")))
@example(b"\xff\xfeo\x00n\x00")
@example(b"a: \xed\xa0\x80\n")  # an encoded surrogate is not UTF-8
def test_loader_takes_any_bytes(data: bytes) -> None:
    loaded = load_or_error(lambda: load_bytes(data, "x.yml"))
    if loaded is not None:
        assert isinstance(loaded.root, YMap)
        for node in walk_nodes(loaded.root):
            assert_span_in(node.span, loaded.source)


@profile(300)
@given(yamlish | st.text(max_size=200))
def test_loader_takes_any_text(text: str) -> None:
    loaded = load_or_error(lambda: load_text(text, "x.yml"))
    if loaded is not None:
        for node in walk_nodes(loaded.root):
            assert_span_in(node.span, loaded.source)


@profile(200)
@given(st.dictionaries(st.text(min_size=1, max_size=12), json_values, max_size=5), st.randoms())
def test_structures_load_back_with_exact_spans(obj: dict[str, Any], rnd: random.Random) -> None:
    """Whatever is written in any style loads back to the same values; a scalar's span
    covers its text, and `locate` finds every single-line piece where it is written."""
    text = to_yaml(obj, rnd) if obj else "{}\n"
    loaded = load_or_error(lambda: load_text(text, "x.yml"))
    assert loaded is not None, text
    assert plain_value(loaded.root) == obj, text
    for node in walk_nodes(loaded.root):
        assert_span_in(node.span, loaded.source)
        if not isinstance(node, YScalar) or not node.value:
            continue
        exact = node.style == "|" or (
            node.span.line == node.span.end_line
            and loaded.source.text[node.start_index : node.end_index].strip("'\"") == node.value
        )
        if not exact:
            continue
        for start, line in _value_lines(node.value):
            piece = line[: rnd.randint(1, len(line))] if line else ""
            if piece:
                assert text_at(loaded.source, node.locate(start, len(piece))) == piece, text


def _value_lines(value: str) -> Iterator[tuple[int, str]]:
    at = 0
    for line in value.split("\n"):
        yield at, line
        at += len(line) + 1


# ===================================================================== expressions

CONTEXTS: list[tuple[str, ...]] = [
    ("needs", "build", "result"),
    ("needs", "build", "outputs", "digest"),
    ("needs", "test", "result"),
    ("github", "event_name"),
    ("github", "ref"),
    ("inputs", "flag"),
    ("env", "mode"),
    ("steps", "push", "outcome"),
    ("matrix", "os"),
]
# fmt: off
SCALARS: list[Any] = [
    None, True, False, 0.0, 1.0, "", "success", "failure", "skipped", "push", "refs/heads/main",
    "x", "1", "true",
]
# fmt: on


def _quote(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _path_text(path: tuple[str, ...], rnd: random.Random) -> str:
    head = path[0] if rnd.random() < 0.7 else path[0].upper()
    out = head
    for part in path[1:]:
        form = rnd.randrange(4)
        if form == 0:
            out += f"[{_quote(part)}]"
        elif form == 1:
            out += "." + part.capitalize()
        else:
            out += "." + part
    return out


literals = st.one_of(
    st.sampled_from(["null", "true", "false", "0", "1", "-1.5", "0x1F", "1e3", "''", "'a''b'"]),
    st.sampled_from([s for s in SCALARS if isinstance(s, str)]).map(_quote),
    st.text(max_size=8).map(_quote),
)


@st.composite
def expression_text(draw: st.DrawFn, depth: int = 0) -> str:
    """A valid expression, as text: contexts, literals, operators and every function."""
    leaf = depth >= 3 or draw(st.integers(0, 3)) == 0
    if leaf:
        kind = draw(st.integers(0, 2))
        if kind == 0:
            return draw(literals)
        if kind == 1:
            path = draw(st.sampled_from(CONTEXTS))
            return _path_text(path, draw(st.randoms(use_true_random=False)))
        return draw(st.sampled_from(["success()", "failure()", "always()", "cancelled()"]))
    sub = expression_text(depth + 1)
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return f"!{draw(sub)}"
    if kind == 1:
        return f"({draw(sub)})"
    if kind == 2:
        op = draw(st.sampled_from(["==", "!=", "<", "<=", ">", ">=", "&&", "||"]))
        return f"{draw(sub)} {op} {draw(sub)}"
    if kind == 3:
        name = draw(st.sampled_from(["contains", "startsWith", "endsWith"]))
        return f"{name}({draw(sub)}, {draw(sub)})"
    if kind == 4:
        name = draw(st.sampled_from(["toJSON", "join", "format"]))
        if name == "format":
            return f"format('{{0}}-{{1}}', {draw(sub)}, {draw(sub)})"
        return f"{name}({draw(sub)})"
    choice = draw(st.sampled_from(["fromJSON", "case", "star"]))
    if choice == "fromJSON":
        doc = draw(st.sampled_from(['{"a": [1, "x"]}', '["success"]', "true", "null", '"s"']))
        return f"fromJSON({_quote(doc)})"
    if choice == "case":
        return f"case({draw(sub)}, {draw(sub)}, {draw(sub)})"
    return draw(st.sampled_from(["needs.*.result", "toJSON(needs)", "needs[*].result"]))


# fmt: off
expr_soup = st.lists(
    st.sampled_from(
        [
            "(", ")", "[", "]", "'", "''", ".", "*", ",", "!", "==", "!=", "<", ">=", "&&", "||",
            "&", "|", "=", "a", "needs", "fromJSON", "format", "success", "1", "0x", "1e", "-",
            "null", "true", " ", "\n", "é", "${{", "}}", "{", "}", "\\", '"', "\u202e", "\u200b",
        ]
    ),
    max_size=40,
).map("".join)
# fmt: on


def _same_tree(a: Expr, b: Expr) -> bool:
    """Equal up to offsets."""
    if type(a) is not type(b):
        return False
    for name in a.__dataclass_fields__:
        if name in ("start", "end"):
            continue
        x, y = getattr(a, name), getattr(b, name)
        if isinstance(x, tuple):
            if len(x) != len(y) or not all(_same_tree(i, j) for i, j in zip(x, y, strict=True)):
                return False
        elif hasattr(x, "__dataclass_fields__"):
            if not _same_tree(x, y):
                return False
        elif x != y and not (isinstance(x, float) and math.isnan(x) and math.isnan(y)):
            return False
    return True


@profile(400)
@given(expr_soup | st.text(max_size=40))
@example("(" * 60 + "a" + ")" * 60)
@example("'unclosed")
def test_parser_raises_only_expr_error(text: str) -> None:
    try:
        tree = parse_expression(text, 7)
    except ExprError as exc:
        assert 7 <= exc.offset <= 7 + len(text) + 1, (exc.offset, text)
        return
    for node in expressions.walk(tree):
        assert 7 <= node.start <= node.end <= 7 + len(text), text


@profile(300)
@given(st.lists(expr_soup | expression_text(), max_size=4).map(" ${{ ".join))
def test_placeholders_in_any_string(text: str) -> None:
    previous_end = 0
    for p in find_placeholders(text):
        assert previous_end <= p.start < p.inner_start <= p.inner_end <= p.end <= len(text)
        assert text.startswith("${{", p.start)
        assert (p.expr is None) != (p.error is None)
        previous_end = p.end


@profile(300)
@given(expression_text())
def test_generated_expressions_parse_and_reparse_from_their_spans(text: str) -> None:
    tree = parse_expression(text)
    names = {  # `.name` keys are property names, not expressions
        id(n.key)
        for n in expressions.walk(tree)
        if isinstance(n, expressions.Index) and text[n.key.start - 1] == "."
    }
    for node in expressions.walk(tree):
        if id(node) in names:
            continue
        again = parse_expression(text[node.start : node.end])
        assert _same_tree(node, again), (text, text[node.start : node.end])


# Assumptions: each context is a concrete value, a set of possible strings, or absent.
context_values = st.one_of(
    st.sampled_from(SCALARS),
    st.frozensets(st.sampled_from([s for s in SCALARS if isinstance(s, str)]), min_size=2),
)
STATUSES: dict[str, dict[str, bool | None]] = {
    "success": {"success": True, "failure": False, "always": True, "cancelled": False},
    "failure": {"success": False, "failure": True, "always": True, "cancelled": False},
    "cancelled": {"success": False, "failure": False, "always": True, "cancelled": True},
    "unknown": {},
}


@st.composite
def assumptions(draw: st.DrawFn) -> tuple[str, dict[tuple[str, ...], Any]]:
    chosen = draw(st.lists(st.sampled_from(CONTEXTS), unique=True))
    return draw(st.sampled_from(list(STATUSES))), {p: draw(context_values) for p in chosen}


def instances(
    status: str, values: Mapping[tuple[str, ...], Any]
) -> Iterator[tuple[Assumptions, dict[tuple[str, ...], Any]]]:
    """Every concrete case a partial assumption stands for (capped)."""
    statuses = ["success", "failure", "cancelled"] if status == "unknown" else [status]
    keys = list(values)
    options = [sorted(v, key=str) if isinstance(v, frozenset) else [v] for v in values.values()]
    combos = itertools.islice(itertools.product(*options), 12)
    for combo, st_name in itertools.product(list(combos), statuses):
        concrete = dict(zip(keys, combo, strict=True))
        yield Assumptions(STATUSES[st_name], concrete), concrete


def _scalar(v: object) -> bool:
    return v is None or isinstance(v, (bool, float, str))


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


@profile(400)
@given(expression_text(), assumptions())
def test_evaluation_needs_no_safety_net_and_is_sound(
    text: str, known: tuple[str, dict[tuple[str, ...], Any]]
) -> None:
    """The evaluator's catch-all is never needed; and what partial knowledge concludes
    (a truth value, a value, a set of possible values) holds in every concrete case."""
    status, values = known
    partial = Assumptions(STATUSES[status], values)
    tree = parse_expression(text)
    evaluator = expressions._Evaluator(partial)
    value = evaluator.eval(tree)  # raises if the safety net would have been needed
    truth = expressions._Evaluator(partial).truth(tree)
    condition = evaluate_condition(f"${{{{ {text} }}}}", partial)
    for concrete, chosen in instances(status, values):
        got = evaluate(tree, concrete)
        why = (text, status, chosen, value, got)
        if _scalar(value) and _scalar(got):
            assert _same(value, got), why
        if isinstance(value, frozenset) and _scalar(got):
            assert any(_same(got, v) for v in value), why
        if isinstance(value, PartialString) and isinstance(got, str):
            assert all(part in got for part in value.parts), why
        t = truthiness(tree, concrete)
        if truth.known and t.known:
            assert truth is t, why
        c = evaluate_condition(f"${{{{ {text} }}}}", concrete)
        if condition.known and c.known:
            assert condition is c, why


# =========================================================================== shell

# fmt: off
shell_pieces = st.sampled_from(
    [
        "docker", "push", "build", "-t", "ghcr.io/acme/app:1", "app@sha256:" + "a" * 64, " ", " ",
        "\n", ";", "&&", "||", "|", "&", "$(", ")", "`", "'", '"', "\\", "${", "}", "$X", "X=1",
        "${{ github.sha }}", "${{ needs.b.outputs.digest }}", "${{", "}}", "<<EOF\n", "\nEOF\n",
        "<<-'E'\n", ">>", "$GITHUB_OUTPUT", "echo", "digest=", "if", "then", "fi", "!", "(", "{",
        "set -e", "set +e", "$((1+", "*", "~", "#", "é", "\u202e", "\t", "${X:-y}", "${X#*:}",
        "$'\\x41'", "exit 1", "crane", "digest", "for x in a b; do", "done", "case", "esac",
    ]
)
# fmt: on
bashish = st.lists(shell_pieces, max_size=40).map("".join)
_SAFETY_NET = re.compile(r"could not be (fully )?analysed \(|internal error")


@profile(300)
@given(bashish | st.text(max_size=80))
@example("echo ${{ x }}$(${{ y }})\n")
def test_shell_facts_of_any_script(src: str) -> None:
    result = analyse(src, "s.sh", file_locator(src))
    assert not any(_SAFETY_NET.search(e) for e in result.errors), result.errors
    source = Source("s.sh", src)
    for command in result.commands:
        assert command.argv
        for value in command.argv:
            for piece in value.pieces:
                if piece.kind is PieceKind.EXPR and piece.span is not None:
                    assert_span_in(piece.span, source)
                    if piece.span.line == piece.span.end_line:
                        assert text_at(source, piece.span) == piece.text, (src, piece)


# ====================================================================== references

# fmt: off
ref_text = st.one_of(
    st.text(max_size=40),
    st.lists(
        st.sampled_from(
            [
                "ghcr.io", "/", ":", "@", "sha256", "a" * 64, "app", "A", "-", "_", ".", "[::1]",
                "5000", "\x00", "é", "٣", "${{ x }}", " ", "localhost",
            ]
        ),
        max_size=12,
    ).map("".join),
)
# fmt: on


@profile(400)
@given(ref_text)
@example("localhost:٣/app")  # a non-ASCII digit
def test_references_parse_or_say_why(text: str) -> None:
    shape = imageref.split_static(text)
    imageref.on_runner(text)
    try:
        ref = imageref.parse(text)
    except imageref.RefError as exc:
        assert exc.reason and exc.part in ("reference", "domain", "name", "tag", "digest")
        if imageref.PLACEHOLDER not in text:  # the static check agrees, word for word
            assert shape.error == exc.reason, (text, shape.error)
        return
    assert str(ref) == text
    assert shape.error is None
    assert ref.normalized_name and str(imageref.parse(str(ref))) == text
    if ref.digest is not None:
        reason = imageref.check_digest(ref.digest)  # policy: None, or why not
        assert reason is None or (isinstance(reason, str) and reason)


# ================================================================ whole repositories

IMAGES = [
    "ghcr.io/acme/app",
    "docker.io/library/alpine",
    "registry.example.com:5000/team/svc",
    "localhost:5000/app",
    "acme/tool",
    "${{ env.REGISTRY }}/app",
]
TAGS = ["latest", "1.2.3", "v1", "sha-${{ github.sha }}", "${{ github.ref_name }}", "rc"]
HEX = "0123456789abcdef" * 4


@st.composite
def image_refs(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(IMAGES))
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return f"{name}:{draw(st.sampled_from(TAGS))}"
    if kind == 1:
        return f"{name}@sha256:{HEX}"
    if kind == 2:
        source = draw(st.sampled_from(["needs.build.outputs.digest", "steps.push.outputs.digest"]))
        return f"{name}@${{{{ {source} }}}}"
    return name


@st.composite
def commands(draw: st.DrawFn) -> str:
    a, b = draw(image_refs()), draw(image_refs())
    return draw(
        st.sampled_from(
            [
                f"docker build -t {a} .",
                f"docker buildx build --push -t {a} --metadata-file meta.json .",
                f"docker push {a}",
                f"docker tag {a} {b}",
                f"docker pull {a}",
                f"docker run --rm {a} ./e2e.sh",
                f"crane copy {a} {b}",
                f'echo "digest=$(crane digest {a})" >> "$GITHUB_OUTPUT"',
                'echo "digest=${{ steps.push.outputs.digest }}" >> $GITHUB_OUTPUT',
                f"docker buildx imagetools create -t {a} {b}",
                f"skopeo copy docker://{a} docker://{b}",
                f"cosign sign --yes {a}",
                f"digestgate verify --record record.json --image {a}",
                f"digestgate record --image {a} --check e2e --output record.json",
                f"kubectl set image deployment/app app={a}",
                f"helm upgrade app ./chart --set image={a}",
                f"IMAGE={a}\ndocker push $IMAGE",
                "make test",
                "if ! pytest; then exit 1; fi",
                "set +e",
                f"cat <<EOF > values.yaml\nimage: {a}\nEOF",
                "python -c 'print(1)'",
            ]
        )
    )


@st.composite
def run_scripts(draw: st.DrawFn) -> str:
    parts = draw(st.lists(commands(), min_size=1, max_size=4))
    joiner = draw(st.sampled_from(["\n", " && ", "\n"]))
    return joiner.join(parts) + draw(st.sampled_from(["", "\n"]))


@st.composite
def uses_steps(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.integers(0, 8))
    ref = draw(image_refs())
    if kind == 0:
        return {"uses": "actions/checkout@v4"}
    if kind == 1:
        step = {
            "id": "push",
            "uses": "docker/build-push-action@v6",
            "with": {"push": draw(st.booleans()), "tags": ref, "context": "."},
        }
        if draw(st.booleans()):
            step["with"]["tags"] = f"{ref}\n{draw(image_refs())}\n"
        return step
    if kind == 2:
        return {
            "id": "meta",
            "uses": "docker/metadata-action@v5",
            "with": {
                "images": draw(st.sampled_from(IMAGES)),
                "tags": "type=sha\ntype=ref,event=tag\n",
            },
        }
    if kind == 3:
        return {
            "uses": "actions/upload-artifact@v4",
            "with": {"name": "record", "path": "record.json"},
        }
    if kind == 4:
        return {"uses": "actions/download-artifact@v4", "with": {"name": "record"}}
    if kind == 5:
        command = draw(st.sampled_from(["verify", "record"]))
        return {
            "uses": "digestgate/digestgate@v0",
            "with": {"command": command, "images": ref, "records": "record.json", "checks": "e2e"},
        }
    if kind == 6:
        return {"uses": "./.github/actions/build", "with": {"image": ref}}
    if kind == 7:
        return {"uses": "docker://alpine:3.20"}
    return {
        "uses": "docker/login-action@v3",
        "with": {"registry": "ghcr.io", "password": "${{ secrets.GITHUB_TOKEN }}"},
    }


@st.composite
def steps(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.booleans()):
        step = draw(uses_steps())
    else:
        step = {"run": draw(run_scripts())}
        if draw(st.integers(0, 4)) == 0:
            step["shell"] = draw(st.sampled_from(["bash", "sh", "pwsh", "python", "bash -e {0}"]))
    if draw(st.integers(0, 3)) == 0:
        step["if"] = draw(expression_text())
    if draw(st.integers(0, 5)) == 0:
        step["continue-on-error"] = True
    if draw(st.integers(0, 4)) == 0:
        step["env"] = {"IMAGE": draw(image_refs())}
    if draw(st.integers(0, 2)) == 0 and "id" not in step:
        step["id"] = draw(st.sampled_from(["push", "build", "digest", "test"]))
    return step


job_ids = st.sampled_from(["build", "test", "e2e", "scan", "promote", "deploy", "release"])


@st.composite
def workflows(draw: st.DrawFn, reusable: bool = False) -> dict[str, Any]:
    ids = draw(st.lists(job_ids, min_size=1, max_size=5, unique=True))
    jobs: dict[str, Any] = {}
    for i, job_id in enumerate(ids):
        job: dict[str, Any] = {}
        earlier = ids[:i]
        if earlier and draw(st.booleans()):
            needs = draw(st.lists(st.sampled_from(earlier), min_size=1, unique=True))
            job["needs"] = needs[0] if len(needs) == 1 and draw(st.booleans()) else needs
        if not reusable and draw(st.integers(0, 5)) == 0:
            job["uses"] = "./.github/workflows/reusable.yml"
            job["with"] = {"image": draw(image_refs())}
            jobs[job_id] = job
            continue
        job["runs-on"] = draw(st.sampled_from(["ubuntu-latest", "${{ matrix.os }}", "self-hosted"]))
        if job["runs-on"] == "${{ matrix.os }}":
            job["strategy"] = {"matrix": {"os": ["ubuntu-latest", "windows-latest"]}}
        if draw(st.integers(0, 3)) == 0:
            job["if"] = draw(expression_text())
        if draw(st.integers(0, 3)) == 0:
            job["outputs"] = {"digest": "${{ steps.push.outputs.digest }}"}
        if draw(st.integers(0, 5)) == 0:
            job["environment"] = "production"
        if draw(st.integers(0, 6)) == 0:
            job["container"] = {"image": draw(image_refs())}
        if draw(st.integers(0, 6)) == 0:
            job["services"] = {"db": {"image": draw(image_refs())}}
        if draw(st.integers(0, 6)) == 0:
            job["continue-on-error"] = True
        job["steps"] = draw(st.lists(steps(), min_size=1, max_size=5))
        jobs[job_id] = job
    on: Any = draw(st.sampled_from(["push", ["push", "pull_request"], {"push": {"tags": ["v*"]}}]))
    if reusable:
        on = {
            "workflow_call": {
                "inputs": {"image": {"type": "string", "required": False}},
                "outputs": {"digest": {"value": f"${{{{ jobs.{ids[0]}.outputs.digest }}}}"}},
            }
        }
    doc: dict[str, Any] = {"name": "Reusable" if reusable else "CI", "on": on}
    if draw(st.booleans()):
        doc["permissions"] = {"contents": "read", "packages": "write"}
    if draw(st.booleans()):
        doc["env"] = {"REGISTRY": "ghcr.io"}
    doc["jobs"] = jobs
    return doc


COMPOSITE = {
    "name": "build",
    "inputs": {"image": {"required": True}},
    "outputs": {"digest": {"value": "${{ steps.push.outputs.digest }}"}},
    "runs": {
        "using": "composite",
        "steps": [
            {
                "id": "push",
                "shell": "bash",
                "run": 'docker buildx build --push -t "${{ inputs.image }}" .',
            },
        ],
    },
}
FOLLOW_UP = {
    "name": "Deploy",
    "on": {"workflow_run": {"workflows": ["CI"], "types": ["completed"]}},
    "jobs": {
        "deploy": {
            "if": "${{ github.event.workflow_run.conclusion == 'success' }}",
            "runs-on": "ubuntu-latest",
            "steps": [{"run": "kubectl set image deploy/app app=ghcr.io/acme/app:latest"}],
        }
    },
}


@st.composite
def repositories(draw: st.DrawFn) -> dict[str, Any]:
    """Repository-relative path -> document (a structure, or text/bytes to write as is)."""
    files: dict[str, Any] = {".github/workflows/ci.yml": draw(workflows())}
    files[".github/workflows/reusable.yml"] = draw(workflows(reusable=True))
    files[".github/actions/build/action.yml"] = COMPOSITE
    if draw(st.booleans()):
        files[".github/workflows/deploy.yml"] = FOLLOW_UP
    return files


# --- mutations ----------------------------------------------------------------------

# fmt: off
ODD_TEXT = [
    "", " ", "x" * 200_000, "\u202eevil\u202c", "a\u200bb", "\ufeffbom", "\u0301", "\U0001f600",
    "\x85", "\u2028", "\x00", "\x1b[31m", "\ud800", "\udfff", "${{", "}}", "${{ ${{ }}", "${{ '",
    "${{ github.sha", "${{ }}", "${{ format('{0', x) }}", "${{ a }}}", "${{ 'a''' }}", "$(", "`",
    "'", '"', "\\", "<<EOF", "# digestgate: ignore", "# digestgate: ignore[DG999]",
    "ghcr.io/acme/app@sha256:" + "A" * 64, "app@sha256:", "app:" + "t" * 200, "::", "@",
]
# fmt: on
odd_values = st.one_of(
    st.sampled_from(ODD_TEXT),
    st.sampled_from([None, True, False, 0, -1, 1.5, 10**30, [], {}, [None], {"k": None}]),
    st.text(max_size=20),
    st.lists(st.sampled_from(ODD_TEXT), max_size=3),
).map(copy.deepcopy)  # a later mutation must not change the shared sample


def paths_of(obj: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from paths_of(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from paths_of(v, (*prefix, i))


def _parent(doc: Any, path: tuple[Any, ...]) -> Any:
    for part in path[:-1]:
        doc = doc[part]
    return doc


@st.composite
def mutated(draw: st.DrawFn, files: dict[str, Any]) -> dict[str, Any]:
    """1-4 mutations anywhere in the documents: a wrong value, a missing key, an extra
    key, an emptied container, a string spliced with odd text."""
    files = json.loads(json.dumps(files))  # a deep copy
    for _ in range(draw(st.integers(1, 4))):
        name = draw(st.sampled_from(sorted(files)))
        doc = files[name]
        places = [p for p in paths_of(doc) if p]
        if not places:
            continue
        path = draw(st.sampled_from(places))
        parent, last = _parent(doc, path), path[-1]
        op = draw(st.integers(0, 4))
        if op == 0:
            parent[last] = draw(odd_values)
        elif op == 1:
            del parent[last]
        elif op == 2 and isinstance(parent, dict):
            parent[draw(st.sampled_from(["need", "step", "uses", "x-y", "${{ a }}"]))] = draw(
                odd_values
            )
        elif op == 3 and isinstance(parent[last], str):
            text = parent[last]
            at = draw(st.integers(0, len(text)))
            parent[last] = text[:at] + draw(st.sampled_from(ODD_TEXT)) + text[at:]
        else:
            parent[last] = type(parent[last])() if isinstance(parent[last], (dict, list)) else ""
    return files


@st.composite
def damaged(draw: st.DrawFn, text: str) -> str:
    """The written text cut, spliced or re-indented somewhere."""
    op = draw(st.integers(0, 3))
    at = draw(st.integers(0, len(text)))
    if op == 0:
        return text[:at]
    if op == 1:
        return (
            text[:at]
            + draw(st.sampled_from(["\t", ":", "- ", "  ", "{", "'", "&a ", "*a"]))
            + text[at:]
        )
    lines = text.split("\n")
    i = at % len(lines)
    if op == 2:
        lines[i] = " " + lines[i]
    else:
        lines.insert(i, lines[i])
    return "\n".join(lines)


def write_files(root: Path, files: Mapping[str, Any], rnd: random.Random) -> None:
    for rel, doc in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(doc, bytes):
            path.write_bytes(doc)
        elif isinstance(doc, str):
            path.write_bytes(doc.encode("utf-8", "surrogatepass"))
        else:
            path.write_bytes(to_yaml(doc, rnd).encode("utf-8", "surrogatepass"))


@contextlib.contextmanager
def repository(files: Mapping[str, Any], rnd: random.Random) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="dg-prop-") as tmp:
        root = Path(tmp)
        write_files(root, files, rnd)
        yield root


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """The engine runs the cyclic collector after each repository; in a process that
    holds hypothesis' data it costs more than the check itself, so it waits."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def checked(root: Path) -> engine.Result:
    """The whole check in process, with every finding checked for sense."""
    with collector_paused():
        result = engine.check([str(root)], engine.Options(no_config=True))
    codes = known_codes()
    for repo in result.repos:
        assert repo.repository is not None and repo.graph is not None
        sources = repo.repository.sources
        for f in repo.findings:
            assert f.code in codes and f.message, f
            assert f.path in repo.repository.files, f
            for loc in (f.location, *f.related):
                if loc.path in sources:
                    assert_span_in(loc.span, sources[loc.path])
        broken = {f.path for f in repo.findings if f.code == "DG000"}
        read = len(repo.repository.files)
        event(f"files modelled: {read - len(broken)} of {read}")
        event(
            "rules found something"
            if set(f.code for f in repo.findings) - {"DG000"}
            else "no rule finding"
        )
        analysis = Analysis(repo.graph, repo.config)
        for node in repo.graph.nodes:
            for _, _, facts in analysis.step_facts(node):
                assert not any(_SAFETY_NET.search(n) for n in facts.notes), facts.notes
    return result


def check_cli(root: Path) -> None:
    """The command line in process: exit 0/1 with a report, or 2 with one clean line."""
    with collector_paused():
        args = ["check", "--no-config", "--no-cache", "--format", "json", str(root)]
        result = CliRunner().invoke(cli._app(), args)
    assert result.exit_code in (0, 1, 2), result.output
    assert "Traceback" not in result.output
    if result.exit_code == 2:
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("digestgate: "), result.stderr
        assert "internal error" not in lines[0], lines[0]
    else:
        document = json.loads(result.stdout)
        assert (document["findings"] != []) or result.exit_code == 0


@profile(120)
@given(repositories(), st.randoms(use_true_random=False))
def test_valid_repositories_check_cleanly(files: dict[str, Any], rnd: random.Random) -> None:
    with repository(files, rnd) as root:
        result = checked(root)
        broken = [f for f in result.findings if f.code in ("DG000", "DG001")]
        assert not broken, (broken, to_yaml(files[".github/workflows/ci.yml"], rnd))


@profile(150)
@given(repositories().flatmap(mutated), st.randoms(use_true_random=False))
def test_mutated_repositories_never_raise(files: dict[str, Any], rnd: random.Random) -> None:
    with repository(files, rnd) as root:
        checked(root)


@profile(60)
@given(repositories(), st.randoms(use_true_random=False), st.data())
def test_damaged_text_through_the_command_line(
    files: dict[str, Any], rnd: random.Random, data: st.DataObject
) -> None:
    target = ".github/workflows/ci.yml"
    files = {**files, target: data.draw(damaged(to_yaml(files[target], rnd)))}
    with repository(files, rnd) as root:
        checked(root)
        check_cli(root)


def _fixture_documents() -> list[tuple[str, Any]]:
    """Every workflow and action of the fixture repositories, as plain structures."""
    out = []
    for path in sorted(FIXTURES.rglob("*.y*ml")):
        if "workflows" not in path.parts:
            continue
        with contextlib.suppress(LoadError):
            loaded = load_bytes(path.read_bytes(), path.name)
            out.append((path.name, plain_value(loaded.root)))
    return out


FIXTURE_DOCUMENTS = _fixture_documents()


@profile(150)
@given(st.sampled_from(FIXTURE_DOCUMENTS), st.randoms(use_true_random=False), st.data())
def test_mutated_fixture_workflows_never_raise(
    named: tuple[str, Any], rnd: random.Random, data: st.DataObject
) -> None:
    """Real-pattern workflows from the fixtures, mutated: deeper paths than generated
    ones reach (reusable calls, metadata-action rules, gates)."""
    name, doc = named
    files = data.draw(mutated({f".github/workflows/{name}": doc}))
    with repository(files, rnd) as root:
        checked(root)


# fmt: off
config_text = st.one_of(
    st.text(max_size=60),
    st.lists(
        st.sampled_from(
            [
                'select = ["DG"]', "ignore = 1", 'fail-on = "warning"', "fail-on = 3",
                "[severity]", 'DG304 = "error"', 'DG999 = "x"', 'own-images = ["a/*"]',
                "exclude = [1]", "release-tags = ['(']", "x = ", "\n", "[tool]",
                'repository = "a"', "validation-jobs = []", "\u202e",
            ]
        ),
        max_size=8,
    ).map("\n".join),
)
# fmt: on


@profile(60)
@given(config_text)
@example("release-tags = ['(']")
def test_any_configuration_is_used_or_refused_cleanly(text: str) -> None:
    with tempfile.TemporaryDirectory(prefix="dg-prop-") as tmp:
        root = Path(tmp)
        (root / ".github/workflows").mkdir(parents=True)
        (root / ".github/workflows/ci.yml").write_text(
            "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: docker push a:1\n"
        )
        (root / ".digestgate.toml").write_text(text, encoding="utf-8", errors="surrogatepass")
        with collector_paused():
            result = CliRunner().invoke(cli._app(), ["check", "--no-cache", str(root)])
        assert result.exit_code in (0, 1, 2), result.output
        assert "Traceback" not in result.output
        if result.exit_code == 2:
            (line,) = result.stderr.splitlines()
            assert ".digestgate.toml" in line and "internal error" not in line, line
