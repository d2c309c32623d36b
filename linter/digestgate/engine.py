"""The pipeline, end to end: discover -> load -> model -> graph -> rules -> findings.

`check()` is what the CLI calls (the language server calls `check_target()` for one
repository). It reads each repository once, builds its graph once, runs every enabled
rule's hooks, applies inline suppressions and configuration, and returns findings
with fingerprints. It never raises for bad input: unreadable files and invalid YAML
are DG000 findings, bad configuration is a `ConfigError` for the caller to print
(exit 2).

A run over several repositories checks them in worker processes (`Options.jobs`),
with the same results in the same order; with `Options.cache`, a repository whose
files did not change since an earlier run is not checked again (`cache.py`).
"""

from __future__ import annotations

import copyreg
import gc
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from digestgate.discover import Target, targets
from digestgate.findings import Finding, Severity, with_fingerprints

if TYPE_CHECKING:
    from digestgate.cache import Store
    from digestgate.config import Config
    from digestgate.graph import RepoGraph
    from digestgate.repository import Repository
    from digestgate.rule import Context, Rule
    from digestgate.span import Span
    from digestgate.suppressions import Outcome

# The stages (YAML, the model, the rules) are imported when a repository is checked,
# not with this module: a run whose results all come from the cache never loads them.

# Engine-level codes: reported by the engine itself, documented by their rule modules.
BROKEN_CODES = ("DG000", "DG001")
UNUSED_SUPPRESSION = "DG002"
BLANKET_SUPPRESSION = "DG003"


@dataclass
class Options:
    select: Sequence[str] | None = None
    ignore: Sequence[str] | None = None
    config_file: Path | None = None
    no_config: bool = False
    stdin_filename: str | None = None
    stdin: bytes = b""
    keep_models: bool = True
    # Worker processes for a run over several repositories; None: by the CPUs and the
    # work (`default_jobs`). Results are the same, in the same order, for any number.
    jobs: int | None = None
    # Reuse the results of repositories whose files did not change (`cache.py`); only
    # without `keep_models`, and never for content given on stdin.
    cache: bool = False
    cache_dir: Path | None = None  # default: `cache.default_folder()`


@dataclass
class RepoResult:
    config: Config
    findings: list[Finding]
    files: int  # files read, context included
    # The model, for callers that want it (the language server, `graph`); None when
    # `Options.keep_models` is off, so a large run holds only findings in memory.
    repository: Repository | None = None
    graph: RepoGraph | None = None


@dataclass
class Result:
    repos: list[RepoResult] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)  # what each of `repos` checked

    def checked(self) -> list[tuple[Target, Config]]:
        """Each repository checked, with the configuration it was checked under."""
        return [(t, r.config) for t, r in zip(self.targets, self.repos, strict=True)]

    @property
    def findings(self) -> list[Finding]:
        return sorted((f for r in self.repos for f in r.findings), key=Finding.sort_key)

    @property
    def files(self) -> int:
        return sum(r.files for r in self.repos)

    def failing(self) -> list[Finding]:
        out: list[Finding] = []
        for r in self.repos:
            threshold = r.config.fail_on.rank
            out.extend(f for f in r.findings if f.severity.rank >= threshold)
        return out


def check(paths: Sequence[str], options: Options | None = None) -> Result:
    options = options or Options()
    found = targets(list(paths), options.stdin_filename, options.stdin)
    store = _open_store(options)
    results: list[RepoResult | None] = [None] * len(found)
    todo: list[int] = []
    for i, target in enumerate(found):
        if store is not None and not target.stdin:
            from digestgate.cache import lookup

            results[i] = lookup(store, target, options)
        if results[i] is None:
            todo.append(i)
    jobs = default_jobs([found[i] for i in todo]) if options.jobs is None else options.jobs
    if jobs > 1 and len(todo) > 1:
        for i, result in _check_parallel(found, todo, options, store, jobs):
            results[i] = result
    else:
        for i, result in _check_serial(found, todo, options, store):
            results[i] = result
    if store is not None and store.written:
        store.prune()
    done = [(t, r) for t, r in zip(found, results, strict=True) if r is not None]
    return Result([r for _, r in done], [t for t, _ in done])


# Checking makes hundreds of thousands of small objects: the cyclic collector would
# spend a third of the run scanning them. It is paused while repositories are checked
# and run after a repository only when enough objects outlived it. The model has no
# reference cycles (tests/test_engine_gc.py), so a checked repository's objects are
# freed at once and what outlives it is mostly alive (caches, findings); a collection
# that finds next to no garbage makes the next one wait for twice as many survivors.
# `gc.get_count()[0]` counts the objects made and not freed since the last
# collection, paused or not.
_SURVIVORS = 50_000
_survivors = [_SURVIVORS]  # the current threshold (a list: changed in place)


def _paused_gc() -> bool:
    was_enabled = gc.isenabled()
    gc.disable()
    gc.freeze()  # what exists now (modules, rules) is not scanned by those runs
    return was_enabled


def _collect(was_enabled: bool) -> None:
    count = gc.get_count()[0]
    if was_enabled and count > _survivors[0]:
        if gc.collect() < count // 100:
            _survivors[0] = min(2 * _survivors[0], 1_000_000)
        gc.freeze()  # survivors (lazily imported libcst, caches) are not rescanned


def _resumed_gc(was_enabled: bool) -> None:
    # No collection here: the last repository left fewer than _survivors objects (or
    # `_collect` collected them), and a full collection now would scan every module
    # again, for nothing.
    gc.unfreeze()
    if was_enabled:
        gc.enable()


def _check_serial(
    found: list[Target], todo: list[int], options: Options, store: Store | None
) -> Iterable[tuple[int, RepoResult]]:
    was_enabled = _paused_gc()
    try:
        for i in todo:
            yield i, _check_one(found[i], options, store)
            _collect(was_enabled)
    finally:
        _resumed_gc(was_enabled)


def _check_one(target: Target, options: Options, store: Store | None) -> RepoResult:
    """`check_target`, recorded into the cache when there is one."""
    if store is None or target.stdin:
        return check_target(target, options)
    from digestgate.cache import Entry, config_files, key, note_file, recording
    from digestgate.discover import workflow_files

    listing = workflow_files(target.root)
    with recording() as reads:
        for path in config_files(target, options):
            note_file(path)
        result = check_target(target, options)
    store.save(Entry(key(target, options), listing, reads, result))
    return result


def _open_store(options: Options) -> Store | None:
    if not options.cache or options.keep_models:
        return None
    from digestgate.cache import Store

    return Store.open(options.cache_dir)


# -- parallel runs ------------------------------------------------------------------

_MIN_PARALLEL_BYTES = 256 * 1024  # less workflow text than this is quicker in one process


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def default_jobs(work: Sequence[Target]) -> int:
    """One process per CPU for a run over several repositories with enough workflow
    text to pay for starting them; one otherwise (a pre-commit run, one repository)."""
    if len(work) < 2:
        return 1
    cpus = available_cpus()
    if cpus < 2 or sum(_weight(t) for t in work) < _MIN_PARALLEL_BYTES:
        return 1
    return min(cpus, len(work))


def _weight(target: Target) -> int:
    """The bytes of a repository's workflow files: how long checking it will take,
    roughly."""
    from digestgate.discover import WORKFLOW_DIRS

    total = 0
    for folder, _ in WORKFLOW_DIRS:
        try:
            with os.scandir(target.root / folder) as entries:
                for entry in entries:
                    try:
                        total += entry.stat().st_size
                    except OSError:
                        continue
        except OSError:
            continue
    return total


def _mapping_proxy(items: dict[Any, Any]) -> MappingProxyType[Any, Any]:
    return MappingProxyType(items)


# A `Config` holds read-only mappings, which pickle cannot carry between processes
# (or into the cache) by itself.
copyreg.pickle(MappingProxyType, lambda proxy: (_mapping_proxy, (dict(proxy),)))


def _check_parallel(
    found: list[Target], todo: list[int], options: Options, store: Store | None, jobs: int
) -> Iterable[tuple[int, RepoResult]]:
    """Check `found[i]` for each `i` in `todo` in `jobs` worker processes, biggest
    repositories first, and give the results back in the order of `todo`. A worker's
    exception is raised here, at its repository's turn, as in a serial run."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from digestgate.registry import all_rules
    from digestgate.repository import PROGRESS

    # Forked workers share what the parent has imported: the rules and, through
    # them, every stage; and the YAML and shell parsers every run uses (made once
    # here rather than once per worker). libcst is left to the workers that meet a
    # Python script: importing it costs more than a whole small run.
    all_rules()
    from digestgate.loader import warm_up as warm_loader
    from digestgate.shell import warm_up as warm_shell

    warm_loader()
    warm_shell()

    method = "fork" if sys.platform == "linux" else "spawn"
    context = multiprocessing.get_context(method)
    folder = store.folder if store is not None else None
    order = sorted(todo, key=lambda i: -_weight(found[i]))
    was_enabled = _paused_gc()
    for stream in (sys.stdout, sys.stderr):  # a forked worker flushes its copy on exit
        stream.flush()
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=context)
    try:
        futures = {i: pool.submit(_work, found[i], options, folder) for i in order}
        for i in todo:
            try:
                result, written = futures[i].result()
            except BaseException as exc:
                where = getattr(exc, "digestgate_progress", None)
                if where is not None:
                    PROGRESS.current = where
                raise
            if store is not None:
                store.written += written
            yield i, result
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        _resumed_gc(was_enabled)


def _work(target: Target, options: Options, folder: Path | None) -> tuple[RepoResult, int]:
    """In a worker process: check one repository (and write its cache entry)."""
    from digestgate.cache import Store
    from digestgate.repository import PROGRESS

    store = Store(folder) if folder is not None else None
    was_enabled = gc.isenabled()  # the parent paused it before forking
    gc.disable()
    try:
        result = _check_one(target, options, store)
    except BaseException as exc:
        # Which file was being checked, for the parent's one-line internal error.
        exc.digestgate_progress = PROGRESS.current  # type: ignore[attr-defined]
        raise
    _collect(True)
    if was_enabled:
        gc.enable()
    return result, store.written if store is not None else 0


def load_target_config(target: Target, options: Options) -> Config:
    from digestgate.config import load_config
    from digestgate.registry import known_codes

    config = load_config(
        target.root,
        explicit=options.config_file,
        no_config=options.no_config,
        known_codes=known_codes(),
    )
    return config.merged_with_cli(options.select, options.ignore)


def check_target(target: Target, options: Options) -> RepoResult:
    from digestgate.graph import build_graph
    from digestgate.repository import read_repository

    config = load_target_config(target, options)
    repo = read_repository(target, slug=config.repository)
    graph = build_graph(repo)
    findings = run_rules(repo, graph, config)
    if not options.keep_models:
        return RepoResult(config, findings, len(repo.files))
    return RepoResult(config, findings, len(repo.files), repo, graph)


def run_rules(repo: Repository, graph: RepoGraph, config: Config) -> list[Finding]:
    from digestgate.registry import all_rules, known_codes
    from digestgate.rule import Context
    from digestgate.suppressions import apply as apply_suppressions
    from digestgate.suppressions import scan as scan_suppressions

    broken = frozenset(repo.problems) | frozenset(graph.problems)
    context = Context(repo, graph, config, broken)
    raw: list[Finding] = []
    for rule_cls in all_rules():
        if rule_cls.code in (UNUSED_SUPPRESSION, BLANKET_SUPPRESSION):
            continue
        if not config.is_enabled(rule_cls.code):
            continue
        raw.extend(_run_rule(rule_cls(context), context))

    # A step reached twice (a composite action used by two jobs, a workflow called
    # twice) gives the same finding twice: keep one.
    unique = {(f.code, f.location.path, f.location.span, f.message): f for f in raw}
    kept = [
        f
        for f in unique.values()
        if repo.is_reported(f.location.path) and not config.is_excluded(f.location.path)
    ]
    suppressions = {p: scan_suppressions(s) for p, s in repo.sources.items()}
    outcome = apply_suppressions(
        kept, suppressions, enabled=config.is_enabled, known_codes=known_codes()
    )
    findings = list(outcome.kept)
    findings.extend(_suppression_findings(outcome, context))
    findings = [
        _with_severity(f, config.severity_of(f.code, f.severity))
        for f in findings
        if repo.is_reported(f.location.path) and not config.is_excluded(f.location.path)
    ]
    return with_fingerprints(findings)


def _with_severity(f: Finding, severity: Severity) -> Finding:
    if severity is f.severity:
        return f
    from dataclasses import replace

    return replace(f, severity=severity)


def _run_rule(rule: Rule, context: Context) -> Iterable[Finding]:
    from digestgate.repository import PROGRESS
    from digestgate.rule import Rule, iter_steps

    repo = context.repository
    broken = frozenset() if rule.runs_on_broken else context.broken
    root = str(repo.root)

    def skip(path: str) -> bool:
        return path in broken

    def here(path: str) -> str:  # a string, not a Path: this runs for every step
        return f"{os.path.join(root, path)} ({rule.code})"

    PROGRESS.current = f"{root} ({rule.code})"
    yield from rule.check_repository()
    # A hook the rule does not override finds nothing: its walk is skipped (most
    # rules have one hook, and the step walk visits every step of the repository).
    kind = type(rule)
    if kind.check_workflow is not Rule.check_workflow or kind.check_job is not Rule.check_job:
        for wf in repo.workflows.values():
            if skip(wf.path):
                continue
            PROGRESS.current = here(wf.path)
            yield from rule.check_workflow(wf)
            for job in wf.jobs.values():
                yield from rule.check_job(wf, job)
    if kind.check_action is not Rule.check_action:
        for action in repo.actions.values():
            if not skip(action.path):
                PROGRESS.current = here(action.path)
                yield from rule.check_action(action)
    if kind.check_step is Rule.check_step:
        return
    last = None
    for owner, owner_job, step in iter_steps(repo):
        if not skip(owner.path):
            if owner.path is not last:  # steps come grouped by file
                PROGRESS.current = here(owner.path)
                last = owner.path
            yield from rule.check_step(owner, owner_job, step)


def _suppression_findings(outcome: Outcome, context: Context) -> list[Finding]:
    """DG002 for unused or unknown suppressions, DG003 for a bare `ignore`."""
    from digestgate.registry import by_code

    rules = by_code()
    out: list[Finding] = []

    def emit(code: str, path: str, span: Span, message: str) -> None:
        if code in rules and context.config.is_enabled(code):
            out.append(rules[code](context).finding(path, span, message))

    for sup in outcome.unused:
        codes = ", ".join(sup.codes)
        emit(
            UNUSED_SUPPRESSION,
            sup.path,
            sup.span,
            f"unused suppression: no {codes} finding on line {sup.target_line}; remove it",
        )
    for sup, code in outcome.unknown:
        emit(
            UNUSED_SUPPRESSION,
            sup.path,
            sup.span,
            f"suppression names {code!r}, which is not a digestgate rule",
        )
    for sup in outcome.blanket:
        path = sup.path
        here = sorted(
            {
                f.code
                for f in outcome.kept
                if f.location.path == path and f.location.span.line == sup.target_line
            }
        )
        hint = (
            f"; the findings on line {sup.target_line} are {', '.join(here)}: "
            f"write `# digestgate: ignore[{', '.join(here)}]`"
            if here
            else f"; there is no finding on line {sup.target_line}"
        )
        emit(
            BLANKET_SUPPRESSION,
            path,
            sup.span,
            f"`# digestgate: ignore` must name the rules it silences{hint}",
        )
    return out
