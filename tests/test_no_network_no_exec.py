"""Lint never touches the network and never runs anything.

`check` (the engine, and the command line in process) and `graph` run over every
fixture repository with sockets, name lookups and process creation forbidden:
monkeypatched guards raise and record the attempt. The guards are shown to trip, so
the test can fail. A second layer runs the same checks in a fresh interpreter with an
audit hook (`sys.addaudithook` cannot be removed, hence the subprocess) that sees
the lower-level events too (`socket.connect`, `os.exec`, `ctypes.dlopen`, ...) no
matter how a module got hold of the function.
"""

from __future__ import annotations

import _posixsubprocess
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from conftest import FIXTURES
from digestgate import cli, engine

ROOT = Path(__file__).resolve().parents[1]


def fixture_repositories() -> list[Path]:
    """Every fixture repository: cases, ok, cli, graph and the bundled example."""
    repos = sorted(p for p in (FIXTURES / "cases").iterdir() if p.is_dir())
    repos += sorted(p for p in (FIXTURES / "ok").iterdir() if p.is_dir())
    repos += [FIXTURES / "cli" / "repo", FIXTURES / "graph" / "repo", ROOT / "examples" / "shop"]
    return repos


REPOS = fixture_repositories()


class Forbidden(RuntimeError):
    pass


SOCKET_FUNCTIONS = (
    "socket",
    "create_connection",
    "getaddrinfo",
    "gethostbyname",
    "gethostbyname_ex",
    "socketpair",
    "fromfd",
)
# fmt: off
OS_FUNCTIONS = (
    "system", "popen", "fork", "forkpty", "posix_spawn", "posix_spawnp", "execl", "execle",
    "execlp", "execlpe", "execv", "execve", "execvp", "execvpe", "spawnl", "spawnle", "spawnlp",
    "spawnlpe", "spawnv", "spawnve", "spawnvp", "spawnvpe",
)
# fmt: on


@pytest.fixture
def guarded(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every way to open a socket or start a process raises `Forbidden`; the attempts
    are listed in the yielded list (so a caller that swallows the error still fails)."""
    attempts: list[str] = []

    def forbid(name: str) -> Any:
        def guard(*args: object, **kwargs: object) -> Any:
            attempts.append(name)
            raise Forbidden(f"{name} called while linting")

        return guard

    for name in SOCKET_FUNCTIONS:
        if hasattr(socket, name):
            monkeypatch.setattr(socket, name, forbid(f"socket.{name}"))
    for name in OS_FUNCTIONS:
        if hasattr(os, name):
            monkeypatch.setattr(os, name, forbid(f"os.{name}"))
    monkeypatch.setattr(subprocess, "Popen", forbid("subprocess.Popen"))
    # what Popen calls underneath, for code holding a reference to the real Popen
    monkeypatch.setattr(_posixsubprocess, "fork_exec", forbid("_posixsubprocess.fork_exec"))
    yield attempts


def test_the_guards_trip(guarded: list[str]) -> None:
    with pytest.raises(Forbidden):
        subprocess.run(["true"], check=False)
    with pytest.raises(Forbidden):
        socket.create_connection(("127.0.0.1", 9), timeout=1)
    with pytest.raises(Forbidden):
        socket.getaddrinfo("localhost", 80)
    with pytest.raises(Forbidden):
        os.system("true")
    with pytest.raises(Forbidden):
        os.execv("/bin/true", ["true"])
    with pytest.raises(Forbidden):
        os.fork()
    assert guarded == [
        "subprocess.Popen",
        "socket.create_connection",
        "socket.getaddrinfo",
        "os.system",
        "os.execv",
        "os.fork",
    ]


def test_check_over_every_fixture_with_guards(guarded: list[str]) -> None:
    files = findings = 0
    for repo in REPOS:
        result = engine.check([str(repo)], engine.Options(no_config=False))
        assert result.files > 0, repo
        files += result.files
        findings += len(result.findings)
    assert guarded == []
    # the checks really ran: the bad cases have findings
    assert files >= len(REPOS) and findings > len(list((FIXTURES / "cases").iterdir()))


def test_command_line_check_and_graph_with_guards(guarded: list[str]) -> None:
    runner = CliRunner()
    args = ["check", "--no-cache", "--jobs", "1", "--format", "json", *map(str, REPOS)]
    result = runner.invoke(cli._app(), args)
    assert result.exit_code == 1, result.output
    assert json.loads(result.stdout)["findings"]
    for repo in (FIXTURES / "graph" / "repo", ROOT / "examples" / "shop"):
        graph = runner.invoke(cli._app(), ["graph", "--format", "json", str(repo)])
        assert graph.exit_code == 0, graph.output
        assert json.loads(graph.stdout)["workflows"]
    assert guarded == []


# --- audit hook, in a fresh interpreter ------------------------------------------------

# fmt: off
FORBIDDEN_EVENTS = (
    "socket.__new__", "socket.connect", "socket.bind", "socket.getaddrinfo",
    "socket.gethostbyname", "socket.gethostbyaddr", "socket.sendto", "subprocess.Popen",
    "os.system", "os.exec", "os.spawn", "os.posix_spawn", "os.fork", "os.forkpty", "os.startfile",
    "pty.spawn", "ctypes.dlopen", "urllib.Request", "http.client.connect", "webbrowser.open",
)
# fmt: on

CHILD = """
import json, sys
forbidden = set(json.loads(sys.argv[1]))
seen = []

def hook(event, args):
    if event in forbidden:
        seen.append(event)
        raise RuntimeError(f"forbidden while linting: {event}")

from digestgate import engine, cli  # imported before the hook: imports are not linting
from typer.testing import CliRunner
sys.addaudithook(hook)
canary = sys.argv[2] == "canary"
try:
    if canary:  # the hook must see this, or the test proves nothing
        import subprocess
        subprocess.run(["true"])
    for repo in json.loads(sys.argv[3]):
        engine.check([repo], engine.Options())
    args = ["check", "--no-cache", "--jobs", "1", "--format", "json", *json.loads(sys.argv[3])]
    result = CliRunner().invoke(cli._app(), args)
    status = result.exit_code
except RuntimeError as exc:
    status = str(exc)
print(json.dumps({"seen": seen, "status": status}))
"""


def run_child(mode: str) -> dict[str, Any]:
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            json.dumps(FORBIDDEN_EVENTS),
            mode,
            json.dumps([str(r) for r in REPOS]),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    outcome: dict[str, Any] = json.loads(proc.stdout.splitlines()[-1])
    return outcome


def test_audit_hook_sees_nothing_forbidden() -> None:
    assert run_child("check") == {"seen": [], "status": 1}


def test_audit_hook_catches_a_process() -> None:
    outcome = run_child("canary")
    assert outcome["seen"] == ["subprocess.Popen"]
    assert outcome["status"] == "forbidden while linting: subprocess.Popen"
