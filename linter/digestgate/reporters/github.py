"""`--format github`: GitHub Actions workflow commands, one per finding, which the
runner turns into annotations on the pull request and the run summary (a runner that
does not know them shows them as log lines).

`::error file=PATH,line=L,col=C,endLine=L2,endColumn=C2,title=DG101 name::message`
(`::warning` for warnings). PATH is the file as the text output names it, relative to
where digestgate ran (the checkout, in CI). Columns are given only for a one-line
span, as GitHub ignores them otherwise; the end column is exclusive, as everywhere in
digestgate. Values are escaped as GitHub's toolkit escapes them: `%`, CR and LF in the
message, and also `:` and `,` in properties. A summary line follows, unless quiet:
a line that is not a command is an ordinary log line.
"""

from __future__ import annotations

from collections.abc import Sequence

from digestgate.findings import Finding
from digestgate.reporters.text import display_path, summary


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(f: Finding) -> str:
    s = f.location.span
    props: list[tuple[str, object]] = [("file", display_path(f)), ("line", s.line)]
    if s.line == s.end_line:
        props.append(("col", s.column))
    props.append(("endLine", s.end_line))
    if s.line == s.end_line:
        props.append(("endColumn", s.end_column))
    props.append(("title", f"{f.code} {f.name}"))
    rendered = ",".join(f"{key}={escape_property(str(value))}" for key, value in props)
    return f"::{f.severity.value} {rendered}::{escape_data(f.message)}"


def render(findings: Sequence[Finding], files: int, *, quiet: bool = False) -> str:
    lines = [command(f) for f in findings]
    if not quiet:
        lines.append(summary(findings, files))
    return "\n".join(lines) + ("\n" if lines else "")
