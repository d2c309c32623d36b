"""Discovery: from the paths a user gives to repositories and the files to read.

The root of a path is the nearest folder at or above it that holds `.github/`,
`.gitea/` or `.forgejo/` workflows, else its git top level, else the folder itself.
Given a folder, every workflow of its repository is reported; given files (as
pre-commit passes them), the whole repository is still read for context and only
findings in those files are reported.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from digestgate.model import Platform

WORKFLOW_DIRS: tuple[tuple[str, Platform], ...] = (
    (".github/workflows", Platform.GITHUB),
    (".gitea/workflows", Platform.GITEA),
    (".forgejo/workflows", Platform.FORGEJO),
)
YAML_SUFFIXES = (".yml", ".yaml")


class DiscoveryError(Exception):
    """A path that cannot be linted (it does not exist, say): a usage error."""


@dataclass
class Target:
    """One repository to read, and which of its files to report on."""

    root: Path  # absolute
    display_root: str  # as shown to the user
    only: set[str] | None = None  # repo-relative paths to report; None: all
    stdin: dict[str, bytes] = field(default_factory=dict)  # repo-relative path -> content


def has_workflows(folder: Path) -> bool:
    return any((folder / d).is_dir() for d, _ in WORKFLOW_DIRS)


def find_root(path: Path) -> Path:
    start = path if path.is_dir() else path.parent
    start = start.resolve()
    for folder in (start, *start.parents):
        if has_workflows(folder):
            return folder
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return start


def platform_of(rel: str) -> Platform:
    for d, platform in WORKFLOW_DIRS:
        if rel.startswith(d + "/"):
            return platform
    return Platform.GITHUB


def workflow_files(root: Path) -> list[str]:
    """Repo-relative paths of the workflow files directly in the three folders."""
    out = []
    for d, _ in WORKFLOW_DIRS:
        folder = root / d
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            if entry.name.endswith(YAML_SUFFIXES):
                out.append(f"{d}/{entry.name}")
    return out


def _display(root: Path) -> str:
    try:
        rel = os.path.relpath(root, Path.cwd())
    except ValueError:
        return str(root)
    return root.as_posix() if rel.startswith("..") else Path(rel).as_posix()


def targets(
    paths: list[str], stdin_filename: str | None = None, stdin: bytes = b""
) -> list[Target]:
    """Group the given paths into repositories, in the order first named."""
    by_root: dict[Path, Target] = {}
    for raw in paths or ["."]:
        if raw == "-":
            if not stdin_filename:
                raise DiscoveryError("reading stdin (`-`) needs --stdin-filename")
            path = Path(stdin_filename)
        else:
            path = Path(raw)
            if not path.exists() and not path.is_symlink():
                raise DiscoveryError(f"{raw}: no such file or directory")
        root = find_root(path)
        target = by_root.get(root)
        if target is None:
            target = by_root[root] = Target(root, _display(root), only=set())
        if raw == "-" or not path.is_dir():
            real = path.resolve() if raw != "-" else path.parent.resolve() / path.name
            rel = Path(os.path.relpath(real, root))
            rel_posix = rel.as_posix()
            if target.only is not None:
                target.only.add(rel_posix)
            if raw == "-":
                target.stdin[rel_posix] = stdin
        else:
            target.only = None  # a folder: report everything in the repository
    return list(by_root.values())
