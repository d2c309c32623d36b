"""Job roles: the union of a job's step roles, with the user's overrides.

A job's roles are the roles of its steps as they run (composite actions and scripts
expanded); a job that calls a reusable workflow has the roles of the callee's jobs.
Users add roles with configuration (`validation-jobs`, `promotion-jobs`: globs of job
ids, optionally `workflow.yml:job`) and with a comment on the job's key line:

    e2e:  # digestgate: role=validation

Accepted names: validation (validate), promotion (promote), build, push, deploy,
record, verify, several separated by commas; `role=none` clears what the steps
suggest (for a job digestgate misreads). Configuration and comments add to the
computed roles; only `none` takes any away.

A validation job is one with VALIDATE; a promotion job one with PROMOTE or DEPLOY.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from digestgate.config import Config
from digestgate.facts import Operation, Role
from digestgate.graph import JobNode, RepoGraph
from digestgate.stepfacts import Facts

_COMMENT = re.compile(r"#\s*digestgate:\s*role\s*=\s*([A-Za-z, -]+)")
_NAMES = {
    "validation": Role.VALIDATE,
    "validate": Role.VALIDATE,
    "promotion": Role.PROMOTE,
    "promote": Role.PROMOTE,
    "build": Role.BUILD,
    "push": Role.PUSH,
    "deploy": Role.DEPLOY,
    "record": Role.RECORD,
    "verify": Role.VERIFY,
}


@dataclass
class Roles:
    """Roles of every job instance of a repository, computed once."""

    graph: RepoGraph
    facts: Facts
    config: Config
    _memo: dict[JobNode, frozenset[Role]] = field(default_factory=dict)

    def of(self, node: JobNode) -> frozenset[Role]:
        hit = self._memo.get(node)
        if hit is None:
            self._memo[node] = frozenset()  # a call cycle resolves to nothing
            hit = self._memo[node] = self._compute(node)
        return hit

    def step_roles(self, node: JobNode) -> Iterator[tuple[int, frozenset[Role]]]:
        job = self.graph.job(node)
        for i, _ in enumerate(self.graph.steps(node.path, job)):
            yield i, self.facts.of(node, i).roles

    def call_operations(self, node: JobNode) -> list[Operation]:
        """What a call of a well-known remote reusable workflow does (the SLSA
        container generator records provenance, for instance)."""
        job = self.graph.job(node)
        if job.uses is None:
            return []
        from digestgate import catalogue

        found = catalogue.reusable_job_facts(job.uses.value, job.with_, node.path, job.uses.span)
        return found or []

    def is_validation(self, node: JobNode) -> bool:
        return Role.VALIDATE in self.of(node)

    def is_promotion(self, node: JobNode) -> bool:
        return bool({Role.PROMOTE, Role.DEPLOY} & self.of(node))

    def _compute(self, node: JobNode) -> frozenset[Role]:
        roles: set[Role] = set()
        for _, step_roles in self.step_roles(node):
            roles |= step_roles
        if (node.path, node.job) in self.graph.calls:
            for inner in self.graph.nodes:
                if (
                    inner.via
                    and inner.via[-1] == (node.path, node.job)
                    and inner.via[:-1] == node.via
                ):
                    roles |= self.of(inner)
        else:
            roles |= {op.role for op in self.call_operations(node)}
        if self.config.matches_job(self.config.validation_jobs, node.path, node.job):
            roles.add(Role.VALIDATE)
        if self.config.matches_job(self.config.promotion_jobs, node.path, node.job):
            roles.add(Role.PROMOTE)
        inline = inline_roles(self.graph, node)
        if inline is not None:
            if not inline:
                return frozenset()
            roles |= inline
        return frozenset(roles)


def inline_roles(graph: RepoGraph, node: JobNode) -> frozenset[Role] | None:
    """Roles named by a `# digestgate: role=...` comment on the job's key line
    (or the line above it); None when there is no such comment."""
    source = graph.repository.sources.get(node.path)
    if source is None:
        return None
    job = graph.job(node)
    line = job.key_span.line
    for n in (line, line - 1):
        if n < 1:
            continue
        text = source.line_text(n)
        if n != line and not text.lstrip().startswith("#"):
            continue
        m = _COMMENT.search(text)
        if m is None:
            continue
        names = [w.strip().lower() for w in m.group(1).split(",") if w.strip()]
        if names == ["none"]:
            return frozenset()
        return frozenset(_NAMES[w] for w in names if w in _NAMES)
    return None
