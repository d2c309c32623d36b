"""One repository's analysis, built once and shared by every rule and view:
the graph, step facts, job roles and value provenance, plus the questions rules ask
of them together (every image a pipeline touches, where it sits, which images the
repository builds)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import TypeVar

from digestgate.config import Config
from digestgate.facts import ImageArg, ImageUse, Operation, Role, StepFacts, value_of_text
from digestgate.findings import Location
from digestgate.graph import ExpandedStep, JobNode, RepoGraph
from digestgate.model import Job
from digestgate.provenance import Provenancer, Site
from digestgate.repository import Repository
from digestgate.roles import Roles
from digestgate.stepfacts import Facts


@dataclass(frozen=True)
class ImageSite:
    """One image a job instance uses or writes, and where."""

    arg: ImageArg
    node: JobNode
    step: int | None  # index into the job's expanded steps; None: `container`/`services`
    expanded: ExpandedStep | None
    operation: Operation | None  # None for references outside any role

    @property
    def site(self) -> Site:
        return Site(self.node, self.step)

    @property
    def path(self) -> str:
        return self.arg.value.path


class Analysis:
    def __init__(self, graph: RepoGraph, config: Config) -> None:
        self.graph = graph
        self.config = config
        self._step_facts: dict[JobNode, list[tuple[int, ExpandedStep, StepFacts]]] = {}
        self._images: dict[JobNode, list[ImageSite]] = {}

    @property
    def repository(self) -> Repository:
        return self.graph.repository

    @cached_property
    def facts(self) -> Facts:
        return Facts(self.graph)

    @cached_property
    def roles(self) -> Roles:
        return Roles(self.graph, self.facts, self.config)

    @cached_property
    def provenance(self) -> Provenancer:
        return Provenancer(self.graph, self.facts.of)

    def job(self, node: JobNode) -> Job:
        return self.graph.job(node)

    def steps(self, node: JobNode) -> list[ExpandedStep]:
        return self.graph.steps(node.path, self.graph.job(node))

    def step_facts(self, node: JobNode) -> Iterator[tuple[int, ExpandedStep, StepFacts]]:
        # Rules walk each job instance's steps about a dozen times: the list is kept
        # once a walk has gone through it all (a walk that stops early computes no
        # more facts than it asked for).
        done = self._step_facts.get(node)
        if done is not None:
            return iter(done)
        return _kept(self._step_facts, node, self._walk_step_facts(node))

    def _walk_step_facts(self, node: JobNode) -> Iterator[tuple[int, ExpandedStep, StepFacts]]:
        for i, expanded in enumerate(self.steps(node)):
            yield i, expanded, self.facts.of(node, i)

    def operations(self, node: JobNode) -> Iterator[tuple[int, ExpandedStep, Operation]]:
        for i, expanded, facts in self.step_facts(node):
            for op in facts.operations:
                yield i, expanded, op

    def images(self, node: JobNode) -> Iterator[ImageSite]:
        """Every image of a job instance: `container`, `services`, then each step's
        operations and role-less references, in order. A build that pushes lists its
        names under both its BUILD and its PUSH operation (kept like `step_facts`)."""
        done = self._images.get(node)
        if done is not None:
            return iter(done)
        return _kept(self._images, node, self._walk_images(node))

    def _walk_images(self, node: JobNode) -> Iterator[ImageSite]:
        job = self.graph.job(node)
        path = node.path
        if job.container is not None and job.container.image is not None:
            value = value_of_text(job.container.image, path)
            yield ImageSite(ImageArg(value, ImageUse.RUN), node, None, None, None)
        for service in job.services.values():
            if service.image is not None:
                value = value_of_text(service.image, path)
                yield ImageSite(ImageArg(value, ImageUse.SERVICE), node, None, None, None)
        for i, expanded, facts in self.step_facts(node):
            for op in facts.operations:
                for arg in op.images:
                    yield ImageSite(arg, node, i, expanded, op)
            for arg in facts.references:
                yield ImageSite(arg, node, i, expanded, None)

    def all_images(self) -> Iterator[ImageSite]:
        for node in self.graph.nodes:
            yield from self.images(node)

    def related(self, node: JobNode, expanded: ExpandedStep | None) -> tuple[Location, ...]:
        """Where a finding inside a composite action or a called workflow was reached
        from: the calling `uses:` steps, then the calling jobs, innermost first."""
        out: list[Location] = []
        if expanded is not None:
            for caller_path, caller in reversed(expanded.callers):
                if caller.uses is not None:
                    out.append(Location(caller_path, caller.uses.span, "called from this step"))
        for caller_path, caller_job in reversed(node.via):
            job = self.repository.workflows[caller_path].jobs[caller_job]
            span = job.uses.span if job.uses is not None else job.key_span
            out.append(Location(caller_path, span, f"called by job `{caller_job}`"))
        return tuple(out)

    @cached_property
    def built_names(self) -> frozenset[str]:
        """Normalised names (no tag or digest) of the images this repository builds or
        pushes, as far as they can be read statically."""
        from digestgate.imageref import RefError, parse

        names: set[str] = set()
        for site in self.all_images():
            op = site.operation
            if op is None or op.role not in (Role.BUILD, Role.PUSH):
                continue
            if site.arg.use not in (ImageUse.TAG, ImageUse.PUSH):
                continue
            text = site.arg.value.text
            if not site.arg.value.is_static:
                text = text.split("${", 1)[0].split("$(", 1)[0].rstrip(":@")
            try:
                names.add(parse(text).normalized_name)
            except RefError:
                continue
        return frozenset(names)

    def builds(self) -> list[Build]:
        """Every BUILD and PUSH operation of every job instance, in graph order."""
        cached = self.__dict__.get("_builds")
        if cached is None:
            cached = [
                Build(node, i, expanded, op)
                for node in self.graph.nodes
                for i, expanded, op in self.operations(node)
                if op.role in (Role.BUILD, Role.PUSH)
            ]
            self.__dict__["_builds"] = cached
        return list(cached)

    def artifact_validations(self, node: JobNode) -> list[ArtifactValidation]:
        """The validations in a job instance that consume an image built upstream in
        the pipeline (by digest, or by name: the same normalised name or the same last
        path component) or earlier in the same job."""
        hit = self._validations.get(node)
        if hit is None:
            hit = self._validations[node] = list(_validations(self, node))
        return hit

    def is_artifact_validation_job(self, node: JobNode) -> bool:
        return bool(self.artifact_validations(node))

    def match_build(
        self, image: ImageSite, upstream: list[Build], local: list[Build]
    ) -> tuple[Build, str] | None:
        return _match_build(self, image, upstream, local)

    @cached_property
    def _validations(self) -> dict[JobNode, list[ArtifactValidation]]:
        return {}

    def is_own_image(self, text: str) -> bool:
        """Built by this repository, or matching `own-images` in the configuration."""
        from digestgate.imageref import RefError, parse

        if self.config.is_own_image(text):
            return True
        try:
            return parse(text).normalized_name in self.built_names
        except RefError:
            return False


_T = TypeVar("_T")


def _kept(store: dict[JobNode, list[_T]], node: JobNode, items: Iterator[_T]) -> Iterator[_T]:
    """Yield `items`, and keep them all in `store[node]` once they are exhausted."""
    out = []
    for item in items:
        out.append(item)
        yield item
    store[node] = out


@dataclass(frozen=True)
class Build:
    """A BUILD or PUSH operation somewhere in the pipeline."""

    node: JobNode
    step: int
    expanded: ExpandedStep
    operation: Operation

    def names(self) -> frozenset[str]:
        """The image names it writes, normalised, without tag or digest (static part)."""
        return frozenset(n for a in self.operation.names() if (n := static_name(a)) is not None)


@dataclass(frozen=True)
class ArtifactValidation:
    """A validation that consumes an image built in the pipeline (RULES.md: artifact
    validation), as opposed to a source check."""

    node: JobNode
    step: int | None  # None: the job's `container`/`services` under a validating job
    operation: Operation | None
    image: ImageSite
    build: Build | None  # the build it consumes, when known
    how: str  # "digest" (provenance), "name" (same image name), "local" (built in the job)


def static_name(arg: ImageArg) -> str | None:
    """The normalised name of an image argument, from its static text, if readable."""
    from digestgate.imageref import RefError, parse

    text = arg.value.text if arg.value.is_static else _static_prefix(arg)
    if not text:
        return None
    text = text.split("@", 1)[0]
    try:
        return parse(text).normalized_name
    except RefError:
        return None


def _static_prefix(arg: ImageArg) -> str:
    out = []
    for p in arg.value.pieces:
        if p.kind.value != "literal":
            break
        out.append(p.text)
    text = "".join(out)
    # keep a prefix only when it ends the name (`app:${{ sha }}`, `app@${{ d }}`)
    for sep in (":", "@"):
        if sep in text.rsplit("/", 1)[-1]:
            return text.rsplit(sep, 1)[0] if sep == ":" else text.split("@", 1)[0]
    return ""


def last_component(name: str) -> str:
    return name.rsplit("/", 1)[-1]


_VALIDATING_USES = (ImageUse.RUN, ImageUse.SERVICE, ImageUse.SCAN, ImageUse.INPUT)


def _builds_upstream(analysis: Analysis, node: JobNode) -> list[Build]:
    """The builds of the jobs upstream of `node`, in `builds()` order (looked up by
    job, not by going through every build of the repository for every job)."""
    by_node: dict[JobNode, list[tuple[int, Build]]] | None = analysis.__dict__.get("_by_node")
    if by_node is None:
        by_node = {}
        for i, build in enumerate(analysis.builds()):
            by_node.setdefault(build.node, []).append((i, build))
        analysis.__dict__["_by_node"] = by_node
    found = [item for n in analysis.graph.upstream(node) for item in by_node.get(n, ())]
    found.sort(key=lambda item: item[0])
    return [build for _, build in found]


def _validations(analysis: Analysis, node: JobNode) -> Iterator[ArtifactValidation]:
    before: list[Build] | None = None

    def builds_before() -> list[Build]:
        """The builds upstream of the job: found when the job validates something."""
        nonlocal before
        if before is None:
            before = _builds_upstream(analysis, node)
        return before

    job_builds: list[Build] = []
    validating_job = Role.VALIDATE in analysis.roles.of(node)
    started: list[ImageSite] = []  # containers/services running in the job
    for site in analysis.images(node):
        if site.step is None:
            started.append(site)
    for i, expanded, facts in analysis.step_facts(node):
        for op in facts.operations:
            if op.role in (Role.BUILD, Role.PUSH):
                job_builds.append(Build(node, i, expanded, op))
        sites = [
            ImageSite(a, node, i, expanded, op)
            for op in facts.operations
            for a in op.images
            if a.use in _VALIDATING_USES
        ]
        sites += [ImageSite(a, node, i, expanded, None) for a in facts.references]
        for op in facts.operations:
            if op.role is not Role.VALIDATE:
                continue
            consumed = [s for s in sites if s.operation is op]
            if not consumed:
                consumed = started  # a test runner against what the job runs
            for image in consumed:
                found = analysis.match_build(image, builds_before(), job_builds)
                if found is not None:
                    build, how = found
                    yield ArtifactValidation(node, i, op, image, build, how)
        # containers started by a step (docker run -d, compose up) serve later tests
        started += [s for s in sites if s.arg.use in (ImageUse.RUN, ImageUse.SERVICE)]
    if validating_job:
        for image in (s for s in analysis.images(node) if s.step is None):
            found = analysis.match_build(image, builds_before(), [])
            if found is not None:
                yield ArtifactValidation(node, None, None, image, found[0], found[1])


def _match_build(
    analysis: Analysis, image: ImageSite, upstream: list[Build], local: list[Build]
) -> tuple[Build, str] | None:
    prov = analysis.provenance.of_value(image.arg.value, image.site)
    if prov.is_digest and prov.origin is not None and prov.origin.job is not None:
        for b in upstream + local:
            if b.node == prov.origin.job:
                return b, "digest"
    name = static_name(image.arg)
    if name is None:
        return None
    for b in reversed(local):
        if name in b.names():
            return b, "local"
    for b in upstream:
        names = b.names()
        if name in names or last_component(name) in {last_component(n) for n in names}:
            return b, "name"
    return None
