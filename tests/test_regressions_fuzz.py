"""Inputs that once crashed, hung or got through, found by the property tests
(test_properties.py, test_verify_properties.py) and bench/hostile.py; each is kept
here as an ordinary test beside the fix it needed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_check, write_repo
from digestgate import loader, repository, runtime
from digestgate.loader import LoadError, load_bytes, load_text
from digestgate.nodes import YScalar
from digestgate.shell import analyse, file_locator
from digestgate.span import Span

CI = ".github/workflows/ci.yml"


# --- loader: line breaks the parsers count and files do not --------------------------
# libyaml breaks lines at U+0085, U+2028 and U+2029 too (the pure parser only in some
# places); spans taken from the parsers' line numbers pointed past the end of the file
# (IndexError, an internal error for the whole run). Spans now come from character
# indices, counted by the file's own lines.


@pytest.mark.parametrize("pure", [False, True])
def test_line_separator_before_a_list_is_a_clean_result(
    pure: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loader, "_PURE", pure)
    with pytest.raises(LoadError) as info:  # was IndexError
        load_bytes("\u2028- ".encode(), "x.yml")
    assert info.value.message == "the top level is a list; expected a mapping"
    assert info.value.span == Span(1, 2, 1, 4)


@pytest.mark.parametrize("pure", [False, True])
@pytest.mark.parametrize("separator", ["\u2028", "\u2029"])
def test_spans_count_only_newlines(
    pure: bool, separator: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loader, "_PURE", pure)
    text = f'a: "x{separator}y"\nb: [1, 2]\nc: z\n'
    root = load_text(text, "x.yml").root
    a, b, c = (root.get(k) for k in "abc")
    assert isinstance(a, YScalar) and a.value == f"x{separator}y"
    assert a.span == Span(1, 4, 1, 9)  # `"x` sep `y"`: columns 4 to 8
    assert b is not None and b.span == Span(2, 4, 2, 10)
    assert isinstance(c, YScalar) and c.span == Span(3, 4, 3, 5)


def test_line_separator_in_a_workflow_through_the_command_line(tmp_path: Path) -> None:
    write_repo(
        tmp_path,
        {
            CI: "on: push\n# note\njobs:\n  a:\n    runs-on: x\n    steps:\n"
            '      - run: "docker push ghcr.io/acme/app:1 \u2028\u2029"\n'
        },
        dedent=False,
    )
    proc = subprocess.run(
        [sys.executable, "-m", "digestgate", "check", "--no-config", "--no-cache", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    assert "internal error" not in proc.stderr
    assert f"{CI}:7:" in proc.stdout  # the push, on line 7 as an editor counts


# --- shell: tree-sitter-bash read outside a table for characters above U+00FF ---------
# `{` then U+E0067 made the process die (SIGSEGV/SIGBUS, no message at all) about half
# the time; the parser now sees non-ASCII bytes as ".".

CRASHERS = ["{\U000e0067", "{\U000ddf33", "{\U0010ffff", "\x07\x1dn\xaa\n\U000df0ec{\U000ddf33"]


def test_tree_sitter_never_sees_a_character_above_ascii() -> None:
    script = (
        "import json, sys\n"
        "from digestgate.shell import analyse, file_locator\n"
        "for src in json.loads(sys.argv[1]) * 100:\n"
        "    analyse(src, 's.sh', file_locator(src))\n"
        "print('done')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, json.dumps(CRASHERS)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (proc.returncode, proc.stdout) == (0, "done\n"), proc.stderr[-2000:]


def test_non_ascii_words_keep_their_text_and_spans() -> None:
    src = "docker push ghcr.io/acme/café:été ${{ x }}\ncat <<É\nvalue é\nÉ\necho {\U000e0067}\n"
    result = analyse(src, "s.sh", file_locator(src))
    assert not result.errors
    push, cat, echo = result.commands
    assert [a.text for a in push.argv] == ["docker", "push", "ghcr.io/acme/café:été", "${{ x }}"]
    assert push.argv[2].span == Span(1, 13, 1, 34)
    assert push.argv[3].pieces[0].span == Span(1, 35, 1, 43)
    assert cat.stdin is not None and cat.stdin.text == "value é"
    assert [a.text for a in echo.argv] == ["echo", "{\U000e0067}"]


# --- repository: what is read at all ---------------------------------------------------
# A file whose size says gigabytes was read whole before the size check (4 GB of RSS for
# a sparse file); a symbolic link out of the repository was followed (a pull request
# could point a workflow at a file of the runner).


def test_a_huge_file_is_refused_without_reading_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_repo(tmp_path, {CI: "on: push\njobs: {}\n"}, dedent=False)
    with (tmp_path / ".github/workflows/huge.yml").open("wb") as handle:
        handle.truncate(8 * 1024**3)  # sparse
    opened: list[str] = []

    def spy(file: object, *args: object, **kwargs: object) -> object:
        opened.append(Path(str(file)).name)
        return open(file, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(repository, "open", spy, raising=False)
    found = {f.path: f.message for f in run_check(tmp_path)}
    assert "8,589,934,592 bytes" in found[".github/workflows/huge.yml"]
    assert opened == ["ci.yml"]


def test_a_link_out_of_the_repository_is_not_read(tmp_path: Path) -> None:
    outside = tmp_path / "outside.yml"
    outside.write_text("on: push\njobs:\n  a: {runs-on: x, steps: [run: 'docker push a:1']}\n")
    repo = tmp_path / "repo"
    write_repo(repo, {".github/workflows/real.yml": outside.read_text()}, dedent=False)
    (repo / ".github/workflows/link.yml").symlink_to(outside)
    (repo / ".github/workflows/inside.yml").symlink_to("real.yml")
    found = {f.path: f for f in run_check(repo)}
    link = found[".github/workflows/link.yml"]
    assert (link.code, link.message) == (
        "DG000",
        "a symbolic link to a file outside the repository: not read",
    )
    assert found[".github/workflows/inside.yml"].code != "DG000"  # links inside are fine


# --- graph: a cycle of 10,000 jobs made one 89,000-character message ------------------


def test_a_long_needs_cycle_is_named_briefly(tmp_path: Path) -> None:
    jobs = "".join(
        f"  j{i}: {{needs: j{(i - 1) % 1000}, runs-on: u, steps: [run: t]}}\n" for i in range(1000)
    )
    write_repo(tmp_path, {CI: "on: push\njobs:\n" + jobs}, dedent=False)
    (finding,) = [f for f in run_check(tmp_path) if f.code == "DG001"]
    assert finding.message.startswith("`needs` cycle: j0 -> j999 -> j998 -> ")
    assert finding.message.endswith(" -> ... (1,000 jobs) -> j1 -> j0")
    assert len(finding.message) < 250


# --- verify: records that were malformed, or for another server, and still verified ---

HEX = "a" * 64
COMMIT = "c" * 40
ENV = {"GITHUB_REPOSITORY": "o/r", "GITHUB_SHA": COMMIT}
IMAGE = f"ghcr.io/o/app@sha256:{HEX}"


def _verify(tmp_path: Path, doc: object, env: dict[str, str] | None = None) -> int:
    path = tmp_path / "record.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return runtime.main(["verify", "--record", str(path), "--image", IMAGE], env or ENV)


def _statement() -> dict[str, object]:
    context = runtime.Context(repository="o/r", commit=COMMIT)
    return runtime.build_statement([runtime.Subject("ghcr.io/o/app", HEX)], context, passed=True)


def test_the_unchanged_statement_verifies(tmp_path: Path) -> None:
    assert _verify(tmp_path, _statement()) == 0


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("verifier", None, "no verifier.id"),
        ("verifier", {"id": ""}, "no verifier.id"),
        ("timeVerified", 1700000000, "is not a timestamp"),
        ("timeVerified", "yesterday", "is not a timestamp"),
        ("policy", "https://example.com", "no policy.uri"),
        ("verifiedLevels", [], "PASSED without the level DIGESTGATE_VALIDATED"),
        ("verifiedLevels", "DIGESTGATE_VALIDATED", "not a list of strings"),
        ("slsaVersion", 1.0, "slsaVersion is not a string"),
        ("digestgate", {"checks": "e2e"}, "digestgate.checks is not a list of strings"),
        ("digestgate", {"run": {"runId": 7}}, "digestgate.run is not an object of strings"),
    ],
)
def test_a_malformed_summary_blocks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], field: str, value: object, reason: str
) -> None:
    doc = _statement()
    predicate = doc["predicate"]
    assert isinstance(predicate, dict)
    predicate[field] = value
    assert _verify(tmp_path, doc) == 1
    assert reason in capsys.readouterr().err


def test_a_record_for_another_server_blocks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = _statement()
    predicate = doc["predicate"]
    assert isinstance(predicate, dict)
    predicate["resourceUri"] = f"git+https://git.example.com/o/r@{COMMIT}"
    assert _verify(tmp_path, doc) == 1
    assert "is for a repository on https://git.example.com, not https://github.com" in (
        capsys.readouterr().err
    )
    # the same record verifies where that server is the running one
    assert _verify(tmp_path, doc, {**ENV, "GITHUB_SERVER_URL": "https://git.example.com/"}) == 0


def test_unrecognised_fields_are_ignored(tmp_path: Path) -> None:
    doc = _statement()
    doc["https://example.com/extension"] = {"any": ["thing"]}
    predicate = doc["predicate"]
    assert isinstance(predicate, dict) and isinstance(predicate["verifier"], dict)
    predicate["inputAttestations"] = []
    predicate["verifier"]["note"] = 1
    assert _verify(tmp_path, doc) == 0
