"""Configuration: `[tool.digestgate]` in pyproject.toml, or `.digestgate.toml`.

The file is looked for at the repository root; `.digestgate.toml` wins when both
exist (pyproject's table is then ignored entirely). `--config FILE` names a file
explicitly and `--no-config` uses the defaults.

Every key is checked strictly, so a typo or a wrong type is a `ConfigError`
(exit 2) that names the file, the line of the key when it can be found, and the
key, rather than a setting that silently does nothing.

Rule selection follows ruff: `select` and `ignore` hold codes or code prefixes,
and a rule is enabled when the longest prefix matching it comes from `select`
(at equal length `ignore` wins). With no `select`, every rule is selected.
"""

from __future__ import annotations

import difflib
import re
import sys
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from fnmatch import fnmatchcase
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from digestgate.findings import Severity

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

CONFIG_FILE = ".digestgate.toml"
PYPROJECT = "pyproject.toml"
_TABLE = ("tool", "digestgate")

KEYS = (
    "select",
    "ignore",
    "severity",
    "own-images",
    "validation-jobs",
    "promotion-jobs",
    "release-tags",
    "exclude",
    "fail-on",
    "repository",
    "rules",
)

_REPOSITORY = re.compile(r"[^/\s]+/[^/\s]+")


class ConfigError(Exception):
    """A configuration that cannot be used; `str()` is the message to print.

    The message is `"<file>:<line>: <key>: <reason>"`, with the line left out
    when the key's line cannot be found and the file left out for problems on
    the command line.
    """

    def __init__(
        self,
        reason: str,
        *,
        file: str | None = None,
        line: int | None = None,
        key: str | None = None,
    ) -> None:
        self.file = file
        self.line = line
        self.key = key
        self.reason = reason
        parts: list[str] = []
        if file is not None:
            parts.append(f"{file}:{line}" if line is not None else file)
        if key is not None:
            parts.append(key)
        parts.append(reason)
        super().__init__(": ".join(parts))


def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True)
class Config:
    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] = ()
    severity: Mapping[str, Severity] = field(default_factory=_empty)
    own_images: tuple[str, ...] = ()
    validation_jobs: tuple[str, ...] = ()
    promotion_jobs: tuple[str, ...] = ()
    release_tags: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()
    fail_on: Severity = Severity.ERROR
    repository: str | None = None
    rules: Mapping[str, Mapping[str, object]] = field(default_factory=_empty)
    source: str | None = None  # the file the configuration came from

    def merged_with_cli(self, select: Sequence[str] | None, ignore: Sequence[str] | None) -> Config:
        """Apply `--select` (replaces the configured select) and `--ignore` (extends)."""
        return replace(
            self,
            select=tuple(select) if select is not None else self.select,
            ignore=self.ignore + tuple(ignore or ()),
        )

    def is_enabled(self, code: str) -> bool:
        """Longest matching prefix decides; at equal length `ignore` wins."""
        if self.select is None:
            best_select = 0  # everything is selected, with the least specificity
        else:
            best_select = max((len(p) for p in self.select if code.startswith(p)), default=-1)
        best_ignore = max((len(p) for p in self.ignore if code.startswith(p)), default=-1)
        return best_select >= 0 and best_select > best_ignore

    def severity_of(self, code: str, default: Severity) -> Severity:
        return self.severity.get(code, default)

    def is_excluded(self, path: str) -> bool:
        """Whether a repo-relative POSIX path (or a folder above it) matches `exclude`."""
        if not self.exclude:
            return False
        parts = [p for p in _strip_dot(path).split("/") if p]
        prefixes = ["/".join(parts[: k + 1]) for k in range(len(parts))]
        for pattern in self.exclude:
            regex, dir_only = _exclude_regex(pattern)
            candidates = prefixes[:-1] if dir_only else prefixes
            if any(regex.fullmatch(c) for c in candidates):
                return True
        return False

    def is_own_image(self, name: str) -> bool:
        """Whether an image name matches `own-images` (tag and digest are ignored).

        Docker Hub names are tried in their short and long forms, so `acme/*`
        matches `docker.io/acme/app` and the reverse.
        """
        if not self.own_images:
            return False
        names = list(_image_name_forms(name))
        return any(fnmatchcase(n, p.lower()) for p in self.own_images for n in names)

    def matches_job(self, patterns: tuple[str, ...], workflow_path: str, job_id: str) -> bool:
        """Whether `job_id` of the workflow at `workflow_path` matches one of `patterns`.

        A pattern is a job-id glob, or `workflow:job` where the workflow part is a
        glob matched against the workflow's file name or its repo-relative path.
        """
        wf_path = _strip_dot(workflow_path)
        wf_name = wf_path.rsplit("/", 1)[-1]
        for pattern in patterns:
            wf_pat, sep, job_pat = pattern.rpartition(":")
            if sep and not (fnmatchcase(wf_name, wf_pat) or fnmatchcase(wf_path, wf_pat)):
                continue
            if fnmatchcase(job_id, job_pat):
                return True
        return False


# -- finding and loading ----------------------------------------------------------


def find_config_file(root: Path) -> Path | None:
    """`.digestgate.toml` at the root, else a pyproject.toml with a `[tool.digestgate]` table."""
    own = root / CONFIG_FILE
    if own.is_file():
        return own
    pyproject = root / PYPROJECT
    if not pyproject.is_file():
        return None
    text = _read(pyproject)
    if "digestgate" not in text:
        return None
    data = _parse_toml(text, str(pyproject))
    tool = data.get("tool")
    if isinstance(tool, dict) and "digestgate" in tool:
        return pyproject
    return None


def load_config(
    root: Path,
    *,
    explicit: Path | None = None,
    no_config: bool = False,
    known_codes: Collection[str],
) -> Config:
    """The configuration for the repository at `root`, checked against `known_codes`."""
    if no_config:
        if explicit is not None:
            raise ConfigError("--config and --no-config cannot be used together")
        return Config()
    if explicit is not None:
        return _load_file(explicit, known_codes, explicit=True)
    path = find_config_file(root)
    if path is None:
        return Config()
    return _load_file(path, known_codes, explicit=False)


def check_codes(codes: Iterable[str], known_codes: Collection[str], where: str) -> tuple[str, ...]:
    """Check codes or prefixes given on the command line (`where` is e.g. `--select`)."""
    out = tuple(codes)
    for code in out:
        problem = _selector_problem(code, known_codes)
        if problem is not None:
            raise ConfigError(problem, key=where)
    return out


def _load_file(path: Path, known_codes: Collection[str], *, explicit: bool) -> Config:
    file = str(path)
    text = _read(path)
    data = _parse_toml(text, file)
    prefix: tuple[str, ...] = ()
    table: dict[str, Any] = data
    is_pyproject = path.name == PYPROJECT
    tool = data.get("tool")
    has_table = isinstance(tool, dict) and "digestgate" in tool
    if has_table and (is_pyproject or explicit):
        assert isinstance(tool, dict)
        prefix = _TABLE
        inner = tool["digestgate"]
        if not isinstance(inner, dict):
            raise ConfigError(
                f"expected a table, got {_kind(inner)}",
                file=file,
                line=_find_line(text, _TABLE),
                key="tool.digestgate",
            )
        table = inner
    elif is_pyproject:
        raise ConfigError("no [tool.digestgate] table in this file", file=file)
    return _Parser(file, text, prefix, known_codes).parse(table)


def _read(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the file: {exc.strerror or exc}", file=str(path)) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError("the file is not valid UTF-8", file=str(path)) from None


def _parse_toml(text: str, file: str) -> dict[str, Any]:
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        raise ConfigError(
            f"invalid TOML: {exc}", file=file, line=int(m.group(1)) if m else None
        ) from None
    return data


# -- checking each key --------------------------------------------------------------


class _Parser:
    def __init__(
        self, file: str, text: str, prefix: tuple[str, ...], known_codes: Collection[str]
    ) -> None:
        self.file = file
        self.text = text
        self.prefix = prefix
        self.known = known_codes

    def error(self, keys: Sequence[str], reason: str) -> ConfigError:
        return ConfigError(
            reason,
            file=self.file,
            line=_find_line(self.text, (*self.prefix, *keys)),
            key=".".join(keys),
        )

    def parse(self, table: Mapping[str, Any]) -> Config:
        for key in table:
            if key not in KEYS:
                raise self.error((key,), self._unknown_key_reason(key))
        kwargs: dict[str, Any] = {"source": self.file}
        if "select" in table:
            kwargs["select"] = self.selectors("select", table["select"])
        if "ignore" in table:
            kwargs["ignore"] = self.selectors("ignore", table["ignore"])
        if "severity" in table:
            kwargs["severity"] = self.severity(table["severity"])
        if "own-images" in table:
            kwargs["own_images"] = self.strings("own-images", table["own-images"])
        for key in ("validation-jobs", "promotion-jobs"):
            if key in table:
                kwargs[key.replace("-", "_")] = self.job_patterns(key, table[key])
        if "release-tags" in table:
            kwargs["release_tags"] = self.regexes("release-tags", table["release-tags"])
        if "exclude" in table:
            kwargs["exclude"] = self.exclude(table["exclude"])
        if "fail-on" in table:
            kwargs["fail_on"] = self.severity_value(("fail-on",), table["fail-on"])
        if "repository" in table:
            kwargs["repository"] = self.repository(table["repository"])
        if "rules" in table:
            kwargs["rules"] = self.rule_options(table["rules"])
        return Config(**kwargs)

    def _unknown_key_reason(self, key: str) -> str:
        reason = "unknown key"
        if key == "tool" and not self.prefix:
            return (
                f"{reason}; settings go at the top level of this file, "
                "without a [tool.digestgate] header"
            )
        hint = _suggest(key.replace("_", "-").lower(), KEYS)
        if hint is not None:
            reason += f"; did you mean '{hint}'?"
        return reason + " (known keys: " + ", ".join(KEYS) + ")"

    def strings(self, key: str, value: object) -> tuple[str, ...]:
        if not isinstance(value, list):
            reason = f"expected a list of strings, got {_kind(value)}"
            if isinstance(value, str):
                reason += f"; write [{_toml_str(value)}]"
            raise self.error((key,), reason)
        for i, item in enumerate(value, 1):
            if not isinstance(item, str):
                raise self.error(
                    (key,), f"expected a list of strings, but item {i} is {_kind(item)}"
                )
            if not item.strip():
                raise self.error((key,), f"item {i} is an empty string")
        return tuple(value)

    def selectors(self, key: str, value: object) -> tuple[str, ...]:
        codes = self.strings(key, value)
        for code in codes:
            problem = _selector_problem(code, self.known)
            if problem is not None:
                raise self.error((key,), problem)
        return codes

    def job_patterns(self, key: str, value: object) -> tuple[str, ...]:
        patterns = self.strings(key, value)
        for pattern in patterns:
            wf, sep, job = pattern.rpartition(":")
            if sep and (not wf.strip() or not job.strip()):
                raise self.error(
                    (key,),
                    f"{_toml_str(pattern)}: expected a job-id glob or 'workflow.yml:job'",
                )
        return patterns

    def regexes(self, key: str, value: object) -> tuple[str, ...]:
        patterns = self.strings(key, value)
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise self.error(
                    (key,), f"invalid regular expression {_toml_str(pattern)}: {exc}"
                ) from None
        return patterns

    def exclude(self, value: object) -> tuple[str, ...]:
        patterns = self.strings("exclude", value)
        for pattern in patterns:
            if pattern.startswith("!"):
                raise self.error(
                    ("exclude",), f"{_toml_str(pattern)}: negated patterns ('!') are not supported"
                )
            _exclude_regex(pattern)
        return patterns

    def severity_value(self, keys: Sequence[str], value: object) -> Severity:
        if value == "error":
            return Severity.ERROR
        if value == "warning":
            return Severity.WARNING
        shown = _toml_str(value) if isinstance(value, str) else _kind(value)
        raise self.error(keys, f'expected "error" or "warning", got {shown}')

    def severity(self, value: object) -> Mapping[str, Severity]:
        if not isinstance(value, dict):
            raise self.error(
                ("severity",),
                f'expected a table of rule codes, like {{ DG305 = "warning" }}, got {_kind(value)}',
            )
        out: dict[str, Severity] = {}
        for code, level in value.items():
            self.check_code(("severity", code), code)
            out[code] = self.severity_value(("severity", code), level)
        return MappingProxyType(out)

    def repository(self, value: object) -> str:
        if not isinstance(value, str):
            raise self.error(("repository",), f'expected a string "owner/name", got {_kind(value)}')
        if not _REPOSITORY.fullmatch(value):
            raise self.error(("repository",), f'expected "owner/name", got {_toml_str(value)}')
        return value

    def rule_options(self, value: object) -> Mapping[str, Mapping[str, object]]:
        if not isinstance(value, dict):
            raise self.error(
                ("rules",),
                f"expected a table of per-rule tables, like rules.DG305 = {{ ... }}, "
                f"got {_kind(value)}",
            )
        out: dict[str, Mapping[str, object]] = {}
        for code, options in value.items():
            self.check_code(("rules", code), code)
            if not isinstance(options, dict):
                raise self.error(("rules", code), f"expected a table, got {_kind(options)}")
            out[code] = MappingProxyType(dict(options))
        return MappingProxyType(out)

    def check_code(self, keys: Sequence[str], code: str) -> None:
        if code in self.known:
            return
        reason = "unknown rule code"
        hint = _suggest(code.upper(), self.known)
        if hint is not None:
            reason += f"; did you mean '{hint}'?"
        raise self.error(keys, reason)


def _selector_problem(code: str, known: Collection[str]) -> str | None:
    if not code:
        return "empty rule code"
    if any(k.startswith(code) for k in known):
        return None
    reason = f"{_toml_str(code)} matches no rule code"
    upper = code.upper()
    if upper != code and any(k.startswith(upper) for k in known):
        hint: str | None = upper
    else:
        hint = _suggest(upper, known)
    if hint is not None:
        reason += f"; did you mean '{hint}'?"
    return reason


def _suggest(word: str, choices: Collection[str]) -> str | None:
    if word in choices:
        return word
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return close[0] if close else None


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return f"a string ({_toml_str(value)})"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, (datetime, date, time)):
        return "a date/time"
    return type(value).__name__


def _toml_str(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


# -- finding a key's line in the TOML text -------------------------------------------

_KEY_PART = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')"""
_DOTTED = rf"{_KEY_PART}(?:\s*\.\s*{_KEY_PART})*"
_HEADER_LINE = re.compile(rf"\s*\[\[?\s*({_DOTTED})\s*\]\]?\s*(?:#.*)?")
_KEY_LINE = re.compile(rf"\s*({_DOTTED})\s*=")
_PART = re.compile(_KEY_PART)


def _split_key(dotted: str) -> tuple[str, ...]:
    parts = []
    for m in _PART.finditer(dotted):
        part = m.group(0)
        if part[0] in "\"'":
            part = part[1:-1]
        parts.append(part)
    return tuple(parts)


def _find_line(text: str, keys: tuple[str, ...]) -> int | None:
    """Best effort: the 1-based line defining `keys` (a full dotted path), else its parent's.

    Lines are read one by one, tracking the current `[table]`, so a `select` in
    `[tool.ruff]` is not mistaken for the one in `[tool.digestgate]`.
    """
    lines = _key_lines(text)
    for n in range(len(keys), 0, -1):
        line = lines.get(keys[:n])
        if line is not None:
            return line
    return None


def _key_lines(text: str) -> dict[tuple[str, ...], int]:
    found: dict[tuple[str, ...], int] = {}
    table: tuple[str, ...] = ()
    for number, line in enumerate(text.splitlines(), 1):
        m = _HEADER_LINE.fullmatch(line)
        if m:
            table = _split_key(m.group(1))
            for n in range(1, len(table) + 1):
                found.setdefault(table[:n], number)
            continue
        m = _KEY_LINE.match(line)
        if m:
            full = table + _split_key(m.group(1))
            # a dotted key also defines its parents (`severity.DG101 = ...`)
            for n in range(len(table) + 1, len(full) + 1):
                found.setdefault(full[:n], number)
    return found


# -- matching ---------------------------------------------------------------------------


def _strip_dot(path: str) -> str:
    while path.startswith("./"):
        path = path[2:]
    return path.lstrip("/")


@lru_cache(maxsize=512)
def _exclude_regex(pattern: str) -> tuple[re.Pattern[str], bool]:
    """A gitignore-like glob as a regex over repo-relative paths, and whether it is dir-only.

    `*` and `?` stay within one path component, `**` spans components, and a pattern
    with no `/` (other than a trailing one) matches at any depth.
    """
    while pattern.startswith("./"):
        pattern = pattern[2:]
    anchored = "/" in pattern.rstrip("/")  # a leading or inner slash anchors at the root
    dir_only = pattern.endswith("/")
    pat = pattern.strip("/")
    body = _glob_to_regex(pat)
    if not anchored:
        body = "(?:.*/)?" + body
    return re.compile(body), dir_only


def _glob_to_regex(pat: str) -> str:
    out: list[str] = []
    i, n = 0, len(pat)
    while i < n:
        c = pat[i]
        if c == "*":
            j = i
            while j < n and pat[j] == "*":
                j += 1
            whole = (i == 0 or pat[i - 1] == "/") and (j == n or pat[j] == "/")
            if j - i >= 2 and whole:
                if j == n:
                    out.append(".*")
                else:
                    out.append("(?:.*/)?")
                    j += 1  # the slash is part of the optional folders
            else:
                out.append("[^/]*")
            i = j
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            j = i + 1
            if j < n and pat[j] in "!^":
                j += 1
            if j < n and pat[j] == "]":
                j += 1
            end = pat.find("]", j)
            if end < 0:
                out.append(re.escape(c))
                i += 1
                continue
            inner = pat[i + 1 : end]
            negate = inner[:1] in ("!", "^")
            if negate:
                inner = inner[1:]
            inner = inner.replace("\\", "\\\\").replace("[", "\\[")
            out.append(f"[^/{inner}]" if negate else f"[{inner}]")
            i = end + 1
        elif c == "\\" and i + 1 < n:
            out.append(re.escape(pat[i + 1]))
            i += 2
        else:
            out.append(re.escape(c))
            i += 1
    return "".join(out)


_DOCKER_HUB = ("docker.io", "index.docker.io", "registry-1.docker.io")


def _image_name_forms(name: str) -> Iterator[str]:
    full = name.strip().lower()
    yield full
    bare = full.split("@", 1)[0]
    if bare.rfind(":") > bare.rfind("/"):
        bare = bare[: bare.rfind(":")]
    if bare != full:
        yield bare
    first, _, rest = bare.partition("/")
    if not rest:
        yield f"docker.io/library/{bare}"
    elif first in _DOCKER_HUB:
        yield rest
        if rest.startswith("library/") and "/" not in rest[8:]:
            yield rest[8:]
        if first != "docker.io":
            yield f"docker.io/{rest}"
    elif "." not in first and ":" not in first and first != "localhost":
        yield f"docker.io/{bare}"


__all__ = [
    "CONFIG_FILE",
    "KEYS",
    "Config",
    "ConfigError",
    "check_codes",
    "find_config_file",
    "load_config",
]
