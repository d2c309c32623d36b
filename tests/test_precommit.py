"""The pre-commit hook (`.pre-commit-hooks.yaml`): the paths it runs on, and the real
`pre-commit try-repo` against throwaway git repositories.

try-repo clones the hook repository at a commit into a store of its own (a temporary
folder: `PRE_COMMIT_HOME` does not apply to it), builds a virtualenv and pip-installs
digestgate there, so each run takes some seconds. Given a local path with uncommitted
changes, try-repo shadow-commits the staged and tracked files only, not new ones; the
hook repository here is therefore a fresh git repository holding a snapshot of the
working tree (tracked and untracked files that git does not ignore), so the test sees
today's source, and a file the project forgot to track would still be missed by users.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_check, write_repo
from digestgate.discover import workflow_files
from digestgate.repository import is_action_path

ROOT = Path(__file__).resolve().parents[1]
GIT = shutil.which("git")
needs_git = pytest.mark.skipif(GIT is None, reason="pre-commit needs git")
FINDING = re.compile(r"\bDG\d{3}\b")


def _hook() -> dict[str, object]:
    from pre_commit.clientlib import load_manifest  # validates against pre-commit's schema

    manifest = load_manifest(str(ROOT / ".pre-commit-hooks.yaml"))
    hooks = [h for h in manifest if h["id"] == "digestgate"]
    assert len(hooks) == 1
    return dict(hooks[0])


def _files_pattern() -> re.Pattern[str]:
    files = _hook()["files"]
    assert isinstance(files, str)
    return re.compile(files)


def test_the_hook_passes_files_to_check() -> None:
    hook = _hook()
    assert hook["entry"] == "digestgate check"
    assert hook["language"] == "python"
    assert hook["pass_filenames"] is True
    # one process reads the repository once; parallel chunks would each read it again
    assert hook["require_serial"] is True


# Paths relative to the repository root, as pre-commit passes them; pre-commit keeps a
# file when `re.search(files, path)` finds a match (and `exclude` does not).
RUN_ON = [
    ".github/workflows/ci.yml",
    ".github/workflows/release.yaml",
    ".github/workflows/.hidden.yml",
    ".gitea/workflows/x.yaml",
    ".forgejo/workflows/y.yml",
    "action.yml",  # the repository is itself an action
    "action.yaml",
    "a/b/action.yaml",  # `uses: ./a/b`: a local action may live anywhere
    ".github/actions/x/action.yml",
    "docs/.github/actions/build/action.yml",
    ".github/workflows/action.yml",  # a workflow that happens to have that name
]
SKIP = [
    "README.md",
    ".pre-commit-hooks.yaml",
    ".github/dependabot.yml",
    ".github/ci.yml",
    ".github/workflow/ci.yml",
    ".github/workflows/README.md",
    ".github/workflows/ci.json",
    ".github/workflows/ci.yml.bak",
    ".github/workflows/ci.yml~",
    ".gitlab/workflows/ci.yml",
    "github/workflows/ci.yml",
    "workflows/ci.yml",
    ".gitlab-ci.yml",
    "myaction.yml",
    "action.yml.orig",
    "a/action.json",
    "a/b/my-action.yaml",
    # GitHub, Gitea and Forgejo read workflows only directly in the folder, and only
    # at the repository root: files in subfolders (templates, called snippets) and
    # nested `.github` folders (examples, test fixtures) are not workflows of this
    # repository, and digestgate's discovery does not read them either.
    ".github/workflows/sub/x.yml",
    ".gitea/workflows/templates/x.yaml",
    "docs/.github/workflows/ci.yml",
    "tests/fixtures/ok/x/.forgejo/workflows/ci.yml",
]


@pytest.mark.parametrize("path", RUN_ON)
def test_the_hook_runs_on(path: str) -> None:
    assert _files_pattern().search(path)


@pytest.mark.parametrize("path", SKIP)
def test_the_hook_skips(path: str) -> None:
    assert not _files_pattern().search(path)


def test_the_pattern_agrees_with_discovery(tmp_path: Path) -> None:
    """The hook runs on exactly the workflows discovery reads plus the action files."""
    write_repo(tmp_path, dict.fromkeys(RUN_ON + SKIP, "x"), dedent=False)
    pattern = _files_pattern()
    matched = {p for p in RUN_ON + SKIP if pattern.search(p)}
    read = set(workflow_files(tmp_path)) | {p for p in RUN_ON + SKIP if is_action_path(p)}
    assert matched == read


# --- the real pre-commit -------------------------------------------------------------

BUILD = """\
name: Build
on:
  push:
    branches: [main]

jobs:
  build:
    runs-on: ubuntu-latest
    outputs:
      digest: ${{ steps.push.outputs.digest }}
    steps:
      - uses: actions/checkout@v4
      - id: push
        uses: docker/build-push-action@v6
        with:
          push: true
          tags: ghcr.io/acme/app:TAG
"""
RELEASE_TAG = "latest"  # DG305: the build publishes the release tag before validation
COMMIT_TAG = "sha-${{ github.sha }}"

# Triggered by `Build` by name: without reading ci.yml, `Build` would be unknown (DG001).
NOTIFY = """\
name: Notify
on:
  workflow_run:
    workflows: [Build]
    types: [completed]

jobs:
  notify:
    if: github.event.workflow_run.conclusion == 'success'
    runs-on: ubuntu-latest
    steps:
      - run: echo "Build passed"
"""


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PRE_COMMIT"))}
    env["NO_COLOR"] = "1"
    return env


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, env=_clean_env(), check=True, capture_output=True)


def _git_repo(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    _git(folder, "init", "-q", "-b", "main")
    _git(folder, "config", "user.email", "test@example.invalid")
    _git(folder, "config", "user.name", "digestgate tests")
    _git(folder, "config", "commit.gpgsign", "false")
    return folder


def _commit(repo: Path, message: str) -> None:
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", message)


def _source_files() -> list[str]:
    """The working tree as git would commit it: tracked and new files, not ignored ones."""
    if (ROOT / ".git").exists():
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            env=_clean_env(),
            check=True,
            capture_output=True,
        ).stdout.decode()
        return [p for p in listed.split("\0") if p and (ROOT / p).is_file()]
    skip = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis"}
    return [
        p.relative_to(ROOT).as_posix()
        for p in ROOT.rglob("*")
        if p.is_file() and not skip & set(p.relative_to(ROOT).parts)
    ]


@pytest.fixture(scope="session")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("hook-repo")
    for rel in _source_files():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, repo / rel)
    _git_repo(repo)
    _commit(repo, "digestgate working tree")
    return repo


def _try_repo(hook_repo: Path, repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = _clean_env()
    env["PRE_COMMIT_HOME"] = str(repo.parent / "pre-commit-home")
    command = [sys.executable, "-m", "pre_commit", "try-repo", "--color=never"]
    return subprocess.run(
        [*command, str(hook_repo), "digestgate", *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def _position(text: str, needle: str) -> str:
    """`line:column` (1-based) of the first `needle` in `text`."""
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return f"{number}:{line.index(needle) + 1}"
    raise AssertionError(f"{needle!r} not in the text")


@needs_git
def test_try_repo_fails_on_a_bad_workflow_and_passes_once_fixed(
    hook_repo: Path, tmp_path: Path
) -> None:
    repo = _git_repo(tmp_path / "project")
    bad = BUILD.replace("TAG", RELEASE_TAG)
    write_repo(repo, {".github/workflows/ci.yml": bad, "README.md": "# app\n"}, dedent=False)
    _commit(repo, "build and push")

    failed = _try_repo(hook_repo, repo, "--all-files")
    where = _position(bad, "ghcr.io/acme/app:latest")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert re.search(r"^digestgate\.+Failed$", failed.stdout, re.M), failed.stdout
    assert f"\n.github/workflows/ci.yml:{where}: DG305 build-publishes-release-tag: " in (
        failed.stdout
    )

    write_repo(repo, {".github/workflows/ci.yml": BUILD.replace("TAG", COMMIT_TAG)}, dedent=False)
    _commit(repo, "push the commit tag only")
    passed = _try_repo(hook_repo, repo, "--all-files")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert re.search(r"^digestgate\.+Passed$", passed.stdout, re.M), passed.stdout
    assert not FINDING.search(passed.stdout)


@needs_git
def test_try_repo_reports_only_the_files_passed(hook_repo: Path, tmp_path: Path) -> None:
    repo = _git_repo(tmp_path / "project")
    files = {
        ".github/workflows/ci.yml": BUILD.replace("TAG", RELEASE_TAG),
        ".github/workflows/notify.yml": NOTIFY,
    }
    write_repo(repo, files, dedent=False)
    _commit(repo, "build and notify")
    # The premises, checked in-process: ci.yml has an error, and notify.yml needs
    # ci.yml as context (alone, its `workflow_run` names an unknown workflow).
    assert [(f.code, f.path) for f in run_check(repo)] == [("DG305", ".github/workflows/ci.yml")]
    alone = write_repo(tmp_path / "alone", {".github/workflows/notify.yml": NOTIFY}, dedent=False)
    assert [f.code for f in run_check(alone)] == ["DG001"]

    done = _try_repo(hook_repo, repo, "--files", ".github/workflows/notify.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^digestgate\.+Passed$", done.stdout, re.M), done.stdout
    assert "ci.yml" not in done.stdout and not FINDING.search(done.stdout)
