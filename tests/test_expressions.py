"""Tests for digestgate.expressions: parser, placeholders, references, evaluator.

Expected values are worked out by hand from GitHub's documentation ("Evaluate
expressions in workflows and actions", "Workflow syntax: jobs.<job_id>.if") and
GitHub's reference implementation, not copied from the module's output.
"""

from __future__ import annotations

import math
import random
import time

import pytest

from digestgate.expressions import (
    UNKNOWN,
    Assumptions,
    Binary,
    Call,
    Context,
    Expr,
    ExprError,
    Index,
    Literal,
    Not,
    Star,
    Tri,
    evaluate,
    evaluate_condition,
    find_placeholders,
    is_whole_expression,
    parse_expression,
    references,
    status_functions,
    truthiness,
    walk,
)

# ------------------------------------------------------------------ helpers


def sx(e: Expr) -> str:
    """A compact S-expression: contexts bare, keywords as #true/#false/#null."""
    if isinstance(e, Literal):
        v = e.value
        if v is None or isinstance(v, bool):
            return "#" + {None: "null", True: "true", False: "false"}[v]
        if isinstance(v, float):
            return str(int(v)) if v.is_integer() else repr(v)
        return "'" + v + "'"
    if isinstance(e, Context):
        return e.name
    if isinstance(e, Index):
        if isinstance(e.key, Literal) and isinstance(e.key.value, str):
            return f"(. {sx(e.obj)} {e.key.value})"
        return f"([] {sx(e.obj)} {sx(e.key)})"
    if isinstance(e, Star):
        return f"(* {sx(e.obj)})"
    if isinstance(e, Not):
        return f"(! {sx(e.operand)})"
    if isinstance(e, Binary):
        return f"({e.op} {sx(e.left)} {sx(e.right)})"
    return "(" + " ".join([e.name, *(sx(a) for a in e.args)]) + ")"


FAILED = Assumptions.after_failure(
    {
        ("needs", "v", "result"): frozenset({"failure"}),
        ("needs", "m", "result"): frozenset({"success", "failure"}),
        ("github", "event", "workflow_run", "conclusion"): "failure",
    }
)
PASSED = Assumptions.after_success(
    {("needs", "a", "result"): "success", ("needs", "b", "result"): "success"}
)
NOTHING = Assumptions()


# ------------------------------------------------------------------ parser

VALID = [
    # literals (docs: "Example of literals")
    ("true", "#true"),
    ("false", "#false"),
    ("null", "#null"),
    ("711", "711"),
    ("-9.2", "-9.2"),
    ("0xff", "255"),
    ("0x1F", "31"),
    ("-2.99e-2", "-0.0299"),
    ("1e3", "1000"),
    ("+1", "1"),
    (".5", "0.5"),
    ("1.", "1"),
    ("'It''s open source!'", "'It's open source!'"),
    ("''", "''"),
    ("'a''''b'", "'a''b'"),
    ("'}}'", "'}}'"),
    ("'a \"b\" c'", "'a \"b\" c'"),
    # contexts and property access
    ("github", "github"),
    ("GitHub.Event_Name", "(. github Event_Name)"),
    (
        "github.event.issue.labels.*.name",
        "(. (* (. (. (. github event) issue) labels)) name)",
    ),
    ("needs['build'].outputs[*]", "(* (. (. needs build) outputs))"),
    ("matrix[inputs.key]", "([] matrix (. inputs key))"),
    ("x[0]", "([] x 0)"),
    ("x[*].y", "(. (* x) y)"),
    ("x.*[0]", "([] (* x) 0)"),
    ("needs.build-linux.result", "(. (. needs build-linux) result)"),
    ("inputs.true", "(. inputs true)"),  # a keyword after '.' is a property name
    ("TRUE", "true"),  # keywords are case-sensitive: this is a context
    ("(github).ref", "(. github ref)"),
    ("fromJSON(x).a", "(. (fromjson x) a)"),
    ("fromJSON(x)[0].b", "(. ([] (fromjson x) 0) b)"),
    ("fromJSON(inputs.m).*.os", "(. (* (fromjson (. inputs m))) os)"),
    # functions: names are case-insensitive
    ("CONTAINS(a, 'b')", "(contains a 'b')"),
    ("toJSON(github)", "(tojson github)"),
    ("success()", "(success)"),
    ("format('{0}', a, b)", "(format '{0}' a b)"),
    ("hashFiles('**/go.sum', 'x')", "(hashfiles '**/go.sum' 'x')"),
    ("case(a, 'x', 'y')", "(case a 'x' 'y')"),
    ("join(a.*.b, ', ')", "(join (. (* a) b) ', ')"),
    # precedence and associativity
    ("a || b && c", "(|| a (&& b c))"),
    ("a && b || c", "(|| (&& a b) c)"),
    ("a || b || c", "(|| (|| a b) c)"),
    ("a && b && c", "(&& (&& a b) c)"),
    ("(a || b) && c", "(&& (|| a b) c)"),
    ("a == b && c != d", "(&& (== a b) (!= c d))"),
    ("a == b == c", "(== (== a b) c)"),
    ("a < b == c > d", "(== (< a b) (> c d))"),
    ("a <= b != c >= d", "(!= (<= a b) (>= c d))"),
    ("a < b < c", "(< (< a b) c)"),
    ("!a == b", "(== (! a) b)"),
    ("!(a == b)", "(! (== a b))"),
    ("!!a", "(! (! a))"),
    ("!a.b", "(! (. a b))"),
    ("!a && b", "(&& (! a) b)"),
    # whitespace
    ("  a  ", "a"),
    ("a\n&&\tb", "(&& a b)"),
    ("a&&b||c", "(|| (&& a b) c)"),
]


@pytest.mark.parametrize(("text", "expected"), VALID)
def test_parse_valid(text: str, expected: str) -> None:
    assert sx(parse_expression(text)) == expected


INVALID = [
    ("", 0, "expected an expression"),
    ("   ", 3, "expected an expression"),
    ("a b", 2, "unexpected symbol 'b'"),
    ("1 2", 2, "unexpected symbol '2'"),
    ("a !b", 2, "unexpected symbol '!'"),
    ("a)", 1, "unexpected symbol ')'"),
    ("'abc", 0, "unterminated string"),
    ("'It''s", 0, "unterminated string"),
    ('"abc"', 0, "single quotes"),
    ("a ==", 4, "unexpected end"),
    ("(a", 2, "unexpected end"),
    ("a[", 2, "unexpected end"),
    ("a[]", 2, "unexpected symbol ']'"),
    ("foo(1)", 0, "unknown function 'foo'"),
    ("contains('a')", 0, "argument"),
    ("success(1)", 0, "argument"),
    ("case(a, b)", 0, "argument"),
    ("case(a, b, c, d)", 0, "odd"),
    ("format(a,)", 9, "unexpected symbol ')'"),
    ("a = b", 2, "'='"),
    ("a & b", 2, "'&'"),
    ("a | b", 2, "'|'"),
    ("1.2.3", 0, "invalid number"),
    ("0xZZ", 0, "invalid number"),
    ("-0x10", 0, "invalid number"),
    ("'a'.length", 3, "'.'"),
    ("true.x", 4, "'.'"),
    ("a.", 2, "property name"),
    ("a.'b'", 2, "property name"),
    ("*", 0, "unexpected symbol '*'"),
    ("github.ref == 'x' }}", 18, "unexpected symbol '}}'"),
]


@pytest.mark.parametrize(("text", "offset", "message"), INVALID)
def test_parse_invalid(text: str, offset: int, message: str) -> None:
    with pytest.raises(ExprError) as info:
        parse_expression(text)
    assert info.value.offset == offset
    assert message in info.value.message


def test_parse_error_offset_includes_base() -> None:
    with pytest.raises(ExprError) as info:
        parse_expression("a b", 100)
    assert info.value.offset == 102


def test_literal_types() -> None:
    one, true = parse_expression("1"), parse_expression("true")
    assert one == Literal(1.0, 0, 1) and true == Literal(True, 0, 4)
    assert isinstance(one, Literal) and type(one.value) is float
    assert isinstance(true, Literal) and type(true.value) is bool
    assert parse_expression("Infinity") == Literal(math.inf, 0, 8)
    assert parse_expression("-Infinity") == Literal(-math.inf, 0, 9)
    nan = parse_expression("NaN")
    assert isinstance(nan, Literal) and isinstance(nan.value, float) and math.isnan(nan.value)


def test_spans_of_a_filter_chain() -> None:
    e = parse_expression("github.event.issue.labels.*.name")
    assert isinstance(e, Index) and (e.start, e.end) == (0, 32)
    assert e.key == Literal("name", 28, 32)
    star = e.obj
    assert isinstance(star, Star) and (star.start, star.end) == (0, 27)
    labels = star.obj
    assert isinstance(labels, Index) and labels.key == Literal("labels", 19, 25)
    root = next(n for n in walk(e) if isinstance(n, Context))
    assert root == Context("github", 0, 6)


def test_spans_include_grouping_parentheses() -> None:
    e = parse_expression("!(a == b)")
    assert isinstance(e, Not) and (e.start, e.end) == (0, 9)
    inner = e.operand
    assert isinstance(inner, Binary) and (inner.start, inner.end) == (1, 9)
    assert inner.left == Context("a", 2, 3)
    assert inner.right == Context("b", 7, 8)
    assert parse_expression("((a))") == Context("a", 0, 5)


def test_spans_of_calls_and_indexes() -> None:
    e = parse_expression("fromJSON(x).a")
    assert isinstance(e, Index) and (e.start, e.end) == (0, 13)
    call = e.obj
    assert isinstance(call, Call) and (call.start, call.end) == (0, 11)
    assert call.args == (Context("x", 9, 10),)
    assert e.key == Literal("a", 12, 13)

    c = parse_expression("contains(a, 'b')")
    assert c == Call("contains", (Context("a", 9, 10), Literal("b", 12, 15)), 0, 16)

    i = parse_expression("needs['build']")
    assert i == Index(Context("needs", 0, 5), Literal("build", 6, 13), 0, 14)
    assert parse_expression("x[*]") == Star(Context("x", 0, 1), 0, 4)
    assert parse_expression("'It''s'") == Literal("It's", 0, 7)


def test_spans_with_offset_and_whitespace() -> None:
    e = parse_expression("  a && b  ")
    assert isinstance(e, Binary) and (e.start, e.end) == (2, 8)
    e = parse_expression(" a || b", 10)
    assert isinstance(e, Binary) and (e.start, e.end) == (11, 17)
    assert e.left == Context("a", 11, 12) and e.right == Context("b", 16, 17)


def test_property_keeps_its_spelling() -> None:
    e = parse_expression("Needs.Build.Outputs")
    assert isinstance(e, Index) and e.key == Literal("Outputs", 12, 19)
    assert sx(e) == "(. (. needs Build) Outputs)"


@pytest.mark.parametrize(
    ("opener", "count"), [("(", 10_000), ("!", 10_000), ("x[", 10_000), ("format(", 2_000)]
)
def test_deep_nesting_is_an_error_not_a_recursion_error(opener: str, count: int) -> None:
    began = time.perf_counter()
    with pytest.raises(ExprError) as info:
        parse_expression(opener * count)
    assert "nested too deeply" in info.value.message
    assert time.perf_counter() - began < 1.0


def test_nesting_limit_is_githubs_fifty() -> None:
    # The whole expression is level 1 and each '(' adds one: 49 fit, 50 do not.
    assert parse_expression("(" * 49 + "a" + ")" * 49) == Context("a", 0, 99)
    with pytest.raises(ExprError) as info:
        parse_expression("(" * 50 + "a" + ")" * 50)
    assert info.value.offset == 50
    with pytest.raises(ExprError) as info:
        parse_expression("!" * 10_000 + "a")
    assert info.value.offset == 50


def test_long_flat_chains_parse_and_evaluate() -> None:
    text = " || ".join(["false"] * 2000 + ["true"])
    e = parse_expression(text)
    assert evaluate(e, NOTHING) is True
    assert truthiness(e, NOTHING) is Tri.TRUE
    assert status_functions(e) == set()


def test_too_long() -> None:
    with pytest.raises(ExprError) as info:
        parse_expression("a" * 21_001)
    assert "longer" in info.value.message


def test_fuzz_only_expr_errors() -> None:
    rng = random.Random(7)
    alphabet = ["a", ".", "*", "[", "]", "(", ")", "'", "!", "=", "==", "&&", "||", "<", " "]
    alphabet += ["1", "0x", "e", "-", ",", "contains(", "x", "}}", "${{", "\n", '"']
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 25)))
        try:
            e = parse_expression(text)
        except ExprError as exc:
            assert 0 <= exc.offset <= len(text)
            continue
        # A node's span re-parses to a node of the same shape (property names aside).
        names = {id(n.key) for n in walk(e) if isinstance(n, Index) and text[n.key.start] != "'"}
        for node in walk(e):
            if id(node) not in names:
                assert sx(parse_expression(text[node.start : node.end])) == sx(node)
        evaluate(e, FAILED)
        truthiness(e, FAILED)
        references(e)
        find_placeholders("${{" + text + "}}")


# ------------------------------------------------------------ placeholders


def test_placeholders_several_in_one_string() -> None:
    text = "image: ${{ env.IMAGE }}@${{ steps.push.outputs.digest }}"
    first, second = find_placeholders(text)
    assert (first.start, first.end, first.inner_start, first.inner_end) == (7, 23, 10, 21)
    assert (second.start, second.end, second.inner_start, second.inner_end) == (24, 56, 27, 54)
    assert first.error is None and first.expr is not None
    assert sx(first.expr) == "(. env IMAGE)"
    assert (first.expr.start, first.expr.end) == (11, 20)
    assert second.expr is not None and (second.expr.start, second.expr.end) == (28, 53)


def test_placeholder_closing_braces_inside_a_string_literal() -> None:
    (p,) = find_placeholders("${{ '}}' }}")
    assert (p.start, p.end, p.inner_start, p.inner_end) == (0, 11, 3, 9)
    assert p.expr == Literal("}}", 4, 8)

    (q,) = find_placeholders("${{ 'it''s }}' }}")
    assert (q.start, q.end) == (0, 17)
    assert q.expr == Literal("it's }}", 4, 14)


def test_placeholder_unterminated() -> None:
    (p,) = find_placeholders("a ${{ x")
    assert (p.start, p.end, p.inner_start, p.inner_end) == (2, 7, 5, 7)
    assert p.expr is None and p.error is not None and p.error.offset == 2

    ok, bad = find_placeholders("${{ a }} ${{ b")
    assert ok.error is None and (ok.start, ok.end) == (0, 8)
    assert bad.error is not None and (bad.start, bad.end) == (9, 14)

    (s,) = find_placeholders("${{ 'never closed }}")  # the '}}' is inside the string
    assert s.error is not None and s.end == 20


def test_placeholder_with_syntax_error_keeps_going() -> None:
    bad, good = find_placeholders("${{ a b }} ${{ c }}")
    assert bad.expr is None and bad.error is not None and bad.error.offset == 6
    assert (bad.start, bad.end) == (0, 10)
    assert good.expr == Context("c", 15, 16)


@pytest.mark.parametrize(
    ("text", "spans"),
    [
        ("no expressions here", []),
        ("${{ a }}${{ b }}", [(0, 8), (8, 16)]),
        ("${{ x }}}", [(0, 8)]),
        ("$${{ x }}", [(1, 9)]),
        ("x ${{ a.b }}", [(2, 12)]),
        ("${ x } and {{ y }}", []),
    ],
)
def test_placeholder_spans(text: str, spans: list[tuple[int, int]]) -> None:
    assert [(p.start, p.end) for p in find_placeholders(text)] == spans


def test_placeholder_empty_and_node_offsets() -> None:
    (p,) = find_placeholders("${{ }}")
    assert p.error is not None and p.error.offset == 4
    (q,) = find_placeholders("x ${{ a.b }}")
    assert q.expr is not None and (q.expr.start, q.expr.end) == (6, 9)


@pytest.mark.parametrize(
    ("text", "whole"),
    [
        ("${{ a }}", True),
        ("  ${{ a }}\n", True),
        ("${{ a b }}", True),  # one placeholder, even if its inside is bad
        ("${{ a }} b", False),
        ("b ${{ a }}", False),
        ("${{ a }}${{ b }}", False),
        ("a", False),
        ("${{ a", False),
        ("", False),
    ],
)
def test_is_whole_expression(text: str, whole: bool) -> None:
    assert is_whole_expression(text) is whole


# -------------------------------------------------------------- references


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("needs.build.outputs.digest", [("needs", "build", "outputs", "digest")]),
        ("steps.push.outputs.digest == ''", [("steps", "push", "outputs", "digest")]),
        ("inputs.image", [("inputs", "image")]),
        ("env.IMAGE", [("env", "image")]),
        ("vars.x", [("vars", "x")]),
        ("secrets.GITHUB_TOKEN", [("secrets", "github_token")]),
        ("matrix.platform", [("matrix", "platform")]),
        (
            "GitHub.Event.Workflow_Run.Conclusion",
            [("github", "event", "workflow_run", "conclusion")],
        ),
        (
            "github.event.issue.labels.*.name",
            [("github", "event", "issue", "labels", "*", "name")],
        ),
        ("needs['build'].result", [("needs", "build", "result")]),
        ("x[0]", [("x", "0")]),
        ("matrix[inputs.key].x", [("matrix",), ("inputs", "key")]),
        ("fromJSON(needs.a.outputs.m).include", [("needs", "a", "outputs", "m")]),
        (
            "contains(needs.*.result, 'failure') && vars.X",
            [("needs", "*", "result"), ("vars", "x")],
        ),
        ("format('{0}', github.sha)", [("github", "sha")]),
        ("success()", []),
        ("'needs.x'", []),
        ("github", [("github",)]),
    ],
)
def test_references(text: str, expected: list[tuple[str, ...]]) -> None:
    assert [r.path for r in references(parse_expression(text))] == expected


def test_reference_spans() -> None:
    refs = references(parse_expression("matrix[inputs.key].x == needs.b.result"))
    assert [(r.path, r.start, r.end) for r in refs] == [
        (("matrix",), 0, 6),
        (("inputs", "key"), 7, 17),
        (("needs", "b", "result"), 24, 38),
    ]
    (ref,) = references(parse_expression("(needs).a", 5))
    assert (ref.path, ref.start, ref.end) == (("needs", "a"), 5, 14)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("always()", {"always"}),
        ("success() || failure()", {"success", "failure"}),
        ("!cancelled() && x", {"cancelled"}),
        ("ALWAYS()", {"always"}),
        ("format('{0}', failure())", {"failure"}),
        ("github.ref == 'x'", set()),
        ("contains(toJSON(needs), 'failure')", set()),
        ("needs.success", set()),
    ],
)
def test_status_functions(text: str, expected: set[str]) -> None:
    assert status_functions(parse_expression(text)) == expected


# ------------------------------------------------------------------- Tri


def test_tri_kleene() -> None:
    t, f, u = Tri.TRUE, Tri.FALSE, Tri.UNKNOWN
    assert (t & t, t & f, t & u, f & u, u & u) == (t, f, u, f, u)
    assert (f | f, t | f, f | u, t | u, u | u) == (f, t, u, t, u)
    assert (~t, ~f, ~u) == (f, t, u)
    assert (Tri.of(True), Tri.of(False), Tri.of(None)) == (t, f, u)
    assert t.known and not u.known
    with pytest.raises(TypeError):
        bool(u)


# --------------------------------------------------------------- evaluation

VALUES = [
    # loose equality: null -> 0, bool -> 1/0, string -> number, strings ignore case
    ("1 == '1'", True),
    ("null == 0", True),
    ("'abc' == 'ABC'", True),
    ("true == 1", True),
    ("false == 0", True),
    ("'' == 0", True),
    ("null == false", True),
    ("null == ''", True),
    ("' 0x10 ' == 16", True),
    ("'abc' == 0", False),
    ("'1.0' == '1'", False),
    ("NaN == NaN", False),
    ("NaN != NaN", True),
    ("1 < 2", True),
    ("'a' < 'B'", True),
    ("'b' <= 'B'", True),
    ("2 > '10'", False),
    ("'2' > '10'", True),
    ("true > false", True),
    ("!0", True),
    ("!''", True),
    ("!'false'", False),
    # && and || return an operand
    ("1 && 'x'", "x"),
    ("0 || 'y'", "y"),
    ("'' && 'x'", ""),
    ("null || false", False),
    ("'a' || 'b'", "a"),
    # functions
    ("contains('Hello World', 'WORLD')", True),
    ("contains(fromJSON('[\"push\", \"pull_request\"]'), 'PUSH')", True),
    ("contains(fromJSON('[1, 2]'), '2')", True),
    ("contains(fromJSON('[1, 2]'), 3)", False),
    ("startsWith('refs/tags/v1', 'REFS/TAGS/')", True),
    ("endsWith('image.tar', '.TAR')", True),
    ("startsWith('abc', fromJSON('[]'))", False),
    ("format('Hello {0} {1} {2}', 'Mona', 'the', 'Octocat')", "Hello Mona the Octocat"),
    ("format('{{Hello {0} {1} {2}!}}', 'Mona', 'the', 'Octocat')", "{Hello Mona the Octocat!}"),
    ("format('{0}', 1.5)", "1.5"),
    ("format('{0}/{1}', true, null)", "true/"),
    ('join(fromJSON(\'["a", "b"]\'))', "a,b"),
    ("join(fromJSON('[\"a\", \"b\"]'), ' | ')", "a | b"),
    ("join('abc', '-')", "abc"),
    ("toJSON('x')", '"x"'),
    ("toJSON(fromJSON('{\"a\": 1}'))", '{\n  "a": 1\n}'),
    ('fromJSON(\'{"A": {"b": [10, 20]}}\').a.B[1]', 20.0),
    ('fromJSON(\'[{"name": "bug"}, {"name": "ci"}, {"x": 1}]\').*.name', ["bug", "ci"]),
    ("fromJSON('true')", True),
    ("fromJSON('\"abc\"').x", None),
    ("fromJSON('[1, 2]')[5]", None),
    ("case(true, 'a', 'b')", "a"),
    ("case(false, 'a', 1 == 1, 'b', 'c')", "b"),
    ("case(false, 'a', 'c')", "c"),
]


@pytest.mark.parametrize(("text", "expected"), VALUES)
def test_evaluate_concrete(text: str, expected: object) -> None:
    value = evaluate(parse_expression(text), NOTHING)
    assert value == expected
    assert type(value) is type(expected) or isinstance(value, list)


@pytest.mark.parametrize(
    "text",
    [
        "github.ref",
        "hashFiles('**/go.sum')",
        "format('{1}', 'a')",  # GitHub: too few arguments for the format string
        "format('{', 'a')",
        "fromJSON('not json')",
        "case('x', 'a', 'b')",  # GitHub: a predicate must be a boolean
        "always()",  # no status known
    ],
)
def test_evaluate_unknown(text: str) -> None:
    assert evaluate(parse_expression(text), NOTHING) is UNKNOWN


TRUTH = [
    # the failure scenario: success() false, failure() and always() true
    ("always()", FAILED, Tri.TRUE),
    ("success()", FAILED, Tri.FALSE),
    ("always() && needs.v.result == 'success'", FAILED, Tri.FALSE),
    ("!cancelled()", FAILED, Tri.TRUE),
    ("failure() || success()", FAILED, Tri.TRUE),
    ("!always()", FAILED, Tri.FALSE),
    ("github.ref == 'refs/heads/main'", FAILED, Tri.UNKNOWN),
    ("github.ref == 'refs/heads/main' && success()", FAILED, Tri.FALSE),
    ("github.ref == 'x' || always()", FAILED, Tri.TRUE),
    ("cancelled() || github.ref == 'x'", FAILED, Tri.UNKNOWN),
    ("!(github.ref == 'x')", FAILED, Tri.UNKNOWN),
    ("needs.m.result == 'success'", FAILED, Tri.UNKNOWN),
    ("needs.m.result != 'skipped'", FAILED, Tri.TRUE),
    ("needs.v.result == 'FAILURE'", FAILED, Tri.TRUE),
    ("github.event.workflow_run.conclusion == 'success'", FAILED, Tri.FALSE),
    ("contains(needs.*.result, 'failure')", FAILED, Tri.TRUE),
    ("!contains(needs.*.result, 'failure')", FAILED, Tri.FALSE),
    ("contains(needs.*.result, 'cancelled')", FAILED, Tri.FALSE),
    ("contains(needs.*.result, 'success')", FAILED, Tri.UNKNOWN),
    ("contains(toJSON(needs), 'failure')", FAILED, Tri.TRUE),
    ("case(needs.m.result == 'failure', true, false)", FAILED, Tri.UNKNOWN),
    # the success scenario
    ("!contains(needs.*.result, 'failure')", PASSED, Tri.TRUE),
    ("needs.a.result == 'success' && needs.b.result == 'success'", PASSED, Tri.TRUE),
    ("success() && !cancelled()", PASSED, Tri.TRUE),
    # nothing known
    ("success() || failure()", NOTHING, Tri.UNKNOWN),
    ("false && github.ref", NOTHING, Tri.FALSE),
    ("true || github.ref", NOTHING, Tri.TRUE),
]


@pytest.mark.parametrize(("text", "assumptions", "expected"), TRUTH)
def test_truthiness(text: str, assumptions: Assumptions, expected: Tri) -> None:
    assert truthiness(parse_expression(text), assumptions) is expected


def test_evaluate_with_possible_values() -> None:
    def ev(text: str, a: Assumptions = FAILED) -> object:
        return evaluate(parse_expression(text), a)

    assert ev("needs.m.result == 'success'") is UNKNOWN
    assert ev("needs.v.result == 'failure'") is True
    assert ev("needs.m.result || 'none'") == frozenset({"success", "failure"})
    assert ev("format('{0}!', needs.m.result)") == frozenset({"success!", "failure!"})
    assert ev("case(needs.v.result == 'failure', 'bad', 'good')") == "bad"
    assert ev("case(needs.m.result == 'failure', 'bad', 'good')") == frozenset({"bad", "good"})
    assert ev("needs.v.outputs.digest") is UNKNOWN  # not given: unknown, not null
    assert ev("needs.zzz.result") is UNKNOWN
    assert ev("join(needs.*.result, ',')", PASSED) == "success,success"


def test_values_given_as_a_whole_object_are_complete() -> None:
    a = Assumptions(
        status={"success": True},
        values={
            ("needs",): {"build": {"result": "success", "outputs": {}}},
            ("inputs", "count"): 3,
        },
    )

    def ev(text: str) -> object:
        return evaluate(parse_expression(text), a)

    assert ev("needs.build.outputs.digest") is None  # missing in a known object: null
    assert ev("needs.build.outputs.digest == ''") is True
    assert ev("contains(toJSON(needs), 'failure')") is False
    assert ev("needs.BUILD.Result") == "success"
    assert ev("inputs.count == '3'") is True
    assert ev("inputs.count > 2") is True


CONDITIONS = [
    # no status function: GitHub evaluates success() && (condition)
    ("github.ref == 'x'", FAILED, Tri.FALSE),
    ("github.ref == 'x'", PASSED, Tri.UNKNOWN),
    ("needs.v.result == 'failure'", FAILED, Tri.FALSE),
    ("contains(needs.*.result, 'failure')", FAILED, Tri.FALSE),
    ("${{ github.ref == 'x' }}", FAILED, Tri.FALSE),
    # with a status function the condition is taken as written
    ("always()", FAILED, Tri.TRUE),
    ("${{ always() }}", FAILED, Tri.TRUE),
    ("${{ ALWAYS() }}", FAILED, Tri.TRUE),
    ("${{ success() }}", FAILED, Tri.FALSE),
    ("failure() && needs.v.result == 'failure'", FAILED, Tri.TRUE),
    ("always() && contains(needs.*.result, 'failure')", FAILED, Tri.TRUE),
    ("!cancelled() && needs.v.result == 'success'", FAILED, Tri.FALSE),
    ("always()", NOTHING, Tri.UNKNOWN),
    ("${{ false }}", PASSED, Tri.FALSE),
    # text outside ${{ }} makes a non-empty string: truthy
    ("true && ${{ false }}", PASSED, Tri.TRUE),  # the example in GitHub's docs
    ("${{ github.ref }} == 'refs/heads/main'", PASSED, Tri.TRUE),
    ("${{ github.ref }} == 'refs/heads/main'", FAILED, Tri.FALSE),  # still success() && ...
    ("${{ failure() }} ", PASSED, Tri.TRUE),  # status function inside: no success() added
    ("${{ success() }}\n", FAILED, Tri.TRUE),  # a `|` block scalar keeps the newline
    ("github.ref == '${{ env.BRANCH }}'", PASSED, Tri.TRUE),
    # an empty condition is success()
    ("", FAILED, Tri.FALSE),
    ("", PASSED, Tri.TRUE),
    # unparseable
    ("${{ a b }}", PASSED, Tri.UNKNOWN),
    ("a b", PASSED, Tri.UNKNOWN),
    ("${{ always()", FAILED, Tri.UNKNOWN),
]


@pytest.mark.parametrize(("condition", "assumptions", "expected"), CONDITIONS)
def test_evaluate_condition(condition: str, assumptions: Assumptions, expected: Tri) -> None:
    assert evaluate_condition(condition, assumptions) is expected


def test_evaluate_never_raises_on_deep_comparison_chains() -> None:
    e = parse_expression("==".join(["true"] * 3000))  # 3000 levels of Binary
    assert evaluate(e, NOTHING) in (True, UNKNOWN)
    assert truthiness(e, NOTHING) in (Tri.TRUE, Tri.UNKNOWN)


def test_placeholders_are_remembered_but_each_caller_gets_its_own_list() -> None:
    text = "${{ github.sha }}-${{ matrix.os "
    first = find_placeholders(text)
    found = [(p.start, p.end, p.error is not None) for p in first]
    assert found == [(0, 17, False), (18, 32, True)]  # the second is not closed
    first.clear()
    again = find_placeholders(text)
    assert [(p.start, p.end) for p in again] == [(0, 17), (18, 32)]
    assert find_placeholders("no placeholder") == []
