"""What a build compiled with mypyc (release wheels, see hatch_build.py) needs of the
source of the modules it compiles: constructs that work in Python and change meaning,
or cost, once compiled. CI also runs the whole suite against such a build."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _compiled_modules() -> list[str]:
    """The modules a mypyc build compiles (`COMPILED` in hatch_build.py)."""
    tree = ast.parse((ROOT / "hatch_build.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and [ast.unparse(t) for t in node.targets] == ["COMPILED"]:
            names: list[str] = ast.literal_eval(node.value)
            return names
    raise AssertionError("hatch_build.py has no COMPILED")


def _compiled_nodes() -> Iterator[tuple[str, ast.AST]]:
    """Every syntax node of the compiled modules, with its module's file name."""
    names = _compiled_modules()
    assert len(names) > 10
    for name in names:
        path = ROOT / "linter" / "digestgate" / f"{name}.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            yield path.name, node


def test_compiled_code_has_no_nested_functions_calling_each_other() -> None:
    # mypyc keeps a function's nested functions in one environment object that each
    # of them points back to: when one nested function uses another, that is a cycle
    # for every call of the outer function (test_engine_gc finds it in a compiled
    # build, which CI checks; this finds it in the source).
    found = []
    for file, outer in _compiled_nodes():
        if not isinstance(outer, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        nested = [
            node
            for node in ast.walk(outer)
            if node is not outer and isinstance(node, ast.FunctionDef | ast.Lambda)
        ]
        named = {node.name for node in nested if isinstance(node, ast.FunctionDef)}
        for node in nested:
            used = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} & named
            if used:
                found.append(f"{file}:{node.lineno} uses {sorted(used)}")
    assert found == []


def test_compiled_code_uses_no_cached_property() -> None:
    # mypyc compiles `functools.cached_property` as a plain property: the value is
    # worked out again at every use (the graph's edge index, asked for every job, made
    # a 1,300-job repository take minutes).
    found = [
        f"{file}:{getattr(node, 'lineno', 0)}"
        for file, node in _compiled_nodes()
        if isinstance(node, ast.Name | ast.Attribute)
        and "cached_property" in (getattr(node, "id", None), getattr(node, "attr", None))
    ]
    assert found == []


def test_compiled_dataclasses_have_no_init_false_fields() -> None:
    # a compiled dataclass's __init__ leaves a `field(init=False, default=...)` unset:
    # the first read raises AttributeError
    found = [
        f"{file}:{getattr(node, 'lineno', 0)}"
        for file, node in _compiled_nodes()
        if isinstance(node, ast.Call)
        and ast.unparse(node.func) in ("field", "dataclasses.field")
        and any(
            k.arg == "init" and isinstance(k.value, ast.Constant) and k.value.value is False
            for k in node.keywords
        )
    ]
    assert found == []
