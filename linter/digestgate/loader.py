"""Load a YAML file into position-carrying nodes, or say exactly why not.

The text is composed by ruamel.yaml's C-backed parser (libyaml) when the C
extension is present, else by its pure-Python parser; both give the same character
indices, from which spans are counted (their line numbers differ on U+2028 and kin).
GitHub's reading of YAML is followed: YAML 1.2 scalars (`on` is a string),
anchors and aliases allowed, duplicate keys, merge keys (`<<`) and a root that
is not a mapping are errors.

Hostile input is bounded before and after the parser runs, because libyaml's
composer recurses in C (a very deep document crashes the process) and aliases
can describe a tree exponentially larger than the text:

* bytes: size cap, NUL bytes (binary), UTF-16/32 byte-order marks, bad UTF-8;
* depth: a cheap upper bound from the text; only when it is high are the
  parser's events walked (iteratively) to measure the real depth;
* aliases: the expanded size of the node graph is computed with memoisation,
  so a "billion laughs" file is refused without expanding it.

Every refusal is a `LoadError` with a span and a message naming the reason; the
caller turns it into a DG000 finding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from digestgate.nodes import Source, YMap, YNode, YScalar, YSeq
from digestgate.span import Span

MAX_BYTES = 5 * 1024 * 1024
MAX_DEPTH = 500
MAX_EXPANDED_NODES = 1_000_000
# Below this many nesting indicators the depth cannot reach it, and libyaml's
# recursive composer is safe (tested at 10,000 levels; 100,000 crash the process).
# Above it the parser's events are walked first; below, the converter measures the
# real depth and refuses anything deeper than MAX_DEPTH.
_CHEAP_DEPTH_BOUND = 5_000

_TAGS = {
    "tag:yaml.org,2002:str": "str",
    "tag:yaml.org,2002:int": "int",
    "tag:yaml.org,2002:float": "float",
    "tag:yaml.org,2002:bool": "bool",
    "tag:yaml.org,2002:null": "null",
}


@dataclass(frozen=True)
class LoadError(Exception):
    span: Span
    message: str


@dataclass(frozen=True)
class Loaded:
    source: Source
    root: YMap


def size_error(size: int) -> LoadError:
    return LoadError(
        Span(1, 1, 1, 1),
        f"file is {size:,} bytes; digestgate reads workflow and action files "
        f"up to {MAX_BYTES:,} bytes",
    )


def decode(data: bytes, path: str) -> str:
    """Bytes to text, or LoadError naming the first bad place."""
    if len(data) > MAX_BYTES:
        raise size_error(len(data))
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise LoadError(Span(1, 1, 1, 1), "file is UTF-16 or UTF-32 encoded; save it as UTF-8")
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise LoadError(Span.point(line, 1), "file contains NUL bytes: it is binary, not YAML")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise LoadError(
            Span.point(line, col), f"invalid UTF-8 (byte 0x{data[exc.start]:02x}): save as UTF-8"
        ) from None


def load_bytes(data: bytes, path: str) -> Loaded:
    return load_text(decode(data, path), path)


def load_text(text: str, path: str) -> Loaded:
    source = Source(path, text)
    _check_depth(source)
    raw = _compose(source)
    if raw is None:
        raise LoadError(Span(1, 1, 1, 1), "file is empty: expected a mapping")
    root = _Converter(source).convert(raw)
    if not isinstance(root, YMap):
        kind = "a list" if isinstance(root, YSeq) else "a single value"
        raise LoadError(root.span, f"the top level is {kind}; expected a mapping")
    return Loaded(source, root)


def c_parser_available() -> bool:
    try:
        import ruamel.yaml.cyaml as cyaml
    except ImportError:  # ruamel.yaml.clib is not installed or not built
        return False
    return getattr(cyaml, "CParser", None) is not None


_PURE = False  # tests flip this to exercise the pure-Python path


_YAML: dict[bool, Any] = {}


def _yaml(pure: bool) -> Any:
    """One YAML object per parser kind, reused: making one per file leaves reference
    cycles behind (the engine pauses the cyclic collector while it checks)."""
    yaml = _YAML.get(pure)
    if yaml is None:
        from ruamel.yaml import YAML

        yaml = _YAML[pure] = YAML(typ="safe", pure=pure)
        if not pure:
            yaml.Resolver = _memo_resolver(yaml.Resolver)
    return yaml


def warm_up() -> None:
    """Import the parser and make its YAML object now (before worker processes fork)."""
    _yaml(_PURE or not c_parser_available())


_MEMO_TEXT = 64  # scalars up to this long have their tags remembered
_MEMO_SIZE = 50_000


def _memo_resolver(base: type) -> type:
    """ruamel's resolver, remembering the tag of each short plain scalar.

    With the C parser the YAML version is always the default one (the parser does
    not pass a `%YAML` directive on), so a scalar's tag depends on its text alone;
    ruamel works the version out again (through three failed attribute lookups) for
    every scalar, a sixth of the loading time."""
    from ruamel.yaml.nodes import ScalarNode

    memo: dict[tuple[str, Any], Any] = {}
    getter = base.processing_version.fget  # type: ignore[attr-defined]

    class MemoResolver(base):  # type: ignore[misc]
        @property
        def processing_version(self) -> Any:
            # the same for a whole document (see above): worked out once
            version = self.__dict__.get("_digestgate_version")
            if version is None:
                version = self.__dict__["_digestgate_version"] = getter(self)
            return version

        def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
            if kind is not ScalarNode or len(value) > _MEMO_TEXT or self.yaml_path_resolvers:
                return super().resolve(kind, value, implicit)
            key = (value, implicit)
            tag = memo.get(key)
            if tag is None:
                if len(memo) >= _MEMO_SIZE:
                    memo.clear()
                tag = memo[key] = super().resolve(kind, value, implicit)
            return tag

    return MemoResolver


def _point(source: Source, mark: Any) -> Span:
    """Where a parser mark is, counted by the source's lines: the parsers also break
    lines at U+0085, U+2028 and U+2029 (not in the same places), a file's lines do not."""
    index = getattr(mark, "index", None)
    if not isinstance(index, int) or not 0 <= index <= len(source.text):
        return Span(1, 1, 1, 1)
    return Span.point(*source.position(index))


_C_LOADER: list[type] = []


def _c_loader() -> type:
    """The class `YAML.compose` makes afresh for every document with the C parser
    (libyaml's parser and composer, the safe constructor, our resolver), made once."""
    if not _C_LOADER:
        import ruamel.yaml.cyaml as cyaml

        CParser: Any = getattr(cyaml, "CParser")  # noqa: B009 - not exported for mypy
        yaml = _yaml(False)
        constructor, resolver = yaml.Constructor, yaml.Resolver

        class Loader(CParser, constructor, resolver):  # type: ignore[misc, valid-type]
            def __init__(self, stream: str) -> None:
                CParser.__init__(self, stream)
                self._parser = self._composer = self
                constructor.__init__(self, loader=self)
                self.allow_duplicate_keys = yaml.allow_duplicate_keys
                resolver.__init__(self, version=yaml.version, loadumper=self)

        _C_LOADER.append(Loader)
    return _C_LOADER[0]


def _compose(source: Source) -> Any:
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    pure = _PURE or not c_parser_available()
    try:
        if pure:
            return _yaml(pure).compose(source.text)
        loader = _c_loader()(source.text)
        try:
            return loader.get_single_node()
        finally:
            loader.dispose()
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.problem:
            problem = f"{exc.problem} ({exc.context})"
        span = _point(source, mark) if mark else Span(1, 1, 1, 1)
        raise LoadError(span, f"invalid YAML: {_tidy(problem)}") from None
    except YAMLError as exc:
        raise LoadError(Span(1, 1, 1, 1), f"invalid YAML: {_tidy(str(exc))}") from None
    except RecursionError:
        raise LoadError(Span(1, 1, 1, 1), "YAML nested too deeply to read") from None


def _tidy(message: str) -> str:
    return " ".join(message.split())


def _check_depth(source: Source) -> None:
    text = source.text
    bound = (
        text.count("[")
        + text.count("{")
        + text.count("- ")
        + text.count("-\n")
        + text.count(":")
        + text.count("?")
    )
    if bound < _CHEAP_DEPTH_BOUND:
        return
    from ruamel.yaml.error import YAMLError
    from ruamel.yaml.events import CollectionEndEvent, CollectionStartEvent

    depth = 0
    try:
        for event in _yaml(_PURE or not c_parser_available()).parse(text):
            if isinstance(event, CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    mark = event.start_mark
                    raise LoadError(
                        _point(source, mark),
                        f"YAML nested more than {MAX_DEPTH} levels deep",
                    )
            elif isinstance(event, CollectionEndEvent):
                depth -= 1
    except YAMLError:
        return  # the composer reports syntax errors with better context


class _Converter:
    """ruamel nodes -> our nodes, iteratively, sharing aliased nodes."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.done: dict[int, YNode] = {}
        self.sizes: dict[int, int] = {}

    def convert(self, raw: Any) -> YNode:
        # The tree is built first: without aliases (nothing shared) its node count and
        # depth decide whether `_check_expansion` could refuse it, which is then not
        # needed. Otherwise it runs, and its refusal comes first, as the only one.
        try:
            root, shared, height = self._build(raw)
        except LoadError:
            self._check_expansion(raw)
            raise
        if shared or height > MAX_DEPTH or len(self.done) > MAX_EXPANDED_NODES:
            self._check_expansion(raw)
        return root

    def _check_expansion(self, raw: Any) -> None:
        """Expanded tree size via post-order DP over the (shared) node graph."""
        from ruamel.yaml.nodes import MappingNode, SequenceNode

        sizes = self.sizes
        depths: dict[int, int] = {}
        open_: set[int] = set()  # containers whose children are still being sized
        stack: list[tuple[Any, bool]] = [(raw, False)]
        while stack:
            node, ready = stack.pop()
            key = id(node)
            if key in sizes:
                continue
            if not ready and key in open_:
                raise self._recursive(node)
            if isinstance(node, MappingNode):
                children = [c for pair in node.value for c in pair]
            elif isinstance(node, SequenceNode):
                children = list(node.value)
            else:
                sizes[key] = 1
                depths[key] = 0
                continue
            if ready:
                open_.discard(key)
                total = 1 + sum(sizes[id(c)] for c in children)
                sizes[key] = total
                depth = depths[key] = 1 + max((depths[id(c)] for c in children), default=0)
                if depth > MAX_DEPTH:
                    raise LoadError(
                        self._span(node), f"YAML nested more than {MAX_DEPTH} levels deep"
                    )
                if total > MAX_EXPANDED_NODES:
                    raise LoadError(
                        self._span(node),
                        f"aliases expand to more than {MAX_EXPANDED_NODES:,} nodes "
                        "(an alias bomb?)",
                    )
            else:
                open_.add(key)
                stack.append((node, True))
                stack.extend((c, False) for c in children if id(c) not in sizes)

    def _recursive(self, node: Any) -> LoadError:
        return LoadError(
            self._span(node),
            "an alias refers to a node it is inside (a recursive structure, which "
            "GitHub Actions cannot read)",
        )

    def _span(self, node: Any) -> Span:
        # From character indices: the parsers' line numbers are not the file's (they
        # also break lines at U+0085, U+2028, U+2029, and may point past the end).
        line, col = self.source.position(node.start_mark.index)
        end_line, end_col = self.source.position(node.end_mark.index)
        if end_col == 1 and end_line > line:
            # block scalars and collections end at the start of the next line
            end_line -= 1
            end_col = len(self.source.line_text(end_line)) + 1
        return Span(line, col, end_line, end_col)

    def _build(self, raw: Any) -> tuple[YNode, bool, int]:
        """The tree; whether a node is shared (an alias); the most containers on a path."""
        from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

        # Post-order: containers are finished after their children.
        stack: list[tuple[Any, bool, int]] = [(raw, False, 1)]
        done = self.done
        open_: set[int] = set()  # containers on the current path, children pending
        shared = False
        height = 0
        while stack:
            node, ready, depth = stack.pop()
            key = id(node)
            if key in done:
                shared = True
                continue
            if isinstance(node, ScalarNode):
                done[key] = self._scalar(node)
            elif not ready:
                if key in open_:
                    raise self._recursive(node)
                open_.add(key)
                stack.append((node, True, depth))
                if depth > height:
                    height = depth
                depth += 1
                if isinstance(node, MappingNode):
                    for k, v in reversed(node.value):
                        stack.append((v, False, depth))
                        stack.append((k, False, depth))
                elif isinstance(node, SequenceNode):
                    stack.extend((c, False, depth) for c in reversed(node.value))
            elif isinstance(node, MappingNode):
                open_.discard(key)
                done[key] = self._mapping(node)
            else:
                open_.discard(key)
                done[key] = YSeq(self._span(node), [done[id(c)] for c in node.value])
        return done[id(raw)], shared, height

    def _scalar(self, node: Any) -> YScalar:
        tag = node.tag
        if tag == "tag:yaml.org,2002:merge":
            raise LoadError(
                self._span(node), "YAML merge keys (<<) are not supported by GitHub Actions"
            )
        return YScalar(
            self._span(node),
            node.value,
            _TAGS.get(tag, "str"),
            node.style or "plain",
            self.source,
            node.start_mark.index,
            node.end_mark.index,
        )

    def _mapping(self, node: Any) -> YMap:
        items: list[tuple[YScalar, YNode]] = []
        seen: dict[str, YScalar] = {}
        for k, v in node.value:
            key = self.done[id(k)]
            if not isinstance(key, YScalar):
                raise LoadError(key.span, "a mapping key must be a plain value, not a collection")
            first = seen.get(key.value)
            if first is not None:
                raise LoadError(
                    key.span,
                    f"duplicate key {key.value!r} (first defined on line {first.span.line})",
                )
            seen[key.value] = key
            items.append((key, self.done[id(v)]))
        return YMap(self._span(node), items)
