"""The YAML loader: positions, GitHub's YAML rules, and hostile input, on both parsers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from digestgate import loader
from digestgate.loader import LoadError, load_bytes, load_text
from digestgate.nodes import YMap, YScalar, YSeq
from digestgate.span import Span


@pytest.fixture(params=["c", "pure"], autouse=True)
def parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    if request.param == "c" and not loader.c_parser_available():
        pytest.fail("ruamel.yaml.clib is a dependency: the C parser must be importable")
    monkeypatch.setattr(loader, "_PURE", request.param == "pure")
    yield request.param


def test_c_path_really_uses_libyaml(parser: str) -> None:
    yaml = loader._yaml(loader._PURE)
    assert ("CParser" in yaml.Parser.__name__) == (parser == "c")


def test_positions_of_keys_and_values() -> None:
    root = load_text("on: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n", "x").root
    on_key = root.key("on")
    assert on_key is not None and on_key.span == Span(1, 1, 1, 3)
    assert root.get("on").span == Span(1, 5, 1, 9)  # type: ignore[union-attr]
    jobs = root.get("jobs")
    assert isinstance(jobs, YMap)
    build = jobs.get("build")
    assert isinstance(build, YMap)
    runs_on = build.get("runs-on")
    assert isinstance(runs_on, YScalar)
    assert runs_on.value == "ubuntu-latest"
    assert runs_on.span == Span(4, 14, 4, 27)
    # a block collection ends at the end of its last line, not on the next line
    assert jobs.span.end_line == 4


def test_on_is_a_string_key_and_yaml_12_scalars() -> None:
    root = load_text("on: yes\nx: no\ny: 010\nz: ~\n", "x").root
    assert root.keys() == ["on", "x", "y", "z"]
    on = root.get("on")
    assert isinstance(on, YScalar) and on.tag == "str" and on.value == "yes"
    y = root.get("y")
    assert isinstance(y, YScalar) and y.tag == "int"
    z = root.get("z")
    assert isinstance(z, YScalar) and z.tag == "null"


def test_anchors_and_aliases_share_nodes() -> None:
    root = load_text("a: &env {K: v}\nb: *env\n", "x").root
    assert root.get("a") is root.get("b")


@pytest.mark.parametrize(
    ("text", "line", "column", "fragment"),
    [
        ("a: 1\nb: 2\na: 3\n", 3, 1, "duplicate key 'a' (first defined on line 1)"),
        ("a: &x {b: 1}\nc:\n  <<: *x\n", 3, 3, "merge keys"),
        ("- a\n- b\n", 1, 1, "the top level is a list"),
        ("just text\n", 1, 1, "the top level is a single value"),
        ("", 1, 1, "file is empty"),
        ("a: [1, 2\n", 2, 1, "invalid YAML"),
        ("a: 1\n---\nb: 2\n", 2, 1, "invalid YAML"),
        ("a:\n  b: 1\n c: 2\n", 3, 2, "invalid YAML"),
        ("{[a]: 1}\n", 1, 2, "mapping key must be a plain value"),
    ],
)
def test_invalid_yaml(text: str, line: int, column: int, fragment: str) -> None:
    with pytest.raises(LoadError) as info:
        load_text(text, "x")
    assert fragment in info.value.message
    assert (info.value.span.line, info.value.span.column) == (line, column)


def _bomb(levels: int = 9) -> bytes:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        refs = ", ".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    return ("\n".join(lines) + "\n").encode()


def test_alias_bomb_is_refused_without_expanding() -> None:
    with pytest.raises(LoadError) as info:
        load_bytes(_bomb(), "x")
    assert "alias" in info.value.message


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("a: &x [ *x ]\n", 1),
        ("a: &x {b: *x}\n", 1),
        ("on: push\njobs: &j\n  a:\n    runs-on: x\n    needs: *j\n", 2),
        ("a: &x [1, [2, *x]]\nb: *x\n", 1),
    ],
)
def test_a_recursive_alias_is_refused(text: str, line: int) -> None:
    """An alias inside the node it names is a cycle: refused (it once looped forever)."""
    with pytest.raises(LoadError) as info:
        load_text(text, "x")
    assert "recursive" in info.value.message
    assert info.value.span.line == line


def test_a_shared_alias_is_not_recursive() -> None:
    loaded = load_text("a: &x [1, 2]\nb: [*x, *x]\n", "x")
    assert loaded.root.get("b") is not None


def test_deep_nesting_is_refused() -> None:
    for depth in (10_000, 200_000):
        text = "a: " + "[" * depth + "]" * depth + "\n"
        with pytest.raises(LoadError) as info:
            load_text(text, "x")
        assert "nested more than" in info.value.message


def test_deep_block_nesting_is_refused() -> None:
    text = "a:\n" + "".join("  " * i + "- x:\n" for i in range(1, 700))
    with pytest.raises(LoadError) as info:
        load_text(text, "x")
    assert "nested" in info.value.message


def test_large_file_is_refused_by_size() -> None:
    data = b"a: " + b"x" * (20 * 1024 * 1024) + b"\n"
    with pytest.raises(LoadError) as info:
        load_bytes(data, "x")
    assert "bytes" in info.value.message


@pytest.mark.parametrize(
    ("data", "line", "column", "fragment"),
    [
        (b"on: push\njobs: \xc3\x28\n", 2, 7, "invalid UTF-8"),
        ("on: push\n".encode("utf-16"), 1, 1, "UTF-16"),
        (b"\x7fELF\x02\x01\x01\x00\x00", 1, 1, "binary"),
    ],
)
def test_bad_bytes(data: bytes, line: int, column: int, fragment: str) -> None:
    with pytest.raises(LoadError) as info:
        load_bytes(data, "x")
    assert fragment in info.value.message
    assert (info.value.span.line, info.value.span.column) == (line, column)


def test_utf8_bom_is_accepted() -> None:
    root = load_bytes(b"\xef\xbb\xbfon: push\n", "x").root
    assert root.keys() == ["on"]


def _scalar(text: str, *keys: str) -> YScalar:
    node: object = load_text(text, "x").root
    for k in keys:
        assert isinstance(node, YMap)
        node = node.get(k)
    assert isinstance(node, YScalar)
    return node


def test_locate_in_plain_scalar_with_non_ascii() -> None:
    s = _scalar("run: echo é ${{ x }}\n", "run")
    i = s.value.index("${{")
    assert s.locate(i, 8) == Span(1, 13, 1, 21)


def test_locate_in_quoted_scalar() -> None:
    s = _scalar("if: 'a == ${{ b }}'\n", "if")
    i = s.value.index("${{")
    assert s.locate(i, 8) == Span(1, 11, 1, 19)


def test_locate_in_literal_block() -> None:
    text = "steps:\n  run: |\n    echo one\n    docker push ${{ env.IMAGE }}\n"
    s = _scalar(text, "steps", "run")
    i = s.value.index("docker")
    assert s.locate(i, 6) == Span(4, 5, 4, 11)
    j = s.value.index("${{")
    assert s.locate(j, 16) == Span(4, 17, 4, 33)


def test_locate_in_folded_block_searches_the_raw_text() -> None:
    text = "run: >\n  docker build\n  -t app:latest .\n"
    s = _scalar(text, "run")
    i = s.value.index("app:latest")
    assert s.locate(i, 10) == Span(3, 6, 3, 16)


def test_sequences_keep_items_and_spans() -> None:
    root = load_text("needs: [a, b]\n", "x").root
    needs = root.get("needs")
    assert isinstance(needs, YSeq)
    assert [n.span for n in needs.items] == [Span(1, 9, 1, 10), Span(1, 12, 1, 13)]


def test_nesting_is_refused_before_a_duplicate_key_is_reported() -> None:
    deep = "b:\n" + "".join("  " * i + "- x:\n" for i in range(1, 700))
    with pytest.raises(LoadError) as info:
        load_text("a: 1\na: 2\n" + deep, "x")
    assert "nested" in info.value.message
    with pytest.raises(LoadError) as info:
        load_text("a: 1\na: 2\nb: [[[x]]]\n", "x")
    assert "duplicate key 'a'" in info.value.message
