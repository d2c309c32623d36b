"""Finding the rules: every module of `digestgate_rules`, plus the entry-point group
`digestgate.rules` for third-party rules (each entry point names a `Rule` subclass
or a module holding them). Adding a built-in rule is adding a file.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
from functools import cache
from types import ModuleType
from typing import TYPE_CHECKING

from digestgate.rule import Rule

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

GROUP = "digestgate.rules"


class RegistryError(Exception):
    pass


def _rules_in(module: ModuleType) -> list[type[Rule]]:
    return [
        obj
        for obj in vars(module).values()
        if isinstance(obj, type)
        and issubclass(obj, Rule)
        and obj is not Rule
        and obj.__module__ == module.__name__
    ]


def _builtin() -> list[type[Rule]]:
    import digestgate_rules

    found: list[type[Rule]] = []
    for info in sorted(pkgutil.iter_modules(digestgate_rules.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        found.extend(_rules_in(importlib.import_module(f"digestgate_rules.{info.name}")))
    return found


def plugin_entry_points() -> tuple[EntryPoint, ...]:
    """The entry points of the group `digestgate.rules`, in importlib.metadata's order.

    importlib.metadata reads the entry points of every installed distribution, a
    tenth of checking a small workflow; when distributions can only come from folders
    on `sys.path`, their `entry_points.txt` files are searched for the group's name
    first, and importlib.metadata is not asked when no file names it."""
    if not _may_declare(GROUP):
        return ()
    from importlib.metadata import entry_points

    return tuple(entry_points(group=GROUP))


def _may_declare(group: str) -> bool:
    """Whether a distribution on `sys.path` may declare entry points of `group`
    (False only when none can: every place distributions come from was read)."""
    from importlib.machinery import PathFinder

    if any(
        hasattr(finder, "find_distributions") and finder is not PathFinder
        for finder in sys.meta_path
    ):
        return True
    needle = group.encode()  # loosely: a false hit only costs the full search
    for folder in sys.path:
        try:
            entries = os.scandir(folder or ".")
        except NotADirectoryError:
            return True  # a zip archive on the path may hold distributions
        except OSError:
            continue
        with entries:
            for entry in entries:
                if not entry.name.endswith((".dist-info", ".egg-info")):
                    continue
                try:
                    with open(os.path.join(entry.path, "entry_points.txt"), "rb") as fh:
                        if needle in fh.read():
                            return True
                except OSError:
                    continue
    return False


def _plugins() -> list[type[Rule]]:
    found: list[type[Rule]] = []
    for ep in plugin_entry_points():
        try:
            obj = ep.load()
        except Exception as exc:  # a broken plugin must not take the linter down
            raise RegistryError(f"cannot load rule plugin {ep.name!r} ({ep.value}): {exc}") from exc
        if isinstance(obj, ModuleType):
            found.extend(_rules_in(obj))
        elif isinstance(obj, type) and issubclass(obj, Rule):
            found.append(obj)
        else:
            raise RegistryError(f"rule plugin {ep.name!r} is neither a Rule class nor a module")
    return found


@cache
def all_rules() -> tuple[type[Rule], ...]:
    rules = _builtin() + _plugins()
    seen: dict[str, type[Rule]] = {}
    names: dict[str, type[Rule]] = {}
    for rule in rules:
        for attr in ("code", "name", "severity", "summary"):
            if not hasattr(rule, attr):
                raise RegistryError(f"rule {rule.__qualname__} has no `{attr}`")
        if rule.code in seen or rule.name in names:
            raise RegistryError(f"rule {rule.code} {rule.name} is defined twice")
        seen[rule.code] = names[rule.name] = rule
    return tuple(sorted(rules, key=lambda r: r.code))


def by_code() -> dict[str, type[Rule]]:
    return {r.code: r for r in all_rules()}


def known_codes() -> frozenset[str]:
    return frozenset(r.code for r in all_rules())
