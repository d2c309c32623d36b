"""The language server end to end: the real `digestgate lsp` process, driven over stdio
by pytest-lsp's client, on copies of the repositories in tests/fixtures/lsp/.

The server logs `digestgate: checked ...` after publishing the diagnostics of one
check; the tests count those messages to know that a check they caused is done.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities
from pytest_lsp.client import make_test_lsp_client

from digestgate.ruledocs import help_uri

FIXTURES = Path(__file__).parent / "fixtures" / "lsp"
CI = ".github/workflows/ci.yml"
RELEASE = ".github/workflows/release.yml"
DEPLOY = ".github/workflows/deploy.yml"
WAIT = 60.0  # seconds before a wait gives up: a hang guard, not a speed check

# A server whose check fails on a marker in the unsaved text, to show that an internal
# error is logged and the server stays up (the engine has no known crash to use).
FAULTY = """
import sys
import digestgate.engine as engine
real = engine.check_target
def check_target(target, options):
    if any(b"# crash the check" in data for data in target.stdin.values()):
        raise RuntimeError("injected failure")
    return real(target, options)
engine.check_target = check_target
sys.argv = ["digestgate", "lsp"]
from digestgate.cli import main
main()
"""


def make_client() -> LanguageClient:
    """pytest-lsp's client, which also answers `client/registerCapability`."""
    client = make_test_lsp_client()
    client.registrations = []  # type: ignore[attr-defined]

    @client.feature(lsp.CLIENT_REGISTER_CAPABILITY)
    def register(ls: LanguageClient, params: lsp.RegistrationParams) -> None:
        ls.registrations.extend(params.registrations)  # type: ignore[attr-defined]

    return client


SERVER = [sys.executable, "-m", "digestgate", "lsp"]


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER, client_factory=make_client))
async def client(lsp_client: LanguageClient) -> AsyncIterator[None]:
    yield  # each test initializes with the capabilities it needs
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(
    config=ClientServerConfig(
        server_command=[sys.executable, "-c", FAULTY], client_factory=make_client
    )
)
async def faulty_client(lsp_client: LanguageClient) -> AsyncIterator[None]:
    yield
    await lsp_client.shutdown_session()


# -- helpers ----------------------------------------------------------------------


def copy_fixture(name: str, tmp_path: Path) -> Path:
    root = tmp_path / name
    shutil.copytree(FIXTURES / name, root)
    return root


async def start(
    client: LanguageClient,
    capabilities: lsp.ClientCapabilities | None = None,
    debounce_ms: int = 50,
) -> lsp.InitializeResult:
    return await client.initialize_session(
        lsp.InitializeParams(
            capabilities=capabilities or client_capabilities("visual-studio-code"),
            initialization_options={"debounceMs": debounce_ms},
        )
    )


def checks(client: LanguageClient) -> int:
    return sum(m.message.startswith("digestgate: checked") for m in client.log_messages)


async def until(condition: Callable[[], bool], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.01)


async def checked_after(client: LanguageClient, seen: int) -> None:
    await until(lambda: checks(client) > seen, f"check number {seen + 1}")


async def open_file(client: LanguageClient, path: Path) -> str:
    """Open `path` as an editor does and wait for the check it causes."""
    seen = checks(client)
    uri = path.as_uri()
    client.text_document_did_open(
        lsp.DidOpenTextDocumentParams(
            text_document=lsp.TextDocumentItem(
                uri=uri, language_id="yaml", version=1, text=path.read_text(encoding="utf-8")
            )
        )
    )
    await checked_after(client, seen)
    return uri


async def open_fixture(
    client: LanguageClient, tmp_path: Path, name: str, **options: Any
) -> tuple[Path, str]:
    """Copy fixture `name`, start the session, open its ci.yml: (root, uri)."""
    root = copy_fixture(name, tmp_path)
    await start(client, **options)
    return root, await open_file(client, root / CI)


def files_changed(client: LanguageClient, *changes: tuple[Path, lsp.FileChangeType]) -> None:
    """What an editor's file watcher sends."""
    client.workspace_did_change_watched_files(
        lsp.DidChangeWatchedFilesParams(
            changes=[lsp.FileEvent(uri=path.as_uri(), type=kind) for path, kind in changes]
        )
    )


def replace_all(client: LanguageClient, uri: str, version: int, text: str) -> None:
    client.text_document_did_change(
        lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )


def edit(
    client: LanguageClient, uri: str, version: int, line: int, start: int, end: int, text: str
) -> None:
    """An incremental change of one line's characters [start, end) (UTF-16 units)."""
    client.text_document_did_change(
        lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[
                lsp.TextDocumentContentChangePartial(
                    range=lsp.Range(
                        start=lsp.Position(line=line, character=start),
                        end=lsp.Position(line=line, character=end),
                    ),
                    text=text,
                )
            ],
        )
    )


def rng(line: int, start: int, end_line: int, end: int) -> lsp.Range:
    return lsp.Range(
        start=lsp.Position(line=line, character=start),
        end=lsp.Position(line=end_line, character=end),
    )


def cli_findings(root: Path) -> list[dict[str, Any]]:
    proc = subprocess.run(
        [sys.executable, "-m", "digestgate", "check", "--format", "json", str(root)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode in (0, 1), proc.stderr
    findings: list[dict[str, Any]] = json.loads(proc.stdout)["findings"]
    return findings


# -- tests ------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_open_reports_what_check_reports(client: LanguageClient, tmp_path: Path) -> None:
    root, uri = await open_fixture(client, tmp_path, "single")

    diagnostics = sorted(client.diagnostics[uri], key=lambda d: d.range.start.line)
    # Hand-checked: line 8 is `      image: python:3.12-slim`, the image at columns 14-29.
    first = diagnostics[0]
    assert first.code == "DG101"
    assert first.source == "digestgate"
    assert first.severity == lsp.DiagnosticSeverity.Warning
    assert first.range == rng(7, 13, 7, 29)
    assert first.message.startswith("`python:3.12-slim` (the container of job `unit`) is the tag")
    assert first.code_description is not None
    assert first.code_description.href == help_uri("DG101")
    assert first.code_description.href.endswith("/docs/rules/DG101.md")

    # Same codes and messages as `digestgate check`, at the same places (this file is
    # ASCII up to the first finding, so columns only shift by one).
    expected = cli_findings(root)
    assert len(expected) == len(diagnostics) == 2
    for want, got in zip(expected, diagnostics, strict=True):
        assert (got.code, got.message) == (want["code"], want["message"])
        assert got.range.start.line == want["line"] - 1
        assert got.range.end.line == want["end_line"] - 1
    assert first.range.start.character == expected[0]["column"] - 1
    assert first.range.end.character == expected[0]["end_column"] - 1


@pytest.mark.asyncio
async def test_fixing_the_file_clears_its_diagnostics(
    client: LanguageClient, tmp_path: Path
) -> None:
    root, uri = await open_fixture(client, tmp_path, "single")
    assert [d.code for d in client.diagnostics[uri]] == ["DG101", "DG101"]

    digest = "sha256:" + "4e" * 32
    text = (root / CI).read_text(encoding="utf-8")
    fixed = text.replace("python:3.12-slim", f"python:3.12-slim@{digest}").replace(
        "doclint:edge", f"doclint@{digest}"
    )
    seen = checks(client)
    replace_all(client, uri, 2, fixed)
    await checked_after(client, seen)
    assert list(client.diagnostics[uri]) == []

    # Only the unsaved text was fixed: the file on disk still has both findings.
    assert len(cli_findings(root)) == 2

    # Breaking it again with an incremental edit brings one back, at the new place.
    line = fixed.splitlines()[7]
    at = line.index("@sha256")
    seen = checks(client)
    edit(client, uri, 3, 7, at, len(line), "")
    await checked_after(client, seen)
    assert [(d.code, d.range) for d in client.diagnostics[uri]] == [("DG101", rng(7, 13, 7, 29))]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("encoding", "first", "last"),
    [
        # `        run: echo "Grüße 🚀" && docker run ... ghcr.io/acme/doclint:edge ...`:
        # the image starts after 62 code points, among them ü and ß (one UTF-16 unit,
        # two UTF-8 bytes each) and 🚀 (two UTF-16 units, four UTF-8 bytes); it is 25
        # characters long.
        (None, 63, 88),  # no choice offered: UTF-16
        (lsp.PositionEncodingKind.Utf16, 63, 88),
        (lsp.PositionEncodingKind.Utf8, 67, 92),
        (lsp.PositionEncodingKind.Utf32, 62, 87),
    ],
)
async def test_ranges_on_a_line_with_non_ascii_text(
    client: LanguageClient,
    tmp_path: Path,
    encoding: lsp.PositionEncodingKind | None,
    first: int,
    last: int,
) -> None:
    root = copy_fixture("single", tmp_path)
    capabilities = lsp.ClientCapabilities(
        general=lsp.GeneralClientCapabilities(position_encodings=[encoding]) if encoding else None
    )
    result = await start(client, capabilities)
    assert result.capabilities.position_encoding == (encoding or lsp.PositionEncodingKind.Utf16)
    uri = await open_file(client, root / CI)

    (found,) = [d for d in client.diagnostics[uri] if d.range.start.line == 12]
    assert "ghcr.io/acme/doclint:edge" in found.message
    assert found.range == rng(12, first, 12, last)
    line = (root / CI).read_text(encoding="utf-8").splitlines()[12]
    units = {
        lsp.PositionEncodingKind.Utf8: line.encode(),
        lsp.PositionEncodingKind.Utf32: line.encode("utf-32-le"),
    }
    width = {lsp.PositionEncodingKind.Utf8: 1, lsp.PositionEncodingKind.Utf32: 4}
    data = units.get(encoding, line.encode("utf-16-le"))  # type: ignore[arg-type]
    size = width.get(encoding, 2)  # type: ignore[arg-type]
    flagged = data[first * size : last * size].decode(
        {1: "utf-8", 2: "utf-16-le", 4: "utf-32-le"}[size]
    )
    assert flagged == "ghcr.io/acme/doclint:edge"


@pytest.mark.asyncio
async def test_editing_ci_updates_the_workflow_it_triggers(
    client: LanguageClient, tmp_path: Path
) -> None:
    root, ci = await open_fixture(client, tmp_path, "pipeline")
    release = (root / RELEASE).as_uri()  # never opened: published all the same
    assert list(client.diagnostics[ci]) == []
    assert release not in client.diagnostics

    # Renaming the workflow breaks release.yml's `workflow_run: workflows: [CI]`.
    seen = checks(client)
    edit(client, ci, 2, 0, 6, 8, "Build")
    await checked_after(client, seen)
    (broken,) = client.diagnostics[release]
    assert broken.code == "DG001"
    assert broken.severity == lsp.DiagnosticSeverity.Error
    assert broken.message == (
        "`workflow_run` names 'CI', but no workflow in this repository has that `name:`"
    )
    assert broken.range == rng(3, 16, 3, 18)  # `CI` in `    workflows: [CI]`
    assert list(client.diagnostics[ci]) == []

    # Renaming it back clears release.yml with an empty list.
    seen = checks(client)
    edit(client, ci, 3, 0, 6, 11, "CI")
    await checked_after(client, seen)
    assert list(client.diagnostics[release]) == []


@pytest.mark.asyncio
async def test_related_locations_become_related_information(
    client: LanguageClient, tmp_path: Path
) -> None:
    root, uri = await open_fixture(client, tmp_path, "reusable")

    (promoted,) = [d for d in client.diagnostics[uri] if d.code == "DG301"]
    assert promoted.severity == lsp.DiagnosticSeverity.Error
    assert promoted.range == rng(9, 13, 9, 34)  # `ghcr.io/acme/api:prod` under `with:`
    assert promoted.code_description is not None
    assert promoted.code_description.href == help_uri("DG301")
    related = [
        (r.location.uri, r.location.range, r.message) for r in promoted.related_information or []
    ]
    assert related == [
        # `${{ inputs.image }}` in `kubectl set image deployment/api api=${{ inputs.image }}`
        ((root / DEPLOY).as_uri(), rng(14, 50, 14, 69), "deployed here"),
        # `./.github/workflows/deploy.yml` after `uses:`
        (uri, rng(7, 10, 7, 40), "called by job `deploy`"),
    ]


@pytest.mark.asyncio
async def test_config_change_rechecks(client: LanguageClient, tmp_path: Path) -> None:
    root, uri = await open_fixture(client, tmp_path, "single")
    assert len(client.diagnostics[uri]) == 2
    # The client allows dynamic registration: the server asked to watch the config.
    (registration,) = client.registrations  # type: ignore[attr-defined]
    assert registration.method == lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES
    globs = [w["globPattern"] for w in registration.register_options["watchers"]]
    assert "**/{.digestgate.toml,pyproject.toml}" in globs

    config = root / ".digestgate.toml"
    config.write_text('ignore = ["DG101"]\n', encoding="utf-8")
    seen = checks(client)
    files_changed(client, (config, lsp.FileChangeType.Created))
    await checked_after(client, seen)
    assert list(client.diagnostics[uri]) == []

    # A broken configuration: a diagnostic on it and one message; the server stays up.
    config.write_text('ignore = ["DG101"]\nfail-on = "sometimes"\n', encoding="utf-8")
    files_changed(client, (config, lsp.FileChangeType.Changed))
    await until(lambda: config.as_uri() in client.diagnostics, "the configuration error")
    (problem,) = client.diagnostics[config.as_uri()]
    assert problem.severity == lsp.DiagnosticSeverity.Error
    assert problem.range.start.line == 1
    assert "fail-on" in problem.message
    assert any("fail-on" in m.message for m in client.messages)

    # Fixed again (pyproject.toml this time): the error clears, the findings return.
    config.unlink()
    (root / "pyproject.toml").write_text('[tool.digestgate]\nignore = ["DG3"]\n', encoding="utf-8")
    seen = checks(client)
    files_changed(
        client,
        (config, lsp.FileChangeType.Deleted),
        (root / "pyproject.toml", lsp.FileChangeType.Created),
    )
    await checked_after(client, seen)
    assert list(client.diagnostics[config.as_uri()]) == []
    assert [d.code for d in client.diagnostics[uri]] == ["DG101", "DG101"]


@pytest.mark.asyncio
async def test_a_burst_of_changes_is_checked_once(client: LanguageClient, tmp_path: Path) -> None:
    root, uri = await open_fixture(client, tmp_path, "single", debounce_ms=300)
    text = (root / CI).read_text(encoding="utf-8")
    seen = checks(client)
    for version in range(2, 12):  # ten keystrokes well inside 300 ms
        replace_all(client, uri, version, text + "#" * version + "\n")
    await checked_after(client, seen)
    await asyncio.sleep(1.0)  # room for a second check, which must not come
    assert checks(client) == seen + 1


@pytest.mark.asyncio
async def test_an_internal_error_is_logged_and_the_server_stays_up(
    faulty_client: LanguageClient, tmp_path: Path
) -> None:
    client = faulty_client
    root, uri = await open_fixture(client, tmp_path, "single")
    text = (root / CI).read_text(encoding="utf-8")

    replace_all(client, uri, 2, text + "# crash the check\n")
    await until(
        lambda: any("injected failure" in m.message for m in client.log_messages),
        "the logged error",
    )
    (error,) = [m for m in client.log_messages if "injected failure" in m.message]
    assert error.type == lsp.MessageType.Error
    assert "internal error" in error.message and "Traceback" in error.message

    # Still serving: the next edit is checked and published.
    seen = checks(client)
    replace_all(client, uri, 3, text.replace("doclint:edge", "doclint@sha256:" + "ab" * 32))
    await checked_after(client, seen)
    assert [d.range.start.line for d in client.diagnostics[uri]] == [7]


def test_without_the_lsp_extra_it_says_what_to_install() -> None:
    hide = (
        "import sys; sys.modules['pygls'] = None; sys.argv = ['digestgate', 'lsp'];"
        "from digestgate.cli import main; main()"
    )
    proc = subprocess.run(
        [sys.executable, "-c", hide], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "digestgate: digestgate lsp needs the lsp extra: pip install 'digestgate[lsp]'"
    )
    assert proc.stdout == ""
