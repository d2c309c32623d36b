"""DG002 unused-suppression."""

from __future__ import annotations

from digestgate.findings import Severity
from digestgate.rule import Example, Expect, Rule


class UnusedSuppression(Rule):
    """A `# digestgate: ignore[...]` comment silences nothing, or names no rule.

    What it checks:
    Every inline suppression comment. It is reported when none of the codes it names
    has a finding on its line (the line it stands on, or the next line for a comment
    on a line of its own), or when a code it names is not a digestgate rule. A
    suppression that names a rule switched off by the configuration is not judged.
    The engine reports this after all other rules ran.

    Why:
    A stale suppression hides the next real problem on that line, and a misspelt code
    silences nothing while looking as if it did.

    How to fix:
    Delete the comment, or correct the code it names.
    """

    code = "DG002"
    name = "unused-suppression"
    severity = Severity.WARNING
    summary = "an inline suppression silences no finding, or names an unknown rule"

    good = (
        Example(
            """
            on: push
            jobs:
              test:
                needs: [lint]  # digestgate: ignore[DG001] -- lint lives in another file
                runs-on: ubuntu-latest
                steps:
                  - run: make test
            """,
            also=("DG001",),
        ),
    )
    bad = (
        Example(
            """
            on: push
            jobs:
              test:
                runs-on: ubuntu-latest  # digestgate: ignore[DG001]
                steps:
                  - run: make test
            """,
            expect=(Expect(4, 29),),
            also=("DG001",),
            title="nothing to silence on that line",
        ),
        Example(
            """
            on: push
            jobs:
              test:
                runs-on: ubuntu-latest  # digestgate: ignore[DG999]
                steps:
                  - run: make test
            """,
            expect=(Expect(4, 29),),
            title="an unknown code",
        ),
    )
