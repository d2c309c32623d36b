"""The rule API: what a rule module defines and what it is given.

A rule is a subclass of `Rule` in its own module. It declares its metadata as class
attributes, documents itself in a docstring with the sections `What it checks`,
`Why`, and `How to fix`, carries good and bad `Example`s (which are its tests), and
overrides the typed hooks it needs. Hooks return findings made with `self.finding`.
Rules read the built model and graph from `Context`; they never parse files.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from digestgate.findings import Finding, Location, Severity
from digestgate.model import Action, Job, Step, Workflow
from digestgate.span import Span

if TYPE_CHECKING:
    from digestgate.analysis import Analysis
    from digestgate.config import Config
    from digestgate.graph import RepoGraph
    from digestgate.repository import Repository

DEFAULT_PATH = ".github/workflows/ci.yml"


@dataclass(frozen=True)
class Expect:
    """Where a bad example's finding lands: 1-based line (and column when given)."""

    line: int
    column: int | None = None
    path: str = DEFAULT_PATH


@dataclass(frozen=True)
class Example:
    """A small repository: the main file's text, plus any other files it needs."""

    text: str
    path: str = DEFAULT_PATH
    files: Mapping[str, str] = field(default_factory=dict)
    expect: tuple[Expect, ...] = ()  # empty for a good example
    title: str = ""
    also: tuple[str, ...] = ()  # other rules the example needs enabled (e.g. for DG002)

    def all_files(self) -> dict[str, str]:
        return {self.path: inspect.cleandoc(self.text) + "\n"} | {
            p: inspect.cleandoc(t) + "\n" for p, t in self.files.items()
        }


@dataclass
class Context:
    """What a rule sees of one repository."""

    repository: Repository
    graph: RepoGraph
    config: Config
    broken: frozenset[str] = frozenset()  # files with DG000/DG001 findings
    analysis_: Analysis | None = None

    @property
    def analysis(self) -> Analysis:
        """Step facts, roles and provenance, computed on first use."""
        if self.analysis_ is None:
            from digestgate.analysis import Analysis

            self.analysis_ = Analysis(self.graph, self.config)
        return self.analysis_

    def options(self, code: str) -> Mapping[str, object]:
        return self.config.rules.get(code, {})


class Rule:
    code: ClassVar[str]
    name: ClassVar[str]
    severity: ClassVar[Severity]
    summary: ClassVar[str]
    good: ClassVar[tuple[Example, ...]] = ()
    bad: ClassVar[tuple[Example, ...]] = ()
    # Rules that stay meaningful on a file with DG000/DG001 findings (RULES.md:
    # only DG000, DG001, DG101 and DG103 run there).
    runs_on_broken: ClassVar[bool] = False

    def __init__(self, context: Context) -> None:
        self.context = context

    # --- hooks: override what you need -----------------------------------------------

    def check_repository(self) -> Iterable[Finding]:
        return ()

    def check_workflow(self, workflow: Workflow) -> Iterable[Finding]:
        return ()

    def check_job(self, workflow: Workflow, job: Job) -> Iterable[Finding]:
        return ()

    def check_step(
        self, owner: Workflow | Action, job: Job | None, step: Step
    ) -> Iterable[Finding]:
        """Every step of every workflow job and local action, once, where it is written."""
        return ()

    def check_action(self, action: Action) -> Iterable[Finding]:
        return ()

    # --- helpers ---------------------------------------------------------------------

    def finding(
        self,
        path: str,
        span: Span,
        message: str,
        *,
        related: Iterable[Location] = (),
        job: str | None = None,
        step: str | None = None,
        severity: Severity | None = None,
    ) -> Finding:
        repo = self.context.repository
        source = repo.sources.get(path)
        snippet = ""
        if source is not None and span.line <= source.line_count:
            line = source.line_text(span.line)
            end = span.end_column if span.end_line == span.line else len(line) + 1
            snippet = line[span.column - 1 : end - 1]
        return Finding(
            code=self.code,
            name=self.name,
            severity=severity or self.severity,
            message=message,
            location=Location(path, span),
            related=tuple(related),
            job=job,
            step=step,
            root=repo.display_root,
            snippet=snippet,
        )

    @classmethod
    def doc_sections(cls) -> dict[str, str]:
        """The docstring split into its sections (title -> text)."""
        doc = inspect.cleandoc(cls.__doc__ or "")
        sections: dict[str, str] = {}
        current = "summary"
        lines: list[str] = []
        for line in doc.splitlines():
            if line.endswith(":") and line[:-1] in _SECTIONS:
                sections[current] = "\n".join(lines).strip()
                current, lines = line[:-1], []
            else:
                lines.append(line)
        sections[current] = "\n".join(lines).strip()
        return sections


_SECTIONS = ("What it checks", "Why", "How to fix", "Options", "Platforms")


def iter_steps(
    repository: Repository,
) -> Iterator[tuple[Workflow | Action, Job | None, Step]]:
    """Every step written in the repository's files, once each."""
    for wf in repository.workflows.values():
        for job in wf.jobs.values():
            for step in job.steps:
                yield wf, job, step
    for action in repository.actions.values():
        for step in action.steps:
            yield action, None, step
