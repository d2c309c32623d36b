"""What each step does: the analysers joined up, per step as it runs in a job.

For a step this module asks, in order:

* a well-known action (`catalogue.py`): its operations and outputs from data;
  a retry wrapper's command input is analysed as a script;
* `uses: docker://image`: the step runs that image;
* a `run:` body (`shell.py` parses it, `commands.py` classifies the commands, with
  compose files read through `compose.py`); each local script it runs by path, shell
  (`shell.py`) or Python (`pyscripts.py`), is analysed the same way, with findings
  landing in the script file;
* anything else (an unknown remote action) is opaque.

`Facts` caches the answer per written step and job environment, so a composite action
used by ten jobs is analysed once per distinct environment, and every rule sees the
same facts. Nothing here runs or fetches anything.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from digestgate.cache import note_probe, note_read
from digestgate.facts import (
    Command,
    ImageArg,
    ImageUse,
    Operation,
    OutputWrite,
    Piece,
    PieceKind,
    Role,
    ScriptFacts,
    StepFacts,
    Value,
    WriteTarget,
    value_of_text,
)
from digestgate.graph import ExpandedStep, JobNode, RepoGraph
from digestgate.imageref import on_runner
from digestgate.model import Job, Step, Text, Workflow
from digestgate.nodes import YMap, YScalar, YSeq
from digestgate.repository import Repository

if TYPE_CHECKING:
    from digestgate.compose import ComposeReader
    from digestgate.pyscripts import PythonScript

MAX_SCRIPT_DEPTH = 3
MAX_SCRIPT_BYTES = 1024 * 1024
_BASH_SHELLS = re.compile(r"^(bash|sh)(\s|$)|^(/usr)?/bin/(ba)?sh(\s|$)")
_SCRIPT_SUFFIXES = (".sh", ".bash")
_PYTHON = re.compile(r"^(python(3(\.\d+)?)?|py)$")
_RUNNERS = ("bash", "sh", "uv", "poetry")  # commands whose arguments name a script


@dataclass
class Facts:
    """Step facts for one repository, computed on demand and cached."""

    graph: RepoGraph
    _by_step: dict[tuple[int, str], StepFacts] = field(default_factory=dict)
    _scripts: dict[str, ScriptFacts] = field(default_factory=dict)
    # by written step, job and composite callers (a composite action used twice in one
    # job gets each use's `env:`)
    _envs: dict[tuple[int, str, str, tuple[int, ...]], tuple[dict[str, Value], str]] = field(
        default_factory=dict
    )
    # the environment a job (and its composite callers) gives every step, and its key
    _job_envs: dict[tuple[str, str, tuple[int, ...]], tuple[dict[str, Value], str]] = field(
        default_factory=dict
    )
    _values: dict[int, Value] = field(default_factory=dict)
    _in_job: dict[tuple[int, str, str, int], StepFacts] = field(default_factory=dict)
    _of: dict[tuple[JobNode, int], StepFacts] = field(default_factory=dict)
    _readers: dict[str, ComposeReader] = field(default_factory=dict)  # by working directory
    _real_root: Path | None = None

    @property
    def repository(self) -> Repository:
        return self.graph.repository

    def of(self, node: JobNode, index: int) -> StepFacts:
        """Facts of the `index`-th expanded step of a job instance (remembered: every
        rule asks for them, about sixteen times per step on a large corpus)."""
        hit = self._of.get((node, index))
        if hit is None:
            hit = self._of[(node, index)] = self._of_instance(node, index)
        return hit

    def _of_instance(self, node: JobNode, index: int) -> StepFacts:
        job = self.graph.job(node)
        steps = self.graph.steps(node.path, job)
        facts = self.of_step(steps[index], job, node.path)
        if any(op.role is Role.PROMOTE for op in facts.operations):
            key = (id(steps[index].step), node.path, job.id, index)
            hit = self._in_job.get(key)
            if hit is None:
                hit = self._in_job[key] = _own_build_retags(
                    facts, steps, index, self, job, node.path
                )
            return hit
        return facts

    def of_step(self, expanded: ExpandedStep, job: Job | None, workflow_path: str) -> StepFacts:
        callers = tuple([id(caller) for _, caller in expanded.callers])
        env_key = (id(expanded.step), job.id if job else "", workflow_path, callers)
        cached = self._envs.get(env_key)
        if cached is None:
            cached = self._envs[env_key] = self._env(expanded, job, workflow_path, callers)
        env, text_key = cached
        key = (id(expanded.step), text_key)
        hit = self._by_step.get(key)
        if hit is None:
            hit = self._analyse(expanded, env, job, workflow_path)
            coe = expanded.step.continue_on_error
            if coe is not None and coe.is_true():
                # `continue-on-error: true`: no command of this step can fail the job
                ops = tuple(replace(op, can_fail=False) for op in hit.operations)
                hit = replace(hit, operations=ops)
            self._by_step[key] = hit
        return hit

    # --- environment -----------------------------------------------------------------

    def _env(
        self, expanded: ExpandedStep, job: Job | None, workflow_path: str, callers: tuple[int, ...]
    ) -> tuple[dict[str, Value], str]:
        """The step's environment as Values: workflow, job, callers', step (last wins),
        and its text key. All but the step's own layer are shared by the steps of a job
        (or of one composite action's use), so that part is built once; most steps add
        nothing and get the shared dict itself (it is read only). `callers`: the ids of
        `expanded.callers`."""
        shared_key = (workflow_path, job.id if job else "", callers)
        shared = self._job_envs.get(shared_key)
        if shared is None:
            env: dict[str, Value] = {}
            wf: Workflow | None = self.repository.workflows.get(workflow_path)
            if wf is not None:
                self._add_layer(env, workflow_path, wf.env)
            if job is not None:
                self._add_layer(env, workflow_path, job.env)
            for caller_path, caller in expanded.callers:
                self._add_layer(env, caller_path, caller.env)
            shared = self._job_envs[shared_key] = (env, _env_key(env))
        if not expanded.step.env:
            return shared
        env = dict(shared[0])
        self._add_layer(env, expanded.path, expanded.step.env)
        return env, _env_key(env)

    def _add_layer(self, env: dict[str, Value], path: str, layer: Mapping[str, Text]) -> None:
        for name, text in layer.items():
            value = self._values.get(id(text))
            if value is None:
                value = self._values[id(text)] = value_of_text(text, path)
            env[name] = value

    # --- analysis --------------------------------------------------------------------

    def _analyse(
        self, expanded: ExpandedStep, env: dict[str, Value], job: Job | None, workflow_path: str
    ) -> StepFacts:
        step = expanded.step
        path = expanded.path
        try:
            if step.uses is not None:
                return self._uses(step, path, env)
            if step.run is not None:
                shell, workdir = self._run_defaults(expanded, job, workflow_path)
                return _step_of(self._script_text(step.run, path, env, shell, 0, workdir))
        except Exception as exc:  # an analyser bug must not stop the lint
            return StepFacts(opaque=True, notes=(f"internal error analysing the step: {exc!r}",))
        return StepFacts()

    def _uses(self, step: Step, path: str, env: dict[str, Value]) -> StepFacts:
        assert step.uses is not None
        uses = step.uses.value.strip()
        if uses.startswith("docker://"):
            image = _strip_prefix(value_of_text(step.uses, path), "docker://")
            return StepFacts(references=(ImageArg(image, ImageUse.RUN),))
        action = self.graph.local_action(step)
        if action is not None:
            # a composite action's steps are expanded in place; a Docker action runs
            # its `runs.image`
            if action.image is not None and action.image.value.strip().startswith("docker://"):
                image = _strip_prefix(value_of_text(action.image, action.path), "docker://")
                return StepFacts(references=(ImageArg(image, ImageUse.RUN),))
            return StepFacts()
        from digestgate import catalogue

        wrapped = catalogue.wrapped_command(step)
        if wrapped is not None:
            shell = catalogue.wrapped_shell(step)
            script = self._script_text(wrapped, path, env, shell=shell, depth=0)
            return _step_of(script)
        found = catalogue.step_facts(step, path)
        if found is None:
            return StepFacts(opaque=True, notes=(f"{uses} is not a known action",))
        operations, writes, loose = found
        operations = [
            replace(op, role=Role.BUILD, push=True)
            if op.index_assembly and op.role is Role.PROMOTE
            else op
            for op in operations
        ]
        return StepFacts(
            operations=tuple(operations),
            writes=tuple(writes),
            references=tuple(loose),
        )

    def _run_defaults(
        self, expanded: ExpandedStep, job: Job | None, workflow_path: str
    ) -> tuple[str | None, Text | None]:
        """The shell and working directory a `run:` step gets: its own, else the job's
        and workflow's `defaults.run`, else (for the shell) PowerShell on a Windows
        runner. Composite action steps name their shell themselves."""
        step = expanded.step
        shell = step.shell.value if step.shell is not None else None
        workdir = step.working_directory
        if expanded.callers:
            return shell, workdir
        wf = self.repository.workflows.get(workflow_path)
        for defaults in (job.defaults if job else None, wf.defaults if wf else None):
            if defaults is None:
                continue
            if shell is None and defaults.shell is not None:
                shell = defaults.shell.value
            if workdir is None and defaults.working_directory is not None:
                workdir = defaults.working_directory
        if shell is None and job is not None and (_windows(job) or _windows_step(step)):
            shell = "pwsh"
        return shell, workdir

    def _script_text(
        self,
        text: Text,
        path: str,
        env: dict[str, Value],
        shell: str | None,
        depth: int,
        workdir: Text | None = None,
    ) -> ScriptFacts:
        from digestgate import shell as shell_mod

        if shell is not None and not _BASH_SHELLS.match(shell.strip()):
            if shell.strip().startswith("python"):
                from digestgate.pyscripts import analyse_python

                py = analyse_python(text.value, path, text.locate)
                return self._python_facts(py)
            return ScriptFacts(opaque=True, notes=(f"shell `{shell}` is not analysed",))
        parsed = shell_mod.analyse(text.value, path, text.locate, env=env, shell=shell)
        return self._commands_facts(
            parsed.commands, parsed.writes, parsed.opaque, parsed.errors, path, env, depth, workdir
        )

    def _commands_facts(
        self,
        commands: tuple[Command, ...],
        writes: tuple[OutputWrite, ...],
        opaque: bool,
        notes: tuple[str, ...],
        path: str,
        env: dict[str, Value],
        depth: int,
        workdir: Text | None,
    ) -> ScriptFacts:
        from digestgate import commands as cmd_mod
        from digestgate.compose import repository_reader

        folder = workdir.value if workdir else ""
        reader = self._readers.get(folder)
        if reader is None:
            reader = self._readers[folder] = repository_reader(self.repository.root, folder)
        images = cmd_mod.analyse_script(commands, compose=reader, env=env)
        operations, references = _local_copies([_as_index_assembly(op) for op in images.operations])
        references += list(images.references)
        writes_out = [_classify_write(w, commands) for w in writes]
        writes_out += _touched_files(commands)
        scripts: list[str] = []
        all_notes = list(notes)
        for c in commands:
            target = self._script_of(c, workdir)
            if target is None:
                continue
            rel, kind = target
            scripts.append(rel)
            if depth >= MAX_SCRIPT_DEPTH:
                continue
            sub = self._script_file(rel, kind, env, depth + 1)
            operations.extend(sub.operations)
            references.extend(sub.references)
            writes_out.extend(sub.writes)
            scripts.extend(sub.scripts)
            opaque = opaque or sub.opaque
            all_notes.extend(sub.notes)
        return ScriptFacts(
            tuple(operations),
            tuple(writes_out),
            tuple(references),
            opaque,
            tuple(all_notes),
            tuple(dict.fromkeys(scripts)),
        )

    def _python_facts(self, py: PythonScript) -> ScriptFacts:
        from digestgate import commands as cmd_mod

        images = cmd_mod.analyse_script(py.commands)
        operations = list(py.operations) + list(images.operations)
        references = list(py.references) + list(images.references)
        writes = tuple(_classify_write(w, py.commands) for w in py.writes)
        return ScriptFacts(
            tuple(operations), writes, tuple(references), py.opaque, tuple(py.errors)
        )

    def _script_file(self, rel: str, kind: str, env: dict[str, Value], depth: int) -> ScriptFacts:
        # A Python script is read without the step's environment: analysed once.
        key = f"{kind}:{rel}" if kind == "python" else f"{kind}:{rel}:{_env_key(env)}"
        hit = self._scripts.get(key)
        if hit is not None:
            return hit
        self._scripts[key] = ScriptFacts(opaque=True, notes=(f"{rel} runs itself",))  # cycle guard
        result = self._read_script(rel, kind, env, depth)
        self._scripts[key] = result
        return result

    def _read_script(self, rel: str, kind: str, env: dict[str, Value], depth: int) -> ScriptFacts:
        root = self.repository.root
        try:
            full = (root / rel).resolve()
            if self._real_root is None:
                self._real_root = root.resolve()
            full.relative_to(self._real_root)
            data = full.read_bytes()
        except (OSError, ValueError):
            note_read(root, rel, None)
            return ScriptFacts(opaque=True, notes=(f"{rel} cannot be read",))
        note_read(root, rel, data)
        data = data[: MAX_SCRIPT_BYTES + 1]
        if len(data) > MAX_SCRIPT_BYTES:
            return ScriptFacts(opaque=True, notes=(f"{rel} is larger than 1 MiB",))
        text = data.decode("utf-8", errors="replace")
        if kind == "python":
            from digestgate.pyscripts import analyse_python

            return self._python_facts(analyse_python(text, rel))
        from digestgate import shell as shell_mod

        locate = shell_mod.file_locator(text)
        parsed = shell_mod.analyse(text, rel, locate, env=env, shell="bash")
        return self._commands_facts(
            parsed.commands, parsed.writes, parsed.opaque, parsed.errors, rel, env, depth, None
        )

    def _script_of(self, command: Command, workdir: Text | None) -> tuple[str, str] | None:
        """A local script a command runs: (repository-relative path, "shell"|"python")."""
        if not command.argv:
            return None
        first = command.argv[0]  # most commands are none of these: answered early
        if not first.is_static:
            return None
        name = first.text
        if "/" not in name and name not in _RUNNERS and not _PYTHON.match(name):
            return None
        argv = [a.text for a in command.argv if a.is_static]
        if len(argv) != len(command.argv) or not argv:
            return None
        args = argv
        kind = None
        if args[0] in ("bash", "sh") and len(args) > 1:
            args = [a for a in args[1:] if not a.startswith("-")]
            kind = "shell"
        elif _PYTHON.match(PurePosixPath(args[0]).name) or args[:2] in (
            ["uv", "run"],
            ["poetry", "run"],
        ):
            rest = args[1:]
            if args[:2] in (["uv", "run"], ["poetry", "run"]):
                rest = args[2:]
                if rest and _PYTHON.match(rest[0]):
                    rest = rest[1:]
            if rest[:1] == ["-m"] and len(rest) > 1:
                from digestgate.pyscripts import module_path

                found = module_path(rest[1], self.repository.root)
                return (found, "python") if found else None
            args = [a for a in rest if not a.startswith("-")]
            kind = "python"
        if not args:
            return None
        target = args[0]
        if kind is None:
            if not (target.startswith(("./", "../")) or "/" in target):
                return None
            kind = "python" if target.endswith(".py") else "shell"
        base = workdir.value.strip() if workdir is not None and "${{" not in workdir.value else ""
        rel = _normalise(PurePosixPath(base) / target if not target.startswith("/") else target)
        if rel is None:
            return None
        note_probe(self.repository.root, rel)
        if not (self.repository.root / rel).is_file():
            # a script the step runs that is not in the repository (made at run time,
            # or another checkout): reported as a script, read as opaque
            return (rel, kind) if target.startswith(("./", "scripts/", "hack/", "ci/")) else None
        if kind == "shell" and not (
            rel.endswith(_SCRIPT_SUFFIXES) or "." not in PurePosixPath(rel).name
        ):
            return None
        return rel, kind


def _windows(job: Job) -> bool:
    """The job runs on a Windows runner (where `run:` defaults to PowerShell): a
    literal label, or `${{ matrix.X }}` whose every matrix value is a Windows one."""
    node = job.runs_on
    labels = node.items if isinstance(node, YSeq) else [node] if node is not None else []
    for n in labels:
        if not isinstance(n, YScalar):
            continue
        if "${{" not in n.value:
            if "windows" in n.value.lower():
                return True
            continue
        # `${{ matrix.os }}` or any expression of it: Windows when every value of a
        # matrix key it names (list or `include:` entries) is a Windows label
        matrix = job.strategy.matrix if job.strategy else None
        if not isinstance(matrix, YMap):
            continue
        for key in re.findall(r"matrix\.([A-Za-z0-9_-]+)", n.value):
            texts = _matrix_values(matrix, key)
            if texts and all("windows" in t.lower() for t in texts):
                return True
    return False


def _matrix_values(matrix: YMap, key: str) -> list[str]:
    from digestgate.nodes import YScalar, YSeq

    values = matrix.get(key)
    out = (
        [v.value for v in values.items if isinstance(v, YScalar)]
        if isinstance(values, YSeq)
        else []
    )
    include = matrix.get("include")
    if isinstance(include, YSeq):
        for item in include.items:
            if isinstance(item, YMap) and isinstance(v := item.get(key), YScalar):
                out.append(v.value)
    return out


_WINDOWS_IF = re.compile(r"runner\.os\s*==\s*'windows'|matrix\.[\w.-]+\s*==\s*'windows", re.I)


def _windows_step(step: Step) -> bool:
    """The step itself runs only on Windows (`if: runner.os == 'Windows'`)."""
    return step.if_ is not None and bool(_WINDOWS_IF.search(step.if_.value))


def _normalise(path: PurePosixPath | str) -> str | None:
    import os.path

    text = os.path.normpath(str(path))
    if text.startswith("..") or text.startswith("/"):
        return None
    return PurePosixPath(text).as_posix()


def _strip_prefix(value: Value, prefix: str) -> Value:
    first = value.pieces[0] if value.pieces else None
    if first is None or first.kind is not PieceKind.LITERAL or not first.text.startswith(prefix):
        return value
    rest = first.text[len(prefix) :]
    span = first.span
    if span is not None and span.line == span.end_line:
        from digestgate.span import Span

        span = Span(span.line, span.column + len(prefix), span.end_line, span.end_column)
    pieces = ((Piece(PieceKind.LITERAL, rest, span),) if rest else ()) + value.pieces[1:]
    return Value(pieces, value.span, value.path)


_RECIPE_SOURCE = re.compile(r"""(^|\|\s*xargs\s+)\s*printf\s+['"][^'"]*@(sha256:)?%s""")


def is_digest_list_command(text: str) -> bool:
    """`printf 'NAME@sha256:%s ' *` run in a folder of digest files (Docker's
    multi-platform recipe lists the per-platform digests that way), or
    `cat *.txt | xargs printf 'NAME@%s '` over files holding `sha256:...`."""
    return bool(_RECIPE_SOURCE.search(text.strip()))


def _as_index_assembly(op: Operation) -> Operation:
    """`imagetools create` whose sources are per-platform digests listed from digest
    files (Docker's multi-platform recipe) assembles an index: part of BUILD (and a
    push of the new index digest), not a promotion (RULES.md, roles)."""
    if op.role is not Role.PROMOTE or not op.tool.endswith("imagetools create"):
        return op
    sources = [a for a in op.images if a.use is ImageUse.COPY_SOURCE]
    listed = [
        a
        for a in sources
        if any(
            p.kind is PieceKind.COMMAND and is_digest_list_command(p.text) for p in a.value.pieces
        )
    ]
    # other dynamic words next to the listed digests are options (`"${annotations[@]}"`)
    if not listed or any(a.value.is_static for a in sources if a not in listed):
        return op
    images = tuple(
        ImageArg(a.value, ImageUse.TAG if a.use is ImageUse.COPY_TARGET else ImageUse.INPUT)
        for a in op.images
    )
    return replace(
        op, role=Role.BUILD, images=images, push=True, index_assembly=True, note="index assembly"
    )


_STEP_OUTPUT = re.compile(r"steps\.([A-Za-z0-9_-]+)\.outputs\.")


def _own_build_retags(
    facts: StepFacts, steps: list[ExpandedStep], index: int, owner: Facts, job: Job, path: str
) -> StepFacts:
    """A copy or re-tag whose every source is the digest of a build earlier in the
    same job (`imagetools create -t x:1 x@${{ steps.build.outputs.digest }}`) is the
    build naming its own output: part of BUILD, not a promotion of validated bytes."""
    here = steps[index]
    builders = {
        s.step.id.value.lower()
        for i, s in enumerate(steps[:index])
        if s.step.id is not None
        and s.callers == here.callers
        and any(op.role in (Role.BUILD, Role.PUSH) for op in owner.of_step(s, job, path).operations)
    }
    if not builders:
        return facts
    changed = []
    for op in facts.operations:
        sources = [a for a in op.images if a.use is ImageUse.COPY_SOURCE]
        from_build = [
            a
            for a in sources
            if any(
                p.kind is PieceKind.EXPR
                and (m := _STEP_OUTPUT.search(p.text))
                and m.group(1).lower() in builders
                for p in a.value.pieces
            )
        ]
        # other dynamic words beside the build's digest are options (`"${tags[@]}"`)
        own = bool(from_build) and not any(
            a.value.is_static for a in sources if a not in from_build
        )
        if op.role is Role.PROMOTE and own:
            images = tuple(
                ImageArg(a.value, ImageUse.TAG if a.use is ImageUse.COPY_TARGET else ImageUse.INPUT)
                for a in op.images
            )
            op = replace(op, role=Role.BUILD, images=images, push=True, note="tags its own build")
        changed.append(op)
    return replace(facts, operations=tuple(changed))


def _local_copies(operations: list[Operation]) -> tuple[list[Operation], list[ImageArg]]:
    """A copy whose every target is a registry on the runner (`localhost:5000/x`) is a
    test fixture, not a promotion: its sources stay as role-less references."""
    kept: list[Operation] = []
    refs: list[ImageArg] = []
    for op in operations:
        targets = [a for a in op.images if a.use is ImageUse.COPY_TARGET]
        if op.role is Role.PROMOTE and targets and all(on_runner(a.value.text) for a in targets):
            refs += [
                ImageArg(a.value, ImageUse.PULL) for a in op.images if a.use is ImageUse.COPY_SOURCE
            ]
            continue
        kept.append(op)
    return kept, refs


def _touched_files(commands: tuple[Command, ...]) -> list[OutputWrite]:
    """`touch DIR/NAME`: the file's name is its content. Docker's multi-platform recipe
    records each platform digest as an empty file named after it
    (`touch "$RUNNER_TEMP/digests/${digest#sha256:}"`), later uploaded as an artifact."""
    out = []
    for c in commands:
        if c.name != "touch":
            continue
        for arg in c.argv[1:]:
            if not arg.text.startswith("-"):
                out.append(OutputWrite(WriteTarget.FILE, arg.text, arg, c.span, c.path))
    return out


def _classify_write(write: OutputWrite, commands: tuple[Command, ...]) -> OutputWrite:
    """Mark a script's output write whose value is a digest read-back."""
    if write.source is not None or write.value is None:
        return write
    from digestgate.commands import pipeline_digest_source

    for piece in write.value.pieces:
        if piece.kind is PieceKind.COMMAND:
            source = pipeline_digest_source(inner_commands(piece.text, write.path))
            if source is not None:
                return replace(write, source=source)
    return write


@lru_cache(maxsize=4096)
def inner_commands(text: str, path: str) -> tuple[Command, ...]:
    """The top-level commands of a `$(...)` text (positions are not needed here).
    Cached: the classifier of writes and provenance both ask about the same text."""
    from digestgate.shell import analyse
    from digestgate.span import Span

    parsed = analyse(text, path, lambda offset, length: Span(1, 1, 1, 1))
    return tuple(c for c in parsed.commands if not c.substituted)


def _step_of(script: ScriptFacts) -> StepFacts:
    return StepFacts(
        operations=script.operations,
        writes=script.writes,
        references=script.references,
        opaque=script.opaque,
        notes=script.notes,
        scripts=script.scripts,
    )


def _env_key(env: Mapping[str, Value]) -> str:
    return "\0".join(f"{k}={v.text}" for k, v in sorted(env.items()))
