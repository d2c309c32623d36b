"""The result cache (`digestgate.cache`): a warm run gives what a cold run gives, and
any change to a file the check read, or to a path it looked for, is noticed.

`tests/fixtures/cache/repo` draws a finding from every kind of file a check reads (a
workflow, a reusable workflow, a local action, shell and Python scripts, a module run
with `python -m`, a compose file) and names a script that does not exist yet. Each
test copies it to a temporary folder and checks it through the engine (counting the
repositories actually checked) or through the real command line.
"""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from multiprocessing import get_context
from pathlib import Path

import pytest

from conftest import FIXTURES
from digestgate import cache, engine
from digestgate.cache import MISSING, Entry, Store
from digestgate.discover import targets
from digestgate.findings import Finding

REPO = FIXTURES / "cache" / "repo"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return Path(shutil.copytree(REPO, tmp_path / "repo"))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def checked(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The roots `engine.check_target` really checks (a cache hit does not call it)."""
    seen: list[str] = []
    real = engine.check_target

    def counting(target: engine.Target, options: engine.Options) -> engine.RepoResult:
        seen.append(str(target.root))
        return real(target, options)

    monkeypatch.setattr(engine, "check_target", counting)
    return seen


def run(path: Path, folder: Path, **options: object) -> list[Finding]:
    opts = engine.Options(keep_models=False, cache=True, cache_dir=folder, jobs=1)
    for name, value in options.items():
        setattr(opts, name, value)
    return engine.check([str(path)], opts).findings


def fresh(path: Path, **options: object) -> list[Finding]:
    return run(path, Path("/nonexistent"), cache=False, **options)


def summary(findings: list[Finding]) -> list[tuple[str, str, int, str]]:
    return [(f.code, f.path, f.span.line, f.message) for f in findings]


def test_a_warm_run_returns_the_same_findings_without_checking(
    repo: Path, folder: Path, checked: list[str]
) -> None:
    cold = run(repo, folder)
    assert len(cold) == 8  # one finding drawn from each file (see the fixture)
    assert checked == [str(repo)]
    warm = run(repo, folder)
    assert checked == [str(repo)]  # not checked again
    assert warm == cold
    assert [f.fingerprint for f in warm] == [f.fingerprint for f in cold]


def _edit(rel: str, old: str, new: str) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        path = root / rel
        text = path.read_text(encoding="utf-8")
        assert old in text
        path.write_text(text.replace(old, new), encoding="utf-8")

    return edit


def _write(rel: str, text: str) -> Callable[[Path], None]:
    def write(root: Path) -> None:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    return write


PINNED = "@sha256:" + "a" * 64
CHANGES = {
    "workflow": _edit(".github/workflows/deploy.yml", "api:stable", "api" + PINNED),
    "local action": _edit(".github/actions/push/action.yml", "app:edge", "app:edge2"),
    "shell script": _edit("scripts/publish.sh", "base:3.20", "base" + PINNED),
    "python script": _edit("scripts/tag.py", "tools:1.0", "tools" + PINNED),
    "python module": _edit("tools/mirror.py", "mirror:2", "mirror:3"),
    "compose file": _edit("deploy/compose.yml", "web:1.4", "web" + PINNED),
    "missing script appears": _write(
        "scripts/later.sh", "#!/bin/sh\ndocker pull ghcr.io/acme/late:1\n"
    ),
    "missing module appears": _write(
        "tools/later.py", "import os\nos.system('docker pull ghcr.io/acme/later:2')\n"
    ),
    "missing action appears": _write(
        ".github/actions/later/action.yml",
        "name: Later\nruns:\n  using: composite\n  steps:\n"
        "    - run: docker pull ghcr.io/acme/action:1\n      shell: bash\n",
    ),
    "new workflow": _write(
        ".github/workflows/nightly.yml",
        "on: schedule\njobs:\n  x:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - run: docker pull ghcr.io/acme/nightly:1\n",
    ),
    "configuration": _write(".digestgate.toml", 'ignore = ["DG101"]\n'),
}


@pytest.mark.parametrize("change", list(CHANGES), ids=list(CHANGES))
def test_a_change_invalidates(
    change: str, repo: Path, folder: Path, checked: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    before = run(repo, folder)
    CHANGES[change](repo)
    after = run(repo, folder)
    assert checked == [str(repo), str(repo)]  # checked again, not taken from the cache
    assert summary(after) != summary(before)  # the change matters to the findings
    monkeypatch.undo()
    assert after == fresh(repo)
    # and the new result is cached in its turn
    assert run(repo, folder) == after


def test_an_edit_that_keeps_size_and_time_is_seen(
    repo: Path, folder: Path, checked: list[str]
) -> None:
    """The times are trusted only for files not modified around the check; the
    change time (which no one can set back) catches the rest."""
    script = repo / "scripts" / "publish.sh"
    old = time.time() - 3600
    for path in repo.rglob("*"):
        os.utime(path, (old, old))
    before = run(repo, folder)
    st = os.stat(script)
    script.write_text(script.read_text().replace("3.20", "3.21"))  # same size
    os.utime(script, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.stat(script).st_size == st.st_size
    after = run(repo, folder)
    assert len(checked) == 2
    assert "ghcr.io/acme/base:3.21" in " ".join(f.message for f in after)
    assert after != before


def test_touching_a_file_keeps_the_entry(repo: Path, folder: Path, checked: list[str]) -> None:
    before = run(repo, folder)
    now = time.time() + 10
    os.utime(repo / "scripts" / "publish.sh", (now, now))
    assert run(repo, folder) == before
    assert len(checked) == 1  # same content: still a hit


def test_options_are_part_of_the_key(repo: Path, folder: Path, checked: list[str]) -> None:
    everything = run(repo, folder)
    only_dg2 = run(repo, folder, select=["DG2"])
    assert {f.code for f in only_dg2} == {"DG201", "DG202"}
    assert len(checked) == 2
    assert run(repo, folder) == everything
    file_only = engine.check(
        [str(repo / ".github/workflows/deploy.yml")],
        engine.Options(keep_models=False, cache=True, cache_dir=folder),
    ).findings
    assert {f.path for f in file_only} == {".github/workflows/deploy.yml"}


def test_a_corrupt_entry_is_a_miss(repo: Path, folder: Path, checked: list[str]) -> None:
    expected = run(repo, folder)
    (entry,) = (folder / f"v{cache.FORMAT}").glob("*.pickle")
    for garbage in (b"", b"\x80\x05not a pickle", pickle.dumps({"some": "thing"})):
        entry.write_bytes(garbage)
        assert run(repo, folder) == expected
    assert len(checked) == 4
    assert run(repo, folder) == expected  # rewritten: a hit again
    assert len(checked) == 4


def test_stdin_content_is_never_cached(repo: Path, folder: Path) -> None:
    options = engine.Options(
        keep_models=False,
        cache=True,
        cache_dir=folder,
        stdin=b"on: push\njobs: {}\n",
        stdin_filename=str(repo / ".github/workflows/release.yml"),
    )
    engine.check(["-"], options)
    assert not list((folder / f"v{cache.FORMAT}").glob("*.pickle"))


def test_models_kept_are_never_cached(repo: Path, folder: Path) -> None:
    options = engine.Options(keep_models=True, cache=True, cache_dir=folder)
    result = engine.check([str(repo)], options)
    assert result.repos[0].repository is not None
    assert not folder.exists()


def _cli(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "digestgate", "check", "--no-config", "-q", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def env(folder: Path) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if k != "GITHUB_REPOSITORY"}
    out["DIGESTGATE_CACHE_DIR"] = str(folder)
    return out


def test_no_cache_neither_reads_nor_writes(repo: Path, folder: Path, env: dict[str, str]) -> None:
    first = _cli("--no-cache", "repo", cwd=repo.parent, env=env)
    assert first.returncode == 1 and first.stdout.count("\n") == 8
    assert not folder.exists()
    # Make an entry, then poison it: a run that reads the cache shows the poison.
    assert _cli("repo", cwd=repo.parent, env=env).stdout == first.stdout
    (path,) = (folder / f"v{cache.FORMAT}").glob("*.pickle")
    entry = pickle.loads(path.read_bytes())
    entry.result.findings.clear()
    path.write_bytes(pickle.dumps(entry))
    assert _cli("repo", cwd=repo.parent, env=env).stdout == ""
    assert _cli("--no-cache", "repo", cwd=repo.parent, env=env).stdout == first.stdout
    assert pickle.loads(path.read_bytes()).result.findings == []  # not rewritten


def test_concurrent_runs_share_the_folder(repo: Path, folder: Path, env: dict[str, str]) -> None:
    expected = _cli("--no-cache", "repo", cwd=repo.parent, env=env).stdout
    for _ in range(3):
        shutil.rmtree(folder, ignore_errors=True)
        runs = [
            subprocess.Popen(
                [sys.executable, "-m", "digestgate", "check", "--no-config", "-q", "repo"],
                cwd=repo.parent,
                env=env,
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(3)
        ]
        outputs = [p.communicate()[0] for p in runs]
        assert outputs == [expected] * 3
        assert [p.returncode for p in runs] == [1, 1, 1]
        assert len(list((folder / f"v{cache.FORMAT}").iterdir())) == 1  # no temporary files
    assert _cli("repo", cwd=repo.parent, env=env).stdout == expected


def _hammer(folder: str, key: str, rounds: int) -> int:
    """Save and load one key over and over; count loads that gave a whole entry."""
    store = Store(Path(folder))
    entry = store.load(key)
    assert entry is not None
    whole = 0
    for i in range(rounds):
        store.save(entry._replace(listing=[*entry.listing][: i % 2 + 1]))
        found = store.load(key)
        assert found is not None and found.key == key  # never a partial entry
        whole += 1
    return whole


def test_concurrent_writers_never_leave_a_partial_entry(repo: Path, folder: Path) -> None:
    run(repo, folder)
    store = Store.open(folder)
    assert store is not None
    (target,) = targets([str(repo)])
    key = cache.key(target, engine.Options(keep_models=False, cache=True, cache_dir=folder))
    with get_context("spawn").Pool(3) as pool:
        counts = pool.starmap(_hammer, [(str(store.folder), key, 40)] * 3)
    assert counts == [40, 40, 40]
    assert store.load(key) is not None


def test_the_folder_is_bounded(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "c")
    assert store is not None
    for i in range(20):
        path = store.folder / f"{i:032x}.pickle"
        path.write_bytes(b"x" * 1000)
        os.utime(path, (1000 + i, 1000 + i))  # older first
    (store.folder / ".tmp-left-by-a-killed-run.pickle").write_bytes(b"x")
    os.utime(store.folder / ".tmp-left-by-a-killed-run.pickle", (1, 1))
    store.prune(max_bytes=10_000)  # 20 kB: pruned to three quarters of the bound
    left = sorted(p.name for p in store.folder.iterdir())
    assert left == [f"{i:032x}.pickle" for i in range(13, 20)]
    store.prune(max_bytes=10_000)  # under the bound: nothing more
    assert len(list(store.folder.iterdir())) == 7


def test_a_folder_others_can_write_to_is_not_used(tmp_path: Path) -> None:
    if not hasattr(os, "getuid"):
        pytest.skip("POSIX permissions")
    shared = tmp_path / "shared"
    (shared / f"v{cache.FORMAT}").mkdir(parents=True)
    os.chmod(shared / f"v{cache.FORMAT}", 0o777)
    assert Store.open(shared) is None
    assert Store.open(tmp_path / "private") is not None


def test_the_default_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DIGESTGATE_CACHE_DIR", str(tmp_path / "here"))
    assert cache.default_folder() == tmp_path / "here"
    monkeypatch.delenv("DIGESTGATE_CACHE_DIR")
    if sys.platform.startswith("linux"):
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
        assert cache.default_folder() == tmp_path / "xdg" / "digestgate"
        monkeypatch.setenv("XDG_CACHE_HOME", "relative/is/ignored")
        assert cache.default_folder() == Path.home() / ".cache" / "digestgate"


AUDIT = """
import sys
from pathlib import Path
from digestgate import cache, engine
from digestgate.discover import targets

root = Path(sys.argv[1]).resolve()
opened = set()

def hook(event, args):
    if event == "open" and isinstance(args[0], str) and args[0].startswith(str(root)):
        opened.add(args[0])

(target,) = targets([str(root)])
options = engine.Options(keep_models=False)
with cache.recording() as reads:
    sys.addaudithook(hook)
    engine.check_target(target, options)
missed = sorted(opened - set(reads.paths))
print("\\n".join(missed))
print(len(reads.paths), file=sys.stderr)
"""


def test_every_file_the_check_opens_is_recorded(repo: Path) -> None:
    """Reads that bypass `note_read` would make the cache miss a change: the check
    runs under an audit hook that sees every `open` (probes of missing paths are
    covered by the tests above)."""
    (repo / "scripts" / "later.sh").write_text("docker pull ghcr.io/acme/late:1\n")
    done = subprocess.run(
        [sys.executable, "-c", AUDIT, str(repo)], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == ""
    assert int(done.stderr.strip()) >= 8


@pytest.fixture
def repos(tmp_path: Path) -> Iterator[list[Path]]:
    """Several repositories: the cache fixture and the bundled fixture cases."""
    out = [Path(shutil.copytree(REPO, tmp_path / "cache-repo"))]
    out += sorted(p for p in (FIXTURES / "cases").iterdir() if p.is_dir())[:12]
    yield out


def test_parallel_results_equal_serial_in_order(repos: list[Path]) -> None:
    paths = [str(p) for p in repos]
    serial = engine.check(paths, engine.Options(keep_models=False, jobs=1))
    parallel = engine.check(paths, engine.Options(keep_models=False, jobs=3))
    assert [r.findings for r in parallel.repos] == [r.findings for r in serial.repos]
    assert [r.files for r in parallel.repos] == [r.files for r in serial.repos]
    assert parallel.findings == serial.findings
    assert len(serial.findings) > 20


def test_a_worker_error_is_raised_at_its_turn_with_its_file(
    repos: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from digestgate.repository import PROGRESS

    bad = repos[3]
    real = engine.run_rules

    def failing(repo: engine.Repository, graph: object, config: object) -> list[Finding]:
        if repo.root == bad.resolve():
            raise RuntimeError("boom")
        return real(repo, graph, config)  # type: ignore[arg-type]

    monkeypatch.setattr(engine, "run_rules", failing)  # forked workers inherit it
    PROGRESS.current = None
    with pytest.raises(RuntimeError, match="boom"):
        engine.check([str(p) for p in repos], engine.Options(keep_models=False, jobs=2))
    assert PROGRESS.current is not None and str(bad.resolve()) in PROGRESS.current


def test_entries_hold_the_result(repo: Path, folder: Path) -> None:
    findings = run(repo, folder)
    (path,) = (folder / f"v{cache.FORMAT}").glob("*.pickle")
    entry = pickle.loads(path.read_bytes())
    assert isinstance(entry, Entry)
    assert entry.result.findings == findings
    assert entry.listing == [
        ".github/workflows/deploy.yml",
        ".github/workflows/extras.yml",
        ".github/workflows/release.yml",
    ]
    read = {os.path.relpath(p, repo) for p, seen in entry.reads.paths.items() if seen.read}
    assert {"scripts/publish.sh", "tools/mirror.py", "deploy/compose.yml"} <= read
    missing = {os.path.relpath(p, repo) for p, s in entry.reads.paths.items() if s.kind == MISSING}
    assert {"scripts/later.sh", "tools/later.py", ".github/actions/later/action.yml"} <= missing
    assert {".digestgate.toml", "pyproject.toml"} <= missing
