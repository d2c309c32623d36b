"""Start-up time of the command line: median wall time of several runs.

    python bench/startup.py [--runs N]

Prints `digestgate --version`, `digestgate verify --help`, `digestgate record --help`
and `python -c pass` (the interpreter alone), each started as a fresh process, and
the modules the runtime check loads (it must load no YAML or parser library).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "digestgate --version": ["digestgate", "--version"],
    "digestgate verify --help": ["digestgate", "verify", "--help"],
    "digestgate record --help": ["digestgate", "record", "--help"],
}
HEAVY = ("ruamel", "libcst", "tree_sitter", "typer", "click", "rich")


def wall(argv: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    if shutil.which("digestgate") is None:
        print("startup: digestgate is not installed (pip install -e .)")
        return 1
    for label, argv in COMMANDS.items():
        print(f"{label:<28} {wall(argv, args.runs) * 1000:7.1f} ms (median of {args.runs})")
    probe = (
        "import sys; from digestgate import cli, runtime; "
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False
    ).stdout.strip()
    print(f"heavy modules loaded by the runtime path: {loaded}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
