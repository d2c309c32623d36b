"""The real command line over the corpus: no internal error, and one bad file never
stops the run.

    python bench/corpus_check.py [FOLDER] [--no-inject] [--timeout SECONDS]

FOLDER holds one repository per sub-folder (default ../shared/corpus/repos beside the
project; when it is absent the script says so and exits 0). `bench/sweep.py` checks the
same repositories in process, one at a time; this script runs `digestgate check` as
users do, one process for all of them, where a single internal error would end the
whole run with exit 2.

1. `digestgate check --no-config --no-cache --format json` over every repository: the exit
   status must be 0 or 1 with nothing on stderr, and every workflow file discovered
   must have been read.
2. Unless --no-inject: a copy of the corpus gets every hostile file of
   `bench/hostile.py` (small sizes) in each repository's workflows folder, and is
   checked again. Each hostile file must be a DG000/DG001 finding, and the findings
   of every original file must be exactly those of step 1.

Prints the counts and wall times; exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import hostile  # bench/hostile.py, beside this script

from digestgate.discover import workflow_files

DEFAULT = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "repos"
SCALE = 0.01  # hostile files at the sizes of tests/test_hostile_files.py


def run_cli(repos: list[Path], timeout: float) -> tuple[int, dict[str, Any], str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        start = time.perf_counter()
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "digestgate",
                "check",
                "--no-config",
                "--no-cache",  # really check, every time
                "--format",
                "json",
                "--output",
                str(report),
                *map(str, repos),
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            # as root, without the capabilities that ignore file modes (the mode-000 file)
            preexec_fn=hostile._drop_file_capabilities if os.geteuid() == 0 else None,
        )
        wall = time.perf_counter() - start
        document = json.loads(report.read_text()) if report.exists() else {}
    return proc.returncode, document, proc.stderr, wall


def keyed(document: dict[str, Any]) -> set[tuple[str, str, int, int, str]]:
    """Findings as (repository, path, line, column, code), independent of where the
    corpus lies."""
    out = set()
    for f in document.get("findings", []):
        repo = Path(f["root"]).name if f["root"] else ""
        out.add((repo, f["path"], f["line"], f["column"], f["code"]))
    return out


def inject(folder: Path, target: Path) -> set[tuple[str, str]]:
    """Copy the corpus to `target` and put the hostile files into each repository's
    workflows folder; returns their (repository, path)."""
    shutil.copytree(folder, target, symlinks=True)
    added: set[tuple[str, str]] = set()
    for repo in sorted(p for p in target.iterdir() if p.is_dir()):
        workflows = repo / hostile.WORKFLOWS
        workflows.mkdir(parents=True, exist_ok=True)
        before = set(os.listdir(workflows))
        for case in hostile.CASES:
            scale = 0.3 if case.make is hostile.big_file else SCALE
            case.make(workflows, scale)
        added |= {
            (repo.name, f"{hostile.WORKFLOWS}/{n}") for n in set(os.listdir(workflows)) - before
        }
    return added


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--no-inject", action="store_true")
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()
    if not args.folder.is_dir():
        print(f"corpus_check: {args.folder} does not exist; nothing to check (skipped)")
        return 0
    repos = sorted(p for p in args.folder.iterdir() if p.is_dir())
    discovered = sum(len(workflow_files(r)) for r in repos)
    status, document, stderr, wall = run_cli(repos, args.timeout)
    findings = document.get("findings", [])
    codes = collections.Counter(f["code"] for f in findings)
    broken = {(f["root"], f["path"]) for f in findings if f["code"] == "DG000"}
    files = document.get("summary", {}).get("files", 0)
    problems = []
    if status not in (0, 1) or stderr:
        problems.append(f"exit {status}, stderr: {stderr.strip()[:500]}")
    if files < discovered:
        problems.append(f"only {files} files read of {discovered} workflow files")
    print(f"repositories: {len(repos)}")
    print(f"workflow files discovered: {discovered}; files read (with actions): {files}")
    print(f"findings: {len(findings)} ({', '.join(f'{c} {n}' for c, n in sorted(codes.items()))})")
    print(f"files with DG000 (not modelled, every other file still checked): {len(broken)}")
    print(f"internal errors: {0 if status in (0, 1) else 1}; exit status {status}")
    print(f"wall time: {wall:.1f} s")
    if not args.no_inject and not problems:
        problems += check_injected(args.folder, document, args.timeout)
    for p in problems:
        print(f"FAIL: {p}")
    return 1 if problems else 0


def check_injected(folder: Path, before: dict[str, Any], timeout: float) -> list[str]:
    with tempfile.TemporaryDirectory(prefix="digestgate-corpus-") as tmp:
        copy = Path(tmp) / "repos"
        added = inject(folder, copy)
        repos = sorted(p for p in copy.iterdir() if p.is_dir())
        status, document, stderr, wall = run_cli(repos, timeout)
    problems = []
    if status not in (0, 1) or stderr:
        problems.append(f"with hostile files: exit {status}, stderr: {stderr.strip()[:500]}")
    after = keyed(document)
    original = {k for k in after if (k[0], k[1]) not in added}
    missing = keyed(before) - original
    extra = original - keyed(before)
    reported = {(k[0], k[1]) for k in after}
    # every hostile file is reported: DG000/DG001, or rule findings for the modelled
    # ones (the chain and the heredoc push a tag)
    unflagged = added - reported
    repositories = len({repo for repo, _ in added})
    print(
        f"with {len(added)} hostile files added ({repositories} repositories): "
        f"{len(after)} findings, {len(missing)} original findings lost, "
        f"{len(extra)} gained, {len(unflagged)} hostile files not reported; "
        f"exit status {status}; wall time {wall:.1f} s"
    )
    if missing or extra:
        problems.append(
            f"original findings changed: lost {sorted(missing)[:5]}, gained {sorted(extra)[:5]}"
        )
    if unflagged:
        problems.append(f"hostile files without a finding: {sorted(unflagged)[:5]}")
    return problems


if __name__ == "__main__":
    sys.exit(main())
