"""The repository graph: needs, reusable workflows, workflow_run, composite actions."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import write_repo
from digestgate.discover import targets
from digestgate.graph import JobNode, RepoGraph, build_graph
from digestgate.repository import read_repository


def graph_of(root: Path, files: dict[str, str]) -> RepoGraph:
    write_repo(root, files)
    (target,) = targets([str(root)])
    return build_graph(read_repository(target))


def job(name: str, needs: str = "", extra: str = "") -> str:
    lines = [f"  {name}:"]
    if needs:
        lines.append(f"    needs: [{needs}]")
    lines += ["    runs-on: ubuntu-latest", "    steps:", "      - run: echo " + name]
    if extra:
        lines.append(extra)
    return "\n".join(lines)


def workflow(*jobs: str, head: str = "on: push") -> str:
    return head + "\njobs:\n" + "\n".join(jobs) + "\n"


CI = ".github/workflows/ci.yml"


def test_needs_dag(tmp_path: Path) -> None:
    g = graph_of(
        tmp_path,
        {CI: workflow(job("a"), job("b", "a"), job("c", "a"), job("d", "b, c"), job("e"))},
    )
    wg = g.workflows[CI]
    assert wg.ancestors("d") == {"a", "b", "c"}
    assert wg.descendants("a") == {"b", "c", "d"}
    assert wg.between("a", "d") == {"b", "c"}
    assert wg.order.index("a") < wg.order.index("b") < wg.order.index("d")
    assert wg.cyclic == [] and g.problems == {}
    a = JobNode(CI, "a")
    assert g.downstream(a) == {JobNode(CI, j) for j in "bcd"}
    assert g.upstream(JobNode(CI, "d")) == {JobNode(CI, j) for j in "abc"}


def test_missing_need_and_cycle(tmp_path: Path) -> None:
    g = graph_of(tmp_path, {CI: workflow(job("a", "c"), job("b", "a, nope"), job("c", "b"))})
    messages = [p.message for p in g.problems[CI]]
    assert any("needs 'nope'" in m for m in messages)
    assert any("cycle: a -> c -> b -> a" in m for m in messages), messages
    assert sorted(g.workflows[CI].cyclic) == ["a", "b", "c"]


REUSABLE = """
on:
  workflow_call:
    outputs:
      digest:
        value: ${{ jobs.push.outputs.digest }}
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: make
  push:
    needs: build
    runs-on: ubuntu-latest
    steps:
      - run: make push
"""


def test_reusable_workflow_instances(tmp_path: Path) -> None:
    caller = """
on: push
jobs:
  lint:
    runs-on: ubuntu-latest
    steps:
      - run: make lint
  first:
    needs: lint
    uses: ./.github/workflows/build.yml
  second:
    uses: ./.github/workflows/build.yml
  deploy:
    needs: first
    runs-on: ubuntu-latest
    steps:
      - run: make deploy
"""
    g = graph_of(tmp_path, {CI: caller, ".github/workflows/build.yml": REUSABLE})
    assert g.problems == {}
    assert g.calls == {
        (CI, "first"): ".github/workflows/build.yml",
        (CI, "second"): ".github/workflows/build.yml",
    }
    instances = g.instances(".github/workflows/build.yml", "push")
    assert sorted(str(n) for n in instances) == [
        ".github/workflows/ci.yml:first -> .github/workflows/build.yml:push",
        ".github/workflows/ci.yml:second -> .github/workflows/build.yml:push",
    ]
    first_push = next(n for n in instances if n.via == ((CI, "first"),))
    # the callee's jobs run after the caller's needs, before the caller's dependents
    assert JobNode(CI, "lint") in g.upstream(first_push)
    assert JobNode(CI, "deploy") in g.downstream(first_push)
    second_push = next(n for n in instances if n.via == ((CI, "second"),))
    assert JobNode(CI, "deploy") not in g.downstream(second_push)
    # a workflow only called is not also instantiated on its own
    assert g.roots_of(".github/workflows/build.yml") == []


def test_reusable_problems(tmp_path: Path) -> None:
    caller = workflow(
        "  a:\n    uses: ./.github/workflows/missing.yml",
        "  b:\n    uses: ./.github/workflows/plain.yml",
        "  c:\n    uses: ./.github/workflows/loop.yml",
    )
    loop = workflow("  again:\n    uses: ./.github/workflows/loop.yml", head="on: workflow_call")
    g = graph_of(
        tmp_path,
        {
            CI: caller,
            ".github/workflows/plain.yml": workflow(job("x")),
            ".github/workflows/loop.yml": loop,
        },
    )
    messages = [p.message for p in g.problems[CI]]
    assert any("missing.yml' does not exist" in m for m in messages)
    assert any("plain.yml is not a reusable workflow" in m for m in messages)
    assert any("call cycle" in m for ps in g.problems.values() for m in [p.message for p in ps])


def test_workflow_run_edges(tmp_path: Path) -> None:
    ci = workflow(job("build"), job("e2e", "build"), head="name: CI\non: push")
    release = workflow(
        job("verify"),
        job("promote", "verify"),
        head=(
            "name: Release\non:\n  workflow_run:\n"
            "    workflows: [CI, Nightly]\n    types: [completed]"
        ),
    )
    g = graph_of(tmp_path, {CI: ci, ".github/workflows/release.yml": release})
    rel = ".github/workflows/release.yml"
    assert g.triggered_by[rel] == (CI,)
    verify = JobNode(rel, "verify")
    assert JobNode(CI, "e2e") in g.upstream(verify)
    assert JobNode(CI, "e2e") in g.upstream(JobNode(rel, "promote"))
    assert {e.kind for e in g.incoming(verify)} == {"workflow_run"}
    assert JobNode(CI, "e2e") not in g.upstream(verify, kinds=("needs",))
    (problem,) = g.problems[rel]
    assert "'Nightly'" in problem.message and problem.span.line == 4


def test_unnamed_workflow_is_matched_by_path(tmp_path: Path) -> None:
    release = workflow(
        job("promote"),
        head="on:\n  workflow_run:\n    workflows: [.github/workflows/ci.yml]",
    )
    g = graph_of(tmp_path, {CI: workflow(job("build")), ".github/workflows/r.yml": release})
    assert g.triggered_by[".github/workflows/r.yml"] == (CI,)


def test_composite_actions_expand_in_place(tmp_path: Path) -> None:
    outer = """
name: outer
runs:
  using: composite
  steps:
    - run: echo outer
      shell: bash
    - uses: ./.github/actions/inner
"""
    inner = """
name: inner
runs:
  using: composite
  steps:
    - run: docker push app
      shell: bash
    - uses: ./.github/actions/outer
"""
    wf = workflow(job("a", extra="      - uses: ./.github/actions/outer\n      - run: echo last"))
    g = graph_of(
        tmp_path,
        {
            CI: wf,
            ".github/actions/outer/action.yml": outer,
            ".github/actions/inner/action.yaml": inner,
        },
    )
    assert g.problems == {}
    steps = g.steps(CI, g.repository.workflows[CI].jobs["a"])
    shown = [(s.path, s.step.run.value if s.step.run else s.step.uses.value) for s in steps]  # type: ignore[union-attr]
    assert shown == [
        (CI, "echo a"),
        (CI, "./.github/actions/outer"),
        (".github/actions/outer/action.yml", "echo outer"),
        (".github/actions/outer/action.yml", "./.github/actions/inner"),
        (".github/actions/inner/action.yaml", "docker push app"),
        (".github/actions/inner/action.yaml", "./.github/actions/outer"),  # cycle stops here
        (CI, "echo last"),
    ]
    assert [c[0] for c in steps[4].callers] == [CI, ".github/actions/outer/action.yml"]


def test_missing_local_action_unless_checked_out_there(tmp_path: Path) -> None:
    wf = workflow(
        job(
            "a",
            extra=(
                "      - uses: actions/checkout@v4\n        with:\n          path: tools\n"
                "      - uses: ./tools/.github/actions/setup\n"
                "      - uses: ./.github/actions/nope"
            ),
        )
    )
    g = graph_of(tmp_path, {CI: wf})
    (problem,) = g.problems[CI]
    assert "./.github/actions/nope" in problem.message


@pytest.mark.parametrize(
    "uses",
    ["acme/shop/.github/workflows/build.yml@main", "ACME/Shop/.github/workflows/build.yml@v1"],
)
def test_own_repository_reference_is_local(
    tmp_path: Path, uses: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/shop")
    caller = workflow(f"  call:\n    uses: {uses}")
    g = graph_of(tmp_path, {CI: caller, ".github/workflows/build.yml": REUSABLE})
    assert g.calls == {(CI, "call"): ".github/workflows/build.yml"}


def test_origin_remote_names_the_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_REPOSITORY", raising=False)
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text(
        '[remote "origin"]\n\turl = git@github.com:acme/shop.git\n'
    )
    caller = workflow("  call:\n    uses: acme/shop/.github/workflows/build.yml@main")
    g = graph_of(tmp_path, {CI: caller, ".github/workflows/build.yml": REUSABLE})
    assert g.repository.slug == "acme/shop"
    assert (CI, "call") in g.calls


def test_self_repository_references(tmp_path: Path) -> None:
    wf = workflow(
        job(
            "a", extra="      - uses: $/.github/actions/setup\n      - uses: $/.github/actions/x@v1"
        ),
        "  call:\n    uses: $/.github/workflows/build.yml",
    )
    action = "name: s\nruns:\n  using: composite\n  steps:\n    - run: echo\n      shell: bash\n"
    g = graph_of(
        tmp_path,
        {
            CI: wf,
            ".github/workflows/build.yml": REUSABLE,
            ".github/actions/setup/action.yml": action,
        },
    )
    assert g.calls == {(CI, "call"): ".github/workflows/build.yml"}
    steps = g.steps(CI, g.repository.workflows[CI].jobs["a"])
    assert steps[1].action is not None and steps[1].action.path.endswith("setup/action.yml")
    (problem,) = g.problems[CI]
    assert "takes no `@ref`" in problem.message and problem.span.line == 8
