"""Inline suppression comments (digestgate.suppressions)."""

from __future__ import annotations

import pytest

from digestgate.findings import Finding, Location, Severity
from digestgate.nodes import Source
from digestgate.span import Span
from digestgate.suppressions import Suppression, apply, comment_start, scan

KNOWN = frozenset({"DG101", "DG102", "DG201", "DG202", "DG301", "DG305"})


def scan_text(text: str, path: str = "wf.yml") -> list[Suppression]:
    return scan(Source(path, text))


def finding(code: str, line: int, path: str = "wf.yml") -> Finding:
    return Finding(
        code=code,
        name="name",
        severity=Severity.ERROR,
        message="message",
        location=Location(path, Span(line, 5, line + 1, 3)),
    )


# -- scanning --------------------------------------------------------------------------


def test_no_marker_no_work() -> None:
    assert scan_text("jobs:\n  build:\n    runs-on: x  # a comment\n") == []
    assert scan_text("") == []


def test_trailing_comment() -> None:
    text = "jobs:\n  build:\n    container: node:20  # digestgate: ignore[DG101]\n"
    # line 3: 4 spaces + "container: node:20" (18) + 2 spaces = 24 characters before "#",
    # so the comment starts at column 25; it is 27 characters long, ending before column 52
    assert scan_text(text) == [
        Suppression(
            line=3,
            codes=("DG101",),
            reason=None,
            span=Span(3, 25, 3, 52),
            target_line=3,
            path="wf.yml",
        )
    ]


def test_comment_alone_on_the_line_above_with_codes_and_reason() -> None:
    text = (
        "steps:\n"
        "  # digestgate: ignore[DG101, DG305] -- pinned by renovate  \n"
        "  - run: docker pull app:latest\n"
    )
    # "# digestgate: ignore" (20) + "[DG101, DG305]" (14) + " -- pinned by renovate" (22)
    # = 56 characters from column 3; trailing spaces are not part of the span
    assert scan_text(text) == [
        Suppression(
            line=2,
            codes=("DG101", "DG305"),
            reason="pinned by renovate",
            span=Span(2, 3, 2, 59),
            target_line=3,
            path="wf.yml",
        )
    ]


def test_stacked_comments_above_one_line_all_target_it() -> None:
    text = (
        "steps:\n"
        "  # digestgate: ignore[DG101]\n"
        "  # an ordinary comment\n"
        "  # digestgate: ignore[DG305] -- release by tag, agreed in #12\n"
        "  - run: docker push app:latest\n"
    )
    found = scan_text(text)
    assert [(s.line, s.codes, s.target_line) for s in found] == [
        (2, ("DG101",), 5),
        (4, ("DG305",), 5),
    ]
    assert found[1].reason == "release by tag, agreed in #12"


def test_blank_line_after_the_comment_breaks_the_link() -> None:
    text = "# digestgate: ignore[DG101]\n\nimage: app:latest\n"
    assert [s.target_line for s in scan_text(text)] == [2]


def test_comment_on_the_last_line_targets_past_the_end() -> None:
    assert [s.target_line for s in scan_text("a: 1\n# digestgate: ignore[DG101]")] == [3]


def test_multiple_codes_separators_and_duplicates() -> None:
    text = "a: 1  # digestgate: ignore[ DG101 DG101,DG102 ,, DG201 ]\n"
    assert scan_text(text)[0].codes == ("DG101", "DG102", "DG201")


def test_loose_spacing_is_accepted() -> None:
    found = scan_text("a: 1 #digestgate:ignore[DG101]--why\nb: 2 #  digestgate:  ignore [DG102]\n")
    assert [(s.codes, s.reason) for s in found] == [(("DG101",), "why"), (("DG102",), None)]


def test_empty_reason_is_none() -> None:
    assert scan_text("a: 1  # digestgate: ignore[DG101] --  \n")[0].reason is None


def test_text_after_the_codes_without_dashes_is_not_a_reason() -> None:
    s = scan_text("a: 1  # digestgate: ignore[DG101] because\n")[0]
    assert (s.codes, s.reason) == (("DG101",), None)


def test_unclosed_bracket_takes_codes_up_to_the_reason() -> None:
    s = scan_text("a: 1  # digestgate: ignore[DG101, DG102 -- why\n")[0]
    assert (s.codes, s.reason) == (("DG101", "DG102"), "why")


@pytest.mark.parametrize(
    ("comment", "reason"),
    [
        ("# digestgate: ignore", None),
        ("# digestgate: ignore   ", None),
        ("# digestgate: ignore -- legacy workflow", "legacy workflow"),
        ("# digestgate: ignore[]", None),
        ("# digestgate: ignore[ , ] -- nothing named", "nothing named"),
        ("# digestgate: ignore DG101", None),  # codes must be in brackets
    ],
)
def test_bare_ignore_has_no_codes(comment: str, reason: str | None) -> None:
    found = scan_text(f"image: app:latest  {comment}\n")
    assert len(found) == 1
    assert found[0].codes == ()
    assert found[0].reason == reason


@pytest.mark.parametrize(
    "line",
    [
        'image: "app:latest # digestgate: ignore[DG101]"',
        "image: 'app:latest # digestgate: ignore[DG101]'",
        "image: 'it''s # digestgate: ignore[DG101]'",
        'image: "a \\" # digestgate: ignore[DG101]"',
        '- run: echo "x # digestgate: ignore[DG101]"',
        "- run: FOO='x # digestgate: ignore[DG101]'",
        "image: app:latest#digestgate: ignore[DG101]",  # no whitespace before "#"
        "image: app:latest  # see x#digestgate: ignore[DG101]",
        "# digestgate: ignored",
        "# digestgate: ignore-file",
        "# digestgate: ignore_all[DG101]",
        "# digestgate ignore[DG101]",
        "# DigestGate: ignore[DG101]",
    ],
)
def test_not_a_suppression(line: str) -> None:
    assert scan_text(f"a: 1\n{line}\nb: 2\n") == []


@pytest.mark.parametrize(
    ("line", "column"),
    [
        ("image: 'a' # digestgate: ignore[DG101]", 12),
        ("image: 'it''s' # digestgate: ignore[DG101]", 16),
        ('image: "a\\"b" # digestgate: ignore[DG101]', 15),
        ("- run: echo don't # digestgate: ignore[DG101]", 19),  # an apostrophe, not a quote
        ("- run: echo hi  # noqa  # digestgate: ignore[DG101]", 25),
        ("\timage: x\t# digestgate: ignore[DG101]", 11),
    ],
)
def test_real_comment_after_quotes(line: str, column: int) -> None:
    found = scan_text(f"{line}\n")
    assert [(s.codes, s.span.column, s.target_line) for s in found] == [(("DG101",), column, 1)]


def test_shell_comment_in_a_block_scalar_counts() -> None:
    text = "- run: |\n    docker pull app:latest  # digestgate: ignore[DG101]\n    echo done\n"
    # "    docker pull app:latest  " is 4 + 22 + 2 = 28 characters
    assert [(s.line, s.target_line, s.span) for s in scan_text(text)] == [
        (2, 2, Span(2, 29, 2, 56))
    ]


def test_crlf_line_endings() -> None:
    text = "a: 1  # digestgate: ignore[DG101]\r\nb: 2\r\n"
    # "a: 1  " is 6 characters; the 27-character comment ends before column 34, not at "\r"
    assert [(s.codes, s.span) for s in scan_text(text)] == [(("DG101",), Span(1, 7, 1, 34))]


def test_marker_in_a_value_only() -> None:
    assert scan_text("name: 'digestgate: ignore[DG101]'\n") == []


def test_comment_start() -> None:
    assert comment_start("# x") == 0
    assert comment_start("a: b # x") == 5
    assert comment_start("a: b#x") == -1
    assert comment_start("a: 'b # x'") == -1
    assert comment_start("a: 'unclosed # x") == -1
    assert comment_start("a: don't # x") == 9


# -- applying --------------------------------------------------------------------------

WORKFLOW = """\
on: push
jobs:
  build:
    container: node:20  # digestgate: ignore[DG101]
    # digestgate: ignore[DG201, DG202] -- digest read back by crane
    steps:
      - run: echo hi  # digestgate: ignore[DG301]
      - run: echo hi  # digestgate: ignore[DG305]
      - run: echo hi  # digestgate: ignore[DG999, DG101]
      # digestgate: ignore
      - run: docker push app:latest
"""


def test_apply_end_to_end() -> None:
    sups = scan_text(WORKFLOW)
    by_line = {s.line: s for s in sups}
    assert [(s.line, s.codes, s.target_line) for s in sups] == [
        (4, ("DG101",), 4),
        (5, ("DG201", "DG202"), 6),
        (7, ("DG301",), 7),
        (8, ("DG305",), 8),
        (9, ("DG999", "DG101"), 9),
        (10, (), 11),
    ]
    findings = [
        finding("DG101", 4),  # suppressed by line 4
        finding("DG102", 4),  # kept: line 4 names DG101 only
        finding("DG201", 6),  # suppressed by line 5 (the line above)
        finding("DG101", 11),  # kept: the bare ignore on line 10 suppresses nothing
        finding("DG101", 9),  # suppressed by line 9 (DG101 is named beside DG999)
        finding("DG101", 4, path="other.yml"),  # kept: another file
        finding("DG201", 5),  # kept: line 5's comment targets line 6, not itself
    ]
    out = apply(
        findings,
        {"wf.yml": sups},
        enabled=lambda code: code != "DG305",
        known_codes=KNOWN,
    )
    assert out.suppressed == [findings[0], findings[2], findings[4]]
    assert out.kept == [findings[1], findings[3], findings[5], findings[6]]
    # line 5 is used (DG201) although DG202 is not; line 8 names a disabled rule and
    # cannot be judged; line 9 names an unknown code, so it cannot be judged either
    assert out.unused == [by_line[7]]
    assert out.unknown == [(by_line[9], "DG999")]
    assert out.blanket == [by_line[10]]


def test_unknown_code_suppression_that_silences_nothing_is_not_unused() -> None:
    sups = scan_text("a: 1  # digestgate: ignore[DG999, DG101]\n")
    out = apply([], {"wf.yml": sups}, enabled=lambda code: True, known_codes=KNOWN)
    assert out.unused == []
    assert out.unknown == [(sups[0], "DG999")]


def test_every_code_must_be_enabled_to_report_unused() -> None:
    sups = scan_text(
        "a: 1  # digestgate: ignore[DG101, DG305]\nb: 2  # digestgate: ignore[DG101]\n"
    )
    out = apply([], {"wf.yml": sups}, enabled=lambda code: code != "DG305", known_codes=KNOWN)
    assert out.unused == [sups[1]]


def test_a_finding_is_matched_on_its_primary_start_line_only() -> None:
    sups = scan_text("a: 1\nb: 2  # digestgate: ignore[DG101]\n")
    spanning = Finding(
        "DG101",
        "mutable-image-ref",
        Severity.ERROR,
        "m",
        Location("wf.yml", Span(1, 1, 3, 1)),
        related=(Location("wf.yml", Span(2, 1, 2, 5)),),
    )
    out = apply([spanning], {"wf.yml": sups}, enabled=lambda code: True, known_codes=KNOWN)
    assert out.kept == [spanning]
    assert out.unused == sups


def test_trailing_and_above_both_count_as_used() -> None:
    text = "# digestgate: ignore[DG101]\nimage: x  # digestgate: ignore[DG101]\n"
    sups = scan_text(text)
    assert [s.target_line for s in sups] == [2, 2]
    out = apply([finding("DG101", 2)], {"wf.yml": sups}, enabled=lambda c: True, known_codes=KNOWN)
    assert len(out.suppressed) == 1
    assert out.unused == []


def test_apply_reports_by_mapping_key_in_path_order() -> None:
    s = Suppression(3, ("DG101",), None, Span(3, 1, 3, 10), 3)
    t = Suppression(1, ("DG102",), None, Span(1, 1, 1, 10), 1)
    out = apply(
        [finding("DG102", 1, path="a.yml")],
        {"b.yml": [s], "a.yml": [s, t]},
        enabled=lambda code: True,
        known_codes=KNOWN,
    )
    assert [f.path for f in out.suppressed] == ["a.yml"]
    assert out.unused == [
        Suppression(3, ("DG101",), None, Span(3, 1, 3, 10), 3, path="a.yml"),
        Suppression(3, ("DG101",), None, Span(3, 1, 3, 10), 3, path="b.yml"),
    ]


def test_apply_with_nothing() -> None:
    out = apply([], {}, enabled=lambda code: True, known_codes=KNOWN)
    assert (out.kept, out.suppressed, out.unused, out.unknown, out.blanket) == ([], [], [], [], [])
