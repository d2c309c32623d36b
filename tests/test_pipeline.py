"""`digestgate graph`: the public JSON document, the pictures, and job roles."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import FIXTURES, write_repo

REPO = FIXTURES / "graph" / "repo"


def graph(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "digestgate", "graph", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
    )


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    result = graph(str(REPO), "--format", "json")
    assert result.returncode == 0, result.stderr
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def job(doc: dict[str, Any], path: str, job_id: str) -> dict[str, Any]:
    wf = next(w for w in doc["workflows"] if w["path"] == path)
    found: dict[str, Any] = next(j for j in wf["jobs"] if j["id"] == job_id)
    return found


def test_document_shape(document: dict[str, Any]) -> None:
    assert document["version"] == 1
    paths = [w["path"] for w in document["workflows"]]
    assert paths == [
        ".github/workflows/ci.yml",
        ".github/workflows/e2e.yml",
        ".github/workflows/release.yml",
    ]
    ci = document["workflows"][0]
    assert ci["name"] == "CI" and ci["platform"] == "github"
    assert ci["triggers"] == ["pull_request", "push"]
    release = document["workflows"][2]
    assert release["triggered_by"] == [".github/workflows/ci.yml"]


def test_jobs_roles_and_links(document: dict[str, Any]) -> None:
    ci = ".github/workflows/ci.yml"
    assert job(document, ci, "lint")["roles"] == ["validate"]  # npm test: a source check
    build = job(document, ci, "build")
    assert build["roles"] == ["build", "push"] and build["needs"] == ["lint"]
    e2e = job(document, ci, "e2e")
    assert e2e["uses"] == ".github/workflows/e2e.yml"
    assert e2e["roles"] == ["validate"]  # from the called workflow's composite action
    promote = job(document, ci, "promote")
    assert promote["roles"] == ["promote", "verify"]
    assert promote["needs"] == ["build", "e2e"]
    deploy = job(document, ".github/workflows/release.yml", "deploy")
    assert deploy["roles"] == ["deploy"]


def test_where_digests_come_from(document: dict[str, Any]) -> None:
    ci = ".github/workflows/ci.yml"
    build = job(document, ci, "build")
    assert build["outputs"] == [
        {
            "name": "digest",
            "provenance": "digest",
            "why": "the digest `digest` of step `push` in job `build`",
        }
    ]
    (tag,) = build["steps"][1]["images"]
    assert (tag["use"], tag["kind"], tag["provenance"]) == ("tag", "name", "tag")
    assert tag["value"] == "ghcr.io/acme/api:${{ github.sha }}" and tag["line"] == 20
    copy = job(document, ci, "promote")["steps"][1]["images"]
    assert [(i["use"], i["provenance"]) for i in copy] == [
        ("copy-source", "digest"),
        ("copy-target", "tag"),
    ]
    # through the reusable workflow's input and the composite action's input
    smoke = job(document, ".github/workflows/e2e.yml", "smoke")
    step = smoke["steps"][1]
    assert step["path"] == ".github/actions/smoke/action.yml"
    (run,) = step["images"]
    assert (run["use"], run["provenance"]) == ("run", "digest")


def test_mermaid_and_dot() -> None:
    mermaid = graph(str(REPO), "-f", "mermaid").stdout
    assert mermaid.startswith("flowchart LR\n")
    assert "  _github_workflows_ci_yml_build --> _github_workflows_ci_yml_e2e" in mermaid
    assert "_github_workflows_ci_yml_e2e ==>|calls| _github_workflows_e2e_yml" in mermaid
    assert "_github_workflows_ci_yml -.->|workflow_run| _github_workflows_release_yml" in mermaid
    assert '_github_workflows_ci_yml_promote["promote<br/>promote, verify"]' in mermaid
    dot = graph(str(REPO), "-f", "dot").stdout
    assert dot.startswith("digraph pipeline {") and dot.rstrip().endswith("}")
    assert "_github_workflows_ci_yml_lint -> _github_workflows_ci_yml_build;" in dot


def test_text() -> None:
    text = graph(str(REPO)).stdout.splitlines()
    assert text[0] == ".github/workflows/ci.yml (CI): on pull_request, push"
    assert "  build [build, push] needs lint" in text
    assert "  e2e [validate] needs build calls .github/workflows/e2e.yml" in text
    assert "  after .github/workflows/ci.yml (workflow_run)" in text


def test_role_overrides(tmp_path: Path) -> None:
    write_repo(
        tmp_path,
        {
            ".github/workflows/ci.yml": """
            on: push
            jobs:
              check:  # digestgate: role=validation
                runs-on: ubuntu-latest
                steps:
                  - run: ./run-checks
              odd:  # digestgate: role=none
                runs-on: ubuntu-latest
                steps:
                  - run: pytest
              ship:
                runs-on: ubuntu-latest
                steps:
                  - run: ./ship
            """,
            ".digestgate.toml": 'promotion-jobs = ["ship"]\n',
        },
    )
    result = graph(str(tmp_path), "-f", "json")
    doc = json.loads(result.stdout)
    path = ".github/workflows/ci.yml"
    assert job(doc, path, "check")["roles"] == ["validate"]
    assert job(doc, path, "odd")["roles"] == []
    assert job(doc, path, "ship")["roles"] == ["promote"]


def test_bad_path_is_a_usage_error(tmp_path: Path) -> None:
    result = graph(str(tmp_path / "nope"))
    assert result.returncode == 2 and "no such file" in result.stderr
