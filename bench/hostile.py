"""Hostile inputs through `digestgate check`: each in a subprocess, with a time limit.

    python bench/hostile.py [--only NAME ...] [--timeout SECONDS] [--keep]

Every case writes a small repository in a temporary folder: one hostile file in
`.github/workflows/` beside an ordinary workflow (`ci.yml`, which pushes a tag and so
has findings). `digestgate check --no-config --no-cache` runs on it as a fresh process;
the wall time and the peak resident memory (`os.wait4`) of that process are measured.

A case passes when the run ends in time with exit 1 (findings) or 2 (a clean error),
prints no traceback, names the hostile file with the expected reason, and still
reports the neighbour's findings (one bad file never stops the run). Prints a table;
exits 1 when a case failed. The generated files (up to a few GB of sparse file and
20 MB of real text) live in the temporary folder and are removed afterwards.

Running as root, `chmod 000` does not stop reads: the unreadable case then drops the
capabilities that let root ignore file modes (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH)
from the child before it starts, and says so in the table.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

WORKFLOWS = ".github/workflows"

NEIGHBOUR = """\
name: CI
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: docker build -t ghcr.io/acme/app:latest . && docker push ghcr.io/acme/app:latest
"""
NEIGHBOUR_CODE = "DG201"  # the push in ci.yml captures no digest

HEADER = "name: hostile\non: push\njobs:\n"


# --- generators: each writes its hostile file(s) under `folder` (the workflows folder)
# and returns the file name expected in the report. `scale` shrinks them for tests.


def alias_bomb(folder: Path, scale: float = 1.0) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 10):
        refs = ", ".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    (folder / "bomb.yml").write_text("\n".join(lines) + "\n" + HEADER, encoding="utf-8")
    return "bomb.yml"


def recursive_alias(folder: Path, scale: float = 1.0) -> str:
    text = HEADER.replace("jobs:\n", "jobs: &jobs\n") + (
        "  a:\n    runs-on: ubuntu-latest\n    needs: *jobs\n    steps:\n      - run: make\n"
    )
    (folder / "recursive.yml").write_text(text, encoding="utf-8")
    return "recursive.yml"


def deep_nesting(folder: Path, scale: float = 1.0) -> str:
    depth = max(600, int(10_000 * scale))
    text = HEADER + "  deep:\n    runs-on: " + "[" * depth + "]" * depth + "\n"
    (folder / "deep.yml").write_text(text, encoding="utf-8")
    return "deep.yml"


def big_file(folder: Path, scale: float = 1.0) -> str:
    size = int(20 * 1024 * 1024 * scale)
    line = "# " + "x" * 97 + "\n"
    with (folder / "big.yml").open("w", encoding="utf-8") as handle:
        handle.write(HEADER + "  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: true\n")
        handle.write(line * (size // len(line)))
    return "big.yml"


def sparse_file(folder: Path, scale: float = 1.0) -> str:
    """A file whose size says gigabytes (sparse: nothing is written): refused unread."""
    with (folder / "sparse.yml").open("wb") as handle:
        handle.truncate(int(4 * 1024**3 * scale))
    return "sparse.yml"


def needs_chain(folder: Path, scale: float = 1.0) -> str:
    jobs = max(10, int(100_000 * scale))
    # empty step lists keep the file under the loader's size and node limits
    parts = [HEADER, "  j0: {runs-on: u, steps: [run: 'docker push ghcr.io/acme/chain:1']}\n"]
    parts.extend(f"  j{i}: {{needs: j{i - 1}, runs-on: u, steps: []}}\n" for i in range(1, jobs))
    (folder / "chain.yml").write_text("".join(parts), encoding="utf-8")
    return "chain.yml"


def needs_cycle(folder: Path, scale: float = 1.0) -> str:
    jobs = max(10, int(10_000 * scale))
    parts = [HEADER]
    parts.extend(
        f"  j{i}: {{needs: j{(i - 1) % jobs}, runs-on: u, steps: [{{run: t}}]}}\n"
        for i in range(jobs)
    )
    (folder / "cycle.yml").write_text("".join(parts), encoding="utf-8")
    return "cycle.yml"


def big_heredoc(folder: Path, scale: float = 1.0) -> str:
    size = int(1024 * 1024 * scale)
    line = "          echo $HOME ${{ github.sha }} 'q' \"d\" $(date) \\\\\n"
    text = (
        HEADER + "  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: |\n"
        "          cat <<EOF > notes.txt\n" + line * (size // len(line)) + "          EOF\n"
        "          docker push ghcr.io/acme/heredoc:1\n"
    )
    (folder / "heredoc.yml").write_text(text, encoding="utf-8")
    return "heredoc.yml"


def invalid_utf8(folder: Path, scale: float = 1.0) -> str:
    (folder / "latin1.yml").write_bytes(HEADER.encode() + b"  caf\xe9:\n    runs-on: x\n")
    return "latin1.yml"


def utf16(folder: Path, scale: float = 1.0) -> str:
    (folder / "utf16.yml").write_bytes((HEADER + "  a:\n    runs-on: x\n").encode("utf-16"))
    return "utf16.yml"


def symlink_loop(folder: Path, scale: float = 1.0) -> str:
    (folder / "loop-a.yml").symlink_to("loop-b.yml")
    (folder / "loop-b.yml").symlink_to("loop-a.yml")
    return "loop-a.yml"


def directory(folder: Path, scale: float = 1.0) -> str:
    (folder / "dir.yml").mkdir()
    (folder / "dir.yml" / "inner.yml").write_text(NEIGHBOUR, encoding="utf-8")
    return "dir.yml"


def fifo(folder: Path, scale: float = 1.0) -> str:
    os.mkfifo(folder / "fifo.yml")
    return "fifo.yml"


def unreadable(folder: Path, scale: float = 1.0) -> str:
    path = folder / "secret.yml"
    path.write_text(HEADER + "  a:\n    runs-on: x\n", encoding="utf-8")
    path.chmod(0)
    return "secret.yml"


def outside_link(folder: Path, scale: float = 1.0) -> str:
    """A symbolic link out of the repository (to a file of the runner): not read."""
    (folder / "outside.yml").symlink_to("/etc/passwd")
    return "outside.yml"


def device_link(folder: Path, scale: float = 1.0) -> str:
    (folder / "zero.yml").symlink_to("/dev/zero")
    return "zero.yml"


@dataclass(frozen=True)
class Case:
    name: str
    make: Callable[[Path, float], str]
    reason: str  # expected in the message about the hostile file
    status: int = 1  # 1: a DG000/DG001 finding on the file; 2: a clean error


CASES = [
    Case("alias bomb", alias_bomb, "alias bomb"),
    Case("recursive alias", recursive_alias, "recursive structure"),
    Case("10,000-deep nesting", deep_nesting, "nested more than"),
    Case("20 MB workflow", big_file, "bytes"),
    Case("4 GB sparse file", sparse_file, "bytes"),
    Case("100,000 jobs in a needs chain", needs_chain, "DG201"),
    Case("needs cycle of 10,000", needs_cycle, "cycle"),
    Case("1 MB run: heredoc", big_heredoc, "DG201"),
    Case("invalid UTF-8", invalid_utf8, "invalid UTF-8"),
    Case("UTF-16 file", utf16, "UTF-16"),
    Case("symlink loop", symlink_loop, "cannot read the file"),
    Case("workflow that is a directory", directory, "directory"),
    Case("FIFO", fifo, "not a regular file"),
    Case("unreadable (mode 000)", unreadable, "Permission denied"),
    Case("symlink out of the repository", outside_link, "outside the repository"),
    Case("symlink to /dev/zero", device_link, "not a regular file"),
]


def make_repo(case: Case, base: Path, scale: float = 1.0) -> tuple[Path, str]:
    """The repository for `case` under `base`, and the hostile file's repo-relative path."""
    root = base / case.make.__name__
    folder = root / WORKFLOWS
    folder.mkdir(parents=True)
    (folder / "ci.yml").write_text(NEIGHBOUR, encoding="utf-8")
    return root, f"{WORKFLOWS}/{case.make(folder, scale)}"


# --- running -----------------------------------------------------------------------

PR_CAPBSET_DROP = 24
CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 1, 2


def _drop_file_capabilities() -> None:
    """In the child before exec: root without the capabilities that bypass file modes."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


@dataclass
class Run:
    status: int | None  # None: killed at the time limit
    seconds: float
    peak_mb: float
    stdout: str
    stderr: str


def run_check(root: Path, timeout: float, *, drop_caps: bool = False) -> Run:
    """`python -m digestgate check --no-config --no-cache ROOT` as a child; time and peak RSS."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "digestgate", "check", "--no-config", "--no-cache", str(root)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env={**os.environ, "NO_COLOR": "1"},
            preexec_fn=_drop_file_capabilities if drop_caps else None,
        )
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            os.kill(proc.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill)
        timer.start()
        _, wait_status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(wait_status)
        out.seek(0)
        err.seek(0)
        return Run(
            None if killed.is_set() else proc.returncode,
            seconds,
            usage.ru_maxrss / 1024,  # KiB on Linux
            out.read().decode("utf-8", "replace"),
            err.read().decode("utf-8", "replace"),
        )


def judge(case: Case, run: Run, hostile: str) -> tuple[bool, str]:
    """(passed, the line that names the hostile file or what went wrong)."""
    if run.status is None:
        return False, "HANG: killed at the time limit"
    text = run.stdout + run.stderr
    if "Traceback" in text:
        return False, "traceback printed"
    if run.status not in (1, 2):
        return False, f"exit {run.status}: expected a finding or a clean error"
    about = [line for line in text.splitlines() if hostile in line]
    if not about:
        return False, f"no message names {hostile}"
    if not any(case.reason in line for line in about):
        return False, f"reason {case.reason!r} not given: {about[0]}"
    if run.status == 1 and not any(
        "ci.yml" in line and NEIGHBOUR_CODE in line for line in run.stdout.splitlines()
    ):
        return False, "the neighbour ci.yml was not reported"
    line = next(line for line in about if case.reason in line)
    return True, line.split(": ", 1)[-1] if ": " in line else line


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=[], help="run cases whose name has this")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="digestgate-hostile-"))
    root_user = os.geteuid() == 0
    failed = 0
    print(f"{'case':<32} {'exit':>4} {'time s':>7} {'peak MB':>8}  verdict")
    try:
        for case in CASES:
            if args.only and not any(o.lower() in case.name.lower() for o in args.only):
                continue
            root, hostile = make_repo(case, base)
            drop = case.make is unreadable and root_user
            run = run_check(root, args.timeout, drop_caps=drop)
            ok, detail = judge(case, run, Path(hostile).name)
            failed += not ok
            status = "hang" if run.status is None else str(run.status)
            note = " (as root: file capabilities dropped)" if drop else ""
            verdict = "ok  " if ok else "FAIL"
            print(
                f"{case.name:<32} {status:>4} {run.seconds:7.2f} {run.peak_mb:8.1f}  "
                f"{verdict} {detail[:90]}{note}"
            )
            if not ok:
                print(run.stderr[-2000:], file=sys.stderr)
            if not args.keep:
                shutil.rmtree(root, ignore_errors=True)
    finally:
        if args.keep:
            print(f"files kept in {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    print(f"{failed} case(s) failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
