"""The runtime digest check: `digestgate record` and `digestgate verify` (RUNTIME.md).

The records written are checked field by field, by hand; `verify` is run against a
table of tampered records and references, each with its exit status and message.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from digestgate import __version__, runtime

HEX = "a" * 64
OTHER_HEX = "b" * 64
COMMIT = "c" * 40
OTHER_COMMIT = "d" * 40
IMAGE = f"ghcr.io/o/app@sha256:{HEX}"
ENV = {
    "GITHUB_REPOSITORY": "o/r",
    "GITHUB_SHA": COMMIT,
    "GITHUB_WORKFLOW_REF": "o/r/.github/workflows/ci.yml@refs/heads/main",
    "GITHUB_RUN_ID": "4242",
    "GITHUB_RUN_ATTEMPT": "2",
    "GITHUB_SERVER_URL": "https://github.com",
}
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def run(
    capsys: pytest.CaptureFixture[str], *argv: str, env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    status = runtime.main(list(argv), {} if env is None else env)
    out, err = capsys.readouterr()
    return status, out, err


def read(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


# --- record --------------------------------------------------------------------------


def test_record_from_images_writes_a_vsa_statement(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "record.json"
    status, stdout, err = run(
        capsys,
        "record",
        "--image",
        f"ghcr.io/o/app:1.0@sha256:{HEX}",
        "--image",
        f"acme/tool@sha256:{OTHER_HEX}",
        "--image",
        f"ghcr.io/o/app@sha256:{HEX}",  # a repeat: one subject
        "--check",
        "test",
        "--check",
        "scan",
        "--repository",
        "o/r",
        "--commit",
        COMMIT.upper(),
        "--output",
        str(out),
    )
    assert (status, err) == (0, "")
    assert stdout == f"digestgate: recorded 2 image(s) as PASSED in {out}\n"
    doc = read(out)
    assert sorted(doc) == ["_type", "predicate", "predicateType", "subject"]
    assert doc["_type"] == "https://in-toto.io/Statement/v1"
    assert doc["predicateType"] == "https://slsa.dev/verification_summary/v1"
    assert doc["subject"] == [
        {"name": "ghcr.io/o/app", "digest": {"sha256": HEX}},
        {"name": "docker.io/acme/tool", "digest": {"sha256": OTHER_HEX}},
    ]
    predicate = doc["predicate"]
    assert predicate["verifier"] == {
        "id": "https://github.com/digestgate/digestgate",
        "version": {"digestgate": __version__},
    }
    assert TIME.fullmatch(predicate["timeVerified"])
    assert predicate["resourceUri"] == f"git+https://github.com/o/r@{COMMIT}"
    assert predicate["policy"] == {
        "uri": "https://github.com/digestgate/digestgate/blob/main/docs/RUNTIME.md"
    }
    assert predicate["verificationResult"] == "PASSED"
    assert predicate["verifiedLevels"] == ["DIGESTGATE_VALIDATED"]
    assert predicate["slsaVersion"] == "1.0"
    assert predicate["digestgate"] == {
        "checks": ["test", "scan"],
        "run": {"repository": "o/r", "commit": COMMIT},
    }


def test_record_failed_result(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.json"
    status, _, _ = run(
        capsys, "record", "--image", IMAGE, "--result", "failed", "--output", str(out), env=ENV
    )
    assert status == 0
    predicate = read(out)["predicate"]
    assert predicate["verificationResult"] == "FAILED"
    assert predicate["verifiedLevels"] == []


def test_record_context_from_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r.json"
    env = {**ENV, "GITHUB_SERVER_URL": "https://codeberg.org", "GITHUB_TOKEN": "s3cr3t"}
    status, stdout, err = run(capsys, "record", "--image", IMAGE, "--output", str(out), env=env)
    assert status == 0
    assert "s3cr3t" not in stdout + err + out.read_text()
    predicate = read(out)["predicate"]
    assert predicate["resourceUri"] == f"git+https://codeberg.org/o/r@{COMMIT}"
    assert predicate["digestgate"]["run"] == {
        "repository": "o/r",
        "commit": COMMIT,
        "workflowRef": "o/r/.github/workflows/ci.yml@refs/heads/main",
        "runId": "4242",
        "runAttempt": "2",
    }


def test_record_flags_override_the_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r.json"
    status, _, _ = run(
        capsys,
        "record",
        "--image",
        IMAGE,
        "--repository",
        "x/y",
        "--commit",
        OTHER_COMMIT,
        "--run-id",
        "7",
        "--workflow",
        "x/y/.github/workflows/release.yml@refs/tags/v1",
        "--output",
        str(out),
        env=ENV,
    )
    assert status == 0
    predicate = read(out)["predicate"]
    assert predicate["resourceUri"] == f"git+https://github.com/x/y@{OTHER_COMMIT}"
    assert predicate["digestgate"]["run"] == {
        "repository": "x/y",
        "commit": OTHER_COMMIT,
        "workflowRef": "x/y/.github/workflows/release.yml@refs/tags/v1",
        "runId": "7",
        "runAttempt": "2",
    }


BUILDX_METADATA = {
    "buildx.build.ref": "builder/builder0/abc",
    "containerimage.config.digest": f"sha256:{OTHER_HEX}",
    "containerimage.descriptor": {
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "digest": f"sha256:{HEX}",
        "size": 856,
    },
    "containerimage.digest": f"sha256:{HEX}",
    "image.name": "ghcr.io/o/app:1.0,ghcr.io/o/app:latest,registry.example.com:5000/o/app:1.0",
}
# docker/build-push-action's `metadata` output: the same keys, as a JSON string output
ACTION_METADATA = {
    "buildx.build.provenance": {"buildType": "https://mobyproject.org/buildkit@v1"},
    "buildx.build.ref": "builder/builder0/def",
    "containerimage.digest": f"sha256:{HEX}",
    "image.name": "ghcr.io/o/app:sha-abc",
}


@pytest.mark.parametrize(
    ("metadata", "names"),
    [
        (BUILDX_METADATA, ["ghcr.io/o/app", "registry.example.com:5000/o/app"]),
        (ACTION_METADATA, ["ghcr.io/o/app"]),
        (  # buildx bake: one entry per target
            {
                "app": ACTION_METADATA,
                "tool": {"containerimage.digest": f"sha256:{OTHER_HEX}", "image.name": "acme/t"},
            },
            ["ghcr.io/o/app", "docker.io/acme/t"],
        ),
    ],
    ids=["buildx-metadata-file", "build-push-action-output", "bake"],
)
def test_record_from_metadata(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], metadata: Any, names: list[str]
) -> None:
    meta = tmp_path / "metadata.json"
    meta.write_text(json.dumps(metadata), encoding="utf-8")
    out = tmp_path / "r.json"
    status, _, err = run(
        capsys, "record", "--metadata-file", str(meta), "--output", str(out), env=ENV
    )
    assert (status, err) == (0, "")
    subjects = read(out)["subject"]
    assert [s["name"] for s in subjects] == names
    assert subjects[0]["digest"] == {"sha256": HEX}
    assert all(list(s["digest"]) == ["sha256"] for s in subjects)


@pytest.mark.parametrize(
    ("args", "env", "fragment"),
    [
        (["--image", IMAGE], {}, "no repository: pass --repository or set GITHUB_REPOSITORY"),
        (["--image", IMAGE], {"GITHUB_REPOSITORY": "o/r"}, "no commit: pass --commit"),
        (["--image", "ghcr.io/o/app:1.0"], ENV, "has no digest"),
        (["--image", f"ghcr.io/o/app@sha256:{HEX.upper()}"], ENV, "upper-case"),
        (["--image", f"a@sha256:{HEX}", "--image", f"a@sha256:{OTHER_HEX}"], ENV, "two diff"),
        (["--metadata-file", "missing.json"], ENV, "missing.json: no such file"),
        (["--image", IMAGE, "--commit", "abc123"], ENV, "not a full commit SHA"),
        ([], ENV, "one of the arguments --image --metadata-file is required"),
    ],
)
def test_record_refuses(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    env: dict[str, str],
    fragment: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    status, _, err = run(capsys, "record", *args, "--output", "r.json", env=env)
    assert status == 2
    assert fragment in err
    assert not (tmp_path / "r.json").exists()


# --- verify --------------------------------------------------------------------------


def write_record(
    path: Path,
    subjects: list[tuple[str, str]] | None = None,
    *,
    result: str = "PASSED",
    repository: str = "o/r",
    commit: str = COMMIT,
) -> Path:
    context = runtime.Context(repository=repository, commit=commit)
    subject_list = [runtime.Subject(n, h) for n, h in (subjects or [("ghcr.io/o/app", HEX)])]
    statement = runtime.build_statement(subject_list, context, passed=result == "PASSED")
    path.write_text(json.dumps(statement, indent=2), encoding="utf-8")
    return path


def test_verify_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    record = write_record(
        tmp_path / "r.json", [("ghcr.io/o/app", HEX), ("docker.io/acme/tool", OTHER_HEX)]
    )
    status, out, err = run(
        capsys,
        "verify",
        "--record",
        str(record),
        "--image",
        IMAGE,
        "--image",
        f"acme/tool:1.0@sha256:{OTHER_HEX}",  # familiar name, tag and digest
        env=ENV,
    )
    assert (status, err) == (0, "")
    assert out.splitlines() == [
        f"digestgate: verified {IMAGE} (PASSED in {record} for o/r@{COMMIT})",
        f"digestgate: verified acme/tool:1.0@sha256:{OTHER_HEX} "
        f"(PASSED in {record} for o/r@{COMMIT})",
    ]


def test_record_then_verify(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.json"
    assert run(capsys, "record", "--image", IMAGE, "--output", str(out), env=ENV)[0] == 0
    status, _, err = run(capsys, "verify", "--record", str(out), "--image", IMAGE, env=ENV)
    assert (status, err) == (0, "")


def test_verify_with_several_records(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = write_record(tmp_path / "other.json", [("ghcr.io/o/app", OTHER_HEX)])
    ours = write_record(tmp_path / "ours.json")
    status, _, err = run(
        capsys, "verify", "--record", str(other), "--record", str(ours), "--image", IMAGE, env=ENV
    )
    assert (status, err) == (0, "")


Setup = Callable[[Path], list[str]]  # writes what it needs under tmp_path; verify's args


def _edit(change: Callable[[dict[str, Any]], None]) -> Setup:
    def setup(tmp: Path) -> list[str]:
        path = write_record(tmp / "r.json")
        doc = read(path)
        change(doc)
        path.write_text(json.dumps(doc), encoding="utf-8")
        return ["--record", str(path), "--image", IMAGE]

    return setup


def _raw(text: str) -> Setup:
    def setup(tmp: Path) -> list[str]:
        path = tmp / "r.json"
        path.write_text(text, encoding="utf-8")
        return ["--record", str(path), "--image", IMAGE]

    return setup


def _args(*extra: str, image: str = IMAGE, **record: Any) -> Setup:
    def setup(tmp: Path) -> list[str]:
        path = write_record(tmp / "r.json", **record)
        return ["--record", str(path), "--image", image, *extra]

    return setup


def _symlink(tmp: Path) -> list[str]:
    target = write_record(tmp / "real.json")
    link = tmp / "r.json"
    link.symlink_to(target)
    return ["--record", str(link), "--image", IMAGE]


def _directory(tmp: Path) -> list[str]:
    (tmp / "r.json").mkdir()
    return ["--record", str(tmp / "r.json"), "--image", IMAGE]


def _huge(tmp: Path) -> list[str]:
    path = tmp / "r.json"
    with path.open("wb") as handle:  # sparse: 50 MB of size, no 50 MB written
        handle.truncate(50 * 1024 * 1024)
    return ["--record", str(path), "--image", IMAGE]


def _missing(tmp: Path) -> list[str]:
    return ["--record", str(tmp / "nowhere.json"), "--image", IMAGE]


def _set_digest(doc: dict[str, Any]) -> None:
    doc["subject"][0]["digest"]["sha256"] = OTHER_HEX


def _failed(doc: dict[str, Any]) -> None:
    doc["predicate"]["verificationResult"] = "FAILED"


def _duplicate(doc: dict[str, Any]) -> None:
    doc["subject"].append({"name": "ghcr.io/o/app", "digest": {"sha256": OTHER_HEX}})


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda doc: doc.__setitem__(key, value)


def _only_sha512(doc: dict[str, Any]) -> None:
    doc["subject"][0]["digest"] = {"sha512": "e" * 128}


def _upper_subject(doc: dict[str, Any]) -> None:
    doc["subject"][0]["digest"]["sha256"] = HEX.upper()


def _bad_uri(doc: dict[str, Any]) -> None:
    doc["predicate"]["resourceUri"] = "https://github.com/o/r"


VALID_TEXT = json.dumps(
    runtime.build_statement(
        [runtime.Subject("ghcr.io/o/app", HEX)],
        runtime.Context(repository="o/r", commit=COMMIT),
        passed=True,
    )
)

# (case, setup, environment, exit status, message fragment)
TAMPER: list[tuple[str, Setup, dict[str, str], int, str]] = [
    ("edited digest", _edit(_set_digest), ENV, 1, "is not the validated one"),
    ("other repository", _args("--repository", "x/y"), ENV, 1, "is for repository o/r, not x/y"),
    ("other commit", _args("--commit", OTHER_COMMIT), ENV, 1, f"is for commit {COMMIT}, not"),
    ("other commit from env", _args(commit=OTHER_COMMIT), ENV, 1, "is for commit"),
    ("--any-commit accepts", _args("--any-commit", commit=OTHER_COMMIT), ENV, 0, "verified"),
    ("--any-commit keeps repo", _args("--any-commit", repository="x/y"), ENV, 1, "repository"),
    ("FAILED result", _edit(_failed), ENV, 1, "says validation FAILED"),
    ("two digests one name", _edit(_duplicate), ENV, 1, "two different digests for ghcr.io"),
    ("truncated JSON", _raw(VALID_TEXT[: len(VALID_TEXT) // 2]), ENV, 1, "not valid JSON"),
    ("duplicate JSON key", _raw('{"_type": 1, ' + VALID_TEXT[1:]), ENV, 1, "duplicate key"),
    ("wrong _type", _edit(_set("_type", "https://in-toto.io/Statement/v0.1")), ENV, 1, "_type"),
    ("wrong predicateType", _edit(_set("predicateType", "x")), ENV, 1, "unknown predicateType"),
    ("empty subjects", _edit(_set("subject", [])), ENV, 1, "the subject list is empty"),
    ("subject without sha256", _edit(_only_sha512), ENV, 1, "has no sha256 digest"),
    ("subject upper-case hex", _edit(_upper_subject), ENV, 1, "found upper-case hex"),
    ("bad resourceUri", _edit(_bad_uri), ENV, 1, "resourceUri does not name a repository"),
    ("tag-only reference", _args(image="ghcr.io/o/app:1.0"), ENV, 1, "tag-only reference"),
    ("no tag, no digest", _args(image="ghcr.io/o/app"), ENV, 1, "no tag and no digest"),
    (
        "upper-case hex",
        _args(image=f"ghcr.io/o/app@sha256:{HEX.upper()}"),
        ENV,
        1,
        "bad digest: digest hex must be 64 lower-case hex characters for sha256 (found upper",
    ),
    ("short hex", _args(image="ghcr.io/o/app@sha256:abcdef012345"), ENV, 1, "(got 12)"),
    (
        "unknown algorithm",
        _args(image=f"ghcr.io/o/app@md5:{HEX[:32]}"),
        ENV,
        1,
        "unknown digest algorithm 'md5'",
    ),
    (
        "sha512 digest",
        _args(image=f"ghcr.io/o/app@sha512:{'e' * 128}"),
        ENV,
        1,
        "sha256 digests only",
    ),
    ("symlink record", _symlink, ENV, 1, "is a symbolic link"),
    ("directory record", _directory, ENV, 1, "is a directory"),
    ("50 MB record", _huge, ENV, 1, "is larger than 10 MB (52428800 bytes)"),
    ("missing record file", _missing, ENV, 1, "nowhere.json: no such file"),
    (
        "image not in any record",
        _args(image=f"ghcr.io/o/other@sha256:{HEX}"),
        ENV,
        1,
        "no record has an image named ghcr.io/o/other",
    ),
    (
        "missing repository",
        _args(),
        {"GITHUB_SHA": COMMIT},
        1,
        "no repository to check the records against: pass --repository or set GITHUB_REPO",
    ),
    (
        "missing commit",
        _args(),
        {"GITHUB_REPOSITORY": "o/r"},
        1,
        "no commit to check the records against: pass --commit (or --any-commit) or set GI",
    ),
    ("--commit with --any-commit", _args("--any-commit", "--commit", COMMIT), ENV, 2, "not allo"),
    ("bad --commit", _args("--commit", "HEAD"), ENV, 2, "--commit 'HEAD' is not a full commit"),
    ("bad --repository", _args("--repository", "r"), ENV, 2, "'r' is not OWNER/NAME"),
    ("no --image", lambda tmp: ["--record", "r.json"], ENV, 2, "required: --image"),
    ("no --record", lambda tmp: ["--image", IMAGE], ENV, 2, "required: --record"),
]


@pytest.mark.parametrize(
    ("setup", "env", "status", "fragment"),
    [case[1:] for case in TAMPER],
    ids=[case[0] for case in TAMPER],
)
def test_verify_tamper_table(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    setup: Setup,
    env: dict[str, str],
    status: int,
    fragment: str,
) -> None:
    args = setup(tmp_path)
    got, out, err = run(capsys, "verify", *args, env={**env, "GITHUB_TOKEN": "s3cr3t"})
    assert got == status, err
    assert "s3cr3t" not in out + err
    if status == 0:
        assert fragment in out
        assert err == ""
        return
    assert out == ""
    assert fragment in err
    if status == 1:  # one message per blocked image, naming it, then a total
        image = args[args.index("--image") + 1]
        lines = err.splitlines()
        assert lines[0].startswith(f"digestgate: blocked {image}: ")
        assert lines[1:] == ["digestgate: 1 of 1 image(s) blocked"]


def test_verify_one_message_per_image(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    record = write_record(tmp_path / "r.json")
    tagged = "ghcr.io/o/app:latest"
    other = f"ghcr.io/o/app@sha256:{OTHER_HEX}"
    status, out, err = run(
        capsys,
        "verify",
        "--record",
        str(record),
        *("--image", tagged, "--image", IMAGE, "--image", other),
        env=ENV,
    )
    assert status == 1
    assert out == f"digestgate: verified {IMAGE} (PASSED in {record} for o/r@{COMMIT})\n"
    assert err.splitlines() == [
        f"digestgate: blocked {tagged}: tag-only reference: promote by digest "
        "(NAME@sha256:<64 hex>)",
        f"digestgate: blocked {other}: digest sha256:{OTHER_HEX} is not the validated one "
        f"(record {record} has sha256:{HEX})",
        "digestgate: 2 of 3 image(s) blocked",
    ]


def test_a_failed_record_blocks_even_beside_a_passed_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    passed = write_record(tmp_path / "passed.json")
    failed = write_record(tmp_path / "failed.json", result="FAILED")
    status, _, err = run(
        capsys,
        "verify",
        "--record",
        str(passed),
        "--record",
        str(failed),
        "--image",
        IMAGE,
        env=ENV,
    )
    assert status == 1
    assert f"record {failed} says validation FAILED" in err


def test_one_bad_record_blocks_every_image(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write_record(tmp_path / "good.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    status, _, err = run(
        capsys, "verify", "--record", str(good), "--record", str(bad), "--image", IMAGE, env=ENV
    )
    assert status == 1
    assert f"unusable record: {bad}: not valid JSON" in err


# --- the entry point -----------------------------------------------------------------

HEAVY = ("ruamel", "libcst", "tree_sitter", "typer", "click", "rich", "yaml")

# `digestgate ARGS` through the real entry point, then the heavy modules it loaded.
LEAN_SCRIPT = f"""
import sys
from digestgate import cli
sys.argv = ["digestgate", *sys.argv[1:]]
try:
    cli.main()
except SystemExit as exc:
    status = exc.code
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r})
print("HEAVY", heavy, "STATUS", status, file=sys.stderr)
"""


@pytest.mark.parametrize("command", ["verify", "record"])
def test_help_through_the_console_entry(command: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "digestgate", command, "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"usage: digestgate {command} ")
    assert proc.stderr == ""


def test_top_level_help_lists_the_runtime_commands() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "digestgate", "--help"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0
    assert re.search(r"^\s+record\s", proc.stdout, re.MULTILINE)
    assert re.search(r"^\s+verify\s", proc.stdout, re.MULTILINE)


def test_the_typer_app_forwards_to_the_runtime(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from digestgate import cli

    monkeypatch.delenv("GITHUB_REPOSITORY", raising=False)
    record = write_record(tmp_path / "r.json")
    with pytest.raises(SystemExit) as exit_info:
        cli.app(
            [
                "verify",
                "--record",
                str(record),
                "--image",
                IMAGE,
                "--repository",
                "o/r",
                "--any-commit",
            ],
            prog_name="digestgate",
        )
    assert exit_info.value.code == 0
    assert "digestgate: verified" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "status"),
    [
        (["verify", "--help"], 0),
        (["record", "--help"], 0),
        (["verify", "--record", "missing.json", "--image", IMAGE, "--repository", "o/r"], 1),
        (["verify", "--record", "r.json", "--image", IMAGE, "--any-commit"], 0),
    ],
)
def test_the_runtime_path_imports_nothing_heavy(
    tmp_path: Path, args: list[str], status: int
) -> None:
    write_record(tmp_path / "r.json")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    env["GITHUB_REPOSITORY"] = "o/r"
    proc = subprocess.run(
        [sys.executable, "-c", LEAN_SCRIPT, *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env=env,
    )
    last = proc.stderr.splitlines()[-1]
    assert last == f"HEAVY [] STATUS {status}", proc.stderr


def test_importing_runtime_imports_nothing_heavy() -> None:
    script = (
        "import sys\n"
        "from digestgate import runtime\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.stdout == "[]\n", proc.stderr
