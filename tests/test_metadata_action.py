"""docker/metadata-action read statically: tag rules, flavor, what renders when."""

from __future__ import annotations

import inspect
import textwrap

import pytest

from digestgate import metadata_action as meta
from digestgate.builder import build_workflow
from digestgate.expressions import Tri
from digestgate.facts import PieceKind
from digestgate.loader import load_text
from digestgate.metadata_action import ALL_KINDS, Flavor, RefKind, TagType
from digestgate.model import Platform, Step
from digestgate.span import Span

PATH = ".github/workflows/ci.yml"


class Doc:
    """A one-job workflow around the given steps, and span helpers on its text."""

    def __init__(self, steps: str) -> None:
        body = textwrap.indent(inspect.cleandoc(steps), " " * 6)
        self.text = "on: push\njobs:\n  j:\n    runs-on: ubuntu-latest\n    steps:\n" + body + "\n"
        root = load_text(self.text, PATH).root
        workflow, problems = build_workflow(root, PATH, Platform.GITHUB)
        assert problems == []
        self.steps: tuple[Step, ...] = workflow.jobs["j"].steps

    def span(self, needle: str) -> Span:
        at = self.text.index(needle)
        line = self.text.count("\n", 0, at) + 1
        column = at - (self.text.rfind("\n", 0, at) + 1) + 1
        return Span(line, column, line, column + len(needle))

    def read(self, index: int = 0) -> meta.Metadata:
        found = meta.read(self.steps[index], PATH)
        assert found is not None
        return found


def metadata(tags: str = "", flavor: str = "") -> meta.Metadata:
    lines = [
        "- id: meta",
        "  uses: docker/metadata-action@v5",
        "  with:",
        "    images: ghcr.io/o/app",
    ]
    for key, text in (("tags", tags), ("flavor", flavor)):
        if text:
            lines.append(f"    {key}: |")
            lines += ["      " + line for line in inspect.cleandoc(text).splitlines()]
    return Doc("\n" + "\n".join(lines)).read()


# --- reading a step ------------------------------------------------------------------------


def test_only_the_metadata_action_is_read() -> None:
    doc = Doc(
        """
        - uses: docker/build-push-action@v6
        - uses: docker/metadata-action@902fa8ec7d6ecbf8d84d538b9b233a880e428804
        - uses: crazy-max/ghaction-docker-meta@v2
        """
    )
    assert meta.read(doc.steps[0], PATH) is None
    assert meta.read(doc.steps[1], PATH) is not None
    assert meta.read(doc.steps[2], PATH) is not None
    assert not meta.is_metadata_action(None)


def test_rules_keep_their_order_type_and_line_span() -> None:
    doc = Doc(
        """
        - uses: docker/metadata-action@v5
          with:
            images: ghcr.io/o/app
            tags: |
              # releases
              type=semver,pattern={{version}}
              type=ref,event=branch

              type=sha,format=long
        """
    )
    data = doc.read()
    assert [r.type for r in data.rules] == [TagType.SEMVER, TagType.REF, TagType.SHA]
    assert data.rules[0].span == doc.span("type=semver,pattern={{version}}")
    assert data.rules[1].event == "branch"
    assert data.rules[2].get("format") == "long"
    assert data.images == ("ghcr.io/o/app",)
    assert not data.defaulted


def test_no_tags_input_means_the_default_rules_at_the_uses_line() -> None:
    doc = Doc(
        """
        - uses: docker/metadata-action@v5
          with:
            images: ghcr.io/o/app
        """
    )
    data = doc.read()
    assert data.defaulted
    assert [r.line for r in data.rules] == list(meta.DEFAULT_RULES)
    assert all(r.is_default and r.span == doc.span("docker/metadata-action@v5") for r in data.rules)


def test_a_line_without_type_is_raw_and_a_bare_field_is_the_value() -> None:
    data = metadata(
        """
        latest
        type=raw,nightly-build
        type=raw,value=foo=bar
        """
    )
    assert [(r.type, r.get("value")) for r in data.rules] == [
        (TagType.RAW, "latest"),
        (TagType.RAW, "nightly-build"),
        (TagType.RAW, "foo"),  # the action keeps only what precedes a second `=`
    ]


def test_commas_and_equals_inside_expressions_do_not_split() -> None:
    data = metadata(
        """
        type=raw,value=latest,enable=${{ github.ref == format('refs/heads/{0}', 'main') }}
        type=semver,pattern={{major}},enable=${{ !startsWith(github.ref, 'refs/tags/v0.') }}
        """
    )
    raw, semver = data.rules
    assert raw.get("value") == "latest"
    assert raw.get("enable") == "${{ github.ref == format('refs/heads/{0}', 'main') }}"
    assert semver.get("pattern") == "{{major}}"
    assert raw.enabled() is Tri.UNKNOWN


def test_quoted_fields_are_one_field() -> None:
    (rule,) = metadata('type=raw,"value=a,b"').rules
    assert rule.get("value") == "a,b"


def test_invalid_rules_carry_an_error_and_render_nothing() -> None:
    data = metadata(
        """
        type=semver
        type=ref
        type=bogus,value=x
        type=raw
        """
    )
    assert all(r.error for r in data.rules)
    assert all(not r.renders_on() for r in data.rules)


def test_priority_defaults_by_type_and_can_be_set() -> None:
    data = metadata(
        """
        type=sha
        type=semver,pattern={{version}},priority=50
        type=schedule
        """
    )
    assert [r.priority for r in data.rules] == [100, 50, 1000]


# --- when rules render ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "kinds"),
    [
        ("type=semver,pattern={{version}}", {RefKind.TAG}),
        ("type=pep440,pattern={{version}}", {RefKind.TAG}),
        ("type=match,pattern=v(.*),group=1", {RefKind.TAG}),
        ("type=semver,pattern={{version}},value=1.2.3", set(ALL_KINDS)),
        ("type=ref,event=tag", {RefKind.TAG}),
        ("type=ref,event=branch", {RefKind.BRANCH, RefKind.SCHEDULE}),
        ("type=ref,event=pr", {RefKind.PR}),
        ("type=edge", {RefKind.BRANCH, RefKind.SCHEDULE}),
        ("type=schedule", {RefKind.SCHEDULE}),
        ("type=sha", set(ALL_KINDS)),
        ("type=raw,value=latest", set(ALL_KINDS)),
        ("type=raw,value=latest,enable={{is_default_branch}}", {RefKind.BRANCH, RefKind.SCHEDULE}),
        ("type=raw,value={{tag}}", {RefKind.TAG}),
        ("type=raw,value=latest,enable=false", set()),
        ("type=raw,value=latest,enable=${{ false }}", set()),
    ],
)
def test_renders_on(line: str, kinds: set[RefKind]) -> None:
    (rule,) = metadata(line).rules
    assert rule.renders_on() == frozenset(kinds)


def test_version_and_git_tag_rules() -> None:
    semver, ref_tag, raw_tag, sha = metadata(
        """
        type=semver,pattern={{version}}
        type=ref,event=tag
        type=raw,value=v-{{tag}}
        type=sha
        """
    ).rules
    assert semver.is_version and semver.makes_auto_latest
    assert ref_tag.is_git_tag and ref_tag.makes_auto_latest and not ref_tag.is_version
    assert raw_tag.is_git_tag and not raw_tag.makes_auto_latest
    assert not (sha.is_version or sha.is_git_tag or sha.makes_auto_latest)


# --- flavor and latest ------------------------------------------------------------------------


def test_flavor_defaults() -> None:
    assert metadata("type=sha").flavor == Flavor()
    assert Flavor().latest == "auto" and Flavor().latest_text == "latest"


def test_flavor_entries_and_onlatest() -> None:
    doc = Doc(
        """
        - uses: docker/metadata-action@v5
          with:
            images: ghcr.io/o/app
            flavor: |
              latest=true
              prefix=app-,onlatest=true
              suffix=-alpine
        """
    )
    flavor = doc.read().flavor
    assert flavor.latest == "true"
    assert (flavor.prefix, flavor.suffix) == ("app-", "-alpine")
    assert flavor.prefix_on_latest and not flavor.suffix_on_latest
    assert flavor.latest_text == "app-latest"
    assert flavor.latest_span == doc.span("latest=true")
    assert flavor.error == ""


def test_flavor_errors() -> None:
    assert metadata("type=sha", "latest=sometimes").flavor.error
    assert metadata("type=sha", "colour=blue").flavor.error
    assert metadata("type=sha", "justaword").flavor.error


def test_latest_auto_comes_with_versions_on_tag_runs_only() -> None:
    data = metadata(
        """
        type=semver,pattern={{version}}
        type=sha
        """
    )
    causes = data.latest_causes(frozenset({RefKind.TAG}))
    assert causes is not None and [r.type for r in causes] == [TagType.SEMVER]
    assert data.latest_causes(frozenset({RefKind.BRANCH, RefKind.PR})) is None


def test_latest_auto_with_ref_tag_and_with_defaults() -> None:
    assert metadata("type=ref,event=tag").latest_causes(frozenset({RefKind.TAG}))
    doc = Doc("\n- uses: docker/metadata-action@v5\n  with:\n    images: ghcr.io/o/app")
    causes = doc.read().latest_causes(frozenset({RefKind.TAG}))
    assert causes is not None and causes[0].line == "type=ref,event=tag"


def test_latest_true_comes_with_any_tag_and_false_never() -> None:
    on_branch = frozenset({RefKind.BRANCH})
    assert metadata("type=sha", "latest=true").latest_causes(on_branch) == ()
    assert (
        metadata("type=semver,pattern={{version}}", "latest=false").latest_causes(
            frozenset({RefKind.TAG})
        )
        is None
    )
    # no rule renders on a PR run: no tag, so no latest either
    assert (
        metadata("type=ref,event=branch", "latest=true").latest_causes(frozenset({RefKind.PR}))
        is None
    )


def test_latest_from_an_expression_may_be_true() -> None:
    data = metadata("type=sha", "latest=${{ github.ref == 'refs/heads/main' }}")
    assert data.latest_causes(frozenset({RefKind.BRANCH})) == ()


# --- samples ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "flavor", "sample"),
    [
        ("type=semver,pattern={{version}}", "", "1.2.3"),
        ("type=semver,pattern={{major}}.{{minor}}", "", "1.2"),
        ("type=semver,pattern=v{{major}}", "", "v1"),
        ("type=semver,pattern={{raw}}", "", "v1.2.3"),
        ("type=pep440,pattern={{version}}", "suffix=-slim", "1.2.3-slim"),
        ("type=ref,event=tag", "", "v1.2.3"),
        ("type=ref,event=branch", "", "main"),
        ("type=ref,event=pr", "", "pr-1"),
        ("type=sha", "", "sha-0123abc"),
        ("type=sha,prefix=", "", "0123abc"),
        ("type=edge", "", "edge"),
        ("type=schedule", "", "nightly"),
        ("type=schedule,pattern={{date 'YYYYMMDD'}}", "", "20240101"),
        ("type=raw,value=latest", "prefix=debian-", "debian-latest"),
        ("type=raw,value=latest,prefix=", "prefix=debian-", "latest"),
        ("type=raw,value=stable-{{branch}}", "", "stable-main"),
        ("type=raw,value=${{ env.TAG }}", "", None),
    ],
)
def test_sample(line: str, flavor: str, sample: str | None) -> None:
    data = metadata(line, flavor)
    assert data.rules[0].sample(data.flavor) == sample


def test_branch_samples_replace_slashes() -> None:
    data = metadata("type=ref,event=branch")
    assert data.rules[0].sample(data.flavor, "release/1.x") == "release-1.x"


def test_value_of_field_keeps_expressions_and_spans() -> None:
    doc = Doc(
        """
        - uses: docker/metadata-action@v5
          with:
            images: ghcr.io/o/app
            tags: |
              type=raw,value=v${{ env.VERSION }},enable=true
        """
    )
    data = doc.read()
    text = doc.steps[0].with_["tags"]
    field = data.rules[0].field("value")
    assert field is not None
    value = meta.value_of_field(text, field, PATH)
    assert [(p.kind, p.text) for p in value.pieces] == [
        (PieceKind.LITERAL, "v"),
        (PieceKind.EXPR, "${{ env.VERSION }}"),
    ]
    assert value.pieces[1].span == doc.span("${{ env.VERSION }}")
    assert value.span == doc.span("v${{ env.VERSION }}")
