"""DG003 blanket-suppression."""

from __future__ import annotations

from digestgate.findings import Severity
from digestgate.rule import Example, Expect, Rule


class BlanketSuppression(Rule):
    """A `# digestgate: ignore` comment that names no rule.

    What it checks:
    Suppression comments without a list of codes. They silence nothing: a
    suppression must say which rules it silences. The message lists the codes
    found on the line, so the comment can be completed.

    Why:
    A blanket suppression on a release workflow would hide every future finding on
    that line, including the one that matters. Naming the rule keeps the exception
    as narrow as the reason for it.

    How to fix:
    Write the codes: `# digestgate: ignore[DG101] -- reason`.
    """

    code = "DG003"
    name = "blanket-suppression"
    severity = Severity.WARNING
    summary = "a `# digestgate: ignore` comment names no rule"

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
    )
    bad = (
        Example(
            """
            on: push
            jobs:
              test:
                needs: [lint]  # digestgate: ignore
                runs-on: ubuntu-latest
                steps:
                  - run: make test
            """,
            expect=(Expect(4, 20),),
            also=("DG001",),
            title="a bare ignore",
        ),
    )
