"""Step facts over a folder of repositories: roles, parse failures, time.

    python bench/facts_sweep.py [FOLDER] [--failures] [--sample N]

For every job instance of every repository: the facts of each step (as written:
a composite step used by two jobs counts once), the roles found, `run:` bodies and
scripts the shell parser could not fully read, opaque steps, and the time the
analysis takes on top of reading and graphing. Exits 1 on an internal error.
"""

from __future__ import annotations

import argparse
import collections
import random
import sys
import time
import traceback
from pathlib import Path

from digestgate.analysis import Analysis
from digestgate.config import Config
from digestgate.discover import targets
from digestgate.graph import build_graph
from digestgate.repository import read_repository

DEFAULT = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "repos"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--failures", action="store_true", help="list parse failures")
    parser.add_argument("--sample", type=int, default=0, help="print N random jobs with roles")
    args = parser.parse_args()
    if not args.folder.is_dir():
        print(f"facts_sweep: {args.folder} does not exist (skipped)")
        return 0
    roles: collections.Counter[str] = collections.Counter()
    steps = run_steps = parse_failures = opaque = 0
    failures: list[str] = []
    jobs: list[tuple[str, str, list[str]]] = []
    errors: list[str] = []
    base_time = facts_time = 0.0
    for repo_dir in sorted(p for p in args.folder.iterdir() if p.is_dir()):
        t0 = time.perf_counter()
        try:
            (target,) = targets([str(repo_dir)])
            repo = read_repository(target)
            graph = build_graph(repo)
        except Exception:
            errors.append(f"{repo_dir.name}: {traceback.format_exc(limit=4)}")
            continue
        t1 = time.perf_counter()
        base_time += t1 - t0
        analysis = Analysis(graph, Config())
        seen: set[int] = set()
        try:
            for node in graph.nodes:
                job = graph.job(node)
                for i, expanded in enumerate(graph.steps(node.path, job)):
                    facts = analysis.facts.of(node, i)
                    if id(expanded.step) in seen:
                        continue
                    seen.add(id(expanded.step))
                    steps += 1
                    roles.update(r.value for r in facts.roles)
                    if expanded.step.run is not None:
                        run_steps += 1
                        bad = [n for n in facts.notes if "line " in n or "parse" in n]
                        if bad:
                            parse_failures += 1
                            where = f"{repo_dir.name}/{expanded.path}:{expanded.step.span.line}"
                            failures.append(f"{where}: {bad[0]}")
                    if facts.opaque:
                        opaque += 1
                jobs.append(
                    (repo_dir.name, f"{node}", sorted(r.value for r in analysis.roles.of(node)))
                )
        except Exception:
            errors.append(f"{repo_dir.name}: {traceback.format_exc(limit=6)}")
        facts_time += time.perf_counter() - t1
    print(f"steps analysed: {steps} ({run_steps} with run:)")
    for role, n in sorted(roles.items()):
        print(f"  {role}: {n}")
    print(f"run: bodies with parse errors: {parse_failures}")
    print(f"opaque steps: {opaque}")
    print(
        f"read + model + graph: {base_time:.2f} s; step facts and roles on top: {facts_time:.2f} s"
    )
    print(f"internal errors: {len(errors)}")
    for e in errors[:10]:
        print(e, file=sys.stderr)
    if args.failures:
        print("\n".join(failures))
    if args.sample:
        random.seed(1)
        for repo, node, job_roles in random.sample(jobs, min(args.sample, len(jobs))):
            print(f"{repo}: {node} {job_roles}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
