"""DG305 build-publishes-release-tag."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from digestgate import metadata_action as meta
from digestgate.analysis import Analysis
from digestgate.expressions import (
    Assumptions,
    Binary,
    Call,
    Expr,
    ExprError,
    Literal,
    Tri,
    evaluate_condition,
    parse_expression,
    references,
)
from digestgate.facts import (
    ImageArg,
    ImageUse,
    Operation,
    PieceKind,
    Role,
    Value,
    WriteTarget,
    value_of_text,
)
from digestgate.findings import Finding, Location, Severity
from digestgate.graph import ExpandedStep, JobNode
from digestgate.imageref import PLACEHOLDER, on_runner, split_static
from digestgate.metadata_action import RefKind
from digestgate.model import Text, Workflow
from digestgate.nodes import YMap, YScalar, YSeq
from digestgate.provenance import Site, composite_end_site
from digestgate.rule import Example, Expect, Rule
from digestgate.span import Span

T = TypeVar("T")

#: Release tags when `release-tags` is not configured (matched with `re.search`).
DEFAULT_RELEASE_TAGS = (
    r"^(latest|stable|prod|production)$",
    r"^v?\d+\.\d+\.\d+(?:[-+._]?[0-9A-Za-z][0-9A-Za-z._+-]*)?$",
)

# Traced text marks what is not literal: the Git ref name of the run, tags made by a
# metadata-action step, and anything else (imageref's placeholder).
REF = "\x01"
META = "\x02"
GIT_TAG = "\x04"  # the name of a Git tag, whatever else runs the step (a release's tag)
SAMPLE = "\x03"  # before a stand-in for a name part that holds no tag (`github.repository`)
UNKNOWN = PLACEHOLDER
_MAX_ALTERNATIVES = 16
_MAX_DEPTH = 12
_NAMES = (ImageUse.TAG, ImageUse.PUSH, ImageUse.COPY_TARGET)
_BAKE_INPUTS = ("files", "source")  # bake definitions a pushing bake reads its tags from
_ITEMS = re.compile(r"[\s,;]+")
_GLOB = re.compile(r"[*?\[\]!+]")
_REF_TEXT = re.compile(r"GITHUB_REF\b|GITHUB_REF_NAME|github\.ref\b|github\.ref_name|tag_name")
_META_ENV_TAGS = re.compile(r"DOCKER_METADATA_OUTPUT_(TAGS|TAG_NAMES|JSON|BAKE_FILE)")
_META_STEP_TEXT = re.compile(r"steps\.([A-Za-z_][\w-]*)\.outputs\.([\w-]+)")
_PROMOTE_HINT = "docker buildx imagetools create -t {name}:{tag} {name}@sha256:<validated digest>"


class BuildPublishesReleaseTag(Rule):
    """A build or push writes a release tag (`latest`, a version) straight to a registry.

    What it checks:
    A BUILD or PUSH step (or the index assembly of a multi-platform build) that pushes
    an image to a registry with a release tag: `latest`, `stable`, `prod`,
    `production`, a full version (`1.2.3`, `v1.2.3`, `1.2.3-rc.1`), a
    `docker/metadata-action` tag of type `semver`, `pep440` or `match` (or a
    `type=ref,event=tag` Git tag) and the `latest` it brings along (`flavor:
    latest=auto`, the default, with such a rule; `latest=true`; or an explicit
    `type=raw,value=latest`), and `github.ref_name` / `$GITHUB_REF_NAME` (or a name
    cut from `github.ref`) in a workflow that only tag pushes or releases start. A
    name without a tag writes `latest`. Partial versions (`3.12`, `v3`), branch
    names, commit and date tags, `edge`, `nightly` and `pr-123` are not release tags;
    tags on a local-only build (`load: true`, `docker build` without a push), names
    under `push-by-digest=true` and pushes to a registry on the runner (`localhost`)
    are not published. Metadata rules count only when the runs can render them
    (a `semver` rule needs a run on a Git tag), and `if:` conditions that keep a step
    to tag runs (`startsWith(github.ref, 'refs/tags/')`) are taken into account.
    The finding lands on the tag as written (the `tags:` item or the `-t` / push
    argument); for metadata-action tags, on the build's input that consumes them (or
    the command, when they come through `DOCKER_METADATA_OUTPUT_JSON`, `jq` or a shell
    array), with the metadata step's tag rules as related locations.

    Why:
    A release tag is what users and deployments pull. When the build pushes it, the
    release is whatever that build produced, before any test ran on the pushed
    digest; a later, validated promotion can no longer be the only way a release
    appears, and a failed validation still leaves `latest` or `1.2.3` pointing at the
    untested image.

    How to fix:
    Let the build push by digest (`outputs: type=image,push-by-digest=true,...`) or
    only with commit tags (`type=sha`, `sha-${{ github.sha }}`), capture and export
    its digest, validate that digest, and publish the release tags in a promotion job
    that needs the validation: `docker buildx imagetools create -t NAME:1.2.3
    NAME@sha256:<validated digest>` (or `crane tag NAME@sha256:... 1.2.3`).

    Options:
    `release-tags` (a top-level key of the configuration): a list of regular
    expressions (Python syntax, matched anywhere in the tag, so anchor them) that
    replaces the default list. The default is `^(latest|stable|prod|production)$` and
    full versions (`^v?\\d+\\.\\d+\\.\\d+` with any pre-release or build suffix),
    plus the metadata-action and Git tag rules above. With `release-tags` set, only
    the expressions decide, and tags made at run time are matched through a
    representative: a metadata `semver` rule renders as for the Git tag `v1.2.3`
    (`{{version}}` is `1.2.3`, `{{major}}.{{minor}}` is `1.2`), a Git tag name is
    `v1.2.3`, the metadata `latest` is `latest`. For example
    `release-tags = ['^v?\\d+\\.\\d+\\.\\d+$', '^rc-\\d+$']` keeps `{{version}}` and
    release candidates, and lets CI push `latest`.
    """

    code = "DG305"
    name = "build-publishes-release-tag"
    severity = Severity.ERROR
    summary = (
        "a build or push writes a release tag (latest, a version) instead of promoting a digest"
    )

    good = (
        Example(
            """
            on:
              push:
                branches: [main]
            jobs:
              build:
                runs-on: ubuntu-latest
                steps:
                  - id: meta
                    uses: docker/metadata-action@v5
                    with:
                      images: ghcr.io/o/app
                      tags: |
                        type=sha
                        type=ref,event=branch
                        type=edge
                  - id: push
                    uses: docker/build-push-action@v6
                    with:
                      push: true
                      tags: |
                        ${{ steps.meta.outputs.tags }}
                        ghcr.io/o/app:sha-${{ github.sha }}
            """,
            title="commit, branch and `edge` tags from a CI build",
        ),
        Example(
            """
            on:
              push:
                tags: ["v*"]
            jobs:
              build:
                runs-on: ubuntu-latest
                strategy:
                  matrix:
                    platform: [linux/amd64, linux/arm64]
                steps:
                  - id: build
                    uses: docker/build-push-action@v6
                    with:
                      platforms: ${{ matrix.platform }}
                      outputs: type=image,name=ghcr.io/o/app,push-by-digest=true,push=true
            """,
            title="per-platform pushes by digest write no tag",
        ),
        Example(
            """
            on: pull_request
            jobs:
              test:
                runs-on: ubuntu-latest
                steps:
                  - uses: docker/build-push-action@v6
                    with:
                      load: true
                      tags: app:latest
                  - run: docker run --rm app:latest pytest
            """,
            title="`latest` on a local build that is never pushed",
        ),
        Example(
            """
            on:
              push:
                branches: [main]
            jobs:
              build:
                runs-on: ubuntu-latest
                steps:
                  - run: |
                      docker buildx build -t ghcr.io/o/python:3.12 -t ghcr.io/o/python:edge --push .
                      docker buildx build -t ghcr.io/o/app:${{ github.ref_name }} --push .
            """,
            title="partial versions, `edge` and branch names are not release tags",
        ),
    )
    bad = (
        Example(
            """
            on: push
            jobs:
              release:
                runs-on: ubuntu-latest
                steps:
                  - uses: actions/checkout@v4
                  - run: |
                      docker build -t app:latest .
                      docker push app:latest
            """,
            expect=(Expect(9, 23),),
            title="a job builds `app:latest` and pushes it",
        ),
        Example(
            """
            on:
              push:
                branches: [main]
            jobs:
              build:
                runs-on: ubuntu-latest
                steps:
                  - run: docker buildx build -t ghcr.io/o/app:v1.2.3 --push .
            """,
            expect=(Expect(8, 37),),
            title="a full version pushed by the build",
        ),
        Example(
            """
            on:
              push:
                tags: ["v*"]
            jobs:
              build:
                runs-on: ubuntu-latest
                steps:
                  - id: meta
                    uses: docker/metadata-action@v5
                    with:
                      images: ghcr.io/o/app
                      tags: |
                        type=semver,pattern={{version}}
                        type=sha
                  - id: push
                    uses: docker/build-push-action@v6
                    with:
                      push: true
                      tags: ${{ steps.meta.outputs.tags }}
            """,
            expect=(Expect(19, 17),),
            title="`docker/metadata-action` semver tags (and the `latest` they bring) on a push",
        ),
        Example(
            """
            name: release
            on:
              push:
                tags: ["v*"]
            jobs:
              image:
                runs-on: ubuntu-latest
                steps:
                  - uses: docker/build-push-action@v6
                    with:
                      push: true
                      tags: ghcr.io/o/app:${{ github.ref_name }}
            """,
            path=".github/workflows/release.yml",
            expect=(Expect(12, 17, ".github/workflows/release.yml"),),
            title="a workflow started by tag pushes builds and pushes the Git tag",
        ),
    )

    def check_repository(self) -> Iterable[Finding]:
        checker = _Checker(self, self.context.analysis, self.context.config.release_tags)
        seen: set[tuple[str, Span]] = set()
        for finding in checker.findings():
            key = (finding.location.path, finding.location.span)
            if key not in seen:
                seen.add(key)
                yield finding


# --- what counts as a release tag ------------------------------------------------------


class _Release:
    def __init__(self, patterns: tuple[str, ...] | None) -> None:
        self.custom = patterns is not None
        chosen = patterns if patterns is not None else DEFAULT_RELEASE_TAGS
        self.patterns = tuple(re.compile(p) for p in chosen)

    def matches(self, tag: str) -> bool:
        return any(p.search(tag) for p in self.patterns)

    def ref_name(self, tag: str, runs: _Runs) -> tuple[str, str] | None:
        """(tag to show, why) when a tag holding the run's Git ref name is a release
        tag: the step only runs for Git tags, or a branch it runs on is named so."""
        if runs.tag_only and (
            not self.custom or self.matches(tag.replace(REF, meta.SAMPLE_GIT_TAG))
        ):
            return tag, f"the Git tag of the run: {runs.why}"
        if RefKind.BRANCH in runs.kinds:
            for branch in runs.branches:
                text = tag.replace(REF, branch)
                if self.matches(text):
                    return text, f"the name of branch `{branch}`, which runs the step"
        return None

    def literal(self, tag: str, runs: _Runs) -> tuple[str, str] | None:
        """(tag to show, why) when a traced tag is a release tag, else None."""
        if UNKNOWN in tag or META in tag or not tag:
            return None
        if GIT_TAG in tag:
            if self.custom and not self.matches(tag.replace(GIT_TAG, meta.SAMPLE_GIT_TAG)):
                return None
            return tag.replace(REF, GIT_TAG), "the name of the Git tag being released"
        if REF in tag:
            return self.ref_name(tag, runs)
        return (tag, "") if self.matches(tag) else None


# --- when the step runs ------------------------------------------------------------------


@dataclass(frozen=True)
class _Runs:
    """What the Git ref of a run of a step can be."""

    kinds: frozenset[RefKind]
    branches: tuple[str, ...] = ()  # branch names the push filters list literally
    open_branches: bool = True  # other branches can run it too
    events: Mapping[RefKind, frozenset[str]] = field(default_factory=dict)
    why: str = "the workflow only runs for tag pushes and releases"

    @property
    def tag_only(self) -> bool:
        return self.kinds == frozenset({RefKind.TAG})


def _trigger_runs(wf: Workflow) -> _Runs:
    kinds: set[RefKind] = set()
    events: dict[RefKind, set[str]] = {}
    branches: list[str] = []
    open_branches = False

    def add(event: str, *found: RefKind) -> None:
        for kind in found:
            kinds.add(kind)
            events.setdefault(kind, set()).add(event)

    on = wf.root.get("on") if wf.root is not None else None
    for event, trigger in wf.triggers.items():
        if event == "push":
            filters = on.get("push") if isinstance(on, YMap) else None
            keys = filters.keys() if isinstance(filters, YMap) else []
            has_branches = "branches" in keys or "branches-ignore" in keys
            has_tags = "tags" in keys or "tags-ignore" in keys
            if has_branches or not has_tags:
                add(event, RefKind.BRANCH)
                literal = [b.value for b in trigger.branches if not _GLOB.search(b.value)]
                branches += literal
                open_branches |= len(literal) != len(trigger.branches) or not trigger.branches
            if has_tags or not has_branches:
                add(event, RefKind.TAG)
        elif event == "release":
            add(event, RefKind.TAG)
        elif event in ("create", "workflow_dispatch", "workflow_call"):
            add(event, RefKind.TAG, RefKind.BRANCH)
            open_branches = True
            if event == "workflow_call":
                add(event, RefKind.PR, RefKind.SCHEDULE)
        elif event in ("pull_request", "pull_request_target", "pull_request_review"):
            add(event, RefKind.PR)
        elif event == "schedule":
            add(event, RefKind.SCHEDULE)
        else:  # workflow_run, repository_dispatch, merge_group, issues, ...
            add(event, RefKind.BRANCH)
            open_branches = True
    if not wf.triggers:
        return _Runs(meta.ALL_KINDS)
    return _Runs(
        frozenset(kinds),
        tuple(dict.fromkeys(branches)),
        open_branches,
        {k: frozenset(v) for k, v in events.items()},
    )


def _assumptions(kind: RefKind, runs: _Runs) -> Assumptions:
    values: dict[tuple[str, ...], object] = {}
    events = runs.events.get(kind, frozenset())
    if events:
        values[("github", "event_name")] = _one_or_set(events)
    if kind is RefKind.TAG:
        values[("github", "ref")] = "refs/tags/" + meta.SAMPLE_GIT_TAG
        values[("github", "ref_type")] = "tag"
        values[("github", "ref_name")] = meta.SAMPLE_GIT_TAG
    elif kind is RefKind.PR:
        values[("github", "ref")] = "refs/pull/1/merge"
        values[("github", "ref_type")] = "branch"
    else:
        names = set(runs.branches)
        if runs.open_branches or not names:
            names |= {"main", "a-branch"}
        values[("github", "ref")] = _one_or_set({"refs/heads/" + n for n in names})
        values[("github", "ref_type")] = "branch"
        values[("github", "ref_name")] = _one_or_set(names)
    return Assumptions.after_success(values)


def _one_or_set(items: Iterable[str]) -> object:
    found = frozenset(items)
    return next(iter(found)) if len(found) == 1 else found


# --- tracing text ------------------------------------------------------------------------


@dataclass
class _Trace:
    """What tracing a value met besides literal text."""

    metas: list[tuple[JobNode, int]] = field(default_factory=list)  # metadata-action steps
    origin: tuple[str, Text] | None = None  # the outermost caller `with:` value it came through


class _Tracer:
    """The possible texts of a value: literal pieces, followed through `env`, step and
    job outputs, composite and reusable inputs and the matrix, with the run's ref name
    as `REF`, metadata-action tags as `META` and anything else as `UNKNOWN`."""

    def __init__(self, analysis: Analysis) -> None:
        self.analysis = analysis
        self.graph = analysis.graph

    def value(self, value: Value, site: Site, trace: _Trace, depth: int = 0) -> list[str]:
        alts = [""]
        for piece in value.pieces:
            if piece.kind is PieceKind.LITERAL:
                options = [piece.text]
            elif depth > _MAX_DEPTH:
                options = [UNKNOWN]
            elif piece.kind is PieceKind.EXPR:
                options = self.expr_text(piece.text, site, trace, depth)
            elif piece.kind is PieceKind.VAR:
                options = self.var(piece.text, site, trace, depth)
            else:
                options = self.opaque(piece.text, site, trace)
            alts = _product(alts, options)
        return alts

    def text(self, text: Text, path: str, site: Site, trace: _Trace, depth: int) -> list[str]:
        return self.value(value_of_text(text, path), site, trace, depth + 1)

    def expr_text(self, text: str, site: Site, trace: _Trace, depth: int) -> list[str]:
        inner = text.strip()
        if inner.startswith("${{") and inner.endswith("}}"):
            inner = inner[3:-2]
        try:
            expr = parse_expression(inner)
        except ExprError:
            return [UNKNOWN]
        return self.expr(expr, site, trace, depth)

    def expr(self, expr: Expr, site: Site, trace: _Trace, depth: int) -> list[str]:
        if isinstance(expr, Literal):
            return [expr.value] if isinstance(expr.value, str) else [UNKNOWN]
        if isinstance(expr, Binary) and expr.op in ("&&", "||"):
            right = self.expr(expr.right, site, trace, depth)
            if expr.op == "&&":
                return right
            return _union(self.expr(expr.left, site, trace, depth), right)
        if isinstance(expr, Call) and expr.name == "format" and expr.args:
            template = expr.args[0]
            if isinstance(template, Literal) and isinstance(template.value, str):
                return self.format(template.value, expr.args[1:], site, trace, depth)
        if isinstance(expr, Call) and expr.name == "case" and len(expr.args) >= 3:
            values = [*expr.args[1:-1:2], expr.args[-1]]
            out: list[str] = []
            for v in values:
                out = _union(out, self.expr(v, site, trace, depth))
            return out
        found = references(expr)
        if len(found) == 1 and (found[0].start, found[0].end) == (expr.start, expr.end):
            return self.reference(found[0].path, site, trace, depth)
        # fromJSON(steps.meta.outputs.json).tags, join(...): tags read from metadata
        for ref in found:
            if META in "".join(self.reference(ref.path, site, trace, depth)):
                return [META]
        return [UNKNOWN]

    def format(
        self, template: str, args: tuple[Expr, ...], site: Site, trace: _Trace, depth: int
    ) -> list[str]:
        alts = [""]
        parts = re.split(r"\{(\d+)\}", template)
        for n, part in enumerate(parts):
            if n % 2 == 0:
                alts = _product(alts, [part.replace("{{", "{").replace("}}", "}")])
            else:
                k = int(part)
                options = self.expr(args[k], site, trace, depth) if k < len(args) else [UNKNOWN]
                alts = _product(alts, options)
        return alts

    def reference(self, path: tuple[str, ...], site: Site, trace: _Trace, depth: int) -> list[str]:
        head, rest = path[0], path[1:]
        if head in ("github", "gitea"):
            if rest == ("ref_name",):
                return [REF]
            if rest == ("event", "release", "tag_name"):
                return [GIT_TAG]
            sample = {
                ("repository",): SAMPLE + "owner/repo",
                ("repository_owner",): SAMPLE + "owner",
                ("actor",): SAMPLE + "owner",
                ("event", "repository", "name"): SAMPLE + "repo",
            }.get(rest)
            return [sample] if sample is not None else [UNKNOWN]
        if head == "env" and len(rest) == 1:
            return self.env(rest[0], site, trace, depth, case_insensitive=True)
        if head == "steps" and len(rest) >= 3 and rest[1] == "outputs":
            return self.step_output(rest[0], rest[2], site, trace, depth)
        if head == "needs" and len(rest) >= 3 and rest[1] == "outputs":
            return self.needs_output(rest[0], rest[2], site, trace, depth)
        if head == "inputs" and len(rest) >= 1:
            return self.input(rest[0], site, trace, depth)
        if head == "matrix" and len(rest) == 1:
            return self.matrix(rest[0], site, trace, depth)
        return [UNKNOWN]

    def var(self, name: str, site: Site, trace: _Trace, depth: int) -> list[str]:
        if name == "GITHUB_REF_NAME":
            return [REF]
        if name in meta.TAG_ENV:
            return self.meta_env(site, trace)
        sample = {
            "GITHUB_REPOSITORY": SAMPLE + "owner/repo",
            "GITHUB_REPOSITORY_OWNER": SAMPLE + "owner",
            "GITHUB_ACTOR": SAMPLE + "owner",
        }.get(name)
        if sample is not None:
            return [sample]
        return self.env(name, site, trace, depth, case_insensitive=False)

    def opaque(self, text: str, site: Site, trace: _Trace) -> list[str]:
        """A command substitution or a shell expansion (`${GITHUB_REF#refs/tags/}`)."""
        if "DOCKER_METADATA_OUTPUT_" in text:
            return self.meta_env(site, trace)
        for m in _META_STEP_TEXT.finditer(text):
            if META in "".join(self.step_output(m.group(1).lower(), m.group(2), site, trace, 0)):
                return [META]
        if _REF_TEXT.search(text):
            return [REF]
        repo = re.fullmatch(r"\$\{(GITHUB_REPOSITORY(?:_OWNER)?)[,^]*\}", text.strip())
        if repo is not None:
            return [
                SAMPLE + "owner/repo" if repo.group(1) == "GITHUB_REPOSITORY" else SAMPLE + "owner"
            ]
        return [UNKNOWN]

    def meta_env(self, site: Site, trace: _Trace) -> list[str]:
        """`DOCKER_METADATA_OUTPUT_*`: set by the last metadata-action step before."""
        steps = self.analysis.steps(site.node)
        end = site.step if site.step is not None else len(steps)
        for j in range(end - 1, -1, -1):
            uses = steps[j].step.uses
            if meta.is_metadata_action(uses.value if uses is not None else None):
                trace.metas.append((site.node, j))
                return [META]
        return [UNKNOWN]

    def env(
        self, name: str, site: Site, trace: _Trace, depth: int, *, case_insensitive: bool
    ) -> list[str]:
        node = site.node
        steps = self.analysis.steps(node)
        job = self.graph.job(node)
        wf = self.graph.repository.workflows[node.path]
        if site.step is not None:
            here = steps[site.step]
            scopes = [(here.path, here.step.env)]
            scopes += [(p, s.env) for p, s in reversed(here.callers)]
            for path, env in scopes:
                hit = _get(env, name, case_insensitive)
                if hit is not None:
                    return self.text(hit, path, site, trace, depth)
        end = site.step if site.step is not None else len(steps)
        for j in range(end - 1, -1, -1):
            for w in self.analysis.facts.of(node, j).writes:
                if w.target is WriteTarget.ENV and _same(w.name, name, case_insensitive):
                    if w.value is None:
                        return [UNKNOWN]
                    return self.value(w.value, Site(node, j), trace, depth + 1)
        for env in (job.env, wf.env):
            hit = _get(env, name, case_insensitive)
            if hit is not None:
                return self.text(hit, node.path, Site(node, None), trace, depth)
        return [UNKNOWN]

    def step_output(
        self, step_id: str, name: str, site: Site, trace: _Trace, depth: int
    ) -> list[str]:
        steps = self.analysis.steps(site.node)
        if site.step is None:
            scope = [(i, s) for i, s in enumerate(steps) if not s.callers]
        else:
            here = steps[site.step]
            scope = [(i, s) for i, s in enumerate(steps[: site.step]) if s.callers == here.callers]
        found = [(i, s) for i, s in scope if s.step.id and s.step.id.value.lower() == step_id]
        if not found:
            return [UNKNOWN]
        index, step = found[-1]
        uses = step.step.uses
        if meta.is_metadata_action(uses.value if uses is not None else None):
            if name.lower() in meta.TAG_OUTPUTS:
                trace.metas.append((site.node, index))
                return [META]
            return [UNKNOWN]
        if step.action is not None and step.action.is_composite:
            out = _get(step.action.outputs, name, True)
            if out is None or out.value is None:
                return [UNKNOWN]
            inner = self._composite_site(site.node, index)
            return self.text(out.value, step.action.path, inner, trace, depth)
        alts: list[str] = []
        for w in self.analysis.facts.of(site.node, index).writes:
            if w.target is WriteTarget.OUTPUT and w.name.lower() == name.lower():
                if w.value is None:
                    alts = _union(alts, [UNKNOWN])
                else:
                    alts = _union(alts, self.value(w.value, Site(site.node, index), trace, depth))
        return alts or [UNKNOWN]

    def _composite_site(self, node: JobNode, index: int) -> Site:
        return composite_end_site(self.analysis.steps(node), node, index)

    def needs_output(
        self, job_id: str, name: str, site: Site, trace: _Trace, depth: int
    ) -> list[str]:
        wf = self.graph.repository.workflows[site.node.path]
        real = next((j for j in wf.jobs if j.lower() == job_id), None)
        if real is None or (site.node.path, real) in self.graph.calls:
            return [UNKNOWN]
        out = _get(wf.jobs[real].outputs, name, True)
        if out is None or out.value is None:
            return [UNKNOWN]
        node = JobNode(site.node.path, real, site.node.via)
        return self.text(out.value, site.node.path, Site(node, None), trace, depth)

    def input(self, name: str, site: Site, trace: _Trace, depth: int) -> list[str]:
        node = site.node
        steps = self.analysis.steps(node)
        here = steps[site.step] if site.step is not None else None
        if here is not None and here.callers:
            caller_path, caller_step = here.callers[-1]
            index = next(
                (i for i, s in enumerate(steps) if s.step is caller_step and s.path == caller_path),
                None,
            )
            given = _get(caller_step.with_, name, True)
            if given is not None and index is not None:
                trace.origin = (caller_path, given)
                return self.text(given, caller_path, Site(node, index), trace, depth)
            action = self.graph.repository.actions.get(here.path)
            spec = _get(action.inputs, name, True) if action is not None else None
            if spec is not None and spec.default is not None:
                return self.text(spec.default, here.path, site, trace, depth)
            return [UNKNOWN]
        if node.via:
            caller_path, caller_job = node.via[-1]
            caller = JobNode(caller_path, caller_job, node.via[:-1])
            job = self.graph.repository.workflows[caller_path].jobs[caller_job]
            given = _get(job.with_, name, True)
            if given is not None:
                trace.origin = (caller_path, given)
                return self.text(given, caller_path, Site(caller, None), trace, depth)
            trigger = self.graph.repository.workflows[node.path].trigger("workflow_call")
            spec = _get(trigger.inputs, name, True) if trigger is not None else None
            if spec is not None and spec.default is not None:
                return self.text(spec.default, node.path, site, trace, depth)
        return [UNKNOWN]

    def matrix(self, name: str, site: Site, trace: _Trace, depth: int) -> list[str]:
        job = self.graph.job(site.node)
        matrix = job.strategy.matrix if job.strategy is not None else None
        if not isinstance(matrix, YMap):
            return [UNKNOWN]
        scalars: list[YScalar] = []
        entry = matrix.get(name)
        if isinstance(entry, YSeq):
            scalars += [v for v in entry.items if isinstance(v, YScalar)]
        include = matrix.get("include")
        if isinstance(include, YSeq):
            for item in include.items:
                if isinstance(item, YMap) and isinstance(v := item.get(name), YScalar):
                    scalars.append(v)
        if not scalars:
            return [UNKNOWN]
        out: list[str] = []
        for v in scalars:
            text = Text(v.value, v.span, v, v.tag)
            out = _union(out, self.text(text, site.node.path, Site(site.node, None), trace, depth))
        return out


def _product(alts: list[str], options: list[str]) -> list[str]:
    return list(dict.fromkeys(a + o for a in alts for o in options))[:_MAX_ALTERNATIVES]


def _union(a: list[str], b: list[str]) -> list[str]:
    return list(dict.fromkeys([*a, *b]))[:_MAX_ALTERNATIVES]


def _same(a: str, b: str, case_insensitive: bool) -> bool:
    return a.lower() == b.lower() if case_insensitive else a == b


def _get(mapping: Mapping[str, T], name: str, case_insensitive: bool) -> T | None:
    if name in mapping:
        return mapping[name]
    if case_insensitive:
        for key, value in mapping.items():
            if key.lower() == name.lower():
                return value
    return None


def _split(ref: str) -> tuple[str, str | None, str | None]:
    """Name, tag and digest text of a reference (the tag follows the first ":" after the
    last "/" before the "@"), markers kept."""
    before, at, digest = ref.partition("@")
    slash = before.rfind("/")
    colon = before.find(":", slash + 1)
    name, tag = (before, None) if colon < 0 else (before[:colon], before[colon + 1 :])
    return name, tag, digest if at else None


def _show(text: str) -> str:
    return (
        text.replace(REF, "<git tag>")
        .replace(GIT_TAG, "<git tag>")
        .replace(META, "<tags>")
        .replace(UNKNOWN, "...")
        .replace(SAMPLE, "")
    )


# --- the check ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _MetaTag:
    tag: str  # how the message shows it
    rule: str  # the rule that makes it
    span: Span | None  # where that rule is written (in the metadata step's file)


class _Checker:
    def __init__(self, rule: Rule, analysis: Analysis, patterns: tuple[str, ...] | None) -> None:
        self.rule = rule
        self.analysis = analysis
        self.graph = analysis.graph
        self.release = _Release(patterns)
        self.tracer = _Tracer(analysis)
        self.broken = rule.context.broken
        self._runs: dict[str, _Runs] = {}

    def findings(self) -> Iterator[Finding]:
        for node in self.graph.nodes:
            if node.path in self.broken:
                continue
            base = self._workflow_runs(node)
            for i, expanded, facts in self.analysis.step_facts(node):
                ops = [op for op in facts.operations if _publishes(op)]
                if not ops or expanded.path in self.broken:
                    continue
                runs = self._step_runs(node, expanded, base)
                if runs.kinds:
                    yield from self._step(node, i, expanded, ops, runs)

    # --- runs --------------------------------------------------------------------------

    def _workflow_runs(self, node: JobNode) -> _Runs:
        root = node.via[0][0] if node.via else node.path
        hit = self._runs.get(root)
        if hit is None:
            hit = self._runs[root] = _trigger_runs(self.graph.repository.workflows[root])
        return hit

    def _step_runs(self, node: JobNode, expanded: ExpandedStep, base: _Runs) -> _Runs:
        """The kinds of ref the step can run on, given the `if:`s that lead to it."""
        conditions: list[Text] = []
        for caller_path, caller_job in node.via:
            job_if = self.graph.repository.workflows[caller_path].jobs[caller_job].if_
            if job_if is not None:
                conditions.append(job_if)
        job = self.graph.job(node)
        conditions += [c for c in (job.if_,) if c is not None]
        conditions += [s.if_ for _, s in expanded.callers if s.if_ is not None]
        if expanded.step.if_ is not None:
            conditions.append(expanded.step.if_)
        # an action's `push:` given by an expression pushes only when it holds
        push = expanded.step.with_.get("push") if expanded.step.uses is not None else None
        if push is not None and "${{" in push.value:
            conditions.append(push)
        if not conditions:
            return base
        kept = frozenset(
            kind
            for kind in base.kinds
            if all(
                evaluate_condition(c.value, _assumptions(kind, base)) is not Tri.FALSE
                for c in conditions
            )
        )
        why = base.why if base.tag_only else "the step's conditions keep it to tag runs"
        return _Runs(kept, base.branches, base.open_branches, base.events, why)

    # --- one step ------------------------------------------------------------------------

    def _step(
        self, node: JobNode, i: int, expanded: ExpandedStep, ops: list[Operation], runs: _Runs
    ) -> Iterator[Finding]:
        site = Site(node, i)
        done: set[tuple[str, Span]] = set()
        unresolved: list[Operation] = []
        for op in ops:
            names = [a for a in op.names() if a.use in _NAMES]
            if not names:
                unresolved.append(op)
            for arg in names:
                key = (arg.value.path, arg.value.span)
                if key in done:
                    continue
                done.add(key)
                if "all tags" in op.note:
                    yield from self._all_tags(node, i, expanded, op, arg, runs)
                    continue
                found, opaque = self._name(site, expanded, op, arg, runs)
                if found is not None:
                    yield found
                elif opaque:
                    unresolved.append(op)
        if expanded.step.uses is not None:
            yield from self._action_inputs(site, expanded, runs, done)
        else:
            seen_ops: set[Span] = set()
            for op in unresolved:
                if op.span not in seen_ops:
                    seen_ops.add(op.span)
                    yield from self._command(site, expanded, op, runs)

    def _name(
        self, site: Site, expanded: ExpandedStep, op: Operation, arg: ImageArg, runs: _Runs
    ) -> tuple[Finding | None, bool]:
        """The finding for one name written, and whether its text is wholly unknown."""
        trace = _Trace()
        alts = self.tracer.value(arg.value, site, trace)
        if trace.metas and any(META in a for a in alts):
            # tags through an expression land on it; through the shell (`jq`,
            # `$DOCKER_METADATA_OUTPUT_JSON`, an array), on the command
            through_shell = not any(p.kind is PieceKind.EXPR for p in arg.value.pieces)
            path, span = (op.path, op.span) if through_shell else (arg.value.path, arg.value.span)
            return self._metadata(site, expanded, path, span, trace), False
        # a traced list (`tags: ${{ steps.x.outputs.tags }}` made of `a:1,b:1`): each item
        items = [item for a in alts for item in _ITEMS.split(a) if item]
        for alt in dict.fromkeys(items):
            name, tag, digest = _split(alt)
            if digest is not None or on_runner(name) or META in name:
                continue
            concrete = alt.replace(REF, "v1").replace(GIT_TAG, "v1").replace(SAMPLE, "")
            if split_static(concrete).error is not None:
                continue  # not an image name (a word of a broken command, say)
            if tag is None:
                last = name.rsplit("/", 1)[-1]
                if any(m in last for m in (REF, GIT_TAG, UNKNOWN)):
                    continue
                if not self.release.matches("latest"):
                    continue
                why = "no tag, which writes the release tag `latest`"
                listed = len(items) != len(alts)
                found_at = self._literal(site, expanded, arg, trace, alt, "latest", why, listed)
                return found_at, False
            found = self.release.literal(tag, runs)
            if found is None:
                continue
            shown, note = found
            # the tag as written, unless the value held a list of names
            listed = len(items) != len(alts)
            written = None if listed else _written(arg.value)[1]
            if REF in shown or GIT_TAG in shown:
                shown = written or _show(shown)
            elif written and written != shown:
                note = f"from `{written}`" + (f", {note}" if note else "")
            why = f"the release tag `{shown}`" + (f" ({note})" if note else "")
            found_at = self._literal(site, expanded, arg, trace, alt, shown, why, listed)
            return found_at, False
        return None, all(a.strip() == UNKNOWN for a in alts)

    def _literal(
        self,
        site: Site,
        expanded: ExpandedStep,
        arg: ImageArg,
        trace: _Trace,
        resolved: str,
        tag: str,
        why: str,
        listed: bool = False,
    ) -> Finding:
        """`listed`: `resolved` is one item of a list of names the value holds."""
        written_name = _written(arg.value)[0]
        whole_slot = not arg.value.is_static and not written_name
        clean = not any(m in resolved for m in (REF, GIT_TAG, META, UNKNOWN, SAMPLE))
        shown = f"`{arg.value.text}`"
        name = written_name
        if listed:
            shown, name = f"`{_show(resolved)}`", _show(_split(resolved)[0])
        elif whole_slot and clean:
            shown, name = f"{shown} (`{resolved}`)", _split(resolved)[0]
        message = (
            f"Step `{expanded.step.label}` in job `{site.node.job}` pushes {shown} to "
            f"the registry with {why}: the build publishes the release before any "
            "validation of its digest. Push by digest (or with a commit tag) here, and "
            "publish the tag by promoting the validated digest in a job after validation: "
            f"`{_hint(name, tag)}`."
        )
        path, span = arg.value.path, arg.value.span
        related: list[Location] = []
        if trace.origin is not None and _tag_is_slot(arg.value):
            related.append(Location(path, span, "the tag is pushed here"))
            path, given = trace.origin
            span = _locate_item(given, resolved, tag)
        return self._finding(site, expanded, path, span, message, related)

    def _all_tags(
        self,
        node: JobNode,
        i: int,
        expanded: ExpandedStep,
        op: Operation,
        arg: ImageArg,
        runs: _Runs,
    ) -> Iterator[Finding]:
        """`docker push --all-tags NAME`: the tags earlier builds of the job gave NAME."""
        wanted = _split(arg.value.text)[0]
        for j, other, facts in self.analysis.step_facts(node):
            if j > i:
                break
            for build in facts.operations:
                if build.role is not Role.BUILD or build.push:
                    continue
                for tag_arg in build.names():
                    if tag_arg.use is not ImageUse.TAG:
                        continue
                    name, tag, _ = _split(tag_arg.value.text)
                    if name != wanted or tag is None or not tag_arg.value.is_static:
                        continue
                    if self.release.literal(tag, runs) is None:
                        continue
                    message = (
                        f"Step `{expanded.step.label}` in job `{node.job}` pushes every tag "
                        f"of `{wanted}`, including the release tag `{tag}` given by step "
                        f"`{other.step.label}`: the build publishes the release before any "
                        "validation of its digest. Push by digest (or with a commit tag) "
                        "here, and publish the tag by promoting the validated digest in a "
                        f"job after validation: `{_hint(wanted, tag)}`."
                    )
                    related = [Location(arg.value.path, arg.value.span, "all tags pushed here")]
                    site = Site(node, j)
                    yield self._finding(
                        site, other, tag_arg.value.path, tag_arg.value.span, message, related
                    )

    # --- metadata-action tags -------------------------------------------------------------

    def _action_inputs(
        self, site: Site, expanded: ExpandedStep, runs: _Runs, done: set[tuple[str, Span]]
    ) -> Iterator[Finding]:
        """Inputs of a pushing action that hand it metadata tags without being names
        (a bake file: `files: cwd://${{ steps.meta.outputs.bake-file }}`)."""
        for key, text in expanded.step.with_.items():
            if key.lower() not in _BAKE_INPUTS or "${{" not in text.value:
                continue
            if (expanded.path, text.span) in done:
                continue
            for piece in value_of_text(text, expanded.path).slots:
                trace = _Trace()
                alts = self.tracer.value(Value((piece,), text.span, expanded.path), site, trace)
                if trace.metas and any(META in a for a in alts):
                    span = piece.span or text.span
                    found = self._metadata(site, expanded, expanded.path, span, trace)
                    if found is not None:
                        yield found

    def _command(
        self, site: Site, expanded: ExpandedStep, op: Operation, runs: _Runs
    ) -> Iterator[Finding]:
        """A command whose tags come from metadata outputs through a shell array, `jq`
        or `DOCKER_METADATA_OUTPUT_JSON`, so no name shows them."""
        source = self.graph.repository.sources.get(op.path)
        if source is None:
            return
        if expanded.step.run is not None and op.path == expanded.path:
            script = expanded.step.run.value
        else:
            script = source.text
        trace = _Trace()
        if _META_ENV_TAGS.search(script):
            self.tracer.meta_env(site, trace)
        for m in _META_STEP_TEXT.finditer(script):
            if m.group(2).lower() in meta.TAG_OUTPUTS - {"version"}:
                self.tracer.step_output(m.group(1).lower(), m.group(2), site, trace, 0)
        if trace.metas:
            found = self._metadata(site, expanded, op.path, op.span, trace)
            if found is not None:
                yield found

    def _metadata(
        self, site: Site, expanded: ExpandedStep, path: str, span: Span, trace: _Trace
    ) -> Finding | None:
        runs = self._step_runs(site.node, expanded, self._workflow_runs(site.node))
        for meta_node, index in dict.fromkeys(trace.metas):
            meta_step = self.analysis.steps(meta_node)[index]
            data = meta.read(meta_step.step, meta_step.path)
            if data is None:
                continue
            tags = self._metadata_tags(data, runs, Site(meta_node, index))
            if not tags:
                continue
            meta_site = Site(meta_node, index)
            names = [self._display(n, meta_site) for n in data.images]
            images = ", ".join(f"`{n}`" for n in names) or "the image"
            listed = ", ".join(f"`{t.tag}` ({t.rule})" for t in tags[:3])
            if len(tags) > 3:
                listed += f" and {len(tags) - 3} more"
            first = names[0] if names and "${{" not in names[0] else "NAME"
            where = f"in job `{meta_node.job}` " if meta_node.job != site.node.job else ""
            message = (
                f"Step `{expanded.step.label}` in job `{site.node.job}` pushes {images} with "
                f"tags from docker/metadata-action step `{data.label}` {where}that include "
                f"release tags: {listed}. The build publishes the release before any "
                "validation of its digest. Let the build push by digest (or only with "
                "commit tags such as `type=sha`), and publish the release tags by "
                "promoting the validated digest in a job after validation: "
                f"`{_hint(first, tags[0].tag)}`."
            )
            related = [
                Location(data.path, t.span, f"makes the release tag `{t.tag}`")
                for t in tags
                if t.span is not None
            ]
            return self._finding(site, expanded, path, span, message, related)
        return None

    def _display(self, text: str, site: Site) -> str:
        """An image name with its expressions resolved, when they resolve to one text."""
        if "${{" not in text:
            return text
        fake = Text(text, Span(1, 1, 1, 1))
        alts = self.tracer.value(value_of_text(fake, site.node.path), site, _Trace())
        clean = [a for a in alts if not any(m in a for m in (REF, GIT_TAG, META, UNKNOWN, SAMPLE))]
        return clean[0] if len(alts) == 1 and clean else text

    def _metadata_tags(self, data: meta.Metadata, runs: _Runs, site: Site) -> list[_MetaTag]:
        out: list[_MetaTag] = []
        custom = self.release.custom
        for rule in data.rules:
            kinds = rule.renders_on() & runs.kinds
            if not kinds:
                continue
            if not custom and rule.is_version:
                shown = rule.sample(data.flavor) if rule.type is not meta.TagType.MATCH else None
                out.append(_MetaTag(shown or "<version>", _rule_text(rule), rule.span))
                continue
            if not custom and rule.is_git_tag and RefKind.TAG in kinds:
                out.append(_MetaTag("<git tag>", _rule_text(rule), rule.span))
                continue
            shown = self._rule_release(data, rule, runs, site)
            if shown is not None:
                out.append(_MetaTag(shown, _rule_text(rule), rule.span))
        causes = data.latest_causes(runs.kinds)
        latest = data.flavor.latest_text
        if causes is not None and (not custom or self.release.matches(latest)):
            if data.flavor.latest_span is not None and not causes:
                why = f"flavor `latest={data.flavor.latest}`"
                out.append(_MetaTag(latest, why, data.flavor.latest_span))
            elif causes:
                why = f"flavor `latest=auto` with `{causes[0].line}`"
                out.append(_MetaTag(latest, why, causes[0].span))
            else:
                out.append(_MetaTag(latest, "flavor `latest`", None))
        return out

    def _rule_release(
        self,
        data: meta.Metadata,
        rule: meta.TagRule,
        runs: _Runs,
        site: Site,
    ) -> str | None:
        """The release tag a rule can make (by the configured patterns), or None."""
        samples: list[str] = []
        value = rule.field("value")
        if rule.type is meta.TagType.RAW and value is not None and "${{" in value.value:
            text = _with_text(data, "tags")
            if text is None:
                return None
            affixes = rule.affixes(data.flavor)
            if affixes is None:
                return None
            traced = self.tracer.value(meta.value_of_field(text, value, data.path), site, _Trace())
            samples = [affixes[0] + t + affixes[1] for t in traced]
        elif rule.type is meta.TagType.REF and rule.event == "branch":
            branches = runs.branches if runs.branches else ("main",)
            samples = [s for b in branches if (s := rule.sample(data.flavor, b)) is not None]
        elif rule.is_git_tag:
            sample = rule.sample(data.flavor)
            samples = [sample.replace(meta.SAMPLE_GIT_TAG, GIT_TAG)] if sample is not None else []
        else:
            sample = rule.sample(data.flavor)
            samples = [sample] if sample is not None else []
        for tag in samples:
            if self.release.literal(tag, runs) is not None:
                return _show(tag)
        return None

    def _finding(
        self,
        site: Site,
        expanded: ExpandedStep,
        path: str,
        span: Span,
        message: str,
        related: list[Location],
    ) -> Finding:
        step = expanded.step
        repo = self.graph.repository
        script = path not in repo.workflows and path not in repo.actions
        if script and (step.run is not None or step.uses is not None):
            runs_it = step.run if step.run is not None else step.uses
            assert runs_it is not None
            related.append(Location(expanded.path, runs_it.span, "the script is run here"))
        related += self.analysis.related(site.node, expanded)
        return self.rule.finding(
            path,
            span,
            message,
            related=related,
            job=site.node.job,
            step=expanded.step.label,
        )


def _publishes(op: Operation) -> bool:
    """Writes to a registry as a build or push (not a copy of an existing image)."""
    if not op.push or op.push_by_digest:
        return False
    return op.role in (Role.BUILD, Role.PUSH) or op.index_assembly


def _with_text(data: meta.Metadata, name: str) -> Text | None:
    for key, text in data.step.with_.items():
        if key.lower() == name:
            return text
    return None


def _rule_text(rule: meta.TagRule) -> str:
    if rule.is_default:
        return f"`{rule.line}`, a default rule (the step has no `tags:`)"
    return f"`{rule.line}`"


def _flat(value: Value) -> str:
    return "".join(p.text if p.kind is PieceKind.LITERAL else UNKNOWN for p in value.pieces)


def _written(value: Value) -> tuple[str, str | None]:
    """The name and the tag of a value as written (slots as written), split where the
    literal text puts the tag; ("", None) when a slot holds the whole name."""
    flat = _flat(value)
    if flat.strip() == UNKNOWN:
        return "", None
    name, tag, _ = _split(flat)
    name_text = _written_slice(value, 0, len(name))
    if tag is None:
        return name_text, None
    return name_text, _written_slice(value, len(name) + 1, len(name) + 1 + len(tag))


def _written_slice(value: Value, start: int, end: int) -> str:
    """`_flat(value)[start:end]` with each slot as written."""
    out: list[str] = []
    at = 0
    for p in value.pieces:
        literal = p.kind is PieceKind.LITERAL
        size = len(p.text) if literal else 1
        lo, hi = max(start - at, 0), min(end - at, size)
        if lo < hi:
            out.append(p.text[lo:hi] if literal else Value((p,), value.span, value.path).text)
        at += size
    return "".join(out)


def _tag_is_slot(value: Value) -> bool:
    """The tag (or the whole name, when it has no literal tag) comes from a slot."""
    flat = _flat(value)
    name, tag, _ = _split(flat)
    return (tag is not None and UNKNOWN in tag) or (tag is None and name.endswith(UNKNOWN))


def _hint(name: str, tag: str) -> str:
    return _PROMOTE_HINT.format(name=name or "NAME", tag=tag)


def _locate_item(text: Text, item: str, tag: str) -> Span:
    """Where in a caller's value the item (or its tag) is written; the whole value
    when it cannot be found literally."""
    for needle in (item, f":{tag}"):
        at = text.value.find(needle) if needle and UNKNOWN not in needle else -1
        if at >= 0:
            return text.locate(at, len(needle)) if needle == item else text.locate(at + 1, len(tag))
    return text.span
