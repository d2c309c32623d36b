"""The result cache: a repository's findings, reused while nothing the check read changed.

Findings depend on the whole repository (a workflow, the actions and reusable
workflows it reaches, the scripts and compose files its steps name, the
configuration), so the unit is the repository. An entry is keyed on what the run
asked for (`key`: digestgate's version and code, the rule plugins, the repository and
the files to report, `--select`/`--ignore`/`--config`/`--no-config`,
`GITHUB_REPOSITORY`), and holds the result with every path the check looked at: the
files it read, with a digest of their content, and the paths it only probed, with
what was there (a script that did not exist and then appears must invalidate). The
listing of the workflow folders is kept too. An entry is valid while that listing is
the same and every path is as recorded. A file whose size, times and inode are
unchanged is taken as unchanged, unless it was modified around the time it was read
("racy", as git calls it); otherwise its content digest decides.

The modules that read call `note_read`, `note_probe` and `note_file`; they record into
the `Reads` that `recording()` installs for one check, and do nothing otherwise (the
language server and library callers never record).

Entries are pickles in a private folder (made 0700; not used when it belongs to
someone else or others may write to it), written to a temporary file and renamed into
place, so a reader sees an old entry or a new one, never part of one. An entry that
cannot be read or unpickled is a miss. The folder is pruned to `MAX_BYTES`, least
recently used first.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import sys
import time
from collections.abc import Iterator
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from digestgate.discover import Target
    from digestgate.engine import Options, RepoResult

FORMAT = 1  # of the entries; a new layout gets a new folder
MAX_BYTES = 64 * 1024 * 1024
RACY_NS = 2_000_000_000  # file systems with coarse times: 2 s (FAT) at worst
ENV_FOLDER = "DIGESTGATE_CACHE_DIR"

MISSING, FILE, DIRECTORY, OTHER = 0, 1, 2, 3

# size, mtime_ns, ctime_ns, inode, device
Signature = tuple[int, int, int, int, int]


class Seen(NamedTuple):
    """What was at one path when the check looked."""

    kind: int
    signature: Signature | None  # of a file
    digest: bytes | None  # of a file's content, when it was read (None: unreadable)
    read: bool  # read (content matters), or only probed (what is there matters)
    racy: bool  # modified so close to the look that its times cannot be trusted


def _stat(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except (OSError, ValueError):
        return None


def _kind(st: os.stat_result | None) -> int:
    if st is None:
        return MISSING
    if stat.S_ISREG(st.st_mode):
        return FILE
    return DIRECTORY if stat.S_ISDIR(st.st_mode) else OTHER


def _signature(st: os.stat_result) -> Signature:
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)


def _racy(signature: Signature | None, since: int) -> bool:
    return signature is not None and max(signature[1], signature[2]) >= since - RACY_NS


def digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


def _file_digest(path: str) -> bytes | None:
    try:
        with open(path, "rb") as fh:
            return digest(fh.read())
    except OSError:
        return None


class Reads:
    """The paths one check looked at (absolute), and what was at each."""

    def __init__(self) -> None:
        self.started = time.time_ns()  # before anything was read
        self.paths: dict[str, Seen] = {}

    def read(self, path: str, data: bytes | None) -> None:
        st = _stat(path)
        kind = _kind(st)
        sig = _signature(st) if st is not None and kind == FILE else None
        found = digest(data) if data is not None else None
        self.paths[path] = Seen(kind, sig, found, True, _racy(sig, self.started))

    def probe(self, path: str) -> None:
        if path not in self.paths:
            self.paths[path] = Seen(_kind(_stat(path)), None, None, False, False)

    def unchanged(self) -> tuple[bool, bool]:
        """(valid, refreshed): every path is as recorded; `refreshed` when a file's
        times changed but not its content (the signatures are updated, so the next
        look takes the fast path)."""
        refreshed = False
        for path, seen in self.paths.items():
            now = time.time_ns()
            st = _stat(path)
            kind = _kind(st)
            if kind != seen.kind:
                return False, False
            if not seen.read or st is None or kind != FILE:
                continue
            sig = _signature(st)
            if sig == seen.signature and not seen.racy:
                continue
            if _file_digest(path) != seen.digest:
                return False, False
            self.paths[path] = Seen(FILE, sig, seen.digest, True, _racy(sig, now))
            refreshed = True
        return True, refreshed


_RECORDER: ContextVar[Reads | None] = ContextVar("digestgate_reads", default=None)


@contextlib.contextmanager
def recording() -> Iterator[Reads]:
    """Record what the code run inside reads (in this thread or task only)."""
    reads = Reads()
    token = _RECORDER.set(reads)
    try:
        yield reads
    finally:
        _RECORDER.reset(token)


def note_read(root: Path, rel: str, data: bytes | None) -> None:
    """`root/rel` was read, giving `data` (None: it could not be read)."""
    reads = _RECORDER.get()
    if reads is not None:
        reads.read(os.path.join(root, rel), data)


def note_probe(root: Path, rel: str) -> None:
    """What is at `root/rel` (a file, a folder, nothing) was looked at."""
    reads = _RECORDER.get()
    if reads is not None:
        reads.probe(os.path.join(root, rel))


def note_file(path: str | os.PathLike[str]) -> None:
    """`path` (a small file) was read by code that keeps no bytes: read it here."""
    reads = _RECORDER.get()
    if reads is not None:
        name = os.fspath(path)
        try:
            with open(name, "rb") as fh:
                data: bytes | None = fh.read()
        except OSError:
            data = None
        reads.read(name, data)


# -- keys ---------------------------------------------------------------------------


@cache
def code_fingerprint() -> str:
    """digestgate's version and code (sizes and times of its modules, as an editable
    install changes without a new version), the Python version, and the rule
    plugins installed, with their versions."""
    import digestgate
    import digestgate_rules

    h = hashlib.sha256(f"{digestgate.__version__}\0{sys.version_info[:2]}".encode())
    for package in (digestgate, digestgate_rules):
        for folder in package.__path__:
            for dirpath, dirnames, filenames in os.walk(folder):
                dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
                for name in sorted(filenames):
                    if name.endswith(".py"):
                        st = _stat(os.path.join(dirpath, name))
                        if st is not None:
                            h.update(f"{name}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
    from digestgate.registry import plugin_entry_points

    for ep in sorted(plugin_entry_points(), key=lambda e: e.name):
        dist = getattr(ep, "dist", None)
        version = f"{dist.name} {dist.version}" if dist is not None else ""
        h.update(f"{ep.name}\0{ep.value}\0{version}\0".encode())
    return h.hexdigest()


def key(target: Target, options: Options) -> str:
    """What a result depends on besides the files read."""
    config_file = os.path.abspath(options.config_file) if options.config_file else None
    return repr(
        (
            FORMAT,
            code_fingerprint(),
            str(target.root),
            target.display_root,
            sorted(target.only) if target.only is not None else None,
            list(options.select) if options.select is not None else None,
            list(options.ignore) if options.ignore is not None else None,
            config_file,
            options.no_config,
            os.environ.get("GITHUB_REPOSITORY"),
        )
    )


# -- the store ----------------------------------------------------------------------


class Entry(NamedTuple):
    key: str
    listing: list[str]  # the workflow files discovery found
    reads: Reads
    result: RepoResult


def default_folder() -> Path:
    """`$DIGESTGATE_CACHE_DIR`, else the platform's cache folder."""
    env = os.environ.get(ENV_FOLDER)
    if env:
        return Path(env)
    if sys.platform == "win32":
        local = os.environ.get("LOCALAPPDATA")
        base = Path(local) if local else Path.home() / "AppData" / "Local"
        return base / "digestgate" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "digestgate"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "digestgate"


class Store:
    """The entries in one folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.written = 0

    @classmethod
    def open(cls, folder: Path | None = None) -> Store | None:
        """The store in `folder` (default: `default_folder()`), made if need be; None
        when it cannot be made or is not private to this user (a pickle from a
        folder others can write to would run their code)."""
        path = (folder or default_folder()) / f"v{FORMAT}"
        try:
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            st = os.stat(path)
        except OSError:
            return None
        if hasattr(os, "getuid") and (st.st_uid != os.getuid() or st.st_mode & 0o022):
            return None
        return cls(path)

    def _path(self, key: str) -> Path:
        return self.folder / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.pickle"

    def load(self, key: str) -> Entry | None:
        import pickle

        path = self._path(key)
        try:
            with open(path, "rb") as fh:
                entry = pickle.load(fh)
        except FileNotFoundError:
            return None
        except Exception:  # corrupt, truncated, from another layout: a miss
            return None
        if not isinstance(entry, Entry) or entry.key != key:
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # recently used: pruned last
        return entry

    def save(self, entry: Entry) -> None:
        import pickle
        import tempfile

        path = self._path(entry.key)
        try:
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".pickle")
        except OSError:
            return
        try:
            with os.fdopen(fd, "wb") as fh:
                pickle.dump(entry, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
            self.written += 1
        except Exception:  # a full disk, an unpicklable value: no entry, no failure
            with contextlib.suppress(OSError):
                os.unlink(tmp)

    def prune(self, max_bytes: int = MAX_BYTES) -> None:
        """Remove the least recently used entries until the folder holds at most
        `max_bytes` (and temporary files left by a run that was killed)."""
        entries: list[tuple[int, int, str]] = []
        total = 0
        now = time.time_ns()
        try:
            with os.scandir(self.folder) as it:
                for item in it:
                    try:
                        st = item.stat()
                    except OSError:
                        continue
                    if item.name.startswith(".tmp-"):
                        if now - st.st_mtime_ns > 3600 * 10**9:
                            with contextlib.suppress(OSError):
                                os.unlink(item.path)
                        continue
                    entries.append((st.st_mtime_ns, st.st_size, item.path))
                    total += st.st_size
        except OSError:
            return
        if total <= max_bytes:
            return
        for _, size, path in sorted(entries):
            with contextlib.suppress(OSError):
                os.unlink(path)
            total -= size
            if total <= max_bytes * 3 // 4:
                break


def lookup(store: Store, target: Target, options: Options) -> RepoResult | None:
    """The cached result for `target`, when every file it depends on is unchanged."""
    from digestgate.discover import workflow_files

    name = key(target, options)
    entry = store.load(name)
    if entry is None or workflow_files(target.root) != entry.listing:
        return None
    valid, refreshed = entry.reads.unchanged()
    if not valid:
        return None
    if refreshed:
        store.save(entry)
    return entry.result


def config_files(target: Target, options: Options) -> list[Path]:
    """The files the configuration of `target` is read from, or looked for."""
    if options.no_config:
        return []
    if options.config_file is not None:
        return [options.config_file]
    from digestgate.config import CONFIG_FILE, PYPROJECT

    return [target.root / CONFIG_FILE, target.root / PYPROJECT]


__all__ = [
    "Entry",
    "Reads",
    "Seen",
    "Store",
    "code_fingerprint",
    "config_files",
    "default_folder",
    "digest",
    "key",
    "lookup",
    "note_file",
    "note_probe",
    "note_read",
    "recording",
]
