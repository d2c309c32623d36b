"""DG000 invalid-workflow."""

from __future__ import annotations

from collections.abc import Iterable

from digestgate.findings import Finding, Severity
from digestgate.rule import Example, Expect, Rule


class InvalidWorkflow(Rule):
    """The file is not valid YAML, or not a workflow or action digestgate can model.

    What it checks:
    Every workflow and local action file that digestgate reads: that it is readable
    UTF-8 text, valid YAML (no duplicate keys, no merge keys, a mapping at the top),
    within the reader's limits (5 MiB, 500 levels of nesting, aliases expanding to at
    most a million nodes), and shaped like a workflow or action: `on` and `jobs`
    present, jobs with `steps` and `runs-on` or a reusable `uses`, steps with exactly
    one of `uses` and `run`, and only the keys GitHub Actions defines at the workflow,
    job and step level. The message says where and why.

    Why:
    digestgate can only judge the pipeline it can read. A typo such as `need:`
    instead of `needs:` does not stop every runner from starting the job, but it
    removes the edge the promotion gate relies on. A file it cannot model is reported
    instead of silently skipped; the other files are still checked. On a file with
    this finding only DG000, DG001, DG101 and DG103 run.

    How to fix:
    Correct the YAML at the reported place. `actionlint` gives more detail on the
    syntax of workflows if the message is not enough.
    """

    code = "DG000"
    name = "invalid-workflow"
    severity = Severity.ERROR
    summary = "the file is not valid YAML, or not a workflow or action that can be modelled"
    runs_on_broken = True

    good = (
        Example(
            """
            on: push
            jobs:
              test:
                runs-on: ubuntu-latest
                steps:
                  - run: make test
            """
        ),
        Example(
            """
            on: push
            env: &common
              REGISTRY: ghcr.io
            jobs:
              test:
                runs-on: ubuntu-latest
                env: *common
                steps:
                  - run: make test
            """,
            title="anchors and aliases are allowed",
        ),
    )
    bad = (
        Example(
            """
            on: push
            jobs:
              test:
                runs-on: ubuntu-latest
                runs-on: ubuntu-24.04
                steps:
                  - run: make test
            """,
            expect=(Expect(5, 5),),
            title="a duplicate key",
        ),
        Example(
            """
            on: push
            jobs:
              test:
                runs-on: ubuntu-latest
                steps:
                  - run: make test
              deploy:
                need: test
                runs-on: ubuntu-latest
                steps:
                  - run: make deploy
            """,
            expect=(Expect(8, 5),),
            title="a misspelt key (`need` for `needs`)",
        ),
        Example(
            """
            on: push
            jobs:
              test:
                runs-on: ubuntu-latest
                steps:
                  - run: make test
                    uses: actions/checkout@v4
            """,
            expect=(Expect(6, 9),),
            title="a step with both `run` and `uses`",
        ),
    )

    def check_repository(self) -> Iterable[Finding]:
        repo = self.context.repository
        for path, problems in repo.problems.items():
            for problem in problems:
                yield self.finding(path, problem.span, problem.message, job=problem.job)
