"""Loaded YAML nodes -> the typed model (`model.py`), with DG000 problems.

The builder is forgiving where GitHub is and strict where a mistake would change the
pipeline digestgate sees: a wrongly typed `jobs`, `needs`, `steps` or `with` entry, an
unknown job or step key (a typo such as `need:` silently drops an edge), a step with
both `uses` and `run` or neither. Each such problem is recorded with its span and the
rest of the file is still modelled, so one bad job does not hide the others.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

from digestgate.expressions import ExprError, find_placeholders
from digestgate.model import (
    Action,
    Container,
    Environment,
    InputDef,
    Job,
    OutputDef,
    Platform,
    Problem,
    RunDefaults,
    Step,
    Strategy,
    Text,
    Trigger,
    Workflow,
)
from digestgate.nodes import YMap, YNode, YScalar, YSeq

WORKFLOW_KEYS = frozenset(
    {
        "name",
        "run-name",
        "on",
        "permissions",
        "env",
        "defaults",
        "concurrency",
        "jobs",
        # Forgejo: https://forgejo.org/docs/latest/user/actions/reference/
        "enable-email-notifications",
    }
)
JOB_KEYS = frozenset(
    {
        "name",
        "needs",
        "runs-on",
        "permissions",
        "environment",
        "concurrency",
        "outputs",
        "env",
        "defaults",
        "if",
        "steps",
        "timeout-minutes",
        "strategy",
        "continue-on-error",
        "container",
        "services",
        "uses",
        "with",
        "secrets",
        "snapshot",
    }
)
STEP_KEYS = frozenset(
    {
        "id",
        "if",
        "name",
        "uses",
        "run",
        "working-directory",
        "shell",
        "with",
        "env",
        "continue-on-error",
        "timeout-minutes",
        # parallel steps: https://docs.github.com/en/actions/reference/workflows-and-actions/workflow-syntax
        "background",
        "wait",
        "wait-all",
        "cancel",
    }
)
CONTROL_KEYS = ("wait", "wait-all", "cancel")
PARALLEL_KEYS = frozenset({"parallel", "name", "id", "if"})
JOB_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")

T = TypeVar("T")


class _Build:
    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.with_expressions: list[Text] = []
        self.conditions: list[Text] = []

    def problem(self, node: YNode, message: str) -> None:
        self.problems.append(Problem(node.span, message))

    # --- typed accessors -------------------------------------------------------------

    def text(self, node: YNode | None, what: str) -> Text | None:
        if node is None:
            return None
        if isinstance(node, YScalar):
            if node.tag == "null":
                return None
            text = Text(node.value, node.span, node, node.tag)
            if what == "if":
                self.conditions.append(text)
            elif "${{" in node.value:
                self.with_expressions.append(text)
            return text
        self.problem(node, f"{what} must be a single value, not a {_kind(node)}")
        return None

    def check_expressions(self) -> None:
        """Syntax errors in `${{ }}` and `if:`: GitHub refuses such a workflow."""
        for text in self.conditions:
            if "${{" in text.value and not _single_placeholder(text.value):
                self.with_expressions.append(text)
                continue
            parsed = text.condition()
            if isinstance(parsed, ExprError):
                at = text.locate(parsed.offset, 1)
                self.problems.append(Problem(at, f"invalid expression in `if:`: {parsed.message}"))
        for text in self.with_expressions:
            # only a placeholder in error is located (`Text.placeholders` locates all)
            for placeholder in find_placeholders(text.value):
                if placeholder.error is not None:
                    span = text.locate(placeholder.start, placeholder.end - placeholder.start)
                    self.problems.append(
                        Problem(span, f"invalid expression: {placeholder.error.message}")
                    )

    def mapping(self, node: YNode | None, what: str) -> YMap | None:
        if node is None or (isinstance(node, YScalar) and node.tag == "null"):
            return None
        if isinstance(node, YMap):
            return node
        if isinstance(node, YScalar) and "${{" in node.value:
            return None  # an expression that yields the mapping at run time
        self.problem(node, f"{what} must be a mapping, not a {_kind(node)}")
        return None

    def texts(self, node: YNode | None, what: str) -> tuple[Text, ...]:
        """A string or a list of strings."""
        if node is None:
            return ()
        if isinstance(node, YSeq):
            out = []
            for item in node.items:
                t = self.text(item, f"each entry of {what}")
                if t is not None:
                    out.append(t)
            return tuple(out)
        t = self.text(node, what)
        return (t,) if t is not None else ()

    def text_map(self, node: YNode | None, what: str) -> dict[str, Text]:
        m = self.mapping(node, what)
        if m is None:  # absent, or an expression such as `env: ${{ matrix.env }}`
            return {}
        out: dict[str, Text] = {}
        for k, v in m.items:
            t = self.text(v, f"{what}.{k.value}")
            if t is not None:
                out[k.value] = t
            elif isinstance(v, YScalar):  # null value: an empty string to GitHub
                out[k.value] = Text("", v.span, v, "null")
        return out

    def unknown_keys(self, m: YMap, known: frozenset[str], where: str) -> None:
        for k, _ in m.items:
            if k.value not in known:
                hint = _did_you_mean(k.value, known)
                self.problem(k, f"unknown key {k.value!r} in {where}{hint}")

    def each(self, m: YMap | None, fn: Callable[[YScalar, YNode], T | None]) -> dict[str, T]:
        out: dict[str, T] = {}
        if m is None:
            return out
        for k, v in m.items:
            made = fn(k, v)
            if made is not None:
                out[k.value] = made
        return out

    # --- shared pieces ---------------------------------------------------------------

    def input_def(self, key: YScalar, node: YNode) -> InputDef:
        m = node if isinstance(node, YMap) else None
        typ = self.text(m.get("type"), "input type") if m else None
        req = m.get("required") if m else None
        return InputDef(
            key.value,
            key.span,
            typ.value if typ else None,
            self.text(m.get("default"), "input default") if m else None,
            isinstance(req, YScalar) and req.value.lower() == "true",
        )

    def output_def(self, key: YScalar, node: YNode) -> OutputDef:
        if isinstance(node, YMap):
            return OutputDef(key.value, key.span, self.text(node.get("value"), "output value"))
        return OutputDef(key.value, key.span, self.text(node, f"output {key.value}"))

    def defaults(self, node: YNode | None) -> RunDefaults | None:
        m = self.mapping(node, "defaults")
        run = self.mapping(m.get("run"), "defaults.run") if m is not None else None
        if run is None:
            return None
        return RunDefaults(
            self.text(run.get("shell"), "defaults.run.shell"),
            self.text(run.get("working-directory"), "defaults.run.working-directory"),
        )

    def container(self, node: YNode, what: str) -> Container | None:
        if isinstance(node, YScalar):
            if node.tag == "null":
                return None
            return Container(node.span, Text(node.value, node.span, node, node.tag))
        m = self.mapping(node, what)
        if m is None:
            return None
        return Container(
            m.span,
            self.text(m.get("image"), f"{what}.image"),
            self.text_map(m.get("env"), f"{what}.env"),
            self.text(m.get("options"), f"{what}.options"),
        )

    def step(self, index: int, m: YMap, where: str, group: int | None) -> Step:
        self.unknown_keys(m, STEP_KEYS, f"step {index + 1} of {where}")
        uses = self.text(m.get("uses"), "uses")
        run = self.text(m.get("run"), "run")
        if uses is not None and run is not None:
            self.problem(m, f"step {index + 1} of {where} has both `uses` and `run`")
        elif (
            uses is None
            and run is None
            and "uses" not in m
            and "run" not in m
            and not any(k in m for k in CONTROL_KEYS)  # a wait or cancel step
        ):
            self.problem(m, f"step {index + 1} of {where} has neither `uses` nor `run`")
        with_node = m.get("with")
        background = self.text(m.get("background"), "background")
        wait_all = self.text(m.get("wait-all"), "wait-all")
        return Step(
            index=index,
            span=m.span,
            id=self.text(m.get("id"), "step id"),
            name=self.text(m.get("name"), "step name"),
            uses=uses,
            with_=self.text_map(with_node, "with"),
            with_span=with_node.span if with_node is not None else None,
            run=run,
            shell=self.text(m.get("shell"), "shell"),
            env=self.text_map(m.get("env"), "env"),
            if_=self.text(m.get("if"), "if"),
            continue_on_error=self.text(m.get("continue-on-error"), "continue-on-error"),
            working_directory=self.text(m.get("working-directory"), "working-directory"),
            group=group,
            background=background is not None and background.is_true(),
            wait=self.texts(m.get("wait"), "wait"),
            wait_all=wait_all is not None and wait_all.value.lower() != "false",
            cancel=self.text(m.get("cancel"), "cancel"),
        )

    def steps(self, node: YNode | None, where: str) -> tuple[Step, ...]:
        """A step list; the steps of a `parallel:` group are flattened in order."""
        if node is None:
            return ()
        if not isinstance(node, YSeq):
            self.problem(node, f"`steps` of {where} must be a list, not a {_kind(node)}")
            return ()
        out: list[Step] = []
        for group, item in enumerate(node.items):
            m = self.mapping(item, f"step {len(out) + 1} of {where}")
            if m is None:
                continue
            inner = m.get("parallel")
            if inner is None:
                out.append(self.step(len(out), m, where, None))
                continue
            self.unknown_keys(
                m, PARALLEL_KEYS, f"the parallel group at step {len(out) + 1} of {where}"
            )
            if not isinstance(inner, YSeq):
                self.problem(inner, f"`parallel` must be a list of steps, not a {_kind(inner)}")
                continue
            for sub in inner.items:
                sm = self.mapping(sub, f"step {len(out) + 1} of {where}")
                if sm is not None:
                    out.append(self.step(len(out), sm, where, group))
        return tuple(out)

    # --- workflows -------------------------------------------------------------------

    def triggers(self, node: YNode | None) -> dict[str, Trigger]:
        if node is None:
            return {}
        if isinstance(node, YScalar):
            return {node.value: Trigger(node.value, node.span)}
        if isinstance(node, YSeq):
            out = {}
            for item in node.items:
                t = self.text(item, "each event in `on`")
                if t is not None:
                    out[t.value] = Trigger(t.value, t.span)
            return out
        assert isinstance(node, YMap)
        out = {}
        for k, v in node.items:
            m = v if isinstance(v, YMap) else None
            if isinstance(v, YSeq) and k.value != "schedule":
                self.problem(v, f"`on.{k.value}` must be a mapping, not a {_kind(v)}")
            out[k.value] = Trigger(
                k.value,
                k.span,
                types=self.texts(m.get("types"), "types") if m else (),
                branches=self.texts(m.get("branches"), "branches") if m else (),
                tags=self.texts(m.get("tags"), "tags") if m else (),
                workflows=self.texts(m.get("workflows"), "workflows") if m else (),
                inputs=self.each(self.mapping(m.get("inputs"), "inputs"), self.input_def)
                if m
                else {},
                outputs=self.each(self.mapping(m.get("outputs"), "outputs"), self.output_def)
                if m
                else {},
                secrets=tuple(s.keys()) if m and isinstance(s := m.get("secrets"), YMap) else (),
            )
        return out

    def job(self, key: YScalar, node: YNode) -> Job | None:
        where = f"job {key.value!r}"
        if not JOB_ID.match(key.value):
            self.problem(
                key,
                f"job id {key.value!r} is invalid: it must start with a letter or `_` and "
                "contain only letters, digits, `-` and `_`",
            )
        m = self.mapping(node, where)
        if m is None:
            return None
        self.unknown_keys(m, JOB_KEYS, where)
        uses = self.text(m.get("uses"), "uses")
        if uses is None and "steps" not in m:
            self.problem(key, f"{where} has neither `steps` nor `uses`")
        elif uses is None and "runs-on" not in m:
            self.problem(key, f"{where} has no `runs-on`")
        elif uses is not None and "steps" in m:
            self.problem(key, f"{where} calls a reusable workflow and cannot have `steps`")
        needs_node = m.get("needs")
        strategy = None
        if (s := m.get("strategy")) is not None:
            sm = self.mapping(s, "strategy")
            if sm is not None:
                strategy = Strategy(
                    sm.span, sm.get("matrix"), self.text(sm.get("fail-fast"), "fail-fast")
                )
        environment = None
        if (e := m.get("environment")) is not None:
            if isinstance(e, YMap):
                environment = Environment(
                    e.span,
                    self.text(e.get("name"), "environment name"),
                    self.text(e.get("url"), "url"),
                )
            else:
                environment = Environment(e.span, self.text(e, "environment"))
        secrets_node = m.get("secrets")
        inherit = isinstance(secrets_node, YScalar) and secrets_node.value == "inherit"
        services = self.each(
            self.mapping(m.get("services"), "services"),
            lambda k, v: self.container(v, f"services.{k.value}"),
        )
        container_node = m.get("container")
        return Job(
            id=key.value,
            key_span=key.span,
            span=m.span,
            name=self.text(m.get("name"), "job name"),
            needs=self.texts(needs_node, "needs"),
            if_=self.text(m.get("if"), "if"),
            runs_on=m.get("runs-on"),
            outputs=self.each(self.mapping(m.get("outputs"), "outputs"), self.output_def),
            env=self.text_map(m.get("env"), "env"),
            container=self.container(container_node, "container") if container_node else None,
            services=services,
            strategy=strategy,
            steps=self.steps(m.get("steps"), where),
            uses=uses,
            with_=self.text_map(m.get("with"), "with"),
            secrets={} if inherit else self.text_map(secrets_node, "secrets"),
            secrets_inherit=inherit,
            environment=environment,
            continue_on_error=self.text(m.get("continue-on-error"), "continue-on-error"),
            defaults=self.defaults(m.get("defaults")),
        )


def build_workflow(root: YMap, path: str, platform: Platform) -> tuple[Workflow, list[Problem]]:
    b = _Build()
    b.unknown_keys(root, WORKFLOW_KEYS, "the workflow")
    if "on" not in root:
        b.problem(root, "the workflow has no `on:` (nothing would trigger it)")
    jobs_node = root.get("jobs")
    jobs: dict[str, Job] = {}
    if jobs_node is None:
        b.problem(root, "the workflow has no `jobs:`")
    else:
        jm = b.mapping(jobs_node, "`jobs`")
        if jm is not None and not jm.items:
            b.problem(jm, "`jobs` is empty")
        elif isinstance(jobs_node, YScalar) and jobs_node.tag == "null":
            b.problem(jobs_node, "`jobs` is empty")
        jobs = b.each(jm, b.job)
    wf = Workflow(
        path=path,
        platform=platform,
        span=root.span,
        name=b.text(root.get("name"), "name"),
        run_name=b.text(root.get("run-name"), "run-name"),
        triggers=b.triggers(root.get("on")),
        env=b.text_map(root.get("env"), "env"),
        jobs=jobs,
        root=root,
        defaults=b.defaults(root.get("defaults")),
    )
    b.check_expressions()
    return wf, b.problems


def build_action(root: YMap, path: str) -> tuple[Action, list[Problem]]:
    b = _Build()
    # GitHub ignores unknown keys in action metadata (real actions carry `on:`), so
    # they are not problems here, unlike in workflows.
    runs = b.mapping(root.get("runs"), "`runs`")
    using = ""
    steps: tuple[Step, ...] = ()
    image = None
    if runs is None:
        b.problem(root, "the action has no `runs:`")
    else:
        u = b.text(runs.get("using"), "runs.using")
        using = u.value if u else ""
        if u is None:
            b.problem(runs, "`runs` has no `using:`")
        if using == "composite":
            steps = b.steps(runs.get("steps"), "the composite action")
            if "steps" not in runs:
                b.problem(runs, "a composite action needs `runs.steps`")
        elif using == "docker":
            image = b.text(runs.get("image"), "runs.image")
    action = Action(
        path=path,
        span=root.span,
        using=using,
        name=b.text(root.get("name"), "name"),
        inputs=b.each(b.mapping(root.get("inputs"), "inputs"), b.input_def),
        outputs=b.each(b.mapping(root.get("outputs"), "outputs"), b.output_def),
        steps=steps,
        image=image,
        root=root,
    )
    b.check_expressions()
    return action, b.problems


def _single_placeholder(value: str) -> bool:
    stripped = value.strip()
    return stripped.startswith("${{") and stripped.endswith("}}") and value.count("${{") == 1


def _kind(node: YNode) -> str:
    if isinstance(node, YMap):
        return "mapping"
    if isinstance(node, YSeq):
        return "list"
    return "value"


def _did_you_mean(word: str, known: frozenset[str]) -> str:
    import difflib

    close = difflib.get_close_matches(word, sorted(known), n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""
