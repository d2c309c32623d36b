"""The command line (typer).

Heavy modules (the engine, YAML, rules) are imported inside the commands, so
`--version` and `--help` stay quick. Exit statuses: 0 no finding at or above the
failing severity, 1 findings, 2 usage, configuration or internal error. An internal
error prints one line naming the file being read, never a traceback unless `--debug`.
"""

from __future__ import annotations

import os
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, NoReturn, Optional

import typer

from digestgate import __version__

app = typer.Typer(
    name="digestgate",
    help="Lint CI workflows so container images are promoted only by validated digests.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class Format(str, Enum):
    text = "text"
    json = "json"


class Color(str, Enum):
    auto = "auto"
    always = "always"
    never = "never"


def _fail(message: str, status: int = 2) -> NoReturn:
    typer.echo(f"digestgate: {message}", err=True)
    raise typer.Exit(status)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"digestgate {__version__}")
        raise typer.Exit(0)


@app.callback()
def main_callback(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """digestgate: build once, validate that digest, promote only that digest."""


def _codes(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    return [c.strip().upper() for v in values for c in v.split(",") if c.strip()]


def _use_color(choice: Color, stream: object) -> bool:
    if choice is Color.always:
        return True
    if choice is Color.never or os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


@app.command()
def check(
    paths: Annotated[
        Optional[list[str]],  # noqa: UP045 (typer reads the annotation at run time)
        typer.Argument(help="Repositories, folders or files (default: .); - reads stdin."),
    ] = None,
    format: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.text,
    output: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--output", "-o", help="Write the report to this file."),
    ] = None,
    select: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(help="Rule codes or prefixes to enable (replaces the config)."),
    ] = None,
    ignore: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(help="Rule codes or prefixes to disable (adds to the config)."),
    ] = None,
    config: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--config", help="Configuration file (.toml)."),
    ] = None,
    no_config: Annotated[
        bool, typer.Option("--no-config", help="Ignore configuration files.")
    ] = False,
    stdin_filename: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--stdin-filename", help="The path that stdin (`-`) stands for."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print findings only.")] = False,
    color: Annotated[Color, typer.Option("--color", help="Colour the text output.")] = Color.auto,
    exit_zero: Annotated[
        bool, typer.Option("--exit-zero", help="Exit 0 even when there are findings.")
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks of internal errors.")
    ] = False,
) -> None:
    """Check workflows and report findings."""
    from digestgate import engine
    from digestgate.config import ConfigError
    from digestgate.discover import DiscoveryError

    data = b""
    if paths and "-" in paths:
        data = sys.stdin.buffer.read()
    options = engine.Options(
        select=_codes(select),
        ignore=_codes(ignore),
        config_file=config,
        no_config=no_config,
        stdin_filename=stdin_filename,
        stdin=data,
    )
    if config is not None and not config.is_file():
        _fail(f"{config}: configuration file not found")
    try:
        result = engine.check(paths or ["."], options)
    except (ConfigError, DiscoveryError) as exc:
        _fail(str(exc))
    except Exception as exc:
        if debug:
            raise
        from digestgate.repository import PROGRESS

        where = PROGRESS.current or "?"
        _fail(
            f"internal error while checking {where}: {type(exc).__name__}: {exc} "
            "(this is a bug: please report it; --debug shows the traceback)"
        )
    findings = result.findings
    stream = sys.stdout
    if format is Format.json:
        from digestgate.reporters import jsondoc

        text = jsondoc.render(findings, result.files)
    else:
        from digestgate.reporters import text as text_reporter

        text = text_reporter.render(
            findings,
            result.files,
            color=output is None and _use_color(color, stream),
            quiet=quiet,
        )
    if output is not None:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            _fail(f"{output}: cannot write: {exc.strerror or exc}")
    else:
        stream.write(text)
        stream.flush()
    raise typer.Exit(1 if result.failing() and not exit_zero else 0)


@app.command("rules")
def list_rules() -> None:
    """List every rule: code, name, default severity and summary."""
    from digestgate.registry import all_rules

    for r in all_rules():
        typer.echo(f"{r.code}  {r.name:<30} {r.severity.value:<8} {r.summary}")


@app.command("rule")
def show_rule(code: Annotated[str, typer.Argument(help="A rule code, e.g. DG301.")]) -> None:
    """Explain one rule, with examples that are reported and examples that pass."""
    from digestgate.registry import by_code
    from digestgate.ruledocs import markdown

    rules = by_code()
    rule = rules.get(code.strip().upper())
    if rule is None:
        by_name = {r.name: r for r in rules.values()}
        rule = by_name.get(code.strip().lower())
    if rule is None:
        _fail(f"no rule {code!r}; `digestgate rules` lists them")
    typer.echo(markdown(rule), nl=False)


def main() -> None:
    app(prog_name="digestgate")
