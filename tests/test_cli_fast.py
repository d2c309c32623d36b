"""`digestgate check` without the typer app (`cli.fast_check_arguments`).

The command line parser of `main()` takes the common `check` options itself, to skip
building the typer app (a third of checking one small file); anything else goes to
typer. Here both parsers read the same command lines and must give `check()` the
same arguments, and what the fast parser declines, typer handles.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main

from conftest import FIXTURES
from digestgate import cli


def typer_arguments(argv: list[str]) -> dict[str, object]:
    """What typer would pass to `check()` for `digestgate check ARGV`."""
    command = typer.main.get_command(cli.app)
    assert isinstance(command, typer.main.TyperGroup)
    check = command.commands["check"]
    ctx = check.make_context("check", list(argv))
    out: dict[str, object] = {}
    for param in check.params:
        assert param.name is not None
        value = ctx.params[param.name]
        # As typer's callback wrapper does: an unused list option is None, others lists.
        if value is not None and (getattr(param, "multiple", False) or param.nargs == -1):
            value = None if param.default is None and not value else list(value)
        out[param.name] = value
    return out


READ_BY_BOTH = [
    [],
    ["."],
    ["repo", "other/repo", ".github/workflows/ci.yml"],
    ["-q", "repo"],
    ["repo", "--quiet", "--no-config", "--exit-zero", "--debug", "--no-cache"],
    ["--format", "json", "repo"],
    ["-f", "sarif", "--output", "out.sarif", "repo"],
    ["--format=github", "-o", "x.txt"],
    ["--select", "DG1,DG2", "--select", "DG301", "--ignore", "DG102"],
    ["--select=DG3", "--ignore=DG304,DG305"],
    ["--config", "ci/digestgate.toml", "repo"],
    ["-", "--stdin-filename", ".github/workflows/ci.yml"],
    ["--color", "never", "-j", "3", "repo"],
    ["--jobs=2", "--color=always"],
    ["--format", "json", "--format", "text"],  # the last one wins, as in click
    ["--baseline", "base.json", "--write-baseline", "new.json"],
]


@pytest.mark.parametrize("argv", READ_BY_BOTH, ids=[" ".join(a) or "-" for a in READ_BY_BOTH])
def test_both_parsers_agree(argv: list[str]) -> None:
    fast = cli.fast_check_arguments(argv)
    assert fast is not None
    assert fast == typer_arguments(argv)


LEFT_TO_TYPER = [
    ["--help"],
    ["-h"],
    ["--format", "xml"],
    ["--color", "sometimes"],
    ["--jobs", "0"],
    ["-j", "two"],
    ["--select"],
    ["--no-such-option"],
    ["-qf", "json"],
    ["-f=json"],
    ["--quiet=yes"],
    ["--", "-weird-path"],
]


@pytest.mark.parametrize("argv", LEFT_TO_TYPER, ids=[" ".join(a) for a in LEFT_TO_TYPER])
def test_the_rest_is_left_to_typer(argv: list[str]) -> None:
    assert cli.fast_check_arguments(argv) is None


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "GITHUB_REPOSITORY")}
    return subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "digestgate", "check", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_fast_path_gives_what_typer_gives(tmp_path: Path) -> None:
    cwd = FIXTURES / "cli"
    fast = _run("repo", "--no-cache", "--format", "json", cwd=cwd)
    slow = _run("--no-cache", "--format", "json", "--", "repo", cwd=cwd)  # `--`: typer
    assert fast.returncode == slow.returncode == 1
    assert fast.stdout == slow.stdout
    assert '"findings"' in fast.stdout
    # The fast path never built the app: typer's pydantic adapters were not imported.
    assert " pydantic" not in fast.stderr
    assert " pydantic" in slow.stderr


def test_errors_found_by_check_itself_are_the_same(tmp_path: Path) -> None:
    missing = _run("no/such/path", cwd=tmp_path)
    assert missing.returncode == 2
    assert "digestgate: no/such/path: no such file or directory" in missing.stderr
    bad_value = _run("--format", "xml", ".", cwd=tmp_path)  # typer's own message
    assert bad_value.returncode == 2
    assert "Invalid value for '--format'" in bad_value.stderr
