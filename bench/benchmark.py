"""digestgate against zizmor and actionlint on the same files: time, files/s, memory.

    python bench/benchmark.py [FOLDER] [--runs N] [--jobs N] [--scale] [--no-peers]

FOLDER holds one repository per sub-folder (default: the bundled fixture cases,
tests/fixtures/cases; pass ../shared/corpus/repos for the real corpus). In one run,
alternating the tools round by round, it times (median of N runs, each a fresh
process):

* digestgate cold: `check --no-cache` over every repository (worker processes as
  `--jobs` says, by default one per CPU);
* digestgate warm: `check` again with a cache that already holds every repository
  (nothing changed: the case of a CI re-run or a second pre-commit pass);
* zizmor `--offline`, when installed, on the files digestgate reads (its workflow and
  action files), less the ones zizmor 1.32 refuses to load: one such file makes it
  abort the whole run, so they are found first and printed;
* actionlint, when installed, with shellcheck and pyflakes off, on the workflow files.

For each: wall time, files per second, CPU time, peak memory (of the largest process,
and of all its processes together, sampled every 10 ms on Linux), and the ratio of
its wall time to digestgate's. Then the single-file case (`check` on one small
workflow, as pre-commit runs it, cold and warm), start-up times (bench/startup.py),
and the language server's re-check latency (bench/lsp_latency.py, when pygls is
installed). With `--scale`, a growth table over generated monorepos
(bench/synthetic.py) of doubling size.

digestgate is the one installed for the Python that runs this script: a source
checkout (`pip install -e .`) is pure Python; a release wheel built with
`DIGESTGATE_MYPYC=1` (see the README) has its analysers compiled with mypyc, and its
`--version` line, printed first, says so. To measure one, install it in a virtual
environment and run this script with that environment's `python`.

Python is run as installed: with its bytecode cache. When PYTHONDONTWRITEBYTECODE is
set (some CI images set it), every run would compile digestgate's sources anew, so the
children get a temporary PYTHONPYCACHEPREFIX instead, and it says so.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import startup
import synthetic

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent
DEFAULT = PROJECT / "tests" / "fixtures" / "cases"
SMALL = PROJECT / "examples" / "shop"
SMALL_FILE = ".github/workflows/ci.yml"


@dataclass
class Sample:
    wall: float
    cpu: float
    peak_one: float  # MB: the largest process
    peak_all: float | None  # MB: all processes of the run together (sampled), if known
    status: int


@dataclass
class Series:
    label: str
    files: int
    samples: list[Sample] = field(default_factory=list)

    def median(self, attr: str) -> float:
        values = [getattr(s, attr) for s in self.samples if getattr(s, attr) is not None]
        return statistics.median(values) if values else float("nan")


# -- running and measuring one process ------------------------------------------------


def _tree_rss(root: int) -> tuple[int, int]:
    """Resident memory of a process tree (Linux): (the largest process, all of them),
    in bytes."""
    page = os.sysconf("SC_PAGE_SIZE")
    largest = total = 0
    stack = [root]
    while stack:
        pid = stack.pop()
        try:
            with open(f"/proc/{pid}/statm") as fh:
                rss = int(fh.read().split()[1]) * page
            largest, total = max(largest, rss), total + rss
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as fh:
                    stack.extend(int(c) for c in fh.read().split())
        except (OSError, ValueError):
            continue
    return largest, total


def measure(argv: Sequence[str], cwd: Path, env: dict[str, str]) -> Sample:
    """Run `argv` once: wall time; CPU time of it and its children (`os.wait4`); peak
    memory sampled from /proc every 10 ms on Linux (`ru_maxrss` elsewhere, which on
    Linux would also count the benchmark process the child was forked from)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    linux = sys.platform.startswith("linux")
    peaks = [0, 0]
    done = threading.Event()

    def sample() -> None:
        while True:
            largest, total = _tree_rss(proc.pid)
            peaks[0], peaks[1] = max(peaks[0], largest), max(peaks[1], total)
            if done.wait(0.01):
                return

    sampler = threading.Thread(target=sample, daemon=True)
    if linux:
        sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    done.set()
    if linux:
        sampler.join()
    return Sample(
        wall,
        usage.ru_utime + usage.ru_stime,
        peaks[0] / 1e6 if linux else usage.ru_maxrss / 1e6,  # bytes on macOS
        peaks[1] / 1e6 if linux else None,
        os.waitstatus_to_exitcode(status),
    )


# -- the tools --------------------------------------------------------------------------


def executable(name: str) -> str | None:
    """The program `name` runs, past a version manager's shim (pyenv's is a shell script
    that costs every tool ~70 ms a run here, which users without pyenv do not pay)."""
    found = shutil.which(name)
    if found is None or os.sep + "shims" + os.sep not in found:
        return found
    try:
        real = subprocess.run(
            ["pyenv", "which", name], capture_output=True, text=True, timeout=30, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return found
    return real if real and os.access(real, os.X_OK) else found


def digestgate_argv() -> list[str]:
    """The digestgate of the Python running the benchmark (the script beside it, so
    that `venv/bin/python bench/benchmark.py` measures what that venv has, such as a
    compiled wheel), else the one on PATH."""
    beside = Path(sys.executable).parent / "digestgate"
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside)]
    found = executable("digestgate")
    return [found] if found else [sys.executable, "-m", "digestgate"]


def child_env(cache: Path) -> tuple[dict[str, str], str | None]:
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_REPOSITORY", "NO_COLOR")}
    env["DIGESTGATE_CACHE_DIR"] = str(cache / "digestgate")
    note = None
    if env.pop("PYTHONDONTWRITEBYTECODE", None):
        env["PYTHONPYCACHEPREFIX"] = str(cache / "pycache")
        note = (
            "PYTHONDONTWRITEBYTECODE was set; digestgate runs with a bytecode cache "
            "(PYTHONPYCACHEPREFIX in a temporary folder), as an installed package does"
        )
    return env, note


def version(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr) else "?"


def files_read(repos: list[Path]) -> list[str]:
    """The files digestgate reads in each repository (workflows and the local actions
    and reusable workflows they reach), relative to the folder of repositories."""
    from digestgate.discover import targets
    from digestgate.repository import read_repository

    out: list[str] = []
    for repo in repos:
        for target in targets([str(repo)]):
            out += [f"{repo.name}/{rel}" for rel in read_repository(target).files]
    return out


# zizmor's fatal error (its warnings about files it skips say "failed to validate")
_REJECTED = re.compile(r"failed to load file://(\S+?) as ")


def zizmor_rejects(zizmor: str, files: list[str], cwd: Path) -> list[str]:
    """The files that make zizmor abort its whole run: named in its error, or found
    by halving the list when it names none."""

    def fails(subset: list[str]) -> tuple[bool, str]:
        out = subprocess.run(
            [zizmor, "--offline", "--no-progress", "--format", "plain", *subset],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
        )
        aborted = out.returncode not in (0, 10, 11, 12, 13, 14) or "no audit was performed" in (
            out.stderr
        )
        return aborted, out.stderr

    rejected: list[str] = []
    todo = list(files)
    while todo:
        aborted, stderr = fails(todo)
        if not aborted:
            break
        named = [m for m in dict.fromkeys(_REJECTED.findall(stderr)) if m in todo]
        if named:
            for name in named:
                todo.remove(name)
                rejected.append(name)
            continue
        culprit = _bisect(todo, lambda subset: fails(subset)[0])
        if culprit is None:  # fails only as a whole: give up on zizmor
            return files
        todo.remove(culprit)
        rejected.append(culprit)
    return rejected


def _bisect(files: list[str], fails: Callable[[list[str]], bool]) -> str | None:
    while len(files) > 1:
        half = files[: len(files) // 2]
        files = half if fails(half) else files[len(files) // 2 :]
    return files[0] if files and fails(files) else None


# -- the report -------------------------------------------------------------------------


def table(series: list[Series], base: Series) -> None:
    print(
        f"{'':34} {'wall s':>8} {'files/s':>9} {'cpu s':>7} "
        f"{'peak MB (largest / all)':>24} {'wall / digestgate cold':>23}"
    )
    for s in series:
        wall = s.median("wall")
        peak_all = s.median("peak_all")
        peak = f"{s.median('peak_one'):7.0f} / {peak_all:5.0f}" if peak_all == peak_all else ""
        print(
            f"{s.label:34} {wall:8.2f} {s.files / wall:9.0f} {s.median('cpu'):7.2f} "
            f"{peak:>24} {wall / base.median('wall'):23.2f}"
        )


def verdict(label: str, value: float, bound: float, unit: str) -> None:
    met = "yes" if value <= bound else "NO "
    print(f"  {met}  {label}: {value:.2f} {unit} (bound {bound:.2f} {unit})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--runs", type=int, default=3, help="runs of each tool (median)")
    parser.add_argument("--jobs", type=int, default=0, help="digestgate --jobs (0: its default)")
    parser.add_argument("--no-peers", action="store_true", help="time digestgate only")
    parser.add_argument("--scale", action="store_true", help="add the synthetic growth table")
    parser.add_argument(
        "--sizes", default="50,100,200,400", help="synthetic sizes for --scale (service workflows)"
    )
    args = parser.parse_args()
    folder = args.folder.resolve()
    repos = sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
    if not repos:
        print(f"benchmark: no repositories in {folder}")
        return 1
    with tempfile.TemporaryDirectory(prefix="digestgate-bench-") as tmp:
        return run(args, folder, repos, Path(tmp))


def run(args: argparse.Namespace, folder: Path, repos: list[Path], tmp: Path) -> int:
    env, note = child_env(tmp)
    dg = digestgate_argv()
    zizmor = None if args.no_peers else executable("zizmor")
    actionlint = None if args.no_peers else executable("actionlint")
    print("versions:")
    print(f"  {version([*dg, '--version'])} (Python {sys.version.split()[0]})")
    print(f"  {version([zizmor, '--version'])}" if zizmor else "  zizmor: not installed")
    if actionlint:
        print(f"  actionlint {version([actionlint, '--version'])}")
    else:
        print("  actionlint: not installed")
    if note:
        print(f"note: {note}")
    series = whole_folder(args, folder, repos, env, dg, zizmor, actionlint)
    small = single_file(dg, env, max(args.runs, 7))
    started = start_up(dg, env)
    lsp_latency(env)
    print("\ntargets:")
    cold, warm = series[0], series[1]
    peers = {s.label.split()[0]: s.median("wall") for s in series[2:]}
    if "zizmor" in peers:
        verdict("cold <= zizmor", cold.median("wall"), peers["zizmor"], "s")
    if "actionlint" in peers:
        verdict("warm <= actionlint", warm.median("wall"), peers["actionlint"], "s")
    verdict("one small workflow < 250 ms", small * 1000, 250, "ms")
    verdict("verify --help < 80 ms", started["digestgate verify --help"] * 1000, 80, "ms")
    peak = max(cold.median("peak_all"), cold.median("peak_one"))
    verdict("peak memory of the cold run < 250 MB", peak, 250, "MB")
    if args.scale:
        scale(dg, env, tmp, [int(n) for n in args.sizes.split(",")])
    return 0


def whole_folder(
    args: argparse.Namespace,
    folder: Path,
    repos: list[Path],
    env: dict[str, str],
    dg: list[str],
    zizmor: str | None,
    actionlint: str | None,
) -> list[Series]:
    """Every tool over every repository, round after round; prints the table."""
    read = files_read(repos)
    workflows = [f for f in read if re.search(r"/\.(github|gitea|forgejo)/workflows/", f)]
    print(
        f"\n{folder}: {len(repos)} repositories; digestgate reads {len(read)} files "
        f"({len(workflows)} workflows, the rest local actions)"
    )
    jobs = ["--jobs", str(args.jobs)] if args.jobs else []
    names = [f"{r.name}/" for r in repos]
    warm_argv = [*dg, "check", "--no-config", "-q", *jobs, *names]
    measure(warm_argv, folder, env)  # compiles the bytecode, fills the cache
    series = [
        Series(f"digestgate cold ({args.jobs or 'default'} jobs)", len(read)),
        Series("digestgate warm (cache)", len(read)),
    ]
    commands = [[*warm_argv, "--no-cache"], warm_argv]
    if zizmor:
        rejected = zizmor_rejects(zizmor, read, folder)
        given = [f for f in read if f not in rejected]
        print(f"zizmor refuses {len(rejected)} of these files (left out of its list):")
        for name in rejected:
            print(f"  {name}")
        series.append(Series("zizmor --offline", len(given)))
        commands.append([zizmor, "--offline", "--no-progress", "--format", "plain", *given])
    if actionlint:
        series.append(Series("actionlint (no shellcheck/pyflakes)", len(workflows)))
        commands.append([actionlint, "-shellcheck=", "-pyflakes=", *workflows])
    for _ in range(args.runs):
        for s, argv in zip(series, commands, strict=True):
            s.samples.append(measure(argv, folder, env))
    print(f"\nwhole folder, median of {args.runs} runs, tools alternating:")
    table(series, series[0])
    return series


def single_file(dg: list[str], env: dict[str, str], runs: int) -> float:
    """`check` on one small workflow, as pre-commit runs it; the cold wall time."""
    argv = [*dg, "check", SMALL_FILE]
    cold = Series("cold (--no-cache)", 1)
    warm = Series("warm (cache)", 1)
    measure(argv, SMALL, env)
    for _ in range(runs):
        cold.samples.append(measure([*argv, "--no-cache"], SMALL, env))
        warm.samples.append(measure(argv, SMALL, env))
    where = f"{SMALL.relative_to(PROJECT)}/{SMALL_FILE}"
    print(f"\ncheck {where} (the pre-commit case), median of {runs}:")
    for s in (cold, warm):
        wall, cpu = s.median("wall") * 1000, s.median("cpu") * 1000
        print(f"  {s.label:34} {wall:7.0f} ms wall, {cpu:5.0f} ms CPU")
    return cold.median("wall")


STARTUP_RUNS = 15


def start_up(dg: list[str], env: dict[str, str]) -> dict[str, float]:
    """Each command once per round, round after round (a slow spell of the machine
    then falls on all of them alike, as in the whole-folder table), after one warm-up
    round; the median of each."""
    print(
        f"\nstart-up (the commands of bench/startup.py), median of {STARTUP_RUNS}, "
        "commands alternating:"
    )
    commands = {
        label: [*dg, *argv[1:]] if argv[0] == "digestgate" else argv
        for label, argv in startup.COMMANDS.items()
    }
    times: dict[str, list[float]] = {label: [] for label in commands}
    for round_ in range(STARTUP_RUNS + 1):
        for label, argv in commands.items():
            took = wall_in(argv, env, 1)
            if round_:
                times[label].append(took)
    out = {label: statistics.median(samples) for label, samples in times.items()}
    for label, took in out.items():
        print(f"  {label:34} {took * 1000:7.1f} ms")
    return out


def lsp_latency(env: dict[str, str]) -> None:
    script = HERE / "lsp_latency.py"
    print("\nlanguage server, re-check of one edited file (bench/lsp_latency.py):")
    if not script.exists():
        print("  bench/lsp_latency.py is not there: not measured")
        return
    done = subprocess.run(
        [sys.executable, str(script), "--runs", "7"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    text = (done.stdout + done.stderr).strip() or "(no output)"
    print("\n".join(f"  {line}" for line in text.splitlines()))


def wall_in(argv: list[str], env: dict[str, str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def scale(dg: list[str], env: dict[str, str], tmp: Path, sizes: list[int]) -> None:
    """`check` on generated monorepos as they double: the time per job must not grow."""
    print("\ngrowth (bench/synthetic.py; one repository, cold, one process):")
    print(
        f"  {'N':>5} {'workflows':>9} {'jobs':>6} {'steps':>6} {'needs':>6} "
        f"{'wall s':>7} {'cpu s':>6} {'ms/job':>7} {'x time':>7} {'peak MB':>8}"
    )
    previous = None
    for n in sizes:
        root = tmp / f"synthetic-{n}"
        size = synthetic.generate(root, n)
        argv = [*dg, "check", "--no-config", "-q", "--no-cache", str(root)]
        sample = min((measure(argv, tmp, env) for _ in range(2)), key=lambda s: s.wall)
        growth = f"{sample.cpu / previous:7.2f}" if previous else f"{'':7}"
        previous = sample.cpu
        print(
            f"  {n:5} {size.workflows:9} {size.jobs:6} {size.steps:6} {size.needs:6} "
            f"{sample.wall:7.2f} {sample.cpu:6.2f} {sample.cpu / size.jobs * 1000:7.2f} "
            f"{growth} {sample.peak_one:8.0f}"
        )
        shutil.rmtree(root)


if __name__ == "__main__":
    sys.exit(main())
