"""Baselines through the whole CLI: `--write-baseline FILE` records today's findings,
`--baseline FILE` reports only new ones and counts entries that no longer match.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from conftest import write_repo
from digestgate.baseline import VERSION
from test_cli import assert_one_line_error, codes, dg
from test_sarif import TAGGED_CONTAINER, TAGGED_REPO

# DG101 at ci.yml:5:16 (an image this project owns, by tag), DG001 at ci.yml:9:13
# (`tests` is no job), DG101 at lint.yml:5:16
CI = (
    TAGGED_CONTAINER.rstrip()
    + """
      deploy:
        needs: [tests]
        runs-on: ubuntu-latest
        steps:
          - run: make deploy
    """
)
LINT = """
    on: push
    jobs:
      lint:
        runs-on: ubuntu-latest
        container: ghcr.io/acme/lint:1
        steps:
          - run: make lint
    """
NEW_JOB = """
  smoke:
    runs-on: ubuntu-latest
    container: ghcr.io/acme/app:2
    steps:
      - run: ./smoke
"""
JSON_SCHEMA = Path(__file__).parent.parent / "docs" / "schema" / "output-v1.schema.json"
STALE_ONE = "1 baseline entry no longer matches (remove them with --write-baseline)"


def make_repo(root: Path) -> Path:
    return write_repo(
        root,
        {
            ".github/workflows/ci.yml": CI,
            ".github/workflows/lint.yml": LINT,
            ".digestgate.toml": TAGGED_REPO[".digestgate.toml"],
        },
    )


def write_baseline(cwd: Path, *args: str, file: str = "baseline.json") -> dict[str, Any]:
    proc = dg("check", *args, "--write-baseline", file, cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    doc: dict[str, Any] = json.loads((cwd / file).read_text(encoding="utf-8"))
    count = len(doc["entries"])
    noun = "entry" if count == 1 else "entries"
    assert proc.stderr == f"digestgate: wrote {count} baseline {noun} to {file}\n"
    return doc


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo")


def test_write_then_check_with_the_baseline(repo: Path) -> None:
    before = dg("check", cwd=repo)
    assert before.returncode == 1
    assert codes(before.stdout) == ["DG101", "DG001", "DG101"]

    doc = write_baseline(repo)
    assert doc["version"] == VERSION
    assert [(e["root"], e["path"], e["code"]) for e in doc["entries"]] == [
        (".", ".github/workflows/ci.yml", "DG001"),
        (".", ".github/workflows/ci.yml", "DG101"),
        (".", ".github/workflows/lint.yml", "DG101"),
    ]
    fingerprints = json.loads(dg("check", "-f", "json", cwd=repo).stdout)["findings"]
    assert sorted(e["fingerprint"] for e in doc["entries"]) == sorted(
        f["fingerprint"] for f in fingerprints
    )
    assert all(set(e) == {"root", "path", "code", "fingerprint", "message"} for e in doc["entries"])

    proc = dg("check", "--baseline", "baseline.json", cwd=repo)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "No findings in 2 files.\n", "")


def test_a_new_finding_is_reported_alone(repo: Path) -> None:
    write_baseline(repo)
    workflow = repo / ".github/workflows/ci.yml"
    workflow.write_text(workflow.read_text(encoding="utf-8") + NEW_JOB.lstrip("\n"), "utf-8")
    proc = dg("check", "--baseline", "baseline.json", cwd=repo)
    assert proc.returncode == 1
    first, summary = proc.stdout.splitlines()
    assert first.startswith(".github/workflows/ci.yml:15:16: DG101 mutable-image-ref: ")
    assert "`ghcr.io/acme/app:2`" in first
    assert summary == "Found 1 finding (1 error, 0 warnings) in 2 files."


def test_moved_findings_stay_baselined(repo: Path) -> None:
    write_baseline(repo)
    workflow = repo / ".github/workflows/ci.yml"
    text = workflow.read_text(encoding="utf-8")
    workflow.write_text("# a comment\n\n" + text.replace("jobs:\n", "jobs:\n" + NEW_JOB[1:]))
    proc = dg("check", "--baseline", "baseline.json", "-q", cwd=repo)
    # only the new job's finding; the old ones moved down by 7 lines and still match
    assert proc.stdout.startswith(".github/workflows/ci.yml:7:16: DG101 ")
    assert codes(proc.stdout) == ["DG101"]


def test_fixed_findings_are_counted_as_stale(repo: Path) -> None:
    write_baseline(repo)
    workflow = repo / ".github/workflows/ci.yml"
    workflow.write_text(workflow.read_text(encoding="utf-8").replace("[tests]", "[test]"))

    proc = dg("check", "--baseline", "baseline.json", cwd=repo)
    assert (proc.returncode, proc.stderr) == (0, "")
    assert proc.stdout == f"No findings in 2 files; {STALE_ONE}.\n"

    doc = json.loads(dg("check", "-f", "json", "--baseline", "baseline.json", cwd=repo).stdout)
    assert doc["summary"]["baseline_stale"] == 1
    schema = json.loads(JSON_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.validate(doc, schema)  # a key added within version 1
    assert doc["findings"] == []
    # without --baseline the key is absent
    plain = json.loads(dg("check", "-f", "json", cwd=repo).stdout)
    assert "baseline_stale" not in plain["summary"]

    for fmt in ("sarif", "github"):
        proc = dg("check", "-f", fmt, "--baseline", "baseline.json", cwd=repo)
        assert proc.returncode == 0
        assert proc.stderr == f"digestgate: {STALE_ONE}\n"

    # rewriting the baseline drops the stale entry
    doc = write_baseline(repo)
    assert [e["code"] for e in doc["entries"]] == ["DG101", "DG101"]
    proc = dg("check", "--baseline", "baseline.json", cwd=repo)
    assert proc.stdout == "No findings in 2 files.\n"


def test_new_findings_with_stale_entries(repo: Path) -> None:
    write_baseline(repo)
    workflow = repo / ".github/workflows/ci.yml"
    text = workflow.read_text(encoding="utf-8").replace("[tests]", "[test]")
    workflow.write_text(text + NEW_JOB.lstrip("\n"))
    proc = dg("check", "--baseline", "baseline.json", cwd=repo)
    assert proc.returncode == 1
    assert proc.stdout.splitlines()[-1] == (
        f"Found 1 finding (1 error, 0 warnings) in 2 files; {STALE_ONE}."
    )


def test_rewriting_after_unrelated_edits_changes_nothing(repo: Path) -> None:
    write_baseline(repo)
    first = (repo / "baseline.json").read_bytes()
    workflow = repo / ".github/workflows/ci.yml"
    workflow.write_text("# unrelated\n" + workflow.read_text(encoding="utf-8"))
    write_baseline(repo)
    assert (repo / "baseline.json").read_bytes() == first


def test_a_file_checked_alone_matches_the_whole_repository_baseline(repo: Path) -> None:
    # pre-commit passes files: same fingerprints, and the other file's entry is not stale
    write_baseline(repo)
    proc = dg("check", ".github/workflows/ci.yml", "--baseline", "baseline.json", cwd=repo)
    assert (proc.returncode, proc.stdout) == (0, "No findings in 2 files.\n")
    alone = json.loads(dg("check", ".github/workflows/lint.yml", "-f", "json", cwd=repo).stdout)
    whole = json.loads(dg("check", "-f", "json", cwd=repo).stdout)
    lint = [f["fingerprint"] for f in whole["findings"] if f["path"].endswith("lint.yml")]
    assert [f["fingerprint"] for f in alone["findings"]] == lint

    # a fixed finding in the file given is stale; the other file is not looked at
    workflow = repo / ".github/workflows/ci.yml"
    workflow.write_text(workflow.read_text(encoding="utf-8").replace("[tests]", "[test]"))
    proc = dg("check", ".github/workflows/ci.yml", "--baseline", "baseline.json", cwd=repo)
    assert proc.stdout == f"No findings in 2 files; {STALE_ONE}.\n"
    proc = dg("check", ".github/workflows/lint.yml", "--baseline", "baseline.json", cwd=repo)
    assert proc.stdout == "No findings in 2 files.\n"


def test_disabled_rules_do_not_make_entries_stale(repo: Path) -> None:
    write_baseline(repo)
    proc = dg("check", "--select", "DG001", "--baseline", "baseline.json", cwd=repo)
    assert (proc.returncode, proc.stdout) == (0, "No findings in 2 files.\n")


def test_the_baseline_works_from_another_directory(tmp_path: Path, repo: Path) -> None:
    # written inside the repository, used from its parent: roots are relative to the file
    write_baseline(repo)
    proc = dg("check", "repo", "--baseline", "repo/baseline.json", cwd=tmp_path)
    assert (proc.returncode, proc.stdout) == (0, "No findings in 2 files.\n")


def test_several_repositories_keep_their_own_entries(tmp_path: Path) -> None:
    # two identical repositories: the baseline of `a` does not hide the findings of `b`
    make_repo(tmp_path / "a")
    make_repo(tmp_path / "b")
    doc = write_baseline(tmp_path, "a")
    assert {e["root"] for e in doc["entries"]} == {"a"}
    proc = dg("check", "a", "b", "--baseline", "baseline.json", "-q", cwd=tmp_path)
    assert proc.returncode == 1
    assert {line.split("/", 1)[0] for line in proc.stdout.splitlines()} == {"b"}
    assert codes(proc.stdout) == ["DG101", "DG001", "DG101"]

    doc = write_baseline(tmp_path, "a", "b")
    assert sorted({e["root"] for e in doc["entries"]}) == ["a", "b"]
    proc = dg("check", "a", "b", "--baseline", "baseline.json", cwd=tmp_path)
    assert (proc.returncode, proc.stdout) == (0, "No findings in 4 files.\n")


@pytest.mark.parametrize(
    ("content", "needles"),
    [
        (None, ("missing.json", "baseline file not found")),
        ('{"version": 1, "entries": [}', ("bad.json:1:28", "not valid JSON")),
        ('{"version": 9, "entries": []}', ("bad.json", "unsupported baseline version 9")),
        ("[]", ("bad.json", "JSON object with `version` and `entries`")),
        ('{"version": 1}', ("bad.json", "`entries` must be a list")),
        ('{"version": 1, "entries": [{"root": "."}]}', ("entry 1", "`path`")),
        (b"\xff\xfe", ("bad.json", "not UTF-8")),
    ],
)
def test_a_bad_baseline_is_a_usage_error(
    repo: Path, content: str | bytes | None, needles: tuple[str, ...]
) -> None:
    name = "missing.json" if content is None else "bad.json"
    if isinstance(content, bytes):
        (repo / name).write_bytes(content)
    elif content is not None:
        (repo / name).write_text(content, encoding="utf-8")
    assert_one_line_error(dg("check", "--baseline", name, cwd=repo), *needles)


def test_a_baseline_that_cannot_be_written(repo: Path) -> None:
    proc = dg("check", "--write-baseline", "no/such/dir/b.json", cwd=repo)
    assert_one_line_error(proc, "no/such/dir/b.json", "cannot write the baseline")
