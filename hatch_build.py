"""Build hook: compile digestgate's hot modules to C with mypyc, for release wheels.

Off by default: an editable install (the README's) and a plain `pip wheel .` give pure
Python. With `DIGESTGATE_MYPYC=1` in the environment, a regular (not editable) wheel
build compiles the modules in `COMPILED` and ships each one's extension next to its
source, which Python imports first. The editable case is refused on purpose: extension
modules in the source tree would shadow the `.py` files being edited.

The modules are the ones a check spends its time in (see docs/architecture.md); the
command line, language server, runtime check and rules stay interpreted (rules are
classes an interpreted plug-in may subclass, and they are a small part of a run). The
generated C and the compiler's output live in a temporary folder, never in the tree.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

COMPILED = (
    "builder",
    "catalogue",
    "commands",
    "compose",
    "facts",
    "gates",
    "graph",
    "imageref",
    "metadata_action",
    "model",
    "nodes",
    "provenance",
    "pyscripts",
    "roles",
    "shell",
    "span",
    "stepfacts",
)

# mypy's view of the code, without strictness (the type check itself is CI's job;
# mypyc needs the types, not the lint). The build environment may lack the runtime
# dependencies: what they give is typed `Any`, which compiled code handles as objects.
_MYPY_CONFIG = """\
[mypy]
python_version = {version}
mypy_path = linter
ignore_missing_imports = True
"""


def wanted() -> bool:
    return os.environ.get("DIGESTGATE_MYPYC", "") not in ("", "0")


class CompileHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def dependencies(self) -> list[str]:
        return ["mypy>=1.10", "setuptools>=65"] if wanted() else []

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if not wanted() or self.target_name != "wheel":
            return
        if version == "editable":
            sys.exit("DIGESTGATE_MYPYC=1 builds a regular wheel, not an editable install")
        # The folder lives until `finalize`: the wheel is written from it after this.
        self._folder = Path(tempfile.mkdtemp(prefix="digestgate-mypyc-"))
        lib = self._folder / "lib"
        for path in _compile(Path(self.root), self._folder):
            build_data["force_include"][str(path)] = path.relative_to(lib).as_posix()
        build_data["pure_python"] = False
        build_data["infer_tag"] = True

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        folder = getattr(self, "_folder", None)
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)


def _compile(root: Path, tmp: Path) -> list[Path]:
    from mypyc.build import mypycify
    from setuptools import Distribution
    from setuptools.command.build_ext import build_ext

    config = tmp / "mypy.ini"
    config.write_text(
        _MYPY_CONFIG.format(version=f"{sys.version_info[0]}.{sys.version_info[1]}"),
        encoding="utf-8",
    )
    sources = [f"linter/digestgate/{name}.py" for name in COMPILED]
    here = os.getcwd()
    os.chdir(root)  # mypy names modules from the paths it is given
    try:
        extensions = mypycify(
            ["--config-file", str(config), "--cache-dir", str(tmp / "mypy-cache"), *sources],
            target_dir=str(tmp / "c"),
            separate=True,  # one extension per module: built in parallel
        )
        distribution = Distribution({"name": "digestgate", "ext_modules": extensions})
        command = build_ext(distribution)
        command.build_lib = str(tmp / "lib")
        command.build_temp = str(tmp / "obj")
        command.parallel = os.cpu_count() or 1
        command.ensure_finalized()
        command.run()
    finally:
        os.chdir(here)
    return sorted(p for p in (tmp / "lib").rglob("*") if p.is_file())
