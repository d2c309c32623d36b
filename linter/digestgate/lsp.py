"""The language server (`digestgate lsp`): diagnostics from the unsaved text, on stdio.

A check is always of a whole repository, as `digestgate check` does it: every open
document of that repository goes into the target's in-memory map
(`Target.stdin`, read before the disk), the engine runs once, and its findings are
published for every file that has some now or had some before (an empty list clears
stale ones). So editing `ci.yml` re-publishes `release.yml`, which `workflow_run`
ties to it. Changes are debounced (`initializationOptions.debounceMs`, default 300);
open and save check at once. Checks run one at a time in a worker thread, so the
server keeps reading messages; a burst of requests while one runs makes one more.

The configuration is read again on every check; a change of `.digestgate.toml` or
`pyproject.toml` (and of workflow or action files on disk) reported through
`workspace/didChangeWatchedFiles` re-checks the repository (the watcher is
registered when the client allows it). A configuration error is a diagnostic on
the configuration file plus one `window/showMessage`; the workflows' diagnostics
stay as they were until it is fixed. Any other error in a check is logged
(`window/logMessage`, with the traceback) and the server stays up.

Positions: findings' spans are 1-based, columns in code points, end exclusive; the
LSP wants 0-based lines and columns in the negotiated position encoding (UTF-16
unless the client offers UTF-8 or UTF-32), end exclusive too.
"""

from __future__ import annotations

import asyncio
import gc
import os
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlparse

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer

from digestgate import __version__
from digestgate.config import CONFIG_FILE, PYPROJECT, ConfigError
from digestgate.discover import WORKFLOW_DIRS, YAML_SUFFIXES, Target, find_root
from digestgate.findings import Finding, Location, Severity
from digestgate.repository import is_action_path
from digestgate.ruledocs import help_uri
from digestgate.span import Span

SOURCE = "digestgate"
DEFAULT_DEBOUNCE_MS = 300
MAX_DEBOUNCE_MS = 10_000
CONFIG_NAMES = (CONFIG_FILE, PYPROJECT)
# What the file watcher reports: the configuration, and workflow and action files
# changed on disk (a checkout, another editor), which other files' findings depend on.
WATCHED = (
    f"**/{{{','.join(CONFIG_NAMES)}}}",
    "**/{.github,.gitea,.forgejo}/workflows/*.{yml,yaml}",
    "**/action.{yml,yaml}",
)
_WATCH_ID = "digestgate-watch"


# -- positions ----------------------------------------------------------------------


def _units(text: str, encoding: str) -> int:
    """The length of `text` in the code units of a position encoding."""
    if encoding == lsp.PositionEncodingKind.Utf8:
        return len(text.encode("utf-8", "surrogatepass"))
    if encoding == lsp.PositionEncodingKind.Utf32:
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _position(lines: Sequence[str], line: int, column: int, encoding: str) -> lsp.Position:
    """A 1-based line and code-point column as a 0-based LSP position."""
    index = line - 1
    if index < 0:
        return lsp.Position(line=0, character=0)
    text = lines[index] if index < len(lines) else ""
    col = max(column - 1, 0)
    # A column past the end of the line (a point just after it) keeps its distance.
    beyond = max(col - len(text), 0)
    return lsp.Position(line=index, character=_units(text[:col], encoding) + beyond)


def span_range(lines: Sequence[str], span: Span, encoding: str) -> lsp.Range:
    return lsp.Range(
        start=_position(lines, span.line, span.column, encoding),
        end=_position(lines, span.end_line, span.end_column, encoding),
    )


def text_lines(text: str) -> list[str]:
    """Lines as the engine counts them (`Source`: split at LF, a CR stays in the line)."""
    return text.split("\n")


# -- uris -------------------------------------------------------------------------


def uri_path(uri: str) -> Path | None:
    """The file a `file:` URI names, else None (an untitled buffer, say)."""
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        return None
    path = unquote(parsed.path)
    if parsed.netloc:
        path = f"//{parsed.netloc}{path}"
    return Path(path)


def is_lintable(rel: str) -> bool:
    """A workflow or action file: what digestgate reads as YAML."""
    if is_action_path(rel):
        return True
    parent = str(PurePosixPath(rel).parent)
    return rel.endswith(YAML_SUFFIXES) and any(parent == d for d, _ in WORKFLOW_DIRS)


def locate(path: Path) -> tuple[Path, str] | None:
    """The repository root of `path` and its repository-relative POSIX path."""
    root = find_root(path)
    real = path.parent.resolve() / path.name
    rel = Path(os.path.relpath(real, root)).as_posix()
    if rel == ".." or rel.startswith("../"):
        return None
    return root, rel


# -- checking (in the worker thread) ------------------------------------------------


@dataclass
class Outcome:
    findings: list[Finding] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)  # path -> the text checked
    config_error: ConfigError | None = None
    error: str | None = None  # an internal error, with its traceback
    seconds: float = 0.0


def run_check(root: Path, documents: Mapping[str, str]) -> Outcome:
    """Check the repository at `root` with `documents` (path -> unsaved text) read
    before the disk. Never raises: a failure is in the outcome."""
    from digestgate.engine import Options, check_target

    start = time.perf_counter()
    stdin = {rel: text.encode("utf-8", "replace") for rel, text in documents.items()}
    options = Options(keep_models=True)
    outcome = Outcome()
    # As `engine.check` does: the cyclic collector only slows a check down.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        result = check_target(Target(root, str(root), only=None, stdin=stdin), options)
        outcome.findings.extend(result.findings)
        read = set(result.repository.files) if result.repository else set()
        if result.repository is not None:
            outcome.texts.update((p, s.text) for p, s in result.repository.sources.items())
        # Open files no workflow reaches (an action published by this repository, a
        # workflow not saved yet): checked as `check FILE` would, the rest as context.
        missed = {rel for rel in documents if is_lintable(rel) and rel not in read}
        if missed:
            extra = check_target(Target(root, str(root), only=missed, stdin=stdin), options)
            outcome.findings.extend(extra.findings)
            if extra.repository is not None:
                outcome.texts.update((p, s.text) for p, s in extra.repository.sources.items())
    except ConfigError as exc:
        outcome.config_error = exc
    except Exception as exc:
        from digestgate.repository import PROGRESS

        where = f" while checking {PROGRESS.current}" if PROGRESS.current else ""
        detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        outcome.error = f"internal error{where} (a bug: please report it):\n{detail}"
    finally:
        if was_enabled:
            gc.enable()
    outcome.seconds = time.perf_counter() - start
    return outcome


# -- diagnostics --------------------------------------------------------------------


_SEVERITY = {
    Severity.ERROR: lsp.DiagnosticSeverity.Error,
    Severity.WARNING: lsp.DiagnosticSeverity.Warning,
}


@dataclass
class _Repo:
    """The server's state for one repository."""

    root: Path
    published: set[str] = field(default_factory=set)  # uris last given diagnostics
    config_uri: str | None = None  # a configuration file with an error shown
    timer: asyncio.TimerHandle | None = None
    running: bool = False
    again: bool = False


class DigestgateServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__(SOURCE, __version__)
        self.debounce = DEFAULT_DEBOUNCE_MS / 1000
        self.documents: dict[str, tuple[Path, str]] = {}  # open uri -> (root, path)
        self.repos: dict[Path, _Repo] = {}
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="digestgate-check")
        self.tasks: set[asyncio.Task[None]] = set()
        self.shown: set[str] = set()  # messages already shown once

    # -- scheduling

    def schedule(self, root: Path, delay: float) -> None:
        """Check `root` after `delay` seconds of quiet (a later call restarts the wait)."""
        repo = self.repos.setdefault(root, _Repo(root))
        if repo.timer is not None:
            repo.timer.cancel()
        loop = asyncio.get_running_loop()
        repo.timer = loop.call_later(delay, self._start, repo)

    def _start(self, repo: _Repo) -> None:
        repo.timer = None
        if repo.running:
            repo.again = True
            return
        task = asyncio.get_running_loop().create_task(self._run(repo))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _run(self, repo: _Repo) -> None:
        repo.running = True
        try:
            while True:
                repo.again = False
                snapshot = self._snapshot(repo.root)
                documents = {rel: text for rel, (_, text, _) in snapshot.items()}
                loop = asyncio.get_running_loop()
                outcome = await loop.run_in_executor(self.worker, run_check, repo.root, documents)
                if self.repos.get(repo.root) is repo:  # not closed meanwhile
                    self._report(repo, outcome, snapshot)
                if not repo.again:
                    break
        except Exception:
            self.log(f"digestgate: {traceback.format_exc()}", lsp.MessageType.Error)
        finally:
            repo.running = False

    def _snapshot(self, root: Path) -> dict[str, tuple[str, str, int | None]]:
        """Open documents of `root`: path -> (uri, text, version)."""
        out = {}
        for uri, (doc_root, rel) in self.documents.items():
            if doc_root == root:
                doc = self.workspace.get_text_document(uri)
                out[rel] = (uri, doc.source, doc.version)
        return out

    # -- publishing

    def _report(
        self, repo: _Repo, outcome: Outcome, snapshot: dict[str, tuple[str, str, int | None]]
    ) -> None:
        if outcome.error is not None:
            self.log(f"digestgate: {outcome.error}", lsp.MessageType.Error)
            self.show_once("digestgate: internal error; see the log", lsp.MessageType.Error)
            return
        if outcome.config_error is not None:
            self._config_error(repo, outcome.config_error)
            return
        if repo.config_uri is not None:
            self.publish(repo.config_uri, [])
            repo.config_uri = None
        uris = {rel: uri for rel, (uri, _, _) in snapshot.items()}
        versions = {uri: version for uri, _, version in snapshot.values()}
        encoding = str(self.workspace.position_encoding or lsp.PositionEncodingKind.Utf16)
        lines: dict[str, list[str]] = {}

        def lines_of(rel: str) -> list[str]:
            if rel not in lines:
                text = outcome.texts.get(rel)
                if text is None:
                    text = snapshot[rel][1] if rel in snapshot else _disk_text(repo.root / rel)
                lines[rel] = text_lines(text)
            return lines[rel]

        def uri_of(rel: str) -> str:
            return uris.get(rel) or (repo.root / rel).as_uri()

        by_uri: dict[str, list[lsp.Diagnostic]] = {
            uri: [] for rel, uri in uris.items() if is_lintable(rel)
        }
        for f in outcome.findings:
            diagnostic = to_diagnostic(f, lines_of, uri_of, encoding)
            by_uri.setdefault(uri_of(f.location.path), []).append(diagnostic)
        for uri in repo.published - by_uri.keys():
            by_uri[uri] = []
        for uri, diagnostics in by_uri.items():
            self.publish(uri, diagnostics, versions.get(uri))
        repo.published = {uri for uri, d in by_uri.items() if d}
        self.log(
            f"digestgate: checked {repo.root} in {outcome.seconds * 1000:.0f} ms: "
            f"{len(outcome.findings)} findings in {len(repo.published)} files",
            lsp.MessageType.Log,
        )

    def _config_error(self, repo: _Repo, exc: ConfigError) -> None:
        """A diagnostic on the configuration file, and one message to say why the
        workflows' diagnostics are not updated."""
        if exc.file is not None:
            uri = Path(exc.file).resolve().as_uri()
            line = max((exc.line or 1) - 1, 0)
            message = f"{exc.key}: {exc.reason}" if exc.key else exc.reason
            diagnostic = lsp.Diagnostic(
                range=lsp.Range(
                    start=lsp.Position(line=line, character=0),
                    end=lsp.Position(line=line + 1, character=0),
                ),
                message=message,
                severity=lsp.DiagnosticSeverity.Error,
                source=SOURCE,
            )
            if repo.config_uri is not None and repo.config_uri != uri:
                self.publish(repo.config_uri, [])
            self.publish(uri, [diagnostic])
            repo.config_uri = uri
        self.show_once(
            f"digestgate: {exc}; diagnostics are not updated until it is fixed",
            lsp.MessageType.Error,
        )

    def publish(
        self, uri: str, diagnostics: list[lsp.Diagnostic], version: int | None = None
    ) -> None:
        self.text_document_publish_diagnostics(
            lsp.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics, version=version)
        )

    def log(self, message: str, kind: lsp.MessageType = lsp.MessageType.Info) -> None:
        self.window_log_message(lsp.LogMessageParams(type=kind, message=message))

    def show_once(self, message: str, kind: lsp.MessageType) -> None:
        self.log(message, kind)
        if message not in self.shown:
            self.shown.add(message)
            self.window_show_message(lsp.ShowMessageParams(type=kind, message=message))

    # -- documents

    def opened(self, uri: str) -> Path | None:
        """Remember an open workflow or action file; its root, or None if not one."""
        path = uri_path(uri)
        found = locate(path) if path is not None else None
        if found is None or not is_lintable(found[1]):
            return None
        self.documents[uri] = found
        return found[0]

    def closed(self, uri: str) -> None:
        place = self.documents.pop(uri, None)
        if place is None:
            return
        root = place[0]
        if any(r == root for r, _ in self.documents.values()):
            self.schedule(root, 0)  # the file is read from the disk again
            return
        # The last open file of the repository: forget it and clear what was shown.
        repo = self.repos.pop(root, None)
        if repo is None:
            return
        if repo.timer is not None:
            repo.timer.cancel()
        for shown in (*repo.published, *([repo.config_uri] if repo.config_uri else [])):
            self.publish(shown, [])

    def root_of(self, uri: str) -> Path | None:
        place = self.documents.get(uri)
        return place[0] if place is not None else None


def to_diagnostic(
    finding: Finding,
    lines_of: Callable[[str], Sequence[str]],
    uri_of: Callable[[str], str],
    encoding: str,
) -> lsp.Diagnostic:
    """One finding as a diagnostic: `lines_of(path)` gives a file's lines,
    `uri_of(path)` its URI."""

    def where(loc: Location) -> lsp.Range:
        return span_range(lines_of(loc.path), loc.span, encoding)

    related = [
        lsp.DiagnosticRelatedInformation(
            location=lsp.Location(uri=uri_of(loc.path), range=where(loc)),
            message=loc.message or "related location",
        )
        for loc in finding.related
    ]
    return lsp.Diagnostic(
        range=where(finding.location),
        message=finding.message,
        severity=_SEVERITY[finding.severity],
        code=finding.code,
        code_description=lsp.CodeDescription(href=help_uri(finding.code)),
        source=SOURCE,
        related_information=related or None,
    )


def _disk_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8", "replace")
    except OSError:
        return ""


def _debounce_option(options: Any) -> float | None:
    """`initializationOptions.debounceMs` in seconds, None when absent or not a number."""
    if not isinstance(options, dict):
        return None
    value = options.get("debounceMs")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return min(max(float(value), 0.0), MAX_DEBOUNCE_MS) / 1000


def build_server() -> DigestgateServer:
    server = DigestgateServer()

    @server.feature(lsp.INITIALIZE)
    def initialize(ls: DigestgateServer, params: lsp.InitializeParams) -> None:
        options = params.initialization_options
        debounce = _debounce_option(options)
        if debounce is not None:
            ls.debounce = debounce
        elif isinstance(options, dict) and "debounceMs" in options:
            ls.log("digestgate: initializationOptions.debounceMs must be a number of ms")

    @server.feature(lsp.INITIALIZED)
    async def initialized(ls: DigestgateServer, params: lsp.InitializedParams) -> None:
        watched = ls.client_capabilities.workspace
        dynamic = watched and watched.did_change_watched_files
        if not (dynamic and dynamic.dynamic_registration):
            return  # the configuration is still read again on every check
        registration = lsp.Registration(
            id=_WATCH_ID,
            method=lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES,
            register_options=lsp.DidChangeWatchedFilesRegistrationOptions(
                watchers=[lsp.FileSystemWatcher(glob_pattern=g) for g in WATCHED]
            ),
        )
        try:
            await ls.client_register_capability_async(
                lsp.RegistrationParams(registrations=[registration])
            )
        except Exception as exc:
            ls.log(f"digestgate: the client refused the file watcher: {exc}")

    @server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: DigestgateServer, params: lsp.DidOpenTextDocumentParams) -> None:
        root = ls.opened(params.text_document.uri)
        if root is not None:
            ls.schedule(root, 0)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: DigestgateServer, params: lsp.DidChangeTextDocumentParams) -> None:
        root = ls.root_of(params.text_document.uri)
        if root is not None:
            ls.schedule(root, ls.debounce)

    @server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: DigestgateServer, params: lsp.DidSaveTextDocumentParams) -> None:
        root = ls.root_of(params.text_document.uri)
        if root is None:
            # Another file of an open repository (a script a step runs): read from disk.
            path = uri_path(params.text_document.uri)
            found = locate(path) if path is not None else None
            root = found[0] if found is not None and found[0] in ls.repos else None
        if root is not None:
            ls.schedule(root, 0)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: DigestgateServer, params: lsp.DidCloseTextDocumentParams) -> None:
        ls.closed(params.text_document.uri)

    @server.feature(lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def did_change_watched(ls: DigestgateServer, params: lsp.DidChangeWatchedFilesParams) -> None:
        roots = set()
        for change in params.changes:
            path = uri_path(change.uri)
            if path is not None:
                roots.add(find_root(path))
        for root in roots & ls.repos.keys():
            ls.schedule(root, 0)

    @server.feature(lsp.SHUTDOWN)
    def shutdown(ls: DigestgateServer, params: None) -> None:
        for repo in ls.repos.values():
            if repo.timer is not None:
                repo.timer.cancel()
        ls.worker.shutdown(wait=False, cancel_futures=True)

    return server


def serve() -> None:
    """Run the server on stdin and stdout until the client says `exit`."""
    build_server().start_io()
