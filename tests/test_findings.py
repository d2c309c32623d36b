"""Findings: fingerprints that survive unrelated edits, and end-to-end DG000 on hostile files."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_check, write_repo

WF = """on: push
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - run: make test
  deploy:
    needs: [tests]
    runs-on: ubuntu-latest
    steps:
      - run: make deploy
  other:
    needs: [tests]
    runs-on: ubuntu-latest
    steps:
      - run: make other
"""


def fingerprints(root: Path, text: str) -> list[tuple[int, str]]:
    write_repo(root, {".github/workflows/ci.yml": text}, dedent=False)
    return [(f.span.line, f.fingerprint) for f in run_check(root)]


def test_fingerprints_survive_unrelated_edits(tmp_path: Path) -> None:
    before = fingerprints(tmp_path, WF)
    assert len(before) == 2 and before[0][1] != before[1][1]
    edited = WF.replace("jobs:\n", "env:\n  A: b\n# a comment\njobs:\n").replace(
        "make test", "make test-all"
    )
    after = fingerprints(tmp_path, edited)
    assert [line for line, _ in after] == [line + 3 for line, _ in before]
    assert [fp for _, fp in after] == [fp for _, fp in before]


def test_fingerprint_changes_with_what_is_flagged(tmp_path: Path) -> None:
    before = fingerprints(tmp_path, WF)
    after = fingerprints(
        tmp_path,
        WF.replace(
            "needs: [tests]\n    runs-on: ubuntu-latest\n    steps:\n      - run: make deploy",
            "needs: [testz]\n    runs-on: ubuntu-latest\n    steps:\n      - run: make deploy",
        ),
    )
    assert before[0][1] != after[0][1]
    assert before[1][1] == after[1][1]


def _bomb() -> bytes:
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    return ("\n".join(lines) + "\n").encode()


HOSTILE = {
    "alias-bomb": _bomb(),
    "deep": b"on: " + b"[" * 10_000 + b"]" * 10_000 + b"\n",
    "huge": b"on: push\nx: '" + b"a" * (20 * 1024 * 1024) + b"'\n",
    "bad-utf8": b"on: push\njobs: \xff\xfe\xfd\n",
    "utf16": "on: push\n".encode("utf-16"),
    "binary": bytes(range(256)),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_file_is_one_dg000(tmp_path: Path, name: str) -> None:
    folder = tmp_path / ".github" / "workflows"
    folder.mkdir(parents=True)
    (folder / "bad.yml").write_bytes(HOSTILE[name])
    (folder / "good.yml").write_text(
        "on: push\njobs:\n  a:\n    needs: x\n    runs-on: y\n    steps:\n      - run: z\n"
    )
    found = sorted((f.path, f.code) for f in run_check(tmp_path))
    # the bad file is one DG000; the good one is still checked (its DG001 is found)
    assert found == [
        (".github/workflows/bad.yml", "DG000"),
        (".github/workflows/good.yml", "DG001"),
    ]
