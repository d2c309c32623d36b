"""DG001 broken-graph."""

from __future__ import annotations

from collections.abc import Iterable

from digestgate.findings import Finding, Severity
from digestgate.rule import Example, Expect, Rule


class BrokenGraph(Rule):
    """A link between jobs or files points nowhere, or goes round in a circle.

    What it checks:
    `needs` that names a job the workflow does not have; a `needs` cycle; a local
    action (`uses: ./path`) with no `action.yml` or `action.yaml`; a local reusable
    workflow that does not exist or has no `on: workflow_call`; a cycle of reusable
    workflow calls; a `workflow_run` trigger naming a workflow that no workflow in the
    repository is called.

    Why:
    Every gate digestgate checks is an edge of this graph: `needs` puts validation
    before promotion, `workflow_run` chains a release to its CI. GitHub rejects a
    workflow with a broken `needs` only when it runs, and a `workflow_run` that names
    a renamed workflow simply never fires, so the release waits for nothing or never
    happens. On a file with this finding only DG000, DG001, DG101 and DG103 run.

    How to fix:
    Name an existing job, break the cycle, fix the path of the local action or
    workflow, or give `workflow_run.workflows` the exact `name:` of the workflow.
    """

    code = "DG001"
    name = "broken-graph"
    severity = Severity.ERROR
    summary = "needs names a missing job or forms a cycle, or a local uses path does not exist"
    runs_on_broken = True

    good = (
        Example(
            """
            on: push
            jobs:
              build:
                runs-on: ubuntu-latest
                steps:
                  - run: make
              test:
                needs: build
                runs-on: ubuntu-latest
                steps:
                  - uses: ./.github/actions/setup
                  - run: make test
            """,
            files={
                ".github/actions/setup/action.yml": """
                name: setup
                runs:
                  using: composite
                  steps:
                    - run: echo setup
                      shell: bash
                """
            },
        ),
        Example(
            """
            name: Release
            on:
              workflow_run:
                workflows: [CI]
                types: [completed]
            jobs:
              release:
                runs-on: ubuntu-latest
                steps:
                  - run: echo release
            """,
            path=".github/workflows/release.yml",
            files={
                ".github/workflows/ci.yml": """
                name: CI
                on: push
                jobs:
                  test:
                    runs-on: ubuntu-latest
                    steps:
                      - run: make test
                """
            },
        ),
    )
    bad = (
        Example(
            """
            on: push
            jobs:
              deploy:
                needs: [tests]
                runs-on: ubuntu-latest
                steps:
                  - run: make deploy
              test:
                runs-on: ubuntu-latest
                steps:
                  - run: make test
            """,
            expect=(Expect(4, 13),),
            title="`needs` names a missing job",
        ),
        Example(
            """
            on: push
            jobs:
              a:
                needs: b
                runs-on: ubuntu-latest
                steps:
                  - run: echo a
              b:
                needs: a
                runs-on: ubuntu-latest
                steps:
                  - run: echo b
            """,
            expect=(Expect(3, 3),),
            title="a `needs` cycle",
        ),
        Example(
            """
            on: push
            jobs:
              test:
                runs-on: ubuntu-latest
                steps:
                  - uses: ./.github/actions/setup
            """,
            expect=(Expect(6, 15),),
            title="a local action that does not exist",
        ),
        Example(
            """
            name: Release
            on:
              workflow_run:
                workflows: [Build]
                types: [completed]
            jobs:
              release:
                runs-on: ubuntu-latest
                steps:
                  - run: echo release
            """,
            path=".github/workflows/release.yml",
            files={
                ".github/workflows/ci.yml": """
                name: CI
                on: push
                jobs:
                  test:
                    runs-on: ubuntu-latest
                    steps:
                      - run: make test
                """
            },
            expect=(Expect(4, 17, ".github/workflows/release.yml"),),
            title="`workflow_run` names a workflow that does not exist",
        ),
    )

    def check_repository(self) -> Iterable[Finding]:
        for path, problems in self.context.graph.problems.items():
            for problem in problems:
                yield self.finding(path, problem.span, problem.message, job=problem.job)
