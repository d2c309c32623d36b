"""`--format json` is a public format: real output must match its schema and its docs.

docs/schema/output-v1.schema.json is the contract, docs/output-json.md explains it.
Output from real runs (a clean repository, findings, several repositories, stdin) is
validated against the schema, and values are checked by hand.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from conftest import write_repo
from digestgate.findings import Finding, Location, Severity
from digestgate.reporters import jsondoc
from digestgate.span import Span

DOCS = Path(__file__).parent.parent / "docs"
SCHEMA_FILE = DOCS / "schema" / "output-v1.schema.json"
FINDING_KEYS = {
    "code",
    "name",
    "severity",
    "message",
    "path",
    "line",
    "column",
    "end_line",
    "end_column",
    "fingerprint",
    "job",
    "step",
    "root",
    "related",
}
LOCATION_KEYS = {"path", "line", "column", "end_line", "end_column", "message"}
SUMMARY_KEYS = {"files", "findings", "errors", "warnings"}

CLEAN = """
    name: CI
    on: push
    jobs:
      test:
        runs-on: ubuntu-latest
        steps:
          - run: make test
    """
# DG000: the second `runs-on` is at line 6, column 5 (end column 12, exclusive)
DUPLICATE_KEY = """
    name: CI
    on: push
    jobs:
      test:
        runs-on: ubuntu-latest
        runs-on: ubuntu-24.04
        steps:
          - run: make test
    """
# DG001: `tests` is at line 5, columns 13 to 18 (exclusive)
MISSING_NEED = """
    name: Deploy
    on: push
    jobs:
      deploy:
        needs: [tests]
        runs-on: ubuntu-latest
        steps:
          - run: make deploy
    """


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    assert cls is jsonschema.Draft202012Validator
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def run_json(
    *args: str, cwd: Path, input: str | None = None, status: int | None = None
) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_REPOSITORY"}
    proc = subprocess.run(
        [sys.executable, "-m", "digestgate", "check", "--format", "json", *args],
        cwd=cwd,
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.stderr == ""
    if status is not None:
        assert proc.returncode == status
    assert proc.stdout.endswith("}\n")
    doc: dict[str, Any] = json.loads(proc.stdout)
    return doc


def check_document(doc: dict[str, Any], validator: jsonschema.protocols.Validator) -> None:
    """Schema-valid, and what the schema cannot say: exact keys, order, spans, counts."""
    validator.validate(doc)
    assert set(doc) == {"version", "findings", "summary"}
    assert set(doc["summary"]) == SUMMARY_KEYS
    for f in doc["findings"]:
        assert set(f) == FINDING_KEYS, "a new key must be added to the schema and the docs"
        assert (f["line"], f["column"]) <= (f["end_line"], f["end_column"])
        assert re.fullmatch(r"[0-9a-f]{20}", f["fingerprint"])
        assert not f["path"].startswith(("/", "./")) and "\\" not in f["path"]
        for r in f["related"]:
            assert set(r) == LOCATION_KEYS
    keys = [(f["root"], f["path"], f["line"], f["column"], f["code"]) for f in doc["findings"]]
    assert keys == sorted(keys)
    errors = sum(f["severity"] == "error" for f in doc["findings"])
    assert doc["summary"]["findings"] == len(doc["findings"])
    assert doc["summary"]["errors"] == errors
    assert doc["summary"]["warnings"] == len(doc["findings"]) - errors


def test_clean_repository(tmp_path: Path, validator: jsonschema.protocols.Validator) -> None:
    write_repo(tmp_path, {".github/workflows/ci.yml": CLEAN})
    doc = run_json(".", cwd=tmp_path, status=0)
    check_document(doc, validator)
    assert doc == {
        "version": 1,
        "findings": [],
        "summary": {"files": 1, "findings": 0, "errors": 0, "warnings": 0},
    }


def test_findings(tmp_path: Path, validator: jsonschema.protocols.Validator) -> None:
    write_repo(
        tmp_path / "repo",
        {
            ".github/workflows/ci.yml": DUPLICATE_KEY,
            # DG003: the comment is at line 8, columns 27 to 47 (exclusive)
            ".github/workflows/deploy.yml": MISSING_NEED.replace(
                "- run: make deploy", "- run: make deploy  # digestgate: ignore"
            ),
        },
    )
    doc = run_json("repo", cwd=tmp_path, status=1)
    check_document(doc, validator)
    dg000, dg001, dg003 = doc["findings"]
    assert dg000 == dg000 | {
        "code": "DG000",
        "name": "invalid-workflow",
        "severity": "error",
        "message": "duplicate key 'runs-on' (first defined on line 5)",
        "path": ".github/workflows/ci.yml",
        "line": 6,
        "column": 5,
        "end_line": 6,
        "end_column": 12,
        "step": None,
        "root": "repo",
        "related": [],
    }
    assert dg001 == dg001 | {
        "code": "DG001",
        "name": "broken-graph",
        "severity": "error",
        "path": ".github/workflows/deploy.yml",
        "line": 5,
        "column": 13,
        "end_line": 5,
        "end_column": 18,
        "root": "repo",
    }
    assert "'tests'" in dg001["message"]
    assert dg003 == dg003 | {
        "code": "DG003",
        "severity": "warning",
        "path": ".github/workflows/deploy.yml",
        "line": 8,
        "column": 27,
        "end_column": 47,
    }
    assert doc["summary"] == {"files": 2, "findings": 3, "errors": 2, "warnings": 1}


def test_fingerprints_survive_unrelated_edits(
    tmp_path: Path, validator: jsonschema.protocols.Validator
) -> None:
    write_repo(tmp_path, {".github/workflows/deploy.yml": MISSING_NEED})
    before = run_json(".", cwd=tmp_path, status=1)
    write_repo(
        tmp_path,
        {".github/workflows/deploy.yml": "# a comment\n\n" + inspect.cleandoc(MISSING_NEED)},
    )
    after = run_json(".", cwd=tmp_path, status=1)
    check_document(after, validator)
    assert after["findings"][0]["line"] == before["findings"][0]["line"] + 2
    assert after["findings"][0]["fingerprint"] == before["findings"][0]["fingerprint"]


def test_several_repositories(tmp_path: Path, validator: jsonschema.protocols.Validator) -> None:
    write_repo(tmp_path / "b", {".github/workflows/ci.yml": DUPLICATE_KEY})
    write_repo(tmp_path / "a", {".github/workflows/deploy.yml": MISSING_NEED})
    write_repo(tmp_path / "c", {".github/workflows/ci.yml": CLEAN})
    doc = run_json("b", "a", "c", cwd=tmp_path, status=1)
    check_document(doc, validator)
    assert [(f["root"], f["path"], f["code"]) for f in doc["findings"]] == [
        ("a", ".github/workflows/deploy.yml", "DG001"),
        ("b", ".github/workflows/ci.yml", "DG000"),
    ]
    assert doc["summary"] == {"files": 3, "findings": 2, "errors": 2, "warnings": 0}


def test_root_is_dot_for_the_working_directory(
    tmp_path: Path, validator: jsonschema.protocols.Validator
) -> None:
    write_repo(tmp_path, {".github/workflows/ci.yml": DUPLICATE_KEY})
    doc = run_json(cwd=tmp_path, status=1)
    check_document(doc, validator)
    assert [(f["root"], f["path"]) for f in doc["findings"]] == [(".", ".github/workflows/ci.yml")]


def test_stdin(tmp_path: Path, validator: jsonschema.protocols.Validator) -> None:
    write_repo(tmp_path / "repo", {".github/workflows/ci.yml": CLEAN})
    doc = run_json(
        "-",
        "--stdin-filename",
        "repo/.github/workflows/ci.yml",
        cwd=tmp_path,
        input=inspect.cleandoc(DUPLICATE_KEY) + "\n",
        status=1,
    )
    check_document(doc, validator)
    [finding] = doc["findings"]
    assert (finding["root"], finding["path"], finding["line"], finding["column"]) == (
        "repo",
        ".github/workflows/ci.yml",
        6,
        5,
    )


def test_related_locations(validator: jsonschema.protocols.Validator) -> None:
    # no built-in rule reports related places yet: check the reporter directly
    finding = Finding(
        code="DG301",
        name="unvalidated-promotion",
        severity=Severity.ERROR,
        message="promotes a digest that no validation job checked",
        location=Location(".github/workflows/release.yml", Span(12, 9, 12, 30)),
        related=(Location(".github/workflows/ci.yml", Span(20, 3, 20, 7), "the validation job"),),
        job="promote",
        step="push",
        root="services/api",
        fingerprint="0123456789abcdef0123",
    )
    doc = jsondoc.document([finding], files=2)
    check_document(doc, validator)
    assert doc["findings"][0]["related"] == [
        {
            "path": ".github/workflows/ci.yml",
            "line": 20,
            "column": 3,
            "end_line": 20,
            "end_column": 7,
            "message": "the validation job",
        }
    ]
    assert (doc["findings"][0]["job"], doc["findings"][0]["step"]) == ("promote", "push")
    assert json.loads(jsondoc.render([finding], files=2)) == doc


def test_json_is_utf8_whatever_the_terminal(tmp_path: Path) -> None:
    write_repo(tmp_path, {".github/workflows/ci.yml": DUPLICATE_KEY.replace("CI", "Prüfung")})
    (tmp_path / ".github/workflows/ci.yml").rename(tmp_path / ".github/workflows/prüfung.yml")
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_REPOSITORY"}
    env |= {"PYTHONIOENCODING": "ascii", "PYTHONUTF8": "0"}
    for fmt in ("json", "text"):
        proc = subprocess.run(
            [sys.executable, "-m", "digestgate", "check", "-f", fmt],
            cwd=tmp_path,
            capture_output=True,
            env=env,
            timeout=120,
        )
        assert (proc.returncode, proc.stderr) == (1, b"")
        if fmt == "json":
            doc = json.loads(proc.stdout.decode("utf-8"))
            assert doc["findings"][0]["path"] == ".github/workflows/prüfung.yml"
        else:
            assert proc.stdout.startswith(b".github/workflows/pr\\xfcfung.yml:6:5: DG000 ")


# --- the schema itself ---------------------------------------------------------------------


def minimal_document() -> dict[str, Any]:
    return {
        "version": 1,
        "findings": [
            {
                "code": "DG000",
                "name": "invalid-workflow",
                "severity": "error",
                "message": "m",
                "path": ".github/workflows/ci.yml",
                "line": 1,
                "column": 1,
                "end_line": 1,
                "end_column": 1,
                "fingerprint": "0123456789abcdef0123",
                "job": None,
                "step": None,
                "root": ".",
                "related": [],
            }
        ],
        "summary": {"files": 1, "findings": 1, "errors": 1, "warnings": 0},
    }


def test_schema_allows_added_keys(validator: jsonschema.protocols.Validator) -> None:
    doc = minimal_document()
    validator.validate(doc)
    doc["tool"] = "digestgate"
    doc["findings"][0]["fix"] = None
    doc["summary"]["notes"] = 0
    validator.validate(doc)


@pytest.mark.parametrize(
    ("where", "key", "value"),
    [
        ((), "version", 2),
        (("findings", 0), "line", 0),
        (("findings", 0), "end_column", 0),
        (("findings", 0), "severity", "info"),
        (("findings", 0), "path", "/abs/ci.yml"),
        (("findings", 0), "path", ".github\\workflows\\ci.yml"),
        (("findings", 0), "job", 3),
        (("findings", 0), "code", "dg000"),
        (("summary",), "errors", -1),
    ],
)
def test_schema_rejects(
    validator: jsonschema.protocols.Validator, where: tuple[Any, ...], key: str, value: object
) -> None:
    doc = minimal_document()
    target: Any = doc
    for step in where:
        target = target[step]
    target[key] = value
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(doc)


@pytest.mark.parametrize("key", sorted(FINDING_KEYS))
def test_schema_requires_every_finding_key(
    validator: jsonschema.protocols.Validator, key: str
) -> None:
    doc = minimal_document()
    del doc["findings"][0][key]
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(doc)


def test_schema_and_docs_name_every_key() -> None:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    defs = schema["$defs"]
    assert set(schema["properties"]) == {"version", "findings", "summary"}
    assert set(defs["finding"]["properties"]) == set(defs["finding"]["required"]) == FINDING_KEYS
    assert set(defs["location"]["properties"]) == LOCATION_KEYS
    assert set(defs["summary"]["properties"]) == SUMMARY_KEYS | {"baseline_stale"}
    doc = (DOCS / "output-json.md").read_text(encoding="utf-8")
    documented: set[str] = set()
    for line in doc.splitlines():
        if line.startswith("| `"):
            documented.update(re.findall(r"`([a-z_]+)`", line.split("|")[1]))
    assert documented >= FINDING_KEYS | LOCATION_KEYS | SUMMARY_KEYS | {"version"}


def test_the_documented_example_is_valid(validator: jsonschema.protocols.Validator) -> None:
    doc = (DOCS / "output-json.md").read_text(encoding="utf-8")
    example = re.search(r"```json\n(.*?)```", doc, re.DOTALL)
    assert example, "docs/output-json.md has no ```json example"
    check_document(json.loads(example.group(1)), validator)
