"""The model builder: fields, spans and the DG000 problems it records."""

from __future__ import annotations

import inspect

import pytest

from digestgate.builder import build_action, build_workflow
from digestgate.loader import load_text
from digestgate.model import Action, Platform, Problem, Workflow
from digestgate.span import Span


def wf(text: str) -> tuple[Workflow, list[Problem]]:
    root = load_text(inspect.cleandoc(text) + "\n", "ci.yml").root
    return build_workflow(root, ".github/workflows/ci.yml", Platform.GITHUB)


def action(text: str) -> tuple[Action, list[Problem]]:
    root = load_text(inspect.cleandoc(text) + "\n", "action.yml").root
    return build_action(root, "a/action.yml")


FULL = """
    name: CI
    on:
      push:
        branches: [main]
        tags: ['v*']
      workflow_dispatch:
        inputs:
          digest:
            type: string
            required: true
      workflow_call:
        inputs:
          image: {type: string, default: app}
        outputs:
          digest:
            value: ${{ jobs.build.outputs.digest }}
        secrets:
          token: {}
      workflow_run:
        workflows: [Build]
        types: [completed]
    env:
      REGISTRY: ghcr.io
    jobs:
      build:
        name: Build image
        runs-on: ubuntu-latest
        needs: [lint]
        if: github.ref == 'refs/heads/main'
        outputs:
          digest: ${{ steps.push.outputs.digest }}
        env: {IMAGE: app}
        container: node:22
        services:
          db: postgres:16
          cache:
            image: redis:7
            env: {A: b}
        strategy:
          fail-fast: false
          matrix:
            platform: [amd64, arm64]
        environment:
          name: production
          url: https://example.com
        continue-on-error: ${{ matrix.experimental }}
        steps:
          - id: push
            name: Push
            uses: docker/build-push-action@v6
            with:
              push: true
              tags: ghcr.io/o/app:1
            env: {X: y}
            if: success()
            continue-on-error: true
            working-directory: app
          - run: make test
            shell: bash
      lint:
        runs-on: ubuntu-latest
        steps:
          - run: make lint
      call:
        uses: ./.github/workflows/reusable.yml
        with: {image: app}
        secrets: inherit
"""


def test_full_workflow_is_modelled() -> None:
    w, problems = wf(FULL)
    assert problems == []
    assert w.name is not None and w.name.value == "CI"
    assert set(w.triggers) == {"push", "workflow_dispatch", "workflow_call", "workflow_run"}
    assert [t.value for t in w.triggers["push"].tags] == ["v*"]
    assert w.triggers["workflow_dispatch"].inputs["digest"].required
    call = w.triggers["workflow_call"]
    assert call.inputs["image"].default is not None and call.inputs["image"].default.value == "app"
    assert call.outputs["digest"].value is not None
    assert call.secrets == ("token",)
    assert [t.value for t in w.triggers["workflow_run"].workflows] == ["Build"]
    assert w.env["REGISTRY"].value == "ghcr.io"
    b = w.jobs["build"]
    assert b.key_span == Span(25, 3, 25, 8)
    assert [n.value for n in b.needs] == ["lint"]
    assert b.if_ is not None and b.if_.value == "github.ref == 'refs/heads/main'"
    assert b.outputs["digest"].value is not None
    assert b.container is not None and b.container.image is not None
    assert b.container.image.value == "node:22"
    assert b.services["db"].image is not None and b.services["db"].image.value == "postgres:16"
    assert b.services["cache"].env["A"].value == "b"
    assert b.strategy is not None and b.strategy.fail_fast is not None
    assert b.environment is not None and b.environment.name is not None
    assert b.environment.name.value == "production"
    assert b.continue_on_error is not None and not b.continue_on_error.is_true()
    push = b.steps[0]
    assert push.id is not None and push.id.value == "push"
    assert push.with_["push"].value == "true" and push.with_["push"].tag == "bool"
    assert push.with_["tags"].span == Span(53, 17, 53, 32)
    assert push.continue_on_error is not None and push.continue_on_error.is_true()
    assert push.working_directory is not None
    assert b.steps[1].run is not None and b.steps[1].shell is not None
    assert b.steps[1].label == "#2"
    c = w.jobs["call"]
    assert c.uses is not None and c.secrets_inherit and c.with_["image"].value == "app"


@pytest.mark.parametrize(
    ("text", "fragment", "line"),
    [
        ("on: push\n", "no `jobs:`", 1),
        ("jobs:\n  a:\n    runs-on: x\n    steps:\n      - run: a\n", "no `on:`", 1),
        ("on: push\njobs: []\n", "`jobs` must be a mapping", 2),
        ("on: push\njobs: {}\n", "`jobs` is empty", 2),
        ("on: push\njobs:\n", "`jobs` is empty", 2),
        ("on: push\njobs: null\n", "`jobs` is empty", 2),
        ("on: push\njobs:\n  a:\n    runs-on: x\n", "neither `steps` nor `uses`", 3),
        ("on: push\njobs:\n  a:\n    steps:\n      - run: a\n", "no `runs-on`", 3),
        ("on: push\njobs:\n  1a:\n    runs-on: x\n    steps:\n      - run: a\n", "job id", 3),
        ("on: push\njobs:\n  a:\n    runs-on: x\n    steps: {run: a}\n", "must be a list", 5),
        ("on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - name: x\n", "neither", 6),
        (
            "on: push\njobs:\n  a:\n    runs-on: x\n    need: b\n    steps:\n      - run: a\n",
            "did you mean 'needs'",
            5,
        ),
        (
            "on: push\njobs:\n  a:\n    runs-on: x\n    needs: {b: 1}\n"
            "    steps:\n      - run: a\n",
            "needs must be a single value",
            5,
        ),
        (
            "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: a\n        with:\n"
            "          x: [1]\n",
            "with.x must be a single value",
            8,
        ),
        (
            "on: push\njobs:\n  a:\n    uses: ./x.yml\n    steps:\n      - run: a\n",
            "cannot have",
            3,
        ),
        (
            "on: push\nsteps: []\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: a\n",
            "unknown key 'steps' in the workflow",
            2,
        ),
    ],
)
def test_problems(text: str, fragment: str, line: int) -> None:
    root = load_text(text, "ci.yml").root
    _, problems = build_workflow(root, "ci.yml", Platform.GITHUB)
    assert any(fragment in p.message and p.span.line == line for p in problems), problems


def test_expressions_may_stand_for_mappings() -> None:
    _, problems = wf(
        """
        on: push
        jobs:
          test:
            strategy: ${{ fromJSON(needs.plan.outputs.strategy) }}
            runs-on: ubuntu-latest
            steps:
              - run: tox
                env: ${{ matrix.env }}
        """
    )
    assert problems == []


def test_parallel_steps_are_flattened_in_order() -> None:
    w, problems = wf(
        """
        on: push
        jobs:
          test:
            runs-on: ubuntu-latest
            steps:
              - uses: actions/checkout@v4
              - parallel:
                  - run: npm run build:frontend
                  - run: npm run build:backend
              - id: monitor
                run: ./monitor.sh
                background: true
              - run: npm test
              - wait: [monitor]
              - wait-all: true
              - cancel: monitor
        """
    )
    assert problems == []
    steps = w.jobs["test"].steps
    assert [s.index for s in steps] == list(range(8))
    assert [s.group for s in steps[:3]] == [None, 1, 1]
    assert steps[3].background and not steps[4].background
    assert [t.value for t in steps[5].wait] == ["monitor"]
    assert steps[6].wait_all
    assert steps[7].cancel is not None and steps[7].cancel.value == "monitor"


def test_composite_and_docker_actions() -> None:
    a, problems = action(
        """
        name: e2e
        inputs:
          image: {required: true}
        outputs:
          digest:
            value: ${{ steps.x.outputs.digest }}
        runs:
          using: composite
          steps:
            - id: x
              run: echo hi
              shell: bash
        """
    )
    assert problems == [] and a.is_composite and len(a.steps) == 1
    assert a.inputs["image"].required and a.outputs["digest"].value is not None
    d, problems = action("\n    runs:\n      using: docker\n      image: docker://alpine:3\n")
    assert problems == [] and d.image is not None and d.image.value == "docker://alpine:3"
    _, problems = action("name: x\n")
    assert any("no `runs:`" in p.message for p in problems)


@pytest.mark.parametrize(
    ("text", "line", "column", "fragment"),
    [
        ("if: github.ref == \n", 4, 9, "invalid expression in `if:`"),
        ("if: ${{ success( }}\n", 4, 9, "invalid expression in `if:`"),
        ("run: echo ${{ github.sha\n", 4, 15, "invalid expression"),
        ("run: echo ${{ github.sha == }}\n", 4, 15, "invalid expression"),
        ("run: echo ${{ nosuchfunction(1) }}\n", 4, 15, "invalid expression"),
    ],
)
def test_invalid_expressions(text: str, line: int, column: int, fragment: str) -> None:
    body = "on: push\njobs:\n  a:\n    " + text + "    runs-on: x\n    steps:\n      - run: a\n"
    if text.startswith("run:"):
        body = "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - " + text
        line, column = 6, column + 4
    root = load_text(body, "ci.yml").root
    _, problems = build_workflow(root, "ci.yml", Platform.GITHUB)
    hits = [p for p in problems if fragment in p.message]
    assert hits, problems
    assert hits[0].span.line == line
    assert hits[0].span.column >= column


def test_valid_expressions_are_not_problems() -> None:
    _, problems = wf(
        """
        on: push
        jobs:
          a:
            if: ${{ github.event_name == 'push' && !cancelled() }}
            runs-on: ${{ matrix.os }}
            steps:
              - run: echo "${{ toJSON(needs) }}" ${{ format('{0}', github.sha) }}
                if: always() && needs.b.result == 'success'
        """
    )
    assert problems == []
