"""Baselines: adopt digestgate in a repository that already has findings.

`--write-baseline FILE` records today's findings; `--baseline FILE` then reports only
findings that are not in it. A finding is matched by its repository and its
fingerprint (`findings.with_fingerprints`), which survives unrelated edits, so
moving a finding to another line keeps it baselined while a new or changed one is
reported. The file is JSON, sorted so that rewriting it after unrelated edits changes
nothing:

    {"version": 1, "entries": [{"root": ".", "path": ".github/workflows/ci.yml",
     "code": "DG101", "fingerprint": "...", "message": "..."}]}

`root` is the repository relative to the baseline file's folder (so the same file
works from any working directory, and several repositories stay apart); `path` and
`message` are for people reading the file. An entry no longer found is stale: it is
counted only when this run reported on its file with its rule enabled, so checking a
few files (as pre-commit does) does not make the rest of the baseline look stale.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from digestgate.findings import Finding

if TYPE_CHECKING:
    from digestgate.config import Config
    from digestgate.discover import Target

VERSION = 1
_FIELDS = ("root", "path", "code", "fingerprint", "message")


class BaselineError(Exception):
    """A baseline file that cannot be read or written: a usage error (exit 2)."""


@dataclass(frozen=True, slots=True, order=True)
class Entry:
    root: str  # the repository, relative to the baseline file's folder, POSIX
    path: str  # relative to the repository root
    code: str
    fingerprint: str
    message: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return (self.root, self.fingerprint)


@dataclass(frozen=True)
class Baseline:
    file: Path
    entries: tuple[Entry, ...]

    @property
    def folder(self) -> Path:
        return folder_of(self.file)


@dataclass
class Applied:
    kept: list[Finding]  # findings not in the baseline
    matched: int = 0  # findings the baseline dropped
    stale: list[Entry] = field(default_factory=list)  # entries no finding matched


def folder_of(file: Path) -> Path:
    """The folder that the roots in a baseline file are relative to."""
    return file.absolute().parent.resolve()


def root_key(root: str | Path, folder: Path) -> str:
    """A repository root (absolute, or as shown: relative to the working directory)
    relative to `folder`, POSIX; absolute when there is no relative path."""
    absolute = (Path.cwd() / root).resolve()  # an absolute `root` stays itself
    try:
        return Path(os.path.relpath(absolute, folder)).as_posix()
    except ValueError:  # another drive
        return absolute.as_posix()


def entries(findings: Sequence[Finding], folder: Path) -> list[Entry]:
    roots = {root: root_key(root, folder) for root in {f.root for f in findings}}
    return sorted(
        Entry(roots[f.root], f.location.path, f.code, f.fingerprint, f.message) for f in findings
    )


def dumps(items: Sequence[Entry]) -> str:
    doc = {"version": VERSION, "entries": [{k: getattr(e, k) for k in _FIELDS} for e in items]}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def write(file: Path, findings: Sequence[Finding]) -> int:
    """Write the baseline of `findings` to `file`; return how many entries it holds."""
    items = entries(findings, folder_of(file))
    try:
        file.write_text(dumps(items), encoding="utf-8")
    except OSError as exc:
        raise BaselineError(f"{file}: cannot write the baseline: {exc.strerror or exc}") from exc
    return len(items)


def load(file: Path) -> Baseline:
    """Read a baseline; every problem is a `BaselineError` naming the file and why."""
    try:
        text = file.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise BaselineError(f"{file}: baseline file not found") from None
    except IsADirectoryError:
        raise BaselineError(f"{file}: the baseline is a directory, not a file") from None
    except OSError as exc:
        raise BaselineError(f"{file}: cannot read the baseline: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise BaselineError(
            f"{file}: the baseline is not UTF-8 text (byte {exc.start + 1})"
        ) from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BaselineError(
            f"{file}:{exc.lineno}:{exc.colno}: the baseline is not valid JSON: {exc.msg}"
        ) from None
    return Baseline(file, tuple(_parse(file, doc)))


def _parse(file: Path, doc: Any) -> list[Entry]:
    if not isinstance(doc, dict):
        raise BaselineError(f"{file}: a baseline is a JSON object with `version` and `entries`")
    if doc.get("version") != VERSION:
        raise BaselineError(
            f"{file}: unsupported baseline version {doc.get('version')!r} (expected {VERSION}); "
            "write it again with --write-baseline"
        )
    raw = doc.get("entries")
    if not isinstance(raw, list):
        raise BaselineError(f"{file}: `entries` must be a list")
    out = []
    for n, item in enumerate(raw, 1):
        if not isinstance(item, dict):
            raise BaselineError(f"{file}: entry {n} is not an object")
        for key in ("root", "path", "code", "fingerprint"):
            value = item.get(key)
            if not isinstance(value, str) or not value:
                raise BaselineError(f"{file}: entry {n}: `{key}` must be a non-empty string")
        message = item.get("message", "")
        if not isinstance(message, str):
            raise BaselineError(f"{file}: entry {n}: `message` must be a string")
        out.append(Entry(item["root"], item["path"], item["code"], item["fingerprint"], message))
    return out


def scope(checked: Sequence[tuple[Target, Config]], folder: Path) -> Callable[[Entry], bool]:
    """Whether this run reported on an entry's file with the entry's rule enabled:
    only then does an entry that matched nothing count as stale."""
    by_root = {root_key(target.root, folder): (target, config) for target, config in checked}

    def covers(entry: Entry) -> bool:
        found = by_root.get(entry.root)
        if found is None:
            return False
        target, config = found
        return (
            (target.only is None or entry.path in target.only)
            and config.is_enabled(entry.code)
            and not config.is_excluded(entry.path)
        )

    return covers


def apply(
    findings: Sequence[Finding], baseline: Baseline, covers: Callable[[Entry], bool]
) -> Applied:
    """Drop the findings the baseline holds; list the entries in scope left unmatched."""
    folder = baseline.folder
    known = {e.key for e in baseline.entries}
    roots = {root: root_key(root, folder) for root in {f.root for f in findings}}
    applied = Applied(kept=[])
    seen: set[tuple[str, str]] = set()
    for f in findings:
        key = (roots[f.root], f.fingerprint)
        if key in known:
            seen.add(key)
            applied.matched += 1
        else:
            applied.kept.append(f)
    applied.stale = [e for e in baseline.entries if e.key not in seen and covers(e)]
    return applied
