"""The root composite action (`uses: digestgate/digestgate@v...`): its script, run
for real with the installed `digestgate`, records and verifies as the CLI does."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from digestgate.loader import load_bytes
from digestgate.nodes import YMap, YScalar, YSeq

ROOT = Path(__file__).resolve().parents[1]
DIGEST = "sha256:" + "a" * 64
OTHER = "sha256:" + "b" * 64
COMMIT = "c" * 40


def _script(index: int = -1) -> str:
    """The `run:` text of the action's step `index` (by default the last, which runs
    digestgate; the first installs it)."""
    root = load_bytes((ROOT / "action.yml").read_bytes(), "action.yml").root
    runs = root.get("runs")
    assert isinstance(runs, YMap)
    steps = runs.get("steps")
    assert isinstance(steps, YSeq)
    last = steps.items[index]
    assert isinstance(last, YMap)
    run = last.get("run")
    assert isinstance(run, YScalar)
    return run.value


def _run(tmp_path: Path, **inputs: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.update({"GITHUB_REPOSITORY": "acme/app", "GITHUB_SHA": COMMIT})
    env.update({f"DG_{k.upper()}": v for k, v in inputs.items()})
    for key in ("IMAGES", "RECORDS", "CHECKS", "ARGS"):
        env.setdefault(f"DG_{key}", "")
    env.setdefault("DG_RESULT", "passed")
    env.setdefault("DG_OUTPUT", str(tmp_path / "record.json"))
    return subprocess.run(
        ["bash", "-c", _script()],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )


def test_record_then_verify_through_the_action(tmp_path: Path) -> None:
    done = _run(tmp_path, command="record", images=f"ghcr.io/acme/app@{DIGEST}\n", checks="e2e")
    assert done.returncode == 0, done.stderr
    record = json.loads((tmp_path / "record.json").read_text())
    assert record["subject"] == [{"name": "ghcr.io/acme/app", "digest": {"sha256": "a" * 64}}]
    ok = _run(
        tmp_path, command="verify", images=f"ghcr.io/acme/app@{DIGEST}", records="record.json"
    )
    assert ok.returncode == 0, ok.stderr
    bad = _run(
        tmp_path, command="verify", images=f"ghcr.io/acme/app@{OTHER}", records="record.json"
    )
    assert bad.returncode == 1 and "blocked" in bad.stderr


def test_unknown_command_is_a_usage_error(tmp_path: Path) -> None:
    done = _run(tmp_path, command="promote")
    assert done.returncode == 2 and "must be record, verify or check" in done.stderr


@pytest.mark.parametrize("command", ["record", "verify"])
def test_the_catalogue_knows_the_action(command: str) -> None:
    from digestgate.catalogue import step_facts
    from digestgate.model import Step, Text
    from digestgate.span import Span

    span = Span(1, 1, 1, 2)
    step = Step(
        index=0,
        span=span,
        uses=Text("digestgate/digestgate@v0", span),
        with_={"command": Text(command, span), "images": Text(f"ghcr.io/acme/app@{DIGEST}", span)},
    )
    found = step_facts(step, ".github/workflows/ci.yml")
    assert found is not None
    assert [op.role.value for op in found[0]] == [command]


# Workflows shown in the README, each kept as a fixture that `check` must find silent
# (tests/test_fixture_cases.py runs every tests/fixtures/ok/ repository).
README_WORKFLOWS = [
    "readme-pipeline/.github/workflows/release.yml",
    "ci-lint-github/.github/workflows/lint.yml",
    "ci-lint-gitea/.gitea/workflows/lint.yml",
    "ci-lint-forgejo/.forgejo/workflows/lint.yml",
]


@pytest.mark.parametrize("rel", README_WORKFLOWS)
def test_readme_workflow_is_a_silent_fixture(rel: str) -> None:
    fixture = ROOT / "tests/fixtures/ok" / rel
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "```yaml\n" + fixture.read_text(encoding="utf-8") + "```" in readme


def test_the_github_lint_job_uploads_the_sarif_it_writes() -> None:
    text = (ROOT / "tests/fixtures/ok" / README_WORKFLOWS[1]).read_text(encoding="utf-8")
    written = re.search(r"--format sarif --output (\S+)", text)
    uploaded = re.search(r"sarif_file: (\S+)", text)
    assert written and uploaded and written.group(1) == uploaded.group(1)
    assert "github/codeql-action/upload-sarif@" in text and "security-events: write" in text


# --- check through the action, on the bundled example (which has findings) ----------


def _example(tmp_path: Path) -> list[tuple[str, str, int, int]]:
    """Copy examples/shop to `tmp_path`; its findings as the engine reports them."""
    from digestgate import engine

    shutil.copytree(ROOT / "examples/shop", tmp_path, dirs_exist_ok=True)
    findings = engine.check([str(tmp_path)], engine.Options(no_config=True)).findings
    assert any(f.severity.value == "error" for f in findings)  # so check exits 1
    return sorted((f.code, f.path, f.span.line, f.span.column) for f in findings)


def _sarif_results(path: Path) -> list[tuple[str, str, int, int]]:
    log = json.loads(path.read_text(encoding="utf-8"))
    assert log["version"] == "2.1.0"
    out = []
    for result in log["runs"][0]["results"]:
        where = result["locations"][0]["physicalLocation"]
        region = where["region"]
        uri = where["artifactLocation"]["uri"]
        out.append((result["ruleId"], uri, region["startLine"], region["startColumn"]))
    return sorted(out)


def test_check_writes_sarif_for_code_scanning(tmp_path: Path) -> None:
    want = _example(tmp_path)
    args = "--format sarif --output digestgate.sarif"
    failed = _run(tmp_path, command="check", args=args)
    assert failed.returncode == 1, failed.stderr
    assert _sarif_results(tmp_path / "digestgate.sarif") == want

    (tmp_path / "digestgate.sarif").unlink()
    passed = _run(tmp_path, command="check", args=args + " --exit-zero")
    assert passed.returncode == 0, passed.stderr
    assert _sarif_results(tmp_path / "digestgate.sarif") == want


def test_check_annotates_with_workflow_commands(tmp_path: Path) -> None:
    want = _example(tmp_path)
    done = _run(tmp_path, command="check", args="--format github")
    assert done.returncode == 1, done.stderr
    commands = [line for line in done.stdout.splitlines() if line.startswith("::")]
    assert len(commands) == len(want)
    for code, path, line, column in want:
        assert any(
            f"file={path},line={line},col={column}," in c and f"title={code} " in c
            for c in commands
        ), (code, path, line)


def test_install_step_uses_its_own_virtual_environment(tmp_path: Path) -> None:
    """The install step builds the action's checkout into a venv under RUNNER_TEMP and
    puts its bin folder on GITHUB_PATH, so an externally managed Python is not touched."""
    github_path = tmp_path / "github_path"
    env = dict(os.environ)
    env.update(
        {
            "RUNNER_TEMP": str(tmp_path),
            "GITHUB_ACTION_PATH": str(ROOT),
            "GITHUB_PATH": str(github_path),
            "PIP_NO_INPUT": "1",
        }
    )
    done = subprocess.run(
        ["bash", "-c", _script(0)], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    (bin_dir,) = github_path.read_text().splitlines()
    assert Path(bin_dir).parent == tmp_path / "digestgate-venv"
    version = subprocess.run(
        [str(Path(bin_dir) / "digestgate"), "--version"], capture_output=True, text=True
    )
    assert version.returncode == 0
    assert version.stdout.startswith("digestgate ")
