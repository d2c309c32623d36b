"""`--format sarif`: valid SARIF 2.1.0 for code scanning, run through the whole CLI.

Every log is validated against the official schema, vendored in
`tests/fixtures/sarif/` (see the README there for its source and licence). Positions
are checked against the text of the files, worked out by hand; fingerprints are
checked to survive unrelated edits and to change with the finding.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from conftest import FIXTURES, write_repo
from digestgate import __version__
from digestgate.registry import all_rules
from digestgate.reporters import sarif
from digestgate.ruledocs import help_uri, markdown
from test_cli import dg

PROJECT = Path(__file__).parent.parent
SCHEMA_FILE = FIXTURES / "sarif" / "sarif-schema-2.1.0.json"
CASES = FIXTURES / "cases"

# DG101 at 5:16-34 (`ghcr.io/acme/app:1`, the job container): an error, as the
# configuration says this project owns the image
TAGGED_CONTAINER = """
    on: push
    jobs:
      test:
        runs-on: ubuntu-latest
        container: ghcr.io/acme/app:1
        steps:
          - run: npm test
    """
TAGGED_REPO = {
    ".github/workflows/ci.yml": TAGGED_CONTAINER,
    ".digestgate.toml": 'own-images = ["ghcr.io/acme/*"]',
}


@cache
def validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)  # type: ignore[no-any-return]


def assert_valid(log: dict[str, Any]) -> None:
    errors = sorted(validator().iter_errors(log), key=lambda e: list(e.absolute_path))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]]


def run_sarif(*args: str, cwd: Path, status: int = 1) -> dict[str, Any]:
    proc = dg("check", "--format", "sarif", *args, cwd=cwd)
    assert proc.returncode == status, proc.stderr
    assert "Traceback" not in proc.stderr
    log: dict[str, Any] = json.loads(proc.stdout)
    assert_valid(log)
    return log


def results(log: dict[str, Any]) -> list[dict[str, Any]]:
    (run,) = log["runs"]
    found: list[dict[str, Any]] = run["results"]
    return found


def region(result: dict[str, Any]) -> tuple[str, int, int, int, int]:
    loc = result["locations"][0]["physicalLocation"]
    r = loc["region"]
    return (
        loc["artifactLocation"]["uri"],
        r["startLine"],
        r["startColumn"],
        r["endLine"],
        r["endColumn"],
    )


def text_at(file: Path, line: int, column: int, end_column: int) -> str:
    return file.read_text(encoding="utf-8").splitlines()[line - 1][column - 1 : end_column - 1]


def by_rule(log: dict[str, Any], code: str) -> dict[str, Any]:
    (found,) = [r for r in results(log) if r["ruleId"] == code]
    return found


def fingerprint(result: dict[str, Any]) -> str:
    value: str = result["partialFingerprints"][sarif.FINGERPRINT_KEY]
    return value


# --- the bundled example ---------------------------------------------------------------


def test_example_repository_is_valid_sarif_with_hand_checked_regions() -> None:
    log = run_sarif("examples/shop", cwd=PROJECT)
    assert log["version"] == "2.1.0"
    (run,) = log["runs"]
    assert run["columnKind"] == "unicodeCodePoints"
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == PROJECT.resolve().as_uri() + "/"
    driver = run["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("digestgate", __version__)
    assert sorted(r["ruleId"] for r in results(log)) == [
        "DG001",
        "DG101",
        "DG203",
        "DG301",
        "DG302",
        "DG304",
    ]
    for result in results(log):
        assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        loc = result["locations"][0]["physicalLocation"]["artifactLocation"]
        assert loc["uriBaseId"] == "%SRCROOT%"
        assert loc["uri"].startswith("examples/shop/")

    # `    image: postgres:16` (third-party image: a warning)
    dg101 = by_rule(log, "DG101")
    assert region(dg101) == ("examples/shop/docker-compose.test.yml", 6, 12, 6, 23)
    assert dg101["level"] == "warning"
    assert text_at(PROJECT / "examples/shop/docker-compose.test.yml", 6, 12, 23) == "postgres:16"

    # `    if: always()`, with the bypassed validation job `e2e` as related location
    dg302 = by_rule(log, "DG302")
    assert region(dg302) == ("examples/shop/.github/workflows/ci.yml", 47, 9, 47, 17)
    assert dg302["level"] == "error"
    ci = PROJECT / "examples/shop/.github/workflows/ci.yml"
    assert text_at(ci, 47, 9, 17) == "always()"
    (related,) = dg302["relatedLocations"]
    assert related["physicalLocation"]["region"] == {
        "startLine": 36,
        "startColumn": 3,
        "endLine": 36,
        "endColumn": 6,
    }
    assert related["message"]["text"] == "validation job `e2e`"
    assert text_at(ci, 36, 3, 6) == "e2e"

    # related locations may be in another file of the repository
    dg203 = by_rule(log, "DG203")
    assert [r["id"] for r in dg203["relatedLocations"]] == [1, 2]
    compose = dg203["relatedLocations"][1]["physicalLocation"]
    assert compose["artifactLocation"]["uri"] == "examples/shop/docker-compose.test.yml"
    assert compose["region"]["startLine"] == 3
    assert text_at(PROJECT / "examples/shop/docker-compose.test.yml", 3, 12, 25) == (
        "${SHOP_IMAGE}"
    )


def test_snapshot_repository_regions() -> None:
    # the positions checked by hand in tests/fixtures/cli/README.md
    log = run_sarif("repo", cwd=FIXTURES / "cli")
    assert [(r["ruleId"], r["level"], *region(r)) for r in results(log)] == [
        ("DG001", "error", "repo/.github/workflows/ci.yml", 10, 20, 10, 24),
        ("DG002", "warning", "repo/.github/workflows/ci.yml", 11, 29, 11, 56),
        ("DG001", "error", "repo/.github/workflows/ci.yml", 13, 15, 13, 40),
        ("DG000", "error", "repo/.github/workflows/lint.yml", 4, 3, 4, 7),
        ("DG000", "error", "repo/.github/workflows/lint.yml", 6, 5, 6, 9),
        ("DG001", "error", "repo/.github/workflows/release.yml", 4, 17, 4, 22),
        ("DG003", "warning", "repo/.github/workflows/release.yml", 10, 28, 10, 48),
    ]


def test_fingerprints_and_messages_match_the_json_report() -> None:
    log = run_sarif("examples/shop", cwd=PROJECT)
    proc = dg("check", "--format", "json", "examples/shop", cwd=PROJECT)
    findings = json.loads(proc.stdout)["findings"]
    assert [(r["ruleId"], r["message"]["text"], fingerprint(r)) for r in results(log)] == [
        (f["code"], f["message"], f["fingerprint"]) for f in findings
    ]


def test_rules_describe_every_registered_rule() -> None:
    log = run_sarif("examples/shop", cwd=PROJECT)
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    registered = all_rules()
    assert [r["id"] for r in rules] == [r.code for r in registered]
    for descriptor, rule in zip(rules, registered, strict=True):
        assert descriptor["name"] == rule.name
        assert descriptor["shortDescription"]["text"] == rule.summary
        what = " ".join(rule.doc_sections()["What it checks"].split())
        full = descriptor["fullDescription"]["text"]
        assert 0 < len(full) <= sarif.DESCRIPTION_LIMIT
        assert what.startswith(full.removesuffix("..."))
        assert descriptor["help"]["markdown"] == markdown(rule)
        assert descriptor["help"]["text"].startswith("What it checks:\n")
        assert "How to fix:\n" in descriptor["help"]["text"]
        assert descriptor["helpUri"] == help_uri(rule.code)
        assert (PROJECT / "docs" / "rules" / f"{rule.code}.md").is_file()
        assert descriptor["defaultConfiguration"]["level"] == rule.severity.value


def test_long_descriptions_are_cut_at_a_word() -> None:
    assert sarif.description("a  b\n c") == "a b c"
    cut = sarif.description("word " * 300)
    assert len(cut) <= sarif.DESCRIPTION_LIMIT
    assert cut.endswith("word...")


def test_the_schema_rejects_a_broken_log() -> None:
    # the validation above can fail: a region starting at line 0 and an unknown level
    log = run_sarif("examples/shop", cwd=PROJECT)
    result = results(log)[0]
    result["locations"][0]["physicalLocation"]["region"]["startLine"] = 0
    result["level"] = "fatal"
    errors = list(validator().iter_errors(log))
    assert {e.validator for e in errors} == {"minimum", "enum"}


# --- exit status -----------------------------------------------------------------------


def test_exit_status_follows_the_findings(tmp_path: Path) -> None:
    write_repo(tmp_path / "bad", TAGGED_REPO)
    log = run_sarif("bad", cwd=tmp_path, status=1)
    assert [r["ruleId"] for r in results(log)] == ["DG101"]
    log = run_sarif("bad", "--exit-zero", cwd=tmp_path, status=0)
    assert [r["ruleId"] for r in results(log)] == ["DG101"]

    clean = TAGGED_CONTAINER.replace("\n        container: ghcr.io/acme/app:1", "")
    write_repo(tmp_path / "clean", {".github/workflows/ci.yml": clean})
    log = run_sarif("clean", cwd=tmp_path, status=0)
    assert results(log) == []
    assert log["runs"][0]["tool"]["driver"]["rules"]  # the rules are still described


def test_output_file(tmp_path: Path) -> None:
    write_repo(tmp_path, TAGGED_REPO)
    proc = dg("check", ".", "-f", "sarif", "-o", "out.sarif", "--color", "always", cwd=tmp_path)
    assert (proc.returncode, proc.stdout, proc.stderr) == (1, "", "")
    log = json.loads((tmp_path / "out.sarif").read_text(encoding="utf-8"))
    assert_valid(log)
    assert region(results(log)[0]) == (".github/workflows/ci.yml", 5, 16, 5, 34)


# --- columns, paths --------------------------------------------------------------------


def test_columns_count_code_points(tmp_path: Path) -> None:
    # `🚀` is one code point and two UTF-16 units: `node:20` starts at code point 50
    write_repo(
        tmp_path,
        {
            ".github/workflows/ci.yml": """
                on: push
                jobs:
                  test:
                    runs-on: ubuntu-latest
                    steps:
                      - name: 🚀 test
                        run: echo "🚀 ünïcode" && docker run --rm node:20 npm test
                """
        },
    )
    log = run_sarif(".", cwd=tmp_path, status=0)  # a third-party image: a warning
    assert log["runs"][0]["columnKind"] == "unicodeCodePoints"
    dg101 = by_rule(log, "DG101")
    assert region(dg101) == (".github/workflows/ci.yml", 7, 50, 7, 57)
    assert text_at(tmp_path / ".github/workflows/ci.yml", 7, 50, 57) == "node:20"


def test_several_repositories_stay_apart(tmp_path: Path) -> None:
    # the same file in two repositories: two results, told apart by their paths
    for name in ("a", "b"):
        write_repo(tmp_path / name, TAGGED_REPO)
    log = run_sarif("a", "b", cwd=tmp_path)
    assert [region(r)[0] for r in results(log)] == [
        "a/.github/workflows/ci.yml",
        "b/.github/workflows/ci.yml",
    ]


def test_a_repository_outside_the_working_directory_gets_a_file_uri(tmp_path: Path) -> None:
    repo = write_repo(tmp_path / "repo dir", TAGGED_REPO)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    log = run_sarif(str(repo), cwd=elsewhere)
    (result,) = results(log)
    artifact = result["locations"][0]["physicalLocation"]["artifactLocation"]
    assert "uriBaseId" not in artifact
    expected = (repo.resolve() / ".github/workflows/ci.yml").as_uri()
    assert artifact["uri"] == expected
    assert "%20" in artifact["uri"]  # the space is escaped


def test_fixture_repositories_with_related_locations() -> None:
    # every case repository at once: one run, paths relative to where digestgate ran
    cases = sorted(p.name for p in CASES.iterdir() if p.is_dir())
    log = run_sarif(*cases, cwd=CASES)
    with_related = [r for r in results(log) if r.get("relatedLocations")]
    assert len(with_related) >= 10
    for result in with_related:
        case = region(result)[0].split("/", 1)[0]
        assert case in cases
        for related in result["relatedLocations"]:
            uri = related["physicalLocation"]["artifactLocation"]["uri"]
            assert uri.split("/", 1)[0] == case  # in the finding's own repository
            assert (CASES / uri).is_file()


# --- fingerprints ----------------------------------------------------------------------


def test_fingerprints_survive_unrelated_edits_and_follow_the_finding(tmp_path: Path) -> None:
    workflow = tmp_path / ".github/workflows/ci.yml"
    write_repo(tmp_path, TAGGED_REPO)
    before = by_rule(run_sarif(".", cwd=tmp_path), "DG101")
    assert region(before)[1:] == (5, 16, 5, 34)

    # lines and a whole job inserted above the finding
    text = workflow.read_text(encoding="utf-8")
    lint_job = "  lint:\n    runs-on: ubuntu-latest\n    steps:\n      - run: make lint\n"
    text = text.replace("jobs:\n", "# lint first\njobs:\n" + lint_job)
    workflow.write_text(text, encoding="utf-8")
    moved = by_rule(run_sarif(".", cwd=tmp_path), "DG101")
    assert region(moved)[1:] == (10, 16, 10, 34)
    assert text_at(workflow, 10, 16, 34) == "ghcr.io/acme/app:1"
    assert moved["message"] == before["message"]
    assert fingerprint(moved) == fingerprint(before)

    # the finding itself changes: another image
    workflow.write_text(text.replace("app:1", "app:2"), encoding="utf-8")
    changed = by_rule(run_sarif(".", cwd=tmp_path), "DG101")
    assert region(changed)[1:] == (10, 16, 10, 34)
    assert fingerprint(changed) != fingerprint(before)


@pytest.mark.parametrize("root", [".", "sub/repo"])
def test_fingerprints_do_not_depend_on_how_the_repository_is_named(
    tmp_path: Path, root: str
) -> None:
    write_repo(tmp_path / "sub/repo", TAGGED_REPO)
    here = tmp_path / "sub/repo"
    reference = fingerprint(by_rule(run_sarif(".", cwd=here), "DG101"))
    cwd = here if root == "." else tmp_path
    log = run_sarif(f"{root}/.github/workflows/ci.yml", cwd=cwd)  # the file alone
    assert fingerprint(by_rule(log, "DG101")) == reference
