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
from typing import Any, NoReturn

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
    """ruamel's resolver, made cheap for the C composer, which calls it for every node.

    digestgate adds no path resolvers, so a node's tag depends on its kind and, for a
    plain scalar, on its text alone: with the C parser the YAML version is always the
    default one (the parser does not pass a `%YAML` directive on). So collections and
    quoted or block scalars get their kind's default tag at once, and each short plain
    scalar's tag is remembered. (ruamel works the version out again, through three
    failed attribute lookups, for every scalar: a sixth of the loading time.)"""
    from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

    if base.yaml_path_resolvers:  # type: ignore[attr-defined]
        return base  # not digestgate's resolver: nothing here would hold
    default = {
        ScalarNode: base.DEFAULT_SCALAR_TAG,  # type: ignore[attr-defined]
        SequenceNode: base.DEFAULT_SEQUENCE_TAG,  # type: ignore[attr-defined]
        MappingNode: base.DEFAULT_MAPPING_TAG,  # type: ignore[attr-defined]
    }
    memo: dict[str, Any] = {}
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
            if kind is not ScalarNode or not implicit[0]:
                return default[kind]  # no implicit resolution, as in ruamel's
            tag = memo.get(value)
            if tag is None:
                tag = super().resolve(kind, value, implicit)
                if len(value) <= _MEMO_TEXT:
                    if len(memo) >= _MEMO_SIZE:
                        memo.clear()
                    memo[value] = tag
            return tag

        # Called around every node; with no path resolvers ruamel's do nothing.
        def descend_resolver(self, current_node: Any, current_index: Any) -> None:
            pass

        def ascend_resolver(self) -> None:
            pass

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
            # The loader is its own parser, composer, constructor's and resolver's
            # loader: reference cycles, which the cyclic collector (paused while the
            # engine checks) would have to find. Its attributes are dropped instead.
            vars(loader).clear()
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
    if len(text) < _CHEAP_DEPTH_BOUND:
        return  # the bound below counts characters (at most one each)
    singles = text.count("[") + text.count("{") + text.count(":") + text.count("?")
    if singles + text.count("-") < _CHEAP_DEPTH_BOUND:
        return  # every "- " and "-\n" is a "-": the bound below is smaller still
    bound = singles + text.count("- ") + text.count("-\n")
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


class _TooDeep(Exception):
    """More than MAX_DEPTH containers on a path (or an alias inside itself)."""


class _Converter:
    """ruamel nodes -> our nodes, sharing aliased nodes.

    Recursive, one call per node: a path of MAX_DEPTH containers is a few hundred
    frames (the recursion limit is 1,000); deeper (or recursive) input is handed to
    `_check_expansion`, which measures the depth without recursing."""

    def __init__(self, source: Source) -> None:
        from ruamel.yaml.nodes import MappingNode, ScalarNode

        self.source = source
        self.done: dict[int, YNode] = {}  # by id() of the ruamel node: aliases share
        self.shared = False  # a ruamel node was reached twice (an alias)
        self.tags: dict[int, str] = {}  # our tag name by id() of the ruamel Tag
        self.sizes: dict[int, int] = {}
        self.scalar_type = ScalarNode
        self.mapping_type = MappingNode

    def convert(self, raw: Any) -> YNode:
        # The tree is built first: without aliases (nothing shared) and not too deep,
        # its node count decides whether `_check_expansion` could refuse it, which is
        # then not needed. Otherwise it runs, and its refusal comes first, as the only
        # one (a path deeper than MAX_DEPTH or a recursive alias is always refused).
        try:
            root = self._node(raw, 1)
        except LoadError:
            self._check_expansion(raw)
            raise
        except _TooDeep:
            self._check_expansion(raw)  # refuses a path this deep (or a recursive alias)
            raise LoadError(  # not reached
                self._span(raw), f"YAML nested more than {MAX_DEPTH} levels deep"
            ) from None
        if self.shared or len(self.done) > MAX_EXPANDED_NODES:
            self._check_expansion(raw)
        return root

    def _node(self, raw: Any, depth: int) -> YNode:
        """Our node for `raw`, which is inside `depth - 1` containers."""
        key = id(raw)
        done = self.done
        node = done.get(key)
        if node is not None:
            self.shared = True
            return node
        source = self.source
        start = raw.start_mark.index
        end = raw.end_mark.index
        if isinstance(raw, self.scalar_type):
            tag = self.tags.get(id(raw.ctag)) or self._tag(raw)
            node = done[key] = YScalar(source, start, end, raw.value, tag, raw.style or "plain")
            return node
        if depth > MAX_DEPTH:
            raise _TooDeep
        depth += 1
        # Children in document order, each before its container (the order in which
        # problems are found); loops, not comprehensions, which would be a second
        # frame per level.
        if isinstance(raw, self.mapping_type):
            items = []
            for k, v in raw.value:
                items.append((self._node(k, depth), self._node(v, depth)))
            node = YMap(source, start, end, items, self._values(items))  # type: ignore[arg-type]
        else:
            children = []
            for child in raw.value:
                children.append(self._node(child, depth))
            node = YSeq(source, start, end, children)
        done[key] = node
        return node

    def _tag(self, raw: Any) -> str:
        """The tag name of a ruamel scalar; remembered by its Tag object, which the
        resolver shares between scalars (and which lives as long as the raw tree)."""
        tag = raw.tag
        if tag == "tag:yaml.org,2002:merge":
            raise LoadError(
                self._span(raw), "YAML merge keys (<<) are not supported by GitHub Actions"
            )
        name = self.tags[id(raw.ctag)] = _TAGS.get(tag, "str")
        return name

    def _values(self, items: list[tuple[YNode, YNode]]) -> dict[str, YNode]:
        """A mapping's values by key text, or the first key that is a collection or
        is repeated refused."""
        values: dict[str, YNode] = {}
        for key, value in items:
            if not isinstance(key, YScalar):
                self._refuse_keys(items)
            values[key.value] = value
        if len(values) < len(items):
            self._refuse_keys(items)
        return values

    def _refuse_keys(self, items: list[tuple[YNode, YNode]]) -> NoReturn:
        seen: dict[str, YScalar] = {}
        for key, _ in items:
            if not isinstance(key, YScalar):
                raise LoadError(key.span, "a mapping key must be a plain value, not a collection")
            first = seen.get(key.value)
            if first is not None:
                raise LoadError(
                    key.span,
                    f"duplicate key {key.value!r} (first defined on line {first.span.line})",
                )
            seen[key.value] = key
        raise AssertionError("no key to refuse")

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
        return self.source.span(node.start_mark.index, node.end_mark.index)
