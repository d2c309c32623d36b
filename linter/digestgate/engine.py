"""The pipeline, end to end: discover -> load -> model -> graph -> rules -> findings.

`check()` is what the CLI and the language server call. It reads each repository
once, builds its graph once, runs every enabled rule's hooks, applies inline
suppressions and configuration, and returns findings with fingerprints. It never
raises for bad input: unreadable files and invalid YAML are DG000 findings, bad
configuration is a `ConfigError` for the caller to print (exit 2).
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from digestgate.config import Config, load_config
from digestgate.discover import Target, targets
from digestgate.findings import Finding, Severity, with_fingerprints
from digestgate.graph import RepoGraph, build_graph
from digestgate.registry import all_rules, by_code, known_codes
from digestgate.repository import PROGRESS, Repository, read_repository
from digestgate.rule import Context, Rule, iter_steps
from digestgate.span import Span
from digestgate.suppressions import Outcome
from digestgate.suppressions import apply as apply_suppressions
from digestgate.suppressions import scan as scan_suppressions

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
    result = Result()
    # Loading makes hundreds of thousands of small objects: the cyclic collector
    # would spend a third of the run scanning them. It is paused while a repository
    # is checked, and run once after each (ruamel.yaml's C loader leaves cycles).
    was_enabled = gc.isenabled()
    gc.disable()
    gc.freeze()  # what exists now (modules, rules) is not scanned by those runs
    try:
        for target in targets(list(paths), options.stdin_filename, options.stdin):
            result.repos.append(check_target(target, options))
            if was_enabled:
                gc.collect()
                gc.freeze()  # survivors (lazily imported libcst, caches) are not rescanned
    finally:
        gc.unfreeze()
        if was_enabled:
            gc.enable()
    return result


def load_target_config(target: Target, options: Options) -> Config:
    config = load_config(
        target.root,
        explicit=options.config_file,
        no_config=options.no_config,
        known_codes=known_codes(),
    )
    return config.merged_with_cli(options.select, options.ignore)


def check_target(target: Target, options: Options) -> RepoResult:
    config = load_target_config(target, options)
    repo = read_repository(target, slug=config.repository)
    graph = build_graph(repo)
    findings = run_rules(repo, graph, config)
    if not options.keep_models:
        return RepoResult(config, findings, len(repo.files))
    return RepoResult(config, findings, len(repo.files), repo, graph)


def run_rules(repo: Repository, graph: RepoGraph, config: Config) -> list[Finding]:
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
    repo = context.repository
    broken = frozenset() if rule.runs_on_broken else context.broken

    def skip(path: str) -> bool:
        return path in broken

    PROGRESS.current = f"{repo.root} ({rule.code})"
    yield from rule.check_repository()
    for wf in repo.workflows.values():
        if skip(wf.path):
            continue
        PROGRESS.current = f"{repo.root / wf.path} ({rule.code})"
        yield from rule.check_workflow(wf)
        for job in wf.jobs.values():
            yield from rule.check_job(wf, job)
    for action in repo.actions.values():
        if not skip(action.path):
            PROGRESS.current = f"{repo.root / action.path} ({rule.code})"
            yield from rule.check_action(action)
    for owner, owner_job, step in iter_steps(repo):
        if not skip(owner.path):
            PROGRESS.current = f"{repo.root / owner.path} ({rule.code})"
            yield from rule.check_step(owner, owner_job, step)


def _suppression_findings(outcome: Outcome, context: Context) -> list[Finding]:
    """DG002 for unused or unknown suppressions, DG003 for a bare `ignore`."""
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
