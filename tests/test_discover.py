"""Discovery: repository roots, the files read, and the files reported."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import run_check, write_repo
from digestgate.discover import DiscoveryError, find_root, platform_of, targets, workflow_files
from digestgate.model import Platform
from digestgate.repository import read_repository

OK = "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo\n"
BAD = "on: push\njobs:\n  a:\n    needs: nope\n    runs-on: x\n    steps:\n      - run: echo\n"


def test_root_is_the_folder_with_workflows(tmp_path: Path) -> None:
    write_repo(tmp_path, {".forgejo/workflows/ci.yml": OK, "src/app/x.py": "x"}, dedent=False)
    (tmp_path / ".git").mkdir()
    assert find_root(tmp_path / "src" / "app") == tmp_path.resolve()
    assert find_root(tmp_path / ".forgejo" / "workflows" / "ci.yml") == tmp_path.resolve()


def test_root_falls_back_to_git_then_the_folder(tmp_path: Path) -> None:
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    (tmp_path / "repo" / "sub").mkdir()
    assert find_root(tmp_path / "repo" / "sub") == (tmp_path / "repo").resolve()
    (tmp_path / "plain").mkdir()
    # tmp_path itself is not in a git checkout here unless the system's tmp is
    assert find_root(tmp_path / "plain") in {(tmp_path / "plain").resolve(), *tmp_path.parents}


def test_all_three_platform_folders(tmp_path: Path) -> None:
    write_repo(
        tmp_path,
        {
            ".github/workflows/a.yml": OK,
            ".github/workflows/b.yaml": OK,
            ".github/workflows/notes.txt": "x",
            ".github/workflows/sub/c.yml": OK,
            ".gitea/workflows/d.yml": OK,
            ".forgejo/workflows/e.yaml": OK,
        },
        dedent=False,
    )
    assert workflow_files(tmp_path) == [
        ".github/workflows/a.yml",
        ".github/workflows/b.yaml",
        ".gitea/workflows/d.yml",
        ".forgejo/workflows/e.yaml",
    ]
    assert platform_of(".gitea/workflows/d.yml") is Platform.GITEA
    assert platform_of(".forgejo/workflows/e.yaml") is Platform.FORGEJO
    assert platform_of("action.yml") is Platform.GITHUB
    repo = read_repository(targets([str(tmp_path)])[0])
    assert repo.workflows[".gitea/workflows/d.yml"].platform is Platform.GITEA


def test_given_files_are_reported_alone(tmp_path: Path) -> None:
    write_repo(
        tmp_path,
        {".github/workflows/good.yml": OK, ".github/workflows/bad.yml": BAD},
        dedent=False,
    )
    everything = run_check(tmp_path)
    assert [f.path for f in everything] == [".github/workflows/bad.yml"]
    only_good = run_check(tmp_path, paths=[str(tmp_path / ".github/workflows/good.yml")])
    assert only_good == []
    (target,) = targets([str(tmp_path / ".github/workflows/good.yml")])
    assert target.only == {".github/workflows/good.yml"}


def test_several_repositories_in_one_run(tmp_path: Path) -> None:
    write_repo(tmp_path / "one", {".github/workflows/ci.yml": BAD}, dedent=False)
    write_repo(tmp_path / "two", {".gitea/workflows/ci.yml": BAD}, dedent=False)
    found = run_check(tmp_path, paths=[str(tmp_path / "one"), str(tmp_path / "two")])
    assert sorted((Path(f.root).name, f.path) for f in found) == [
        ("one", ".github/workflows/ci.yml"),
        ("two", ".gitea/workflows/ci.yml"),
    ]


def test_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(DiscoveryError, match="no such file"):
        targets([str(tmp_path / "nope")])
    with pytest.raises(DiscoveryError, match="--stdin-filename"):
        targets(["-"])


def test_stdin_replaces_the_named_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_repo(tmp_path, {".github/workflows/ci.yml": OK}, dedent=False)
    monkeypatch.chdir(tmp_path)
    (target,) = targets(["-"], ".github/workflows/ci.yml", BAD.encode())
    assert target.only == {".github/workflows/ci.yml"}
    repo = read_repository(target)
    assert ".github/workflows/ci.yml" in repo.workflows
    assert repo.workflows[".github/workflows/ci.yml"].jobs["a"].needs[0].value == "nope"


def test_unreadable_file_is_a_finding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # chmod 0 does not stop root (CI runs as root), so the denial is made by hand
    import builtins

    from digestgate import repository

    write_repo(tmp_path, {".github/workflows/ci.yml": OK}, dedent=False)
    real_open = builtins.open

    def denying_open(file: object, *args: object, **kwargs: object) -> object:
        if str(file).endswith("ci.yml"):
            raise PermissionError(13, "Permission denied")
        return real_open(file, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(repository, "open", denying_open, raising=False)
    (finding,) = run_check(tmp_path)
    assert finding.code == "DG000" and "Permission denied" in finding.message


def test_directory_and_fifo_named_like_workflows(tmp_path: Path) -> None:
    write_repo(tmp_path, {".github/workflows/ok.yml": OK}, dedent=False)
    (tmp_path / ".github/workflows/dir.yml").mkdir()
    os.mkfifo(tmp_path / ".github/workflows/pipe.yml")
    found = {f.path: f.message for f in run_check(tmp_path)}
    assert "directory" in found[".github/workflows/dir.yml"]
    assert "regular file" in found[".github/workflows/pipe.yml"]


def test_symlink_loop_is_a_finding(tmp_path: Path) -> None:
    write_repo(tmp_path, {".github/workflows/ok.yml": OK}, dedent=False)
    (tmp_path / ".github/workflows/loop.yml").symlink_to(tmp_path / ".github/workflows/loop.yml")
    found = {f.path: f for f in run_check(tmp_path)}
    assert found[".github/workflows/loop.yml"].code == "DG000"
