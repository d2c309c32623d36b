"""`docker/metadata-action` read statically: its `tags:` rules and `flavor:`.

The action turns a list of tag rules into the tags of an image at run time, from the
Git ref of the run (docker/metadata-action README and src/tag.ts, src/flavor.ts,
src/meta.ts @2bd8a81e). This module reads what a step asks for, so rules can tell
which tags a build fed by `steps.<id>.outputs.tags` may write:

* `tags:` is a list, one rule a line (`#` lines are comments); each line is a CSV
  row of `key=value` fields, a field without `=` being the `value`. A line with no
  `type=` is `type=raw`. With no `tags:` at all the action uses its defaults:
  `type=schedule`, `type=ref,event=branch`, `type=ref,event=tag`, `type=ref,event=pr`.
* Types: `schedule` (on `schedule` events), `semver`/`pep440`/`match` (from a Git
  tag, or from `value=` on any ref), `edge` (a branch), `ref` (`event=branch|tag|pr`),
  `raw` (`value=`), `sha`. Every rule takes `enable=`, `priority=`, `prefix=`,
  `suffix=`.
* `flavor:` sets `latest=auto|true|false` (default `auto`: `latest` comes with a
  `semver`/`pep440`/`match` version or a `type=ref,event=tag` tag; `true`: with any
  tag), and a global `prefix=`/`suffix=` (on `latest` only with `onlatest=true`).

`${{ }}` expressions are substituted by the runner before the action sees its
inputs, so a field is split only at commas and `=` outside them. Rules keep the
offsets of their line and fields in the input, so a finding can point at a rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType

from digestgate.expressions import Assumptions, Tri, find_placeholders, truthiness
from digestgate.facts import Piece, PieceKind, Value
from digestgate.model import Step, Text
from digestgate.span import Span

ACTION = "docker/metadata-action"

#: Outputs that carry the tags (as a list, JSON, a bake file or the top version).
TAG_OUTPUTS = frozenset({"tags", "tag-names", "json", "version", "bake-file", "bake-file-tags"})
#: Environment variables the action sets for the same outputs
#: (`DOCKER_METADATA_SET_OUTPUT_ENV`, true by default).
TAG_ENV = frozenset(
    {
        "DOCKER_METADATA_OUTPUT_TAGS",
        "DOCKER_METADATA_OUTPUT_TAG_NAMES",
        "DOCKER_METADATA_OUTPUT_JSON",
        "DOCKER_METADATA_OUTPUT_VERSION",
        "DOCKER_METADATA_OUTPUT_BAKE_FILE",
        "DOCKER_METADATA_OUTPUT_BAKE_FILE_TAGS",
    }
)


class TagType(str, Enum):
    SCHEDULE = "schedule"
    SEMVER = "semver"
    PEP440 = "pep440"
    MATCH = "match"
    EDGE = "edge"
    REF = "ref"
    RAW = "raw"
    SHA = "sha"


class RefKind(str, Enum):
    """What the Git ref of a run can be, as far as the action cares."""

    TAG = "tag"  # refs/tags/...: push of a tag, release, dispatch on a tag
    BRANCH = "branch"  # refs/heads/...
    PR = "pr"  # refs/pull/...
    SCHEDULE = "schedule"  # a `schedule` event (on the default branch)


ALL_KINDS = frozenset(RefKind)

DEFAULT_PRIORITY: Mapping[TagType, int] = MappingProxyType(
    {
        TagType.SCHEDULE: 1000,
        TagType.SEMVER: 900,
        TagType.PEP440: 900,
        TagType.MATCH: 800,
        TagType.EDGE: 700,
        TagType.REF: 600,
        TagType.RAW: 200,
        TagType.SHA: 100,
    }
)

# What a rule renders to for a representative release `v1.2.3` (for matching tags
# that only exist at run time against user-supplied patterns).
SAMPLE_GIT_TAG = "v1.2.3"
_SEMVER_FIELDS = {"version": "1.2.3", "raw": SAMPLE_GIT_TAG, "major": "1", "minor": "2"}
_SEMVER_FIELDS["patch"] = "3"
_HANDLEBARS = re.compile(r"\{\{\s*([A-Za-z_]+)[^}]*\}\}")
_GLOBAL_SAMPLES = {
    "branch": "main",
    "tag": SAMPLE_GIT_TAG,
    "sha": "0123abc",
    "base_ref": "main",
    "is_default_branch": "true",
    "date": "20240101",
    "commit_date": "20240101",
}


@dataclass(frozen=True)
class Field:
    """One `key=value` of a rule line, with offsets into the input's text."""

    key: str  # lower-case; "value" for a field without "="
    value: str  # trimmed, as written (expressions kept)
    start: int  # offset of the value in the input
    end: int


@dataclass(frozen=True)
class TagRule:
    """One line of the `tags:` input (or one of the action's default rules)."""

    type: TagType
    fields: tuple[Field, ...]
    line: str  # the line as written, trimmed
    span: Span  # the line in its file
    start: int = -1  # offset of the line in the input (-1: a default rule)
    error: str = ""  # why the action would reject it

    def get(self, key: str) -> str | None:
        found = None
        for f in self.fields:
            if f.key == key:
                found = f.value  # the last one wins, as in the action
        return found

    def field(self, key: str) -> Field | None:
        return next((f for f in reversed(self.fields) if f.key == key), None)

    @property
    def is_default(self) -> bool:
        return self.start < 0

    @property
    def event(self) -> str:
        return (self.get("event") or "").lower()

    @property
    def priority(self) -> int:
        text = self.get("priority")
        try:
            return int(text) if text is not None else DEFAULT_PRIORITY[self.type]
        except ValueError:
            return DEFAULT_PRIORITY[self.type]

    @property
    def has_value(self) -> bool:
        """`semver`/`pep440`/`match` with `value=`: rendered from it, on any ref."""
        return bool(self.get("value"))

    @property
    def is_version(self) -> bool:
        """A version from a release: `semver`, `pep440`, `match`."""
        return self.type in (TagType.SEMVER, TagType.PEP440, TagType.MATCH)

    @property
    def is_git_tag(self) -> bool:
        """The Git tag's own name: `type=ref,event=tag`, or a raw `{{tag}}`."""
        if self.type is TagType.REF:
            return self.event == "tag"
        if self.type is TagType.RAW:
            return _uses_global(self.get("value") or "", "tag")
        return False

    @property
    def makes_auto_latest(self) -> bool:
        """With `latest=auto`, this rule brings `latest` along when it renders."""
        return self.is_version or (self.type is TagType.REF and self.event == "tag")

    def enabled(self) -> Tri:
        """`enable=`: false, true, or unknown (an expression)."""
        text = (self.get("enable") or "true").strip()
        if not text:
            return Tri.TRUE
        if "${{" in text:
            found = find_placeholders(text)
            whole = len(found) == 1 and (found[0].start, found[0].end) == (0, len(text))
            if whole and found[0].expr is not None:
                return truthiness(found[0].expr, Assumptions())
            return Tri.UNKNOWN
        lowered = text.lower()
        if lowered == "false":
            return Tri.FALSE
        if lowered == "true":
            return Tri.TRUE
        return Tri.UNKNOWN

    def renders_on(self) -> frozenset[RefKind]:
        """The kinds of ref on which this rule makes a tag."""
        if self.error or self.enabled() is Tri.FALSE:
            return frozenset()
        kinds: frozenset[RefKind]
        if self.type is TagType.SCHEDULE:
            kinds = frozenset({RefKind.SCHEDULE})
        elif self.is_version:
            kinds = ALL_KINDS if self.has_value else frozenset({RefKind.TAG})
        elif self.type is TagType.EDGE:
            kinds = frozenset({RefKind.BRANCH, RefKind.SCHEDULE})
        elif self.type is TagType.REF:
            kinds = {
                "branch": frozenset({RefKind.BRANCH, RefKind.SCHEDULE}),
                "tag": frozenset({RefKind.TAG}),
                "pr": frozenset({RefKind.PR}),
            }.get(self.event, frozenset())
        elif self.is_git_tag:
            kinds = frozenset({RefKind.TAG})
        else:
            kinds = ALL_KINDS
        if _uses_global(self.get("enable") or "", "is_default_branch"):
            kinds &= frozenset({RefKind.BRANCH, RefKind.SCHEDULE})
        return kinds

    def sample(self, flavor: Flavor, branch: str = "main") -> str | None:
        """What the rule renders to for the Git tag `v1.2.3` (for version rules and
        Git tag names) or the branch `branch`; None when it cannot be told (an
        expression in it, a `match` pattern)."""
        if self.type is TagType.SCHEDULE:
            body = _render_globals(self.get("pattern") or "nightly", branch)
        elif self.type in (TagType.SEMVER, TagType.PEP440):
            body = _render_semver(self.get("pattern") or "{{version}}")
        elif self.type is TagType.MATCH:
            body = "1.2.3"
        elif self.type is TagType.EDGE:
            body = "edge"
        elif self.type is TagType.REF:
            body = {"branch": branch.replace("/", "-"), "tag": SAMPLE_GIT_TAG, "pr": "1"}.get(
                self.event
            )
        elif self.type is TagType.SHA:
            body = "0123abc"
        else:
            body = _render_globals(self.get("value") or "", branch)
        affixes = self.affixes(flavor, branch)
        if body is None or "${{" in body or affixes is None:
            return None
        return affixes[0] + body + affixes[1]

    def affixes(self, flavor: Flavor, branch: str = "main") -> tuple[str, str] | None:
        """The prefix and suffix the rule's tags get (its own, else the flavor's);
        None when they hold an expression."""
        prefix = self.get("prefix")
        suffix = self.get("suffix")
        default_prefix = {TagType.SHA: "sha-"}.get(self.type, "")
        if self.type is TagType.REF and self.event == "pr":
            default_prefix = "pr-"
        prefix = flavor.prefix + default_prefix if prefix is None else prefix
        suffix = flavor.suffix if suffix is None else suffix
        before, after = _render_globals(prefix, branch), _render_globals(suffix, branch)
        if before is None or after is None or "${{" in before + after:
            return None
        return before, after

    def describe(self) -> str:
        if self.is_default:
            return f"`{self.line}` (a default rule: the step has no `tags:` input)"
        return f"`{self.line}`"


@dataclass(frozen=True)
class Flavor:
    latest: str = "auto"  # "auto", "true", "false", or an expression (unknown)
    prefix: str = ""
    suffix: str = ""
    prefix_on_latest: bool = False
    suffix_on_latest: bool = False
    latest_span: Span | None = None  # the line that sets `latest=`
    error: str = ""

    @property
    def latest_text(self) -> str:
        """The `latest` tag as the action writes it."""
        prefix = self.prefix if self.prefix_on_latest else ""
        suffix = self.suffix if self.suffix_on_latest else ""
        return f"{prefix}latest{suffix}"


@dataclass(frozen=True)
class Metadata:
    """What one `docker/metadata-action` step asks for."""

    step: Step
    path: str  # the file the step is written in
    rules: tuple[TagRule, ...]
    flavor: Flavor
    images: tuple[str, ...] = ()  # the `images:` names as written (enabled ones)
    defaulted: bool = False  # no `tags:` input: the action's default rules

    @property
    def label(self) -> str:
        return self.step.label

    def latest_causes(self, kinds: frozenset[RefKind]) -> tuple[TagRule, ...] | None:
        """The rules that bring `latest` along on runs of these kinds: None when no
        `latest` is made, () when `latest=true` makes it with any tag."""
        latest = self.flavor.latest
        if latest == "false" or self.flavor.error:
            return None
        rendering = [r for r in self.rules if r.renders_on() & kinds]
        if not rendering:
            return None
        if latest != "auto":  # "true", or an expression that may be true
            return ()
        causes = tuple(r for r in rendering if r.makes_auto_latest)
        return causes or None


# --- reading a step --------------------------------------------------------------------


def is_metadata_action(uses: str | None) -> bool:
    """`docker/metadata-action@...` (and its old name `crazy-max/ghaction-docker-meta`)."""
    if uses is None:
        return False
    key = uses.strip().split("@", 1)[0].lower()
    return key in (ACTION, "crazy-max/ghaction-docker-meta")


def read(step: Step, path: str) -> Metadata | None:
    """The metadata a step asks for, or None when it is not a metadata-action step."""
    if step.uses is None or not is_metadata_action(step.uses.value):
        return None
    tags = _get(step.with_, "tags")
    rules = parse_tags(tags) if tags is not None else ()
    defaulted = not rules
    if defaulted:
        span = step.uses.span
        rules = tuple(_parse_line(line, span, -1) for line in DEFAULT_RULES)
    flavor_text = _get(step.with_, "flavor")
    flavor = parse_flavor(flavor_text) if flavor_text is not None else Flavor()
    images_text = _get(step.with_, "images")
    images = tuple(_image_names(images_text.value)) if images_text is not None else ()
    return Metadata(step, path, rules, flavor, images, defaulted)


DEFAULT_RULES = (
    "type=schedule",
    "type=ref,event=branch",
    "type=ref,event=tag",
    "type=ref,event=pr",
)


def parse_tags(text: Text) -> tuple[TagRule, ...]:
    """The rules of a `tags:` input, in the order written."""
    return tuple(
        _parse_line(line, _line_span(text, start, line), start)
        for start, line in _lines(text.value)
    )


def parse_flavor(text: Text) -> Flavor:
    """The `flavor:` input; unknown entries make `error` (the action would fail)."""
    latest, prefix, suffix = "auto", "", ""
    prefix_on, suffix_on = False, False
    latest_span: Span | None = None
    error = ""
    for start, line in _lines(text.value):
        onlatest_for = ""
        for f in _fields(line, start):
            if f.key == "value":
                error = f"invalid flavor entry `{line}`"
            elif f.key == "latest":
                value = f.value.lower()
                if "${{" in f.value:
                    latest = f.value
                elif value in ("auto", "true", "false"):
                    latest = value
                else:
                    error = f"invalid latest flavor `{line}`"
                latest_span = _line_span(text, start, line)
            elif f.key == "prefix":
                prefix, onlatest_for = f.value, "prefix"
            elif f.key == "suffix":
                suffix, onlatest_for = f.value, "suffix"
            elif f.key == "onlatest":
                on = f.value.lower() == "true"
                if onlatest_for == "prefix":
                    prefix_on = on
                elif onlatest_for == "suffix":
                    suffix_on = on
            elif f.key != "labelprefix":
                error = f"unknown flavor entry `{line}`"
    return Flavor(latest, prefix, suffix, prefix_on, suffix_on, latest_span, error)


def value_of_field(text: Text, f: Field, path: str) -> Value:
    """A rule field's value as a `Value` (each `${{ }}` an EXPR piece, with spans)."""
    raw = text.value[f.start : f.end]
    pieces: list[Piece] = []
    at = 0
    for p in find_placeholders(raw):
        if p.start > at:
            pieces.append(
                Piece(PieceKind.LITERAL, raw[at : p.start], text.locate(f.start + at, p.start - at))
            )
        pieces.append(
            Piece(
                PieceKind.EXPR,
                raw[p.start : p.end],
                text.locate(f.start + p.start, p.end - p.start),
            )
        )
        at = p.end
    if at < len(raw) or not pieces:
        pieces.append(Piece(PieceKind.LITERAL, raw[at:], text.locate(f.start + at, len(raw) - at)))
    return Value(tuple(pieces), text.locate(f.start, len(raw)), path)


# --- parsing ------------------------------------------------------------------------


def _get(mapping: Mapping[str, Text], name: str) -> Text | None:
    for key, value in mapping.items():
        if key.lower() == name:
            return value
    return None


def _lines(value: str) -> Iterator[tuple[int, str]]:
    """(offset, trimmed text) of each non-empty, non-comment line."""
    at = 0
    for raw in value.split("\n"):
        stripped = raw.strip()
        if stripped and not stripped.startswith("#"):
            yield at + (len(raw) - len(raw.lstrip())), stripped
        at += len(raw) + 1


def _line_span(text: Text, start: int, line: str) -> Span:
    return text.locate(start, len(line)) if start >= 0 else text.span


def _parse_line(line: str, span: Span, start: int) -> TagRule:
    fields = tuple(_fields(line, max(start, 0)))
    type_text = next((f.value for f in reversed(fields) if f.key == "type"), "raw")
    rest = tuple(f for f in fields if f.key != "type")
    try:
        kind = TagType(type_text)
    except ValueError:
        return TagRule(TagType.RAW, rest, line, span, start, f"unknown tag type `{type_text}`")
    rule = TagRule(kind, rest, line, span, start)
    error = ""
    if kind in (TagType.SEMVER, TagType.PEP440, TagType.MATCH) and rule.get("pattern") is None:
        error = "missing `pattern=`"
    elif kind is TagType.REF and rule.event not in ("branch", "tag", "pr"):
        error = "missing or invalid `event=`"
    elif kind is TagType.RAW and rule.get("value") is None:
        error = "missing `value=`"
    return TagRule(kind, rest, line, span, start, error) if error else rule


def _fields(line: str, offset: int) -> Iterator[Field]:
    """The CSV fields of a line, split at commas outside quotes and `${{ }}`; each is
    `key=value` (cut at a second `=`, as the action does) or a bare value."""
    for start, end in _split_outside(line, ","):
        start, end = _trim(line, start, end)
        if end - start >= 2 and line[start] == line[end - 1] == '"':
            start, end = start + 1, end - 1  # a quoted field: its commas are its own
        raw = line[start:end]
        cuts = list(_split_outside(raw, "=", quotes=False))
        if len(cuts) == 1:
            value_start, value_end = _trim(raw, 0, len(raw))
            text = _unquote(raw[value_start:value_end])
            yield Field("value", text, offset + start + value_start, offset + start + value_end)
            continue
        key = raw[cuts[0][0] : cuts[0][1]].strip().lower().strip('"')
        value_start, value_end = _trim(raw, cuts[1][0], cuts[1][1])
        text = _unquote(raw[value_start:value_end])
        yield Field(key, text, offset + start + value_start, offset + start + value_end)


def _split_outside(text: str, sep: str, *, quotes: bool = True) -> Iterator[tuple[int, int]]:
    """(start, end) of the parts of `text` between `sep`s outside `${{ }}` (and outside
    double quotes, with `quotes`)."""
    holes = [(p.start, p.end) for p in find_placeholders(text)]
    start = 0
    quoted = False
    i = 0
    while i < len(text):
        hole = next((h for h in holes if h[0] == i), None)
        if hole is not None:
            i = hole[1]
            continue
        c = text[i]
        if c == '"' and quotes:
            quoted = not quoted
        elif c == sep and not quoted:
            yield start, i
            start = i + 1
        i += 1
    yield start, len(text)


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1]
    return text


def _image_names(value: str) -> Iterable[str]:
    for start, line in _lines(value):
        name = ""
        enabled = True
        for f in _fields(line, start):
            if f.key in ("value", "name"):
                name = f.value
            elif f.key == "enable" and f.value.lower() == "false":
                enabled = False
        if name and enabled:
            yield name


# --- rendering samples ------------------------------------------------------------


def _uses_global(text: str, name: str) -> bool:
    return any(m.group(1) == name for m in _HANDLEBARS.finditer(text))


def _render_semver(pattern: str) -> str | None:
    out = pattern
    for m in _HANDLEBARS.finditer(pattern):
        sample = _SEMVER_FIELDS.get(m.group(1))
        if sample is None:
            return None
        out = out.replace(m.group(0), sample, 1)
    return out


def _render_globals(text: str, branch: str) -> str | None:
    out = text
    for m in _HANDLEBARS.finditer(text):
        sample = _GLOBAL_SAMPLES.get(m.group(1))
        if m.group(1) == "branch":
            sample = branch.replace("/", "-")
        if sample is None:
            return None
        out = out.replace(m.group(0), sample, 1)
    return out


__all__ = [
    "ACTION",
    "ALL_KINDS",
    "DEFAULT_RULES",
    "SAMPLE_GIT_TAG",
    "TAG_ENV",
    "TAG_OUTPUTS",
    "Field",
    "Flavor",
    "Metadata",
    "RefKind",
    "TagRule",
    "TagType",
    "is_metadata_action",
    "parse_flavor",
    "parse_tags",
    "read",
    "value_of_field",
]
