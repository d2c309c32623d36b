"""The whole command line, run as users run it: `python -m digestgate` in a subprocess.

Snapshots compare exactly against `tests/fixtures/cli/expected.{txt,json}` (positions
checked by hand); they run from `tests/fixtures/cli` with the relative path `repo`, so
no temporary path appears in them. Internal errors are provoked in-process by
monkeypatching a rule hook.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from typer.testing import CliRunner

import digestgate.shell
from conftest import FIXTURES, write_repo
from digestgate import __version__, cli
from digestgate.registry import all_rules
from digestgate.ruledocs import markdown
from digestgate_rules.dg000_invalid_workflow import InvalidWorkflow

CLI_FIXTURES = FIXTURES / "cli"
ANSI = "\x1b["
# `path:line:col: CODE name: message`
FINDING_LINE = re.compile(r"^(\S+?):(\d+):(\d+): (DG\d{3}) ([a-z0-9-]+): (.+)$")
# Variables that change what digestgate prints; the tests set them explicitly.
_ENV_DROP = ("NO_COLOR", "FORCE_COLOR", "GITHUB_REPOSITORY", "GITHUB_ACTIONS")

CLEAN = """
    name: CI
    on: push
    jobs:
      test:
        runs-on: ubuntu-latest
        steps:
          - run: make test
    """

DUPLICATE_KEY = """
    name: CI
    on: push
    jobs:
      test:
        runs-on: ubuntu-latest
        runs-on: ubuntu-24.04
        steps:
          - run: make test
    """

MISSING_NEED = """
    name: Deploy
    on: push
    jobs:
      deploy:
        needs: [tests]
        runs-on: ubuntu-latest
        steps:
          - run: make deploy
    """


def dedent(text: str) -> str:
    return inspect.cleandoc(text) + "\n"


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _ENV_DROP}
    env.update(extra or {})
    return env


def dg(
    *args: str,
    cwd: Path,
    input: str | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `python -m digestgate ARGS` in `cwd`."""
    return subprocess.run(
        [sys.executable, "-m", "digestgate", *args],
        cwd=cwd,
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=clean_env(env),
        timeout=120,
    )


def codes(stdout: str) -> list[str]:
    return [m.group(4) for line in stdout.splitlines() if (m := FINDING_LINE.match(line))]


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode == 2, proc
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("digestgate: ")
    for needle in needles:
        assert needle in lines[0]


@pytest.fixture
def clean_repo(tmp_path: Path) -> Path:
    return write_repo(tmp_path / "clean", {".github/workflows/ci.yml": CLEAN})


@pytest.fixture
def broken_repo(tmp_path: Path) -> Path:
    return write_repo(
        tmp_path / "broken",
        {".github/workflows/ci.yml": DUPLICATE_KEY, ".github/workflows/deploy.yml": MISSING_NEED},
    )


# --- version, exit statuses ------------------------------------------------------------


# A build compiled with mypyc says so (its analysers are extension modules, not `.py`).
_COMPILED = Path(digestgate.shell.__file__ or "").suffix != ".py"
_VERSION = f"digestgate {__version__}" + (" (compiled with mypyc)" if _COMPILED else "")


def test_version(tmp_path: Path) -> None:
    proc = dg("--version", cwd=tmp_path)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, f"{_VERSION}\n", "")


def test_entry_point(tmp_path: Path, clean_repo: Path) -> None:
    # the script installed beside this interpreter, else the one on PATH
    beside = Path(sys.executable).parent / "digestgate"
    exe = str(beside) if beside.exists() else shutil.which("digestgate")
    assert exe, "the `digestgate` console script is not installed"
    version = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60)
    assert version.stdout == f"{_VERSION}\n"
    proc = subprocess.run(
        [exe, "check", "clean"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert (proc.returncode, proc.stdout) == (0, "No findings in 1 file.\n")


def test_no_findings_exits_0_with_summary(tmp_path: Path, clean_repo: Path) -> None:
    proc = dg("check", "clean", cwd=tmp_path)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "No findings in 1 file.\n", "")


def test_default_path_is_the_current_directory(clean_repo: Path) -> None:
    proc = dg("check", cwd=clean_repo)
    assert (proc.returncode, proc.stdout) == (0, "No findings in 1 file.\n")


def test_findings_exit_1(tmp_path: Path, broken_repo: Path) -> None:
    proc = dg("check", "broken", cwd=tmp_path)
    assert proc.returncode == 1
    assert codes(proc.stdout) == ["DG000", "DG001"]
    assert proc.stdout.splitlines()[-1] == "Found 2 findings (2 errors, 0 warnings) in 2 files."
    assert proc.stderr == ""


def test_exit_zero_still_reports(tmp_path: Path, broken_repo: Path) -> None:
    proc = dg("check", "broken", "--exit-zero", cwd=tmp_path)
    assert proc.returncode == 0
    assert codes(proc.stdout) == ["DG000", "DG001"]


def test_warnings_alone_do_not_fail(tmp_path: Path) -> None:
    write_repo(
        tmp_path,
        {".github/workflows/ci.yml": CLEAN.replace("make test", "make test  # digestgate: ignore")},
    )
    proc = dg("check", ".", cwd=tmp_path)
    assert (proc.returncode, codes(proc.stdout)) == (0, ["DG003"])


def test_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    proc = dg("check", "does-not-exist", cwd=tmp_path)
    assert_one_line_error(proc)
    assert proc.stderr == "digestgate: does-not-exist: no such file or directory\n"


def test_bad_format_is_a_usage_error(tmp_path: Path, clean_repo: Path) -> None:
    proc = dg("check", "clean", "--format", "xml", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    assert "Invalid value for '--format'" in proc.stderr


def test_unknown_command_is_a_usage_error(tmp_path: Path) -> None:
    proc = dg("chek", cwd=tmp_path)
    assert proc.returncode == 2
    assert "No such command 'chek'" in proc.stderr


# --- output ----------------------------------------------------------------------------


def test_output_file(tmp_path: Path, broken_repo: Path) -> None:
    plain = dg("check", "broken", cwd=tmp_path)
    proc = dg("check", "broken", "--output", "report.txt", "--color", "always", cwd=tmp_path)
    assert (proc.returncode, proc.stdout, proc.stderr) == (1, "", "")
    # a file never gets colour codes, even with --color always
    assert (tmp_path / "report.txt").read_text(encoding="utf-8") == plain.stdout

    proc = dg("check", "broken", "-f", "json", "-o", "report.json", cwd=tmp_path)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))["version"] == 1


def test_output_file_that_cannot_be_written(tmp_path: Path, clean_repo: Path) -> None:
    proc = dg("check", "clean", "--output", "no/such/folder/report.txt", cwd=tmp_path)
    assert_one_line_error(proc, "no/such/folder/report.txt", "cannot write")


def test_quiet_prints_findings_only(tmp_path: Path, broken_repo: Path, clean_repo: Path) -> None:
    proc = dg("check", "broken", "--quiet", cwd=tmp_path)
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert len(lines) == 2
    assert all(FINDING_LINE.match(line) for line in lines)
    proc = dg("check", "clean", "-q", cwd=tmp_path)
    assert (proc.returncode, proc.stdout) == (0, "")


def test_text_lines_are_sorted_and_shaped(tmp_path: Path) -> None:
    # files and findings written out of order on purpose
    write_repo(
        tmp_path,
        {
            ".github/workflows/z.yml": MISSING_NEED,
            ".github/workflows/a.yml": DUPLICATE_KEY,
            ".github/workflows/m.yml": """
                on: push
                jobs:
                  b:
                    needs: [nope]
                    runs-on: ubuntu-latest
                    steps:
                      - uses: ./missing
                  a:
                    needs: [gone]
                    runs-on: ubuntu-latest
                    steps:
                      - run: true
                """,
        },
    )
    proc = dg("check", ".", "-q", cwd=tmp_path)
    assert proc.returncode == 1
    found = []
    for line in proc.stdout.splitlines():
        m = FINDING_LINE.match(line)
        assert m, f"not `path:line:col: CODE name: message`: {line!r}"
        found.append((m.group(1), int(m.group(2)), int(m.group(3)), m.group(4)))
    assert found == sorted(found)
    assert [(p, ln) for p, ln, _, _ in found] == [
        (".github/workflows/a.yml", 6),
        (".github/workflows/m.yml", 4),
        (".github/workflows/m.yml", 7),
        (".github/workflows/m.yml", 9),
        (".github/workflows/z.yml", 5),
    ]


# --- colour ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "env", "coloured"),
    [
        (["--color", "always"], {}, True),
        (["--color", "always"], {"NO_COLOR": "1"}, True),  # an explicit flag wins
        (["--color", "never"], {}, False),
        ([], {}, False),  # auto, and the output is a pipe
    ],
)
def test_color_on_a_pipe(
    tmp_path: Path, broken_repo: Path, args: list[str], env: dict[str, str], coloured: bool
) -> None:
    proc = dg("check", "broken", *args, cwd=tmp_path, env=env)
    assert proc.returncode == 1
    assert (ANSI in proc.stdout) is coloured
    if not coloured:
        assert codes(proc.stdout) == ["DG000", "DG001"]


def run_on_tty(args: list[str], cwd: Path, env: Mapping[str, str]) -> str:
    """Run digestgate with stdout on a pseudo-terminal and return what it printed."""
    pty = pytest.importorskip("pty")
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "digestgate", *args],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=slave,
            stderr=subprocess.PIPE,
            env=clean_env(env),
        )
        os.close(slave)
        chunks = []
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert proc.wait(timeout=120) == 1
    finally:
        os.close(master)
    return b"".join(chunks).decode("utf-8")


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
@pytest.mark.parametrize(
    ("env", "coloured"),
    [({}, True), ({"NO_COLOR": "1"}, False), ({"NO_COLOR": ""}, True)],
    ids=["auto", "NO_COLOR=1", "NO_COLOR-empty"],
)
def test_color_on_a_terminal(
    tmp_path: Path, broken_repo: Path, env: dict[str, str], coloured: bool
) -> None:
    out = run_on_tty(["check", "broken"], tmp_path, env)
    assert "DG000" in out
    assert (ANSI in out) is coloured


# --- rule selection --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--select", "DG001"], {"DG001"}),
        (["--select", "dg001"], {"DG001"}),
        (["--select", "DG000,DG003"], {"DG000", "DG003"}),
        (["--select", "DG000", "--select", "DG003"], {"DG000", "DG003"}),
        (["--select", "DG00"], {"DG000", "DG001", "DG002", "DG003"}),
        # the suppression names DG001; with DG001 off it is not judged (no DG002)
        (["--ignore", "DG001", "--ignore", "DG000"], {"DG003"}),
        (["--ignore", "DG001,DG000"], {"DG003"}),
        (["--ignore", "DG00"], set()),
        (["--select", "DG0", "--ignore", "DG001,DG002"], {"DG000", "DG003"}),
    ],
)
def test_select_and_ignore(args: list[str], expected: set[str]) -> None:
    proc = dg("check", "repo", "-q", *args, cwd=CLI_FIXTURES)
    assert set(codes(proc.stdout)) == expected
    assert proc.returncode == (1 if expected & {"DG000", "DG001"} else 0)


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--select", "DG9"], ("--select", "DG9", "matches no rule code")),
        (["--ignore", "DG001,XY1"], ("--ignore", "XY1")),
        (["--select", ","], ("--select", "empty rule code")),
    ],
)
def test_unknown_selectors_are_usage_errors(args: list[str], needles: tuple[str, ...]) -> None:
    assert_one_line_error(dg("check", "repo", *args, cwd=CLI_FIXTURES), *needles)


# --- stdin -----------------------------------------------------------------------------


def test_stdin_replaces_the_named_file(tmp_path: Path, broken_repo: Path) -> None:
    # on disk ci.yml has a duplicate key; the editor's unsaved text is clean
    name = "broken/.github/workflows/ci.yml"
    proc = dg("check", "-", "--stdin-filename", name, cwd=tmp_path, input=dedent(CLEAN))
    assert (proc.returncode, proc.stdout) == (0, "No findings in 2 files.\n")

    # and the other way round: findings in the stdin text are named with that path
    write_repo(tmp_path / "ok", {".github/workflows/ci.yml": CLEAN})
    text = (broken_repo / ".github/workflows/ci.yml").read_text(encoding="utf-8")
    proc = dg(
        "check", "-", "--stdin-filename", "ok/.github/workflows/ci.yml", cwd=tmp_path, input=text
    )
    assert proc.returncode == 1
    assert proc.stdout.splitlines()[0] == (
        "ok/.github/workflows/ci.yml:6:5: DG000 invalid-workflow: "
        "duplicate key 'runs-on' (first defined on line 5)"
    )


def test_stdin_file_that_is_not_on_disk(tmp_path: Path, clean_repo: Path) -> None:
    proc = dg(
        "check",
        "-",
        "--stdin-filename",
        "clean/.github/workflows/new.yml",
        cwd=tmp_path,
        input=dedent(MISSING_NEED),
    )
    assert proc.returncode == 1
    assert proc.stdout.splitlines()[0].startswith("clean/.github/workflows/new.yml:5:13: DG001 ")


def test_stdin_without_a_filename_is_a_usage_error(tmp_path: Path) -> None:
    # the pipe stays open: digestgate must refuse before it waits for stdin
    proc = subprocess.Popen(
        [sys.executable, "-m", "digestgate", "check", "-"],
        cwd=tmp_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
    )
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("digestgate waited for stdin instead of refusing `-` without a filename")
    finally:
        proc.kill()
        out, err = proc.communicate()
    assert proc.returncode == 2
    assert out == ""
    assert err == "digestgate: reading stdin (`-`) needs --stdin-filename\n"


# --- which files are reported ----------------------------------------------------------


def test_a_single_file_reads_the_whole_repository(tmp_path: Path) -> None:
    write_repo(
        tmp_path,
        {
            # the workflow_run partner of release.yml, with a finding of its own
            ".github/workflows/ci.yml": MISSING_NEED.replace("name: Deploy", "name: CI"),
            ".github/workflows/release.yml": """
                name: Release
                on:
                  workflow_run:
                    workflows: [CI]
                    types: [completed]
                jobs:
                  release:
                    runs-on: ubuntu-latest
                    steps:
                      - run: echo release
                """,
        },
    )
    proc = dg("check", ".github/workflows/release.yml", cwd=tmp_path)
    # CI was found (no DG001 on release.yml) and ci.yml's own finding is not reported
    assert (proc.returncode, proc.stdout) == (0, "No findings in 2 files.\n")
    proc = dg("check", ".github/workflows/ci.yml", "-q", cwd=tmp_path)
    assert proc.returncode == 1
    assert [line.split(":")[0] for line in proc.stdout.splitlines()] == [".github/workflows/ci.yml"]


def test_several_repositories_in_one_run(tmp_path: Path, broken_repo: Path) -> None:
    write_repo(tmp_path / "a", {".github/workflows/deploy.yml": MISSING_NEED})
    proc = dg("check", "broken", "a", "-q", cwd=tmp_path)
    assert proc.returncode == 1
    assert [line.split(":")[0] for line in proc.stdout.splitlines()] == [
        "a/.github/workflows/deploy.yml",
        "broken/.github/workflows/ci.yml",
        "broken/.github/workflows/deploy.yml",
    ]
    proc = dg("check", "broken", "a", cwd=tmp_path)
    assert proc.stdout.splitlines()[-1] == "Found 3 findings (3 errors, 0 warnings) in 3 files."


# --- configuration ---------------------------------------------------------------------


def test_config_with_an_unknown_key(tmp_path: Path, clean_repo: Path) -> None:
    (tmp_path / "dg.toml").write_text('select = ["DG0"]\nselct = ["DG001"]\n', encoding="utf-8")
    proc = dg("check", "clean", "--config", "dg.toml", cwd=tmp_path)
    assert_one_line_error(proc, "dg.toml:2", "selct", "unknown key", "did you mean 'select'?")


def test_config_found_at_the_repository_root(tmp_path: Path, broken_repo: Path) -> None:
    (broken_repo / ".digestgate.toml").write_text('ignore = ["DG000"]\n', encoding="utf-8")
    proc = dg("check", "broken", "-q", cwd=tmp_path)
    assert codes(proc.stdout) == ["DG001"]
    proc = dg("check", "broken", "-q", "--no-config", cwd=tmp_path)
    assert codes(proc.stdout) == ["DG000", "DG001"]


def test_config_file_that_does_not_exist(tmp_path: Path, clean_repo: Path) -> None:
    proc = dg("check", "clean", "--config", "nope.toml", cwd=tmp_path)
    assert_one_line_error(proc, "nope.toml", "not found")


# --- rules and rule ----------------------------------------------------------------------


def test_rules_lists_every_rule(tmp_path: Path) -> None:
    proc = dg("rules", cwd=tmp_path)
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    rules = all_rules()
    assert len(lines) == len(rules)
    for line, rule in zip(lines, rules, strict=True):
        assert line.split()[:3] == [rule.code, rule.name, rule.severity.value]
        assert line.endswith(rule.summary)


@pytest.mark.parametrize("spelling", ["DG001", "dg001", "broken-graph"])
def test_rule_prints_its_doc(tmp_path: Path, spelling: str) -> None:
    proc = dg("rule", spelling, cwd=tmp_path)
    rule = {r.code: r for r in all_rules()}["DG001"]
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, markdown(rule), "")


def test_unknown_rule(tmp_path: Path) -> None:
    proc = dg("rule", "DG999", cwd=tmp_path)
    assert_one_line_error(proc, "DG999", "digestgate rules")


# --- snapshots -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [((), "expected.txt"), (("--format", "json"), "expected.json")],
    ids=["text", "json"],
)
def test_snapshot(args: tuple[str, ...], expected: str) -> None:
    proc = dg("check", "repo", *args, cwd=CLI_FIXTURES)
    assert proc.returncode == 1
    assert proc.stderr == ""
    want = (CLI_FIXTURES / expected).read_text(encoding="utf-8")
    assert proc.stdout == want, f"output differs from tests/fixtures/cli/{expected}"


# --- internal errors ---------------------------------------------------------------------


def assert_internal_error(stderr: str, detail: str) -> None:
    """One line naming the workflow being checked, the exception, and that it is a bug."""
    assert "Traceback" not in stderr
    assert stderr.count("\n") == 1 and stderr.endswith("\n")
    m = re.fullmatch(
        r"digestgate: internal error while checking (.+?)(?: \(DG000\))?: (.*) "
        r"\(this is a bug: please report it; --debug shows the traceback\)\n",
        stderr,
    )
    assert m, stderr
    assert m.group(1).endswith(".github/workflows/ci.yml")
    assert m.group(2) == detail


def _boom(*args: object) -> Iterator[object]:
    raise RuntimeError("boom\nsecond line")


def test_internal_error_is_one_line(monkeypatch: pytest.MonkeyPatch, clean_repo: Path) -> None:
    monkeypatch.setattr(InvalidWorkflow, "check_workflow", _boom)
    result = CliRunner().invoke(cli.app, ["check", str(clean_repo)])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "Traceback" not in result.output
    assert_internal_error(result.stderr, "RuntimeError: boom second line")


def test_internal_error_with_debug_shows_the_traceback(
    monkeypatch: pytest.MonkeyPatch, clean_repo: Path
) -> None:
    monkeypatch.setattr(InvalidWorkflow, "check_workflow", _boom)
    result = CliRunner().invoke(cli.app, ["check", str(clean_repo), "--debug"])
    assert result.exit_code == 2
    assert "Traceback (most recent call last)" in result.stderr
    assert "in _boom" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("digestgate: internal error while checking")


def test_internal_error_in_a_reporter(monkeypatch: pytest.MonkeyPatch, clean_repo: Path) -> None:
    from digestgate.reporters import jsondoc

    monkeypatch.setattr(jsondoc, "render", _boom)
    result = CliRunner().invoke(cli.app, ["check", str(clean_repo), "--format", "json"])
    assert result.exit_code == 2
    assert result.stderr.startswith(
        "digestgate: internal error while writing the json report: RuntimeError: boom"
    )
    assert len(result.stderr.splitlines()) == 1


def test_internal_error_through_the_real_entry_point(tmp_path: Path, clean_repo: Path) -> None:
    # a subprocess, so nothing of pytest's stands between main() and the terminal
    script = (
        "import sys\n"
        "from digestgate_rules.dg000_invalid_workflow import InvalidWorkflow\n"
        "def boom(*a):\n"
        "    raise KeyError('x')\n"
        "InvalidWorkflow.check_workflow = boom\n"
        "from digestgate.cli import main\n"
        "sys.argv = ['digestgate', *sys.argv[1:]]\n"
        "main()\n"
    )
    run = [sys.executable, "-c", script, "check", "clean"]
    proc = subprocess.run(run, cwd=tmp_path, capture_output=True, text=True, env=clean_env())
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert_internal_error(proc.stderr, "KeyError: 'x'")
    proc = subprocess.run([*run, "--debug"], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback (most recent call last)" in proc.stderr


def test_main_catches_what_escapes_the_app(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken_app(**kwargs: object) -> None:
        raise ValueError("outside any command")

    monkeypatch.setattr(cli, "app", broken_app)
    monkeypatch.setattr(sys, "argv", ["digestgate", "rules"])
    monkeypatch.setattr(cli, "_current_file", lambda: None)
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "digestgate: internal error: ValueError: outside any command "
        "(this is a bug: please report it; --debug shows the traceback)\n"
    )

    monkeypatch.setattr(sys, "argv", ["digestgate", "rules", "--debug"])
    with pytest.raises(SystemExit):
        cli.main()
    assert "Traceback (most recent call last)" in capsys.readouterr().err


def test_ctrl_c_exits_130_quietly(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], clean_repo: Path
) -> None:
    from digestgate import engine

    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt

    # inside a command (typer's handling) ...
    monkeypatch.setattr(engine, "check", interrupted)
    monkeypatch.setattr(sys, "argv", ["digestgate", "check", str(clean_repo)])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    assert exit_info.value.code == 130
    # ... and outside one (main's)
    monkeypatch.setattr(cli, "app", lambda **kwargs: interrupted())
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    assert exit_info.value.code == 130
    assert "Traceback" not in capsys.readouterr().err


def test_check_exits_hard_only_after_the_whole_report_is_out(tmp_path: Path) -> None:
    """`python -m digestgate check` ends with `os._exit` (no interpreter teardown): the
    report must still arrive whole, on a pipe and in a file, with the right status."""
    files = {
        f".github/workflows/w{i:03}.yml": f"""
            on: push
            jobs:
              unit:
                runs-on: ubuntu-latest
                container: ghcr.io/acme/tool-{i}:v1
                steps:
                  - run: make test
            """
        for i in range(300)
    }
    repo = write_repo(tmp_path / "repo", {**files, ".digestgate.toml": 'fail-on = "warning"'})
    proc = dg("check", "--no-cache", "--select", "DG101", "-f", "json", ".", cwd=repo)
    assert proc.returncode == 1, proc.stderr
    found = json.loads(proc.stdout)["findings"]
    assert len(found) == 300  # one tag-pinned container per workflow
    assert {f["path"] for f in found} == set(files)
    report = tmp_path / "report.txt"
    proc = dg("check", "--select", "DG101", "-o", str(report), ".", cwd=repo)
    assert proc.returncode == 1, proc.stderr
    assert len(codes(report.read_text(encoding="utf-8"))) == 300
    clean = write_repo(
        tmp_path / "clean",
        {
            ".github/workflows/ok.yml": files[".github/workflows/w000.yml"].replace(
                ":v1", "@sha256:" + "a" * 64
            )
        },
    )
    assert dg("check", "--no-config", ".", cwd=clean).returncode == 0
    assert dg("check", "--no-config", ".", cwd=repo).returncode == 0  # warnings only
    missing = dg("check", "no-such-folder", cwd=tmp_path)
    assert missing.returncode == 2 and "no-such-folder" in missing.stderr
