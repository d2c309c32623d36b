"""Gate scenarios: what a job can end as when an upstream job failed (gates.py)."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from conftest import write_repo
from digestgate.discover import targets
from digestgate.gates import Scenario, culprit
from digestgate.graph import JobNode, RepoGraph, build_graph
from digestgate.repository import read_repository

CI = ".github/workflows/ci.yml"
S, F, K = "success", "failure", "skipped"


def graph_of(root: Path, files: dict[str, str]) -> RepoGraph:
    write_repo(root, files)
    (target,) = targets([str(root)])
    return build_graph(read_repository(target))


def jobs(spec: str, head: str = "on: push") -> str:
    """`name: needs ; if ; step` lines (each part optional) as a workflow."""
    out = [head, "jobs:"]
    for line in inspect.cleandoc(spec).splitlines():
        name, _, rest = line.partition(":")
        needs, _, rest = rest.partition(" ; ")
        cond, _, step = rest.partition(" ; ")
        out.append(f"  {name.strip()}:")
        if needs.strip():
            out.append(f"    needs: [{needs.strip()}]")
        if cond.strip():
            out.append(f"    if: {cond.strip()}")
        out += ["    runs-on: ubuntu-latest", "    steps:"]
        out.append(f"      - run: {step.strip() or 'echo ' + name.strip()}")
    return "\n".join(out) + "\n"


# (title, jobs, failed job, job asked about, the results it can have)
RESULTS = [
    ("implicit success() skips", "v:\np: v", "v", "p", {K}),
    ("skip runs down the chain", "v:\nm: v\np: m", "v", "p", {K}),
    ("always() runs", "v:\np: v ; always()", "v", "p", {S, F}),
    ("!cancelled() runs", "v:\np: v ; ${{ !cancelled() }}", "v", "p", {S, F}),
    ("failure() || success() runs", "v:\np: v ; failure() || success()", "v", "p", {S, F}),
    ("success() alone skips", "v:\np: v ; success()", "v", "p", {K}),
    (
        "the result required",
        "v:\np: v ; always() && needs.v.result == 'success'",
        "v",
        "p",
        {K},
    ),
    (
        "!failure() skips after a failure",
        "v:\np: v ; ${{ !failure() && !cancelled() }}",
        "v",
        "p",
        {K},
    ),
    (
        "an intermediate always() job succeeds",
        "v:\nm: v ; always()\np: m ; always() && needs.m.result == 'success'",
        "v",
        "p",
        {S, F, K},
    ),
    (
        "an intermediate skipped job",
        "v:\nm: v\np: m ; always() && needs.m.result == 'success'",
        "v",
        "p",
        {K},
    ),
    (
        "success() is transitive over ancestors",
        "v:\nm: v ; always()\np: m ; success()",
        "v",
        "p",
        {K},
    ),
    (
        "needs.*.result sees the failure",
        "v:\nb:\np: v, b ; always() && !contains(needs.*.result, 'failure')",
        "v",
        "p",
        {K},
    ),
    (
        "a job not reached by the scenario is unknown",
        "b:\nv:\np: v, b ; always() && needs.b.result == 'success'",
        "v",
        "p",
        {S, F, K},
    ),
    (
        "an unknown condition may skip",
        "v:\np: v ; always() && github.ref == 'refs/heads/main'",
        "v",
        "p",
        {S, F, K},
    ),
    (
        "event_name is one of the triggers",
        "v:\np: v ; always() && github.event_name == 'pull_request'",
        "v",
        "p",
        {K},
    ),
    (
        "a gate job fails",
        "v:\ng: v ; always() ; exit ${{ needs.v.result == 'success' && 0 || 1 }}\n"
        "p: g ; always() && needs.g.result == 'success'",
        "v",
        "p",
        {K},
    ),
]


@pytest.mark.parametrize(
    ("spec", "failed", "target", "want"),
    [pytest.param(*row[1:], id=row[0]) for row in RESULTS],
)
def test_results(tmp_path: Path, spec: str, failed: str, target: str, want: set[str]) -> None:
    g = graph_of(tmp_path, {CI: jobs(spec)})
    s = Scenario(g, JobNode(CI, failed))
    assert s.results(JobNode(CI, target)) == want


def test_status_functions(tmp_path: Path) -> None:
    g = graph_of(tmp_path, {CI: jobs("v:\nm: v ; always()\np: m ; always()")})
    s = Scenario(g, JobNode(CI, "v"))
    status = s.status(JobNode(CI, "p"))
    assert status["success"] is False and status["failure"] is True
    assert status["always"] is True and status["cancelled"] is False
    assert s.values(JobNode(CI, "p"))[("needs", "m", "result")] == {S, F}


def test_continue_on_error_job_may_succeed(tmp_path: Path) -> None:
    text = jobs("v:\nm: v ; always()\np: m").replace(
        "  m:\n", "  m:\n    continue-on-error: true\n"
    )
    g = graph_of(tmp_path, {CI: text})
    s = Scenario(g, JobNode(CI, "v"))
    assert s.results(JobNode(CI, "m")) == {S, F}


def test_workflow_run_scenario(tmp_path: Path) -> None:
    files = {
        CI: jobs("e2e:", head="name: CI\non: push"),
        ".github/workflows/release.yml": jobs(
            "check: ; github.event.workflow_run.conclusion == 'success'\n"
            "release: check\n"
            "loose: ; always()",
            head="on:\n  workflow_run:\n    workflows: [CI]\n    types: [completed]",
        ),
    }
    g = graph_of(tmp_path, files)
    rel = ".github/workflows/release.yml"
    for s in (Scenario(g, JobNode(CI, "e2e")), Scenario.triggered(g, rel)):
        assert s.results(JobNode(rel, "check")) == {K}
        assert s.results(JobNode(rel, "release")) == {K}
        # success() is unaffected by the triggering run: `always()` adds nothing
        assert s.status(JobNode(rel, "loose"))["success"] is True
        assert s.results(JobNode(rel, "loose")) == {S, F}
        assert s.values(JobNode(rel, "release"))[("github", "event_name")] == "workflow_run"


def test_gitea_runs_always_after_skipped_need(tmp_path: Path) -> None:
    # go-gitea/gitea#27906 skipped it (fixed by #29464): not modelled
    path = ".gitea/workflows/ci.yml"
    g = graph_of(tmp_path, {path: jobs("v:\nm: v\np: m ; always()")})
    s = Scenario(g, JobNode(path, "v"))
    assert s.results(JobNode(path, "m")) == {K}
    assert s.results(JobNode(path, "p")) == {S, F}


@pytest.mark.parametrize(
    ("path", "want"),
    [(CI, {S, F}), (".gitea/workflows/ci.yml", {F}), (".forgejo/workflows/ci.yml", {F})],
)
def test_job_continue_on_error_by_platform(tmp_path: Path, path: str, want: set[str]) -> None:
    # a gate job that surely fails; continue-on-error lets it pass where it is honoured
    spec = "v:\ng: v ; always() ; exit ${{ needs.v.result == 'success' && 0 || 1 }}"
    text = jobs(spec).replace("  g:\n", "  g:\n    continue-on-error: true\n")
    g = graph_of(tmp_path, {path: text})
    assert Scenario(g, JobNode(path, "v")).results(JobNode(path, "g")) == want


def test_reusable_workflow_as_validation(tmp_path: Path) -> None:
    files = {
        CI: jobs("p: e2e").replace(
            "jobs:\n", "jobs:\n  e2e:\n    uses: ./.github/workflows/e2e.yml\n"
        ),
        ".github/workflows/e2e.yml": jobs("test:\nsmoke:", head="on: workflow_call"),
    }
    g = graph_of(tmp_path, files)
    inner = JobNode(".github/workflows/e2e.yml", "test", ((CI, "e2e"),))
    s = Scenario(g, inner)
    assert s.results(JobNode(CI, "e2e")) == {F}
    assert s.results(JobNode(CI, "p")) == {K}


def test_called_workflow_after_always_caller_is_unknown(tmp_path: Path) -> None:
    files = {
        CI: jobs("v:").replace(
            "jobs:\n",
            "jobs:\n  deploy:\n    needs: [v]\n    if: always()\n"
            "    uses: ./.github/workflows/deploy.yml\n",
        ),
        ".github/workflows/deploy.yml": jobs("go:", head="on: workflow_call"),
    }
    g = graph_of(tmp_path, files)
    s = Scenario(g, JobNode(CI, "v"))
    go = JobNode(".github/workflows/deploy.yml", "go", ((CI, "deploy"),))
    assert s.status(go)["success"] is None
    assert s.results(go) == {S, F, K}


def test_called_workflow_of_a_skipped_caller_is_skipped(tmp_path: Path) -> None:
    files = {
        CI: jobs("v:").replace(
            "jobs:\n",
            "jobs:\n  deploy:\n    needs: [v]\n    uses: ./.github/workflows/deploy.yml\n",
        ),
        ".github/workflows/deploy.yml": jobs("go:\nafter: go ; always()", head="on: workflow_call"),
    }
    g = graph_of(tmp_path, files)
    s = Scenario(g, JobNode(CI, "v"))
    assert s.results(JobNode(CI, "deploy")) == {K}
    for job in ("go", "after"):
        assert s.results(JobNode(".github/workflows/deploy.yml", job, ((CI, "deploy"),))) == {K}


# (title, promote job's steps, the promote step's index, is there a gate)
STEP_GATES = [
    (
        "alls-green given toJSON(needs)",
        "- uses: re-actors/alls-green@release/v1\n  with:\n    jobs: ${{ toJSON(needs) }}",
        True,
    ),
    (
        "alls-green allowing the failure",
        "- uses: re-actors/alls-green@release/v1\n  with:\n    jobs: ${{ toJSON(needs) }}\n"
        "    allowed-failures: v",
        False,
    ),
    (
        "a shell test of the result",
        '- run: |\n    if [ "${{ needs.v.result }}" != success ]; then exit 1; fi',
        True,
    ),
    (
        "a shell test through env",
        "- env:\n    RESULTS: ${{ toJSON(needs) }}\n"
        '  run: echo "$RESULTS" | jq -e \'all(.[]; .result == "success")\'',
        True,
    ),
    (
        "a step that fails when the result is bad",
        "- if: needs.v.result != 'success'\n  run: exit 1",
        True,
    ),
    ("a step that never runs in the scenario", "- if: failure()\n  run: exit 1", False),
    (
        "a gate that continues on error",
        "- continue-on-error: true\n  run: test '${{ needs.v.result }}' = success",
        False,
    ),
    ("a script that only prints the result", "- run: echo '${{ needs.v.result }}'", False),
]


@pytest.mark.parametrize(
    ("steps", "gate"), [pytest.param(*row[1:], id=row[0]) for row in STEP_GATES]
)
def test_step_gates(tmp_path: Path, steps: str, gate: bool) -> None:
    body = "\n".join("      " + line for line in steps.splitlines())
    text = (
        "on: push\njobs:\n  v:\n    runs-on: ubuntu-latest\n    steps:\n      - run: make test\n"
        "  p:\n    needs: v\n    if: always()\n    runs-on: ubuntu-latest\n    steps:\n"
        f"{body}\n      - run: crane copy a@sha256:{'0' * 64} b:prod\n"
    )
    g = graph_of(tmp_path, {CI: text})
    s = Scenario(g, JobNode(CI, "v"))
    p = JobNode(CI, "p")
    found = s.step_gate(p, 1)
    assert (found is not None) is gate
    if found is not None:
        assert s.stops(p, 1)


def test_promote_step_with_always_is_not_stopped(tmp_path: Path) -> None:
    text = (
        "on: push\njobs:\n  v:\n    runs-on: ubuntu-latest\n    steps:\n      - run: make test\n"
        "  p:\n    needs: v\n    if: always()\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: test '${{ needs.v.result }}' = success\n"
        "      - if: always()\n        run: crane copy a b\n"
    )
    g = graph_of(tmp_path, {CI: text})
    s = Scenario(g, JobNode(CI, "v"))
    p = JobNode(CI, "p")
    assert s.step_gate(p, 1) is not None
    assert not s.stops(p, 1)


# (an `if:`, the part responsible for running after v failed)
CULPRITS = [
    ("always()", "always()"),
    ("always() && github.ref == 'refs/heads/main'", "always()"),
    ("${{ !cancelled() && github.event_name == 'push' }}", "!cancelled()"),
    ("failure() || success()", "failure()"),
    ("always() && needs.m.result == 'success'", "needs.m.result == 'success'"),
    (
        "always() && (needs.v.result == 'success' || github.ref == 'refs/heads/main')",
        "github.ref == 'refs/heads/main'",
    ),
    (
        "${{ !cancelled() && needs.b.result == 'success'"
        " && (github.ref == 'x' || needs.v.result == 'success') }}",
        "github.ref == 'x'",
    ),
]


@pytest.mark.parametrize(("cond", "part"), CULPRITS)
def test_culprit(tmp_path: Path, cond: str, part: str) -> None:
    g = graph_of(tmp_path, {CI: jobs(f"b:\nv:\nm: v ; always()\np: b, v, m ; {cond}")})
    s = Scenario(g, JobNode(CI, "v"))
    p = JobNode(CI, "p")
    text = g.job(p).if_
    assert text is not None
    found = culprit(text, s.assumptions(p), s.watched(p))
    assert found is not None
    assert text.value[found.start : found.end] == part


@pytest.mark.xfail(
    strict=True,
    reason="layer: continue-on-error on a composite `uses:` step does not make the "
    "composite's inner validations unable to fail (stepfacts checks only the inner step)",
)
def test_layer_composite_continue_on_error_swallows_validation(tmp_path: Path) -> None:
    from digestgate.analysis import Analysis
    from digestgate.config import Config

    files = {
        CI: "on: push\njobs:\n  e2e:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: ./.github/actions/e2e\n        continue-on-error: true\n",
        ".github/actions/e2e/action.yml": "name: e2e\nruns:\n  using: composite\n  steps:\n"
        "    - run: pytest tests/e2e\n      shell: bash\n",
    }
    g = graph_of(tmp_path, files)
    a = Analysis(g, Config())
    ops = [op for _, _, op in a.operations(JobNode(CI, "e2e"))]
    assert ops and not any(op.can_fail for op in ops)
