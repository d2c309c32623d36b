"""Read one repository: its workflows and the local actions and workflows they use.

Reading never follows a path out of the repository, never reads a file twice, and
turns every unreadable or invalid file into `Problem`s (DG000) instead of raising.
"""

from __future__ import annotations

import configparser
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from digestgate.builder import build_action, build_workflow
from digestgate.cache import note_file, note_probe, note_read
from digestgate.discover import Target, platform_of, workflow_files
from digestgate.loader import MAX_BYTES, LoadError, load_bytes, size_error
from digestgate.model import Action, Platform, Problem, Workflow
from digestgate.nodes import Source, YMap
from digestgate.span import Span

ACTION_FILES = ("action.yml", "action.yaml")
# `owner/name/path@ref` of this repository, or `./path`
_REMOTE_USES = re.compile(r"^([^/@\s]+)/([^/@\s]+)(/[^@\s]*)?@(\S+)$")


class Progress:
    """The file being read or checked, for the one-line internal error message."""

    current: str | None = None


PROGRESS = Progress()


@dataclass
class Repository:
    root: Path
    display_root: str
    workflows: dict[str, Workflow] = field(default_factory=dict)
    actions: dict[str, Action] = field(default_factory=dict)  # by action.yml path
    problems: dict[str, list[Problem]] = field(default_factory=dict)  # DG000, by path
    sources: dict[str, Source] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)  # every file read, in order
    slug: str | None = None  # owner/name of the repository itself, when known
    only: set[str] | None = None

    def is_reported(self, path: str) -> bool:
        return self.only is None or path in self.only

    def add_problem(self, path: str, problem: Problem) -> None:
        self.problems.setdefault(path, []).append(problem)

    def local_target(self, uses: str, from_path: str) -> str | None:
        """The repo-relative path a `uses:` names inside this repository, if it does.

        `./x` is relative to the repository root (GitHub resolves it against the
        workspace, which is the checkout); `$/x` is the self-repository form, this
        repository at the running commit (a `$/x@ref` is not valid: see
        `self_reference_with_ref`); `owner/name/x@ref` counts when owner/name is this
        repository.
        """
        uses = uses.strip()
        if uses.startswith("./"):
            rel = uses[2:]
        elif uses.startswith("$/"):
            rel = uses[2:].split("@", 1)[0]
        else:
            m = _REMOTE_USES.match(uses)
            if not m or self.slug is None:
                return None
            if f"{m.group(1)}/{m.group(2)}".lower() != self.slug.lower():
                return None
            rel = (m.group(3) or "/").lstrip("/")
        norm = PurePosixPath(os.path.normpath(rel or ".")).as_posix()
        if norm.startswith("..") or norm.startswith("/"):
            return None
        return "" if norm == "." else norm


def self_reference_with_ref(uses: str) -> bool:
    """`$/path@ref`: the self-repository form always means the running commit."""
    uses = uses.strip()
    return uses.startswith("$/") and "@" in uses


def read_file(
    root: Path, rel: str, stdin: dict[str, bytes], real_root: str | None = None
) -> bytes | Problem:
    """The bytes of `rel` (from `stdin` when given there), or the problem reading it.
    `real_root`: `root` with symbolic links resolved, when the caller knows it."""
    if rel in stdin:
        return stdin[rel]
    path = root / rel
    try:
        st = os.stat(path)
    except OSError as exc:
        return Problem(Span(1, 1, 1, 1), f"cannot read the file: {exc.strerror or exc}")
    if stat.S_ISDIR(st.st_mode):
        return Problem(Span(1, 1, 1, 1), "this is a directory, not a YAML file")
    if not stat.S_ISREG(st.st_mode):
        return Problem(Span(1, 1, 1, 1), "not a regular file (a FIFO or device?)")
    if not _inside(real_root or os.path.realpath(root), path):
        return Problem(
            Span(1, 1, 1, 1), "a symbolic link to a file outside the repository: not read"
        )
    if st.st_size > MAX_BYTES:  # refused unread (a sparse file may claim gigabytes)
        too_large = size_error(st.st_size)
        return Problem(too_large.span, too_large.message)
    try:
        with open(path, "rb") as fh:
            return fh.read(MAX_BYTES + 1)  # the loader refuses more by size
    except OSError as exc:
        return Problem(Span(1, 1, 1, 1), f"cannot read the file: {exc.strerror or exc}")


def _inside(real_root: str, path: Path) -> bool:
    """`path`, symbolic links resolved, is in the repository at `real_root` (resolved)."""
    return os.path.commonpath([real_root, os.path.realpath(path)]) == real_root


def repository_slug(root: Path) -> str | None:
    """owner/name from GITHUB_REPOSITORY, else the `origin` remote in .git/config."""
    env = os.environ.get("GITHUB_REPOSITORY")
    if env and "/" in env:
        return env.strip()
    config = root / ".git" / "config"
    note_file(config)
    try:
        text = config.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        return None
    url = parser.get('remote "origin"', "url", fallback="")
    m = re.search(r"[:/]([^/:]+)/([^/]+?)(?:\.git)?/?$", url)
    return f"{m.group(1)}/{m.group(2)}" if m else None


class _Reader:
    def __init__(self, target: Target, slug: str | None) -> None:
        self.target = target
        self.repo = Repository(target.root, target.display_root, slug=slug, only=target.only)
        self.seen: set[str] = set()
        self.roots: dict[str, YMap] = {}
        self.real_root = os.path.realpath(target.root)  # once, not for every file

    def load(self, rel: str) -> Source | None:
        """Read and parse `rel`; None when it is not loadable (problem recorded)."""
        repo = self.repo
        PROGRESS.current = str(self.target.root / rel)
        repo.files.append(rel)
        data = read_file(self.target.root, rel, self.target.stdin, self.real_root)
        if rel not in self.target.stdin:
            note_read(self.target.root, rel, data if isinstance(data, bytes) else None)
        if isinstance(data, Problem):
            repo.add_problem(rel, data)
            return None
        try:
            loaded = load_bytes(data, rel)
        except LoadError as exc:
            repo.add_problem(rel, Problem(exc.span, exc.message))
            return None
        except RecursionError:
            repo.add_problem(rel, Problem(Span(1, 1, 1, 1), "YAML nested too deeply to read"))
            return None
        repo.sources[rel] = loaded.source
        self.roots[rel] = loaded.root
        return loaded.source

    def workflow(self, rel: str, platform: Platform) -> Workflow | None:
        if rel in self.seen:
            return self.repo.workflows.get(rel)
        self.seen.add(rel)
        if self.load(rel) is None:
            return None
        wf, problems = build_workflow(self.roots[rel], rel, platform)
        self.repo.workflows[rel] = wf
        for p in problems:
            self.repo.add_problem(rel, p)
        self.follow_workflow(wf)
        return wf

    def action(self, rel: str) -> Action | None:
        if rel in self.seen:
            return self.repo.actions.get(rel)
        self.seen.add(rel)
        if self.load(rel) is None:
            return None
        action, problems = build_action(self.roots[rel], rel)
        self.repo.actions[rel] = action
        for p in problems:
            self.repo.add_problem(rel, p)
        for step in action.steps:
            if step.uses is not None:
                self.follow_action_use(step.uses.value, rel)
        return action

    def follow_workflow(self, wf: Workflow) -> None:
        for job in wf.jobs.values():
            if job.uses is not None:
                target = self.repo.local_target(job.uses.value, wf.path)
                if target and target.endswith((".yml", ".yaml")) and self._exists(target):
                    self.workflow(target, platform_of(target))
            for step in job.steps:
                if step.uses is not None:
                    self.follow_action_use(step.uses.value, wf.path)

    def follow_action_use(self, uses: str, from_path: str) -> None:
        target = self.repo.local_target(uses, from_path)
        if target is None:
            return
        found = action_file(self.target.root, target, self.target.stdin)
        if found is not None:
            self.action(found)

    def _exists(self, rel: str) -> bool:
        note_probe(self.target.root, rel)
        return rel in self.target.stdin or (self.target.root / rel).exists()


def action_file(root: Path, folder: str, stdin: dict[str, bytes] | None = None) -> str | None:
    """`folder/action.yml` or `folder/action.yaml`, whichever exists."""
    for name in ACTION_FILES:
        rel = f"{folder}/{name}" if folder else name
        note_probe(root, rel)
        if (stdin and rel in stdin) or (root / rel).is_file():
            return rel
    return None


def is_action_path(rel: str) -> bool:
    return PurePosixPath(rel).name in ACTION_FILES


def read_repository(target: Target, slug: str | None = None) -> Repository:
    """`slug` (owner/name, from the configuration) wins over the environment and git."""
    reader = _Reader(target, slug or repository_slug(target.root))
    for rel in workflow_files(target.root):
        reader.workflow(rel, platform_of(rel))
    # Files named explicitly (or on stdin) that discovery did not reach.
    for rel in sorted(target.only or ()):
        if rel in reader.seen:
            continue
        if is_action_path(rel):
            reader.action(rel)
        else:
            reader.workflow(rel, platform_of(rel))
    return reader.repo
