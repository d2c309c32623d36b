"""The root composite action (`uses: digestgate/digestgate@v...`): its script, run
for real with the installed `digestgate`, records and verifies as the CLI does."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from digestgate.loader import load_bytes
from digestgate.nodes import YMap, YScalar, YSeq

ROOT = Path(__file__).resolve().parents[1]
DIGEST = "sha256:" + "a" * 64
OTHER = "sha256:" + "b" * 64
COMMIT = "c" * 40


def _script() -> str:
    root = load_bytes((ROOT / "action.yml").read_bytes(), "action.yml").root
    runs = root.get("runs")
    assert isinstance(runs, YMap)
    steps = runs.get("steps")
    assert isinstance(steps, YSeq)
    last = steps.items[-1]
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


def test_readme_pipeline_is_the_silent_fixture() -> None:
    fixture = ROOT / "tests/fixtures/ok/readme-pipeline/.github/workflows/release.yml"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "```yaml\n" + fixture.read_text(encoding="utf-8") + "```" in readme
