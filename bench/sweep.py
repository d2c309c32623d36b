"""Sweep `digestgate check` over a folder of repositories: crashes, counts, time.

    python bench/sweep.py [FOLDER] [--show CODE ...]

FOLDER holds one repository per sub-folder (default: ../shared/corpus/repos next to
the project, which developers have and users do not). Each repository is checked in
this process, one at a time, so one bad repository never stops the sweep: an
exception is counted as an internal error with the repository named. Prints the
files read, findings per rule, the share of workflow files with a finding, internal
errors and the wall time. Exits 1 when there was an internal error.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
import traceback
from pathlib import Path

from digestgate import engine

DEFAULT = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "repos"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--show", nargs="*", default=[], help="print findings of these codes")
    args = parser.parse_args()
    if not args.folder.is_dir():
        print(f"sweep: {args.folder} does not exist; nothing to sweep (skipped)")
        return 0
    repos = sorted(p for p in args.folder.iterdir() if p.is_dir())
    counts: collections.Counter[str] = collections.Counter()
    files = 0
    flagged: set[tuple[str, str]] = set()
    workflows = 0
    errors: list[str] = []
    options = engine.Options(no_config=True)
    start = time.perf_counter()
    for repo in repos:
        try:
            result = engine.check([str(repo)], options)
        except Exception:
            errors.append(f"{repo.name}: {traceback.format_exc(limit=3)}")
            continue
        files += result.files
        for r in result.repos:
            assert r.repository is not None
            workflows += len(r.repository.workflows) + sum(
                1 for p in r.repository.problems if p not in r.repository.workflows
            )
        for f in result.findings:
            counts[f.code] += 1
            flagged.add((repo.name, f.path))
            if f.code in args.show:
                print(f"{repo.name}/{f.path}:{f.span.line}:{f.span.column}: {f.code} {f.message}")
    wall = time.perf_counter() - start
    print(f"repositories: {len(repos)}")
    print(f"files read: {files}")
    print(f"findings: {sum(counts.values())}")
    for code, n in sorted(counts.items()):
        print(f"  {code}: {n}")
    share = len(flagged) / workflows if workflows else 0.0
    print(f"files with a finding: {len(flagged)} of {workflows} ({share:.1%})")
    print(f"internal errors: {len(errors)}")
    for e in errors:
        print(e, file=sys.stderr)
    print(f"wall time: {wall:.2f} s")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
