"""The command line (typer).

Heavy modules (the engine, YAML, rules) are imported inside the commands, so
`--version` and `--help` stay quick. `digestgate record` and `digestgate verify` (the
runtime check, `digestgate.runtime`) take a leaner path still: `main()` hands them to
the runtime before typer is imported or the app built (`app` is built on first use).

Exit statuses of the typer commands: 0 no finding at or above the failing severity,
1 findings, 2 usage, configuration or internal error. An internal error prints one
line naming the file being read, never a traceback unless `--debug`.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, Optional

from digestgate import version_text

if TYPE_CHECKING:
    import typer

    from digestgate import engine
    from digestgate.baseline import Baseline
    from digestgate.findings import Finding

#: The commands `main()` runs without typer (see `digestgate.runtime`).
RUNTIME_COMMANDS = ("record", "verify")


def _build_app() -> typer.Typer:
    """The typer app with its commands; imports typer (not done at module import, so
    that `digestgate verify` starts without it)."""
    import typer as typer_module

    # The command annotations name `typer`: typer resolves them in this module's globals.
    globals()["typer"] = typer_module
    new = typer_module.Typer(
        name="digestgate",
        help="Lint CI workflows so container images are promoted only by validated digests.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        # Plain click messages: a usage error is one greppable line in a CI log, not a box.
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    new.callback()(main_callback)
    new.command()(check)
    new.command("graph")(graph)
    new.command("rules")(list_rules)
    new.command("rule")(show_rule)
    new.command("lsp")(lsp)
    passthrough = {"ignore_unknown_options": True, "allow_extra_args": True}
    new.command("record", context_settings=passthrough, add_help_option=False)(record)
    new.command("verify", context_settings=passthrough, add_help_option=False)(verify)
    return new


def _app() -> typer.Typer:
    """The app: `app` once built (or replaced, as tests do), else built now."""
    found: typer.Typer | None = globals().get("app")
    if found is None:
        found = _build_app()
        globals()["app"] = found
    return found


def __getattr__(name: str) -> object:
    """`cli.app`, built on first use."""
    if name == "app":
        return _app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class Format(str, Enum):
    text = "text"
    json = "json"
    sarif = "sarif"
    github = "github"


class Color(str, Enum):
    auto = "auto"
    always = "always"
    never = "never"


def _fail(message: str, status: int = 2) -> NoReturn:
    typer.echo(f"digestgate: {message}", err=True)
    raise typer.Exit(status)


def _current_file() -> str | None:
    """The file being read or checked when an error escaped, if any."""
    # Read through sys.modules: the error may have happened before the engine loaded.
    repository = sys.modules.get("digestgate.repository")
    progress = getattr(repository, "PROGRESS", None)
    current = getattr(progress, "current", None)
    return current if isinstance(current, str) else None


def internal_error_message(exc: BaseException, doing: str | None) -> str:
    """One line: what failed, while doing what (`checking <file>`), and that it is a bug."""
    detail = " ".join(f"{type(exc).__name__}: {exc}".split())
    if len(detail) > 300:
        detail = detail[:297] + "..."
    place = f" while {doing}" if doing else ""
    return (
        f"internal error{place}: {detail} "
        "(this is a bug: please report it; --debug shows the traceback)"
    )


def _checking() -> str | None:
    current = _current_file()
    return f"checking {current}" if current else None


def _internal_error(exc: BaseException, doing: str | None, debug: bool) -> NoReturn:
    if debug:
        import traceback  # only for --debug: not on every start

        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    _fail(internal_error_message(exc, doing))


def _version(value: bool) -> None:
    if value:
        typer.echo(version_text())
        raise typer.Exit(0)


def main_callback(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """digestgate: build once, validate that digest, promote only that digest."""


def _codes(values: list[str] | None) -> list[str] | None:
    """`--select A,B --select C` -> [A, B, C]; all empty is `[""]`, which is refused."""
    if values is None:
        return None
    codes = [c.strip().upper() for v in values for c in v.split(",") if c.strip()]
    return codes or [""]


def _use_color(choice: Color, stream: object) -> bool:
    if choice is Color.always:
        return True
    if choice is Color.never or os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def check(
    paths: Annotated[
        Optional[list[str]],  # noqa: UP045 (typer reads the annotation at run time)
        typer.Argument(
            metavar="PATH",
            help="Repositories, folders or files (default: .); - reads stdin.",
            show_default=False,
        ),
    ] = None,
    format: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.text,
    output: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--output", "-o", metavar="FILE", help="Write the report to this file."),
    ] = None,
    select: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(
            metavar="CODES", help="Rule codes or prefixes to enable (replaces the config)."
        ),
    ] = None,
    ignore: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(
            metavar="CODES", help="Rule codes or prefixes to disable (adds to the config)."
        ),
    ] = None,
    config: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--config", metavar="FILE", help="Configuration file (.toml)."),
    ] = None,
    no_config: Annotated[
        bool, typer.Option("--no-config", help="Ignore configuration files.")
    ] = False,
    stdin_filename: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--stdin-filename", metavar="PATH", help="The path that stdin (`-`) stands for."
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print findings only.")] = False,
    color: Annotated[Color, typer.Option("--color", help="Colour the text output.")] = Color.auto,
    exit_zero: Annotated[
        bool, typer.Option("--exit-zero", help="Exit 0 even when there are findings.")
    ] = False,
    baseline: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--baseline", metavar="FILE", help="Report only findings that are not in this file."
        ),
    ] = None,
    write_baseline: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--write-baseline",
            metavar="FILE",
            help="Record today's findings in this file (for --baseline) and exit 0.",
        ),
    ] = None,
    jobs: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(
            "--jobs",
            "-j",
            min=1,
            metavar="N",
            help="Worker processes (default: one per CPU for large runs, else one).",
            show_default=False,
        ),
    ] = None,
    no_cache: Annotated[
        bool,
        typer.Option("--no-cache", help="Neither use nor update the cache of results."),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks of internal errors.")
    ] = False,
) -> None:
    """Check workflows and report findings."""
    from digestgate import engine
    from digestgate.baseline import BaselineError
    from digestgate.baseline import load as load_baseline
    from digestgate.config import ConfigError, check_codes
    from digestgate.discover import DiscoveryError
    from digestgate.registry import RegistryError, known_codes
    from digestgate.repository import PROGRESS

    paths = paths or ["."]
    if "-" in paths and not stdin_filename:
        _fail("reading stdin (`-`) needs --stdin-filename")
    if config is not None and not config.is_file():
        _fail(f"{config}: configuration file not found")
    known: Baseline | None = None
    if baseline is not None and write_baseline is None:  # a bad file fails before the run
        try:
            known = load_baseline(baseline)
        except BaselineError as exc:
            _fail(str(exc))
    try:
        select_codes = _codes(select)
        ignore_codes = _codes(ignore)
        if select_codes is not None:
            check_codes(select_codes, known_codes(), "--select")
        if ignore_codes is not None:
            check_codes(ignore_codes, known_codes(), "--ignore")
    except (ConfigError, RegistryError) as exc:
        _fail(str(exc))
    options = engine.Options(
        select=select_codes,
        ignore=ignore_codes,
        config_file=config,
        no_config=no_config,
        stdin_filename=stdin_filename,
        stdin=sys.stdin.buffer.read() if "-" in paths else b"",
        keep_models=False,
        jobs=jobs,
        cache=not no_cache,
    )
    PROGRESS.current = None  # not a file of an earlier run in this process
    try:
        result = engine.check(paths, options)
    except (ConfigError, DiscoveryError, RegistryError) as exc:
        _fail(str(exc))
    except Exception as exc:
        _internal_error(exc, _checking(), debug)
    findings = result.findings
    if write_baseline is not None:
        _write_baseline(write_baseline, findings)
    failing = {id(f) for f in result.failing()}
    stale: int | None = None
    if known is not None:
        findings, stale = _apply_baseline(known, findings, result)
    try:
        text = _render(
            format,
            findings,
            result.files,
            color=output is None and _use_color(color, sys.stdout),
            quiet=quiet,
            stale=stale,
        )
    except Exception as exc:
        _internal_error(exc, f"writing the {format.value} report", debug)
    if output is not None:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            _fail(f"{output}: cannot write: {exc.strerror or exc}")
    else:
        _write(text, utf8=format is not Format.text)
    if stale and format in (Format.sarif, Format.github):
        from digestgate.reporters.text import stale_note

        typer.echo(f"digestgate: {stale_note(stale)}", err=True)
    fails = any(id(f) in failing for f in findings)
    raise typer.Exit(1 if fails and not exit_zero else 0)


def _write_baseline(file: Path, findings: list[Finding]) -> NoReturn:
    """`--write-baseline`: record the findings, say how many on stderr, exit 0."""
    from digestgate.baseline import BaselineError, write

    try:
        count = write(file, findings)
    except BaselineError as exc:
        _fail(str(exc))
    noun = "entry" if count == 1 else "entries"
    typer.echo(f"digestgate: wrote {count} baseline {noun} to {file}", err=True)
    raise typer.Exit(0)


def _apply_baseline(
    known: Baseline, findings: list[Finding], result: engine.Result
) -> tuple[list[Finding], int]:
    """The findings not in the baseline, and how many of its entries matched nothing."""
    from digestgate.baseline import apply, scope

    applied = apply(findings, known, scope(result.checked(), known.folder))
    return applied.kept, len(applied.stale)


def _render(
    format: Format,
    findings: list[Finding],
    files: int,
    *,
    color: bool,
    quiet: bool,
    stale: int | None,
) -> str:
    """The report in `format`; colour is for text only."""
    if format is Format.json:
        from digestgate.reporters import jsondoc

        return jsondoc.render(findings, files, stale)
    if format is Format.sarif:
        from digestgate.reporters import sarif

        return sarif.render(findings, files)
    if format is Format.github:
        from digestgate.reporters import github

        return github.render(findings, files, quiet=quiet)
    from digestgate.reporters import text as text_reporter

    return text_reporter.render(findings, files, color=color, quiet=quiet, stale=stale or 0)


def _write(text: str, *, utf8: bool) -> None:
    """Print the report: JSON is always UTF-8; text never fails on a narrow terminal."""
    buffer = getattr(sys.stdout, "buffer", None)
    if utf8 and buffer is not None:
        sys.stdout.flush()
        buffer.write(text.encode("utf-8"))
        buffer.flush()
        return
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    if buffer is not None:
        text = text.encode(encoding, "backslashreplace").decode(encoding)
    sys.stdout.write(text)
    sys.stdout.flush()


class GraphFormat(str, Enum):
    text = "text"
    json = "json"
    mermaid = "mermaid"
    dot = "dot"


def graph(
    path: Annotated[str, typer.Argument(help="A repository, a folder or a file in it.")] = ".",
    format: Annotated[
        GraphFormat, typer.Option("--format", "-f", help="Output format.")
    ] = GraphFormat.text,
    output: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--output", "-o", help="Write to this file."),
    ] = None,
    config: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--config", help="Configuration file (.toml)."),
    ] = None,
    no_config: Annotated[
        bool, typer.Option("--no-config", help="Ignore configuration files.")
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks of internal errors.")
    ] = False,
) -> None:
    """Show the pipeline: jobs with their roles, needs, reusable and workflow_run links,
    and where each image and digest comes from."""
    from digestgate import engine
    from digestgate.config import ConfigError
    from digestgate.discover import DiscoveryError, targets

    try:
        (target, *_) = targets([path])
        options = engine.Options(config_file=config, no_config=no_config)
        cfg = engine.load_target_config(target, options)
    except (ConfigError, DiscoveryError) as exc:
        _fail(str(exc))
    try:
        from digestgate.analysis import Analysis
        from digestgate.graph import build_graph
        from digestgate.pipeline import render, view
        from digestgate.repository import read_repository

        repo = read_repository(target, slug=cfg.repository)
        document = view(Analysis(build_graph(repo), cfg), target.display_root)
        text = render(document, format.value)
    except Exception as exc:
        _internal_error(exc, _checking(), debug)
    if output is not None:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            _fail(f"{output}: cannot write: {exc.strerror or exc}")
    else:
        _write(text, utf8=format is not GraphFormat.text)


def list_rules() -> None:
    """List every rule: code, name, default severity and summary."""
    from digestgate.registry import RegistryError, all_rules

    try:
        rules = all_rules()
    except RegistryError as exc:
        _fail(str(exc))
    for r in rules:
        typer.echo(f"{r.code}  {r.name:<30} {r.severity.value:<8} {r.summary}")


def show_rule(
    code: Annotated[str, typer.Argument(metavar="CODE", help="A rule code or name, e.g. DG301.")],
) -> None:
    """Explain one rule, with its reported and passing examples."""
    from digestgate.registry import RegistryError, by_code
    from digestgate.ruledocs import markdown

    try:
        rules = by_code()
    except RegistryError as exc:
        _fail(str(exc))
    rule = rules.get(code.strip().upper())
    if rule is None:
        by_name = {r.name: r for r in rules.values()}
        rule = by_name.get(code.strip().lower())
    if rule is None:
        _fail(f"no rule {code!r}; `digestgate rules` lists them")
    typer.echo(markdown(rule), nl=False)


def lsp(
    stdio: Annotated[
        bool, typer.Option("--stdio", help="Talk over stdin/stdout (the default and only way).")
    ] = False,
) -> None:
    """Run the language server on stdin/stdout (needs the `lsp` extra)."""
    try:
        from digestgate.lsp import serve
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in ("pygls", "lsprotocol"):
            raise
        _fail("digestgate lsp needs the lsp extra: pip install 'digestgate[lsp]'")
    serve()


def _run_runtime(argv: list[str]) -> NoReturn:
    """`digestgate record|verify ...`: the light runtime check, without typer."""
    from digestgate import runtime

    try:
        status = runtime.main(argv)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(status)


def record(ctx: typer.Context) -> None:
    """Write a provenance record of validated images (runs without typer)."""
    _run_runtime(["record", *ctx.args])


def verify(ctx: typer.Context) -> None:
    """Check images to promote against their provenance records."""
    _run_runtime(["verify", *ctx.args])


# `digestgate check` with only the options below is run without building the typer
# app: typer converts every option through a pydantic adapter, which costs a third
# of checking one small workflow (the pre-commit case). Anything else (`--help`, an
# option not listed, a bad value) goes to typer, which parses it or says what is
# wrong; tests/test_cli_fast.py holds both parsers to the same values.
_FAST_FLAGS = {
    "--quiet": "quiet",
    "-q": "quiet",
    "--no-config": "no_config",
    "--exit-zero": "exit_zero",
    "--no-cache": "no_cache",
    "--debug": "debug",
}
_FAST_VALUES: dict[str, tuple[str, Callable[[str], object]]] = {
    "--format": ("format", Format),
    "-f": ("format", Format),
    "--output": ("output", Path),
    "-o": ("output", Path),
    "--select": ("select", str),
    "--ignore": ("ignore", str),
    "--config": ("config", Path),
    "--stdin-filename": ("stdin_filename", str),
    "--color": ("color", Color),
    "--baseline": ("baseline", Path),
    "--write-baseline": ("write_baseline", Path),
    "--jobs": ("jobs", int),
    "-j": ("jobs", int),
}
_FAST_LISTS = ("select", "ignore")


def fast_check_arguments(argv: list[str]) -> dict[str, object] | None:
    """The arguments of `check()` for `digestgate check ARGV`, or None when typer
    must parse them."""
    code = check.__code__
    defaults = check.__defaults__ or ()
    names = code.co_varnames[: code.co_argcount]
    optional = names[len(names) - len(defaults) :]
    values: dict[str, object] = dict(zip(optional, defaults, strict=True))
    paths: list[str] = []
    lists: dict[str, list[str]] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == "-" or not arg.startswith("-"):
            paths.append(arg)
            continue
        name, eq, inline = arg.partition("=")
        if name in _FAST_FLAGS and not eq:
            values[_FAST_FLAGS[name]] = True
            continue
        if name not in _FAST_VALUES or (eq and not name.startswith("--")):
            return None
        if not eq:
            if i >= len(argv):
                return None
            inline = argv[i]
            i += 1
        key, convert = _FAST_VALUES[name]
        try:
            value = convert(inline)
        except ValueError:
            return None
        if key == "jobs" and not (isinstance(value, int) and value >= 1):
            return None
        if key in _FAST_LISTS:
            lists.setdefault(key, []).append(inline)
        else:
            values[key] = value
    if paths:
        values["paths"] = paths
    values.update(lists)
    return values if set(values) == set(names) else None


class _Typer:
    """What `check` uses of typer, for a run without the app: `echo` and `Exit`,
    without importing typer (a tenth of checking one small workflow); anything else
    is typer's own, imported on first use."""

    class Exit(Exception):
        def __init__(self, code: int = 0) -> None:
            super().__init__(code)
            self.exit_code = code

    @staticmethod
    def echo(message: object = None, err: bool = False, nl: bool = True) -> None:
        stream = sys.stderr if err else sys.stdout
        stream.write(("" if message is None else str(message)) + ("\n" if nl else ""))
        stream.flush()

    def __getattr__(self, name: str) -> object:
        import typer as typer_module

        return getattr(typer_module, name)


def _check_without_app(argv: list[str]) -> None:
    """Run `digestgate check ARGV` without the typer app when `fast_check_arguments`
    can read ARGV (exits); return otherwise."""
    arguments = fast_check_arguments(argv)
    if arguments is None:
        return
    names = globals()
    saved = names.get("typer")
    names["typer"] = _Typer()  # what the commands call typer
    try:
        check(**arguments)  # type: ignore[arg-type]
    except _Typer.Exit as exc:
        sys.exit(exc.exit_code)
    finally:  # main() exits; a caller in the same process (a test) gets typer back
        if saved is None:
            names.pop("typer", None)
        else:
            names["typer"] = saved
    sys.exit(0)


def main() -> None:
    """The `digestgate` command: never a traceback unless `--debug`, Ctrl-C exits 130."""
    if sys.argv[1:2] and sys.argv[1] in RUNTIME_COMMANDS:
        _run_runtime(sys.argv[1:])
    if sys.argv[1:] == ["--version"]:  # answered before the command line app is built
        print(version_text())
        sys.exit(0)
    try:
        if sys.argv[1:2] == ["check"]:
            _check_without_app(sys.argv[2:])
        _app()(prog_name="digestgate")
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # a bug outside the checks: still one line, exit 2
        if "--debug" in sys.argv[1:]:
            import traceback

            traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
        print(f"digestgate: {internal_error_message(exc, _checking())}", file=sys.stderr)
        sys.exit(2)


def run() -> None:
    """The console script and `python -m digestgate`: `main()`; after `check`, a hard
    exit once the report is flushed. The interpreter's own exit would free every
    object of the run one by one (0.1-0.5 s after a large check, for nothing); `check`
    has nothing left to do by then: the pool is shut down and cache entries written.
    Other commands (the language server among them) exit normally. Tests call
    `main()`, which raises SystemExit as usual."""
    if sys.argv[1:2] != ["check"]:
        main()
        return
    try:
        main()
        code = 0
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            code = exc.code or 0
        else:  # `sys.exit("message")`: what Python itself does with it
            print(exc.code, file=sys.stderr)
            code = 1
    for stream in (sys.stdout, sys.stderr):
        # a closed pipe: nothing more can be said there
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)
