"""`--format github`: workflow commands that GitHub turns into annotations.

Escaping follows GitHub's toolkit (`@actions/core`): the message escapes `%`, CR and
LF; property values escape those and `:` and `,`. The expected lines below are
written by hand.
"""

from __future__ import annotations

import re

from conftest import FIXTURES
from digestgate.findings import Finding, Location, Severity
from digestgate.reporters import github
from digestgate.span import Span
from test_cli import dg

CLI_FIXTURES = FIXTURES / "cli"
COMMAND = re.compile(
    r"^::(error|warning) file=([^,]+),line=(\d+),col=(\d+),endLine=(\d+),endColumn=(\d+),"
    r"title=(DG\d{3}) ([a-z0-9-]+)::(.+)$"
)
ONE_LINE = Span(3, 5, 3, 9)
TEXT_LINE = re.compile(r"^(\S+?):(\d+):(\d+): (DG\d{3}) ([a-z0-9-]+): (.+)$")


def finding(
    message: str,
    *,
    path: str = ".github/workflows/ci.yml",
    root: str = ".",
    span: Span = ONE_LINE,
    severity: Severity = Severity.ERROR,
) -> Finding:
    return Finding(
        code="DG101",
        name="mutable-image-ref",
        severity=severity,
        message=message,
        location=Location(path, span),
        root=root,
    )


def test_message_escapes_percent_cr_and_lf_only() -> None:
    f = finding("100% sure: a,b\r\nnext line\nlast")
    assert github.command(f) == (
        "::error file=.github/workflows/ci.yml,line=3,col=5,endLine=3,endColumn=9,"
        "title=DG101 mutable-image-ref::100%25 sure: a,b%0D%0Anext line%0Alast"
    )


def test_properties_also_escape_colon_and_comma() -> None:
    f = finding("m", root="odd,dir:1", path=".github/workflows/50%\r\n.yml")
    assert github.command(f) == (
        "::error file=odd%2Cdir%3A1/.github/workflows/50%25%0D%0A.yml,"
        "line=3,col=5,endLine=3,endColumn=9,title=DG101 mutable-image-ref::m"
    )
    # `%` first, so an escape sequence already in the text is not taken for one
    assert github.escape_property("%3A:") == "%253A%3A"
    assert github.escape_data("%0A\n") == "%250A%0A"


def test_warning_and_multi_line_span() -> None:
    # columns only mean something on one line: a span over lines gives lines only
    f = finding("spans lines", span=Span(4, 7, 6, 3), severity=Severity.WARNING)
    assert github.command(f) == (
        "::warning file=.github/workflows/ci.yml,line=4,endLine=6,"
        "title=DG101 mutable-image-ref::spans lines"
    )


def test_render_adds_a_summary_unless_quiet() -> None:
    findings = [finding("a"), finding("b", severity=Severity.WARNING)]
    out = github.render(findings, 3)
    assert out.splitlines()[-1] == "Found 2 findings (1 error, 1 warning) in 3 files."
    assert len(out.splitlines()) == 3
    quiet = github.render(findings, 3, quiet=True).splitlines()
    assert [line.split(" ", 1)[0] for line in quiet] == ["::error", "::warning"]
    assert github.render([], 2, quiet=True) == ""


def test_cli_on_the_snapshot_repository() -> None:
    proc = dg("check", "repo", "--format", "github", cwd=CLI_FIXTURES)
    assert proc.returncode == 1
    assert proc.stderr == ""
    *commands, summary = proc.stdout.splitlines()
    assert summary == "Found 7 findings (5 errors, 2 warnings) in 4 files."
    # positions from tests/fixtures/cli/README.md (checked by hand)
    assert commands[0] == (
        "::error file=repo/.github/workflows/ci.yml,line=10,col=20,endLine=10,endColumn=24,"
        "title=DG001 broken-graph::job 'test' needs 'lint', which is not a job here"
    )
    assert commands[-1] == (
        "::warning file=repo/.github/workflows/release.yml,line=10,col=28,endLine=10,"
        "endColumn=48,title=DG003 blanket-suppression::`# digestgate: ignore` must name "
        "the rules it silences; there is no finding on line 10"
    )
    # the same findings, paths and positions as the text output
    text = dg("check", "repo", "-q", cwd=CLI_FIXTURES).stdout.splitlines()
    parsed = [COMMAND.match(line) for line in commands]
    assert all(parsed), commands
    assert [(m.group(2), m.group(3), m.group(4), m.group(7), m.group(8)) for m in parsed if m] == [
        (t.group(1), t.group(2), t.group(3), t.group(4), t.group(5))
        for line in text
        if (t := TEXT_LINE.match(line))
    ]
    levels = {m.group(7): m.group(1) for m in parsed if m}
    assert (levels["DG000"], levels["DG002"]) == ("error", "warning")


def test_cli_quiet_and_exit_zero() -> None:
    proc = dg("check", "repo", "-f", "github", "-q", "--exit-zero", cwd=CLI_FIXTURES)
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    assert len(lines) == 7
    assert all(line.startswith(("::error ", "::warning ")) for line in lines)
