"""The typed model of workflows and actions: frozen dataclasses, every field with its span.

`builder.py` makes these from loaded YAML nodes. Values that GitHub treats as strings
(and that may hold `${{ }}` expressions) are `Text`: the string, its span, and the
scalar node so a position inside the string can be located. Mappings are plain dicts
in frozen dataclasses: treat them as read-only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from digestgate.expressions import Expr, ExprError, Placeholder, find_placeholders, parse_expression
from digestgate.nodes import YMap, YNode, YScalar
from digestgate.span import Span


class Platform(str, Enum):
    GITHUB = "github"
    GITEA = "gitea"
    FORGEJO = "forgejo"


@dataclass(frozen=True, slots=True)
class Text:
    """A scalar value as a string (`true`, `3` and `null` too), with where it is."""

    value: str
    span: Span
    node: YScalar | None = field(default=None, compare=False, repr=False)
    tag: str = "str"

    def locate(self, offset: int, length: int = 0) -> Span:
        """File span of `value[offset:offset+length]`."""
        if self.node is None:
            return self.span
        return self.node.locate(offset, length)

    def is_true(self) -> bool:
        """A literal true (`true`, or a string GitHub would read as true)."""
        return self.value.strip().lower() == "true"

    def placeholders(self) -> list[tuple[Placeholder, Span]]:
        """Every `${{ }}` in the value, with the file span of each."""
        if "${{" not in self.value:
            return []
        return [(p, self.locate(p.start, p.end - p.start)) for p in find_placeholders(self.value)]

    def condition(self) -> Expr | ExprError:
        """An `if:` value as one expression (`${{ }}` around it is optional there).

        Mixed text such as `${{ a }} && b` is not one expression: GitHub reads it as
        a string; `expressions.evaluate_condition` follows that reading. The answer
        depends on the text alone and is remembered: the builder and several analyses
        ask, and the same conditions come back in many jobs (expressions and errors
        are immutable)."""
        value = self.value
        found = _CONDITIONS.get(value)
        if found is None:
            if len(_CONDITIONS) >= _CONDITIONS_SIZE:
                _CONDITIONS.clear()
            found = _CONDITIONS[value] = _condition(value)
        return found


_CONDITIONS: dict[str, Expr | ExprError] = {}
_CONDITIONS_SIZE = 20_000


def _condition(value: str) -> Expr | ExprError:
    stripped = value.strip()
    try:
        if stripped.startswith("${{") and stripped.endswith("}}") and value.count("${{") == 1:
            start = value.index("${{") + 3
            return parse_expression(value[start : value.rindex("}}")], start)
        return parse_expression(value)
    except ExprError as exc:
        # remembered: without its traceback, whose frames would keep the caller's
        # whole repository alive
        return exc.with_traceback(None)


@dataclass(frozen=True, slots=True)
class InputDef:
    name: str
    span: Span
    type: str | None = None
    default: Text | None = None
    required: bool = False


@dataclass(frozen=True, slots=True)
class OutputDef:
    name: str
    span: Span
    value: Text | None = None


@dataclass(frozen=True, slots=True)
class Trigger:
    event: str
    span: Span
    types: tuple[Text, ...] = ()
    branches: tuple[Text, ...] = ()
    tags: tuple[Text, ...] = ()
    workflows: tuple[Text, ...] = ()  # workflow_run: the triggering workflows' names
    inputs: dict[str, InputDef] = field(default_factory=dict)  # dispatch / call
    outputs: dict[str, OutputDef] = field(default_factory=dict)  # workflow_call
    secrets: tuple[str, ...] = ()  # workflow_call


@dataclass(frozen=True, slots=True)
class Container:
    """A job `container:` or a `services.<id>:` entry (string or map form)."""

    span: Span
    image: Text | None
    env: dict[str, Text] = field(default_factory=dict)
    options: Text | None = None


@dataclass(frozen=True, slots=True)
class Strategy:
    span: Span
    matrix: YNode | None = None  # kept as nodes: matrices may be expressions or lists
    fail_fast: Text | None = None


@dataclass(frozen=True, slots=True)
class Environment:
    span: Span
    name: Text | None
    url: Text | None = None


@dataclass(frozen=True, slots=True)
class RunDefaults:
    """`defaults.run` of a workflow or job."""

    shell: Text | None = None
    working_directory: Text | None = None


@dataclass(frozen=True, slots=True)
class Step:
    index: int  # position in its job or composite action, from 0
    span: Span  # the whole step mapping
    id: Text | None = None
    name: Text | None = None
    uses: Text | None = None
    with_: dict[str, Text] = field(default_factory=dict)
    with_span: Span | None = None
    run: Text | None = None
    shell: Text | None = None
    env: dict[str, Text] = field(default_factory=dict)
    if_: Text | None = None
    continue_on_error: Text | None = None
    working_directory: Text | None = None
    # Parallel steps (GitHub, June 2026): a step in a `parallel:` group has the
    # group's number; `background: true` runs on while later steps start;
    # `wait`, `wait-all` and `cancel` steps only synchronise (no `uses`/`run`).
    group: int | None = None
    background: bool = False
    wait: tuple[Text, ...] = ()
    wait_all: bool = False
    cancel: Text | None = None

    @property
    def label(self) -> str:
        """How messages name the step: its id, its name, or its position."""
        if self.id is not None:
            return self.id.value
        if self.name is not None:
            return self.name.value
        if self.uses is not None:
            return self.uses.value
        return f"#{self.index + 1}"


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    key_span: Span  # the job's key: where job-level findings land
    span: Span
    name: Text | None = None
    needs: tuple[Text, ...] = ()
    if_: Text | None = None
    runs_on: YNode | None = None
    outputs: dict[str, OutputDef] = field(default_factory=dict)
    env: dict[str, Text] = field(default_factory=dict)
    container: Container | None = None
    services: dict[str, Container] = field(default_factory=dict)
    strategy: Strategy | None = None
    steps: tuple[Step, ...] = ()
    uses: Text | None = None  # a reusable workflow call
    with_: dict[str, Text] = field(default_factory=dict)
    secrets: dict[str, Text] = field(default_factory=dict)
    secrets_inherit: bool = False
    environment: Environment | None = None
    continue_on_error: Text | None = None
    defaults: RunDefaults | None = None


@dataclass(frozen=True, slots=True)
class Problem:
    """Why (part of) a file could not be modelled: becomes a DG000 finding."""

    span: Span
    message: str
    job: str | None = None  # the job it is about, when there is one


@dataclass(frozen=True, slots=True)
class Workflow:
    path: str  # relative to the repository root, POSIX separators
    platform: Platform
    span: Span
    name: Text | None = None
    run_name: Text | None = None
    triggers: dict[str, Trigger] = field(default_factory=dict)
    env: dict[str, Text] = field(default_factory=dict)
    jobs: dict[str, Job] = field(default_factory=dict)
    root: YMap | None = field(default=None, compare=False, repr=False)
    defaults: RunDefaults | None = None

    @property
    def display_name(self) -> str:
        """The name `workflow_run` matches on: `name:`, else the file path (as GitHub)."""
        return self.name.value if self.name is not None else self.path

    def trigger(self, event: str) -> Trigger | None:
        return self.triggers.get(event)


@dataclass(frozen=True, slots=True)
class Action:
    """A local action (`action.yml`): composite, Docker or JavaScript."""

    path: str  # the action.yml file, relative to the repository root
    span: Span
    using: str  # "composite", "docker", "node20", ...
    name: Text | None = None
    inputs: dict[str, InputDef] = field(default_factory=dict)
    outputs: dict[str, OutputDef] = field(default_factory=dict)
    steps: tuple[Step, ...] = ()
    image: Text | None = None  # docker actions: runs.image
    root: YMap | None = field(default=None, compare=False, repr=False)

    @property
    def is_composite(self) -> bool:
        return self.using == "composite"
