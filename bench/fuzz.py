"""Fuzz the loader and the expression parser (and the shell reader) for a set time.

    python bench/fuzz.py [--seconds N] [--target loader expressions shell] [--out DIR]
                         [--engine generate|buffers]

The targets are the property tests of tests/test_properties.py, run over and over
with fresh random seeds (hypothesis' own generation, which favours edge cases, and
shrinks what fails), or with `--engine buffers` fed random bytes through hypothesis'
fuzz mode (`fuzz_one_input`). The inputs are those the tests draw: bytes, YAML-ish
token soup, structures written in every scalar style, expression soup, generated
valid expressions with assumptions, bash-ish text. Each target runs in a worker
process that notes the input it is on, so an input that kills the interpreter (a
crash in a C extension, as tree-sitter-bash once did) is caught and saved too; the
worker is then restarted.

Prints, per target: wall time, executions, executions per second, failures and
unique failures (by exception type and the innermost project frame). Each unique
failure is saved as DIR/<target>-<key>.txt (the input and the report; default DIR:
digestgate-fuzz in the temporary folder). Exits 1 when something failed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {
    "loader": [
        "test_loader_takes_any_bytes",
        "test_loader_takes_any_text",
        "test_structures_load_back_with_exact_spans",
    ],
    "expressions": [
        "test_parser_raises_only_expr_error",
        "test_placeholders_in_any_string",
        "test_generated_expressions_parse_and_reparse_from_their_spans",
        "test_evaluation_needs_no_safety_net_and_is_sound",
    ],
    "shell": ["test_shell_facts_of_any_script"],
}


def _load_tests(names: list[str]) -> list[tuple[str, Any]]:
    sys.path[:0] = [str(ROOT / "tests")]
    import test_properties

    return [(name, getattr(test_properties, name)) for name in names]


def failure_key(exc: BaseException) -> str:
    """Exception type and the innermost frame in the project's own code."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/linter/" in f.filename or "/rules/" in f.filename]
    frame = (ours or frames or [None])[-1]
    where = f"{Path(frame.filename).name}:{frame.lineno}" if frame else "?"
    return f"{type(exc).__name__}@{where}"


def _save(out: Path, target: str, key: str, failing_input: str, text: str) -> Path:
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    path = out / f"{target}-{digest}.txt"
    path.write_text(f"{key}\n\n{failing_input}\n\n{text}\n", encoding="utf-8")
    return path


# --- the worker: runs in its own process ---------------------------------------------


def worker(target: str, seconds: float, seed: int, out: Path, engine: str) -> int:
    """Run `target`'s properties until the time is up; one JSON line per failure and
    every two seconds the count, on the real stdout."""
    from hypothesis import Phase, settings
    from hypothesis import seed as use_seed
    from hypothesis.reporting import with_reporter

    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    sys.stdout = sys.stderr  # what the code under test prints stays out of the protocol
    # generate mode: rounds of ROUND examples per property, fresh seeds, shrinking on
    settings.register_profile("fuzz", database=None, phases=[Phase.generate, Phase.shrink])
    settings.load_profile("fuzz")
    os.environ["DIGESTGATE_PROPERTY_SCALE"] = "3"
    tests = _load_tests(TARGETS[target])
    rnd = random.Random(seed)
    current = out / f".{target}.current"
    executions = 0
    last = ""

    def counted(inner: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            nonlocal executions, last
            executions += 1
            last = repr(kwargs or args)
            current.write_text(f"{name}\n{last}", encoding="utf-8", errors="backslashreplace")
            return inner(*args, **kwargs)

        return run

    for _, test in tests:
        test.hypothesis.inner_test = counted(test.hypothesis.inner_test)
    deadline = time.monotonic() + seconds
    next_report = 0.0
    while time.monotonic() < deadline:
        name, test = tests[rnd.randrange(len(tests))]
        report: list[object] = []
        try:
            with with_reporter(report.append):
                if engine == "buffers":
                    data = rnd.randbytes(rnd.choice([16, 64, 256, 1024, 4096]))
                    test.hypothesis.fuzz_one_input(data)
                else:
                    use_seed(rnd.getrandbits(64))(test)()
        except Exception as exc:
            detail = "\n".join(map(str, report)) + "\n" + "".join(traceback.format_exception(exc))
            message = {"key": failure_key(exc), "test": name, "input": last, "detail": detail}
            print(json.dumps(message), file=protocol)
        if time.monotonic() >= next_report:
            print(json.dumps({"executions": executions}), file=protocol)
            next_report = time.monotonic() + 2
    print(json.dumps({"executions": executions}), file=protocol)
    current.unlink(missing_ok=True)
    return 0


# --- the driver ----------------------------------------------------------------------


def run_target(target: str, seconds: float, out: Path, engine: str) -> dict[str, Any]:
    executions = failures = crashes = 0
    unique: dict[str, Path] = {}
    deadline = time.monotonic() + seconds
    start = time.monotonic()
    seed = 0
    while time.monotonic() < deadline - 0.5:
        seed += 1
        done_before = executions
        proc = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--worker",
                target,
                "--seconds",
                str(deadline - time.monotonic()),
                "--seed",
                str(seed),
                "--out",
                str(out),
                "--engine",
                engine,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            message = json.loads(line)
            if "executions" in message:
                executions = done_before + message["executions"]
                continue
            failures += 1
            key = message["key"]
            if key not in unique:
                text = f"test: {message['test']}\n\n{message['detail']}"
                unique[key] = _save(out, target, key, message["input"], text)
        status = proc.wait()
        if status < 0:  # killed by a signal: the input it was on is the crash
            crashes += 1
            current = out / f".{target}.current"
            data = current.read_text(encoding="utf-8") if current.exists() else ""
            key = f"signal {signal.Signals(-status).name}"
            unique.setdefault(key, _save(out, target, key, data, "the worker process died"))
    wall = time.monotonic() - start
    return {
        "target": target,
        "seconds": wall,
        "executions": executions,
        "failures": failures + crashes,
        "crashes": crashes,
        "unique": unique,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="per target")
    parser.add_argument(
        "--target", nargs="*", choices=sorted(TARGETS), default=["loader", "expressions"]
    )
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "digestgate-fuzz")
    parser.add_argument(
        "--engine",
        choices=("generate", "buffers"),
        default="generate",
        help="generate: hypothesis' own generation, fresh seeds (default); "
        "buffers: random bytes through fuzz_one_input",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.worker:
        return worker(args.worker, args.seconds, args.seed, args.out, args.engine)
    os.environ.setdefault("PYTHONHASHSEED", "0")
    failed = False
    print(f"{'target':<12} {'seconds':>8} {'executions':>11} {'exec/s':>8} ", end="")
    print(f"{'failures':>9} {'unique':>7}")
    for target in args.target:
        r = run_target(target, args.seconds, args.out, args.engine)
        rate = r["executions"] / r["seconds"] if r["seconds"] else 0.0
        print(
            f"{target:<12} {r['seconds']:8.0f} {r['executions']:11,} {rate:8.0f} "
            f"{r['failures']:9} {len(r['unique']):7}",
            flush=True,
        )
        for key, path in r["unique"].items():
            print(f"    {key}: {path}")
        failed = failed or bool(r["failures"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
