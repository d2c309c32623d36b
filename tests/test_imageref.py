"""Tests for digestgate.imageref: the distribution/reference grammar, normalisation,
digestgate's digest policy and the static shape of partially known references.

Expected values are worked out by hand from the grammar (PLATFORM.md 5.2, from
distribution/reference's reference.go, regexp.go and normalize.go) and the digest
policy of RULES.md (DG101, DG103), not copied from the module's output. The
differential test compares the hand-written parser with an independent regular
expression built from the same grammar.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from digestgate.imageref import (
    PLACEHOLDER,
    ImageRef,
    RefError,
    RefShape,
    check_digest,
    parse,
    split_static,
)

H = "0123456789abcdef" * 4  # 64 lower-case hex characters
H512 = "fedcba9876543210" * 8  # 128
P = PLACEHOLDER

# ref, domain, path, tag, digest
GOOD: list[tuple[str, str | None, str, str | None, str | None]] = [
    ("ubuntu", None, "ubuntu", None, None),
    ("ubuntu:22.04", None, "ubuntu", "22.04", None),
    ("app:1.0", None, "app", "1.0", None),
    ("app:latest", None, "app", "latest", None),
    ("nginx:1.25-alpine", None, "nginx", "1.25-alpine", None),
    ("acme/app", None, "acme/app", None, None),
    ("a/b/c/d/e", None, "a/b/c/d/e", None, None),
    ("0/1", None, "0/1", None, None),
    ("ghcr.io/acme/app", "ghcr.io", "acme/app", None, None),
    ("ghcr.io/acme/app:v1.2.3", "ghcr.io", "acme/app", "v1.2.3", None),
    (f"ghcr.io/acme/app@sha256:{H}", "ghcr.io", "acme/app", None, f"sha256:{H}"),
    (f"ghcr.io/acme/app:1.0@sha256:{H}", "ghcr.io", "acme/app", "1.0", f"sha256:{H}"),
    (f"ubuntu:22.04@sha256:{H}", None, "ubuntu", "22.04", f"sha256:{H}"),
    (f"app@sha512:{H512}", None, "app", None, f"sha512:{H512}"),
    # localhost is a domain only when a "/" follows it; so is host:port.
    ("localhost/app", "localhost", "app", None, None),
    ("localhost:5000/app", "localhost:5000", "app", None, None),
    ("localhost:5000/app:1.0", "localhost:5000", "app", "1.0", None),
    ("localhost:5000", None, "localhost", "5000", None),
    ("localhost", None, "localhost", None, None),
    ("example.com", None, "example.com", None, None),
    ("example.com/app", "example.com", "app", None, None),
    (
        "registry.example.com:443/team/sub/app:latest",
        "registry.example.com:443",
        "team/sub/app",
        "latest",
        None,
    ),
    ("my-registry:5000/app", "my-registry:5000", "app", None, None),
    ("host:1/app", "host:1", "app", None, None),
    ("192.168.1.10:5000/app", "192.168.1.10:5000", "app", None, None),
    ("1.2.3.4/app", "1.2.3.4", "app", None, None),
    ("a.b.c/d", "a.b.c", "d", None, None),
    ("xn--bcher-kva.example/app", "xn--bcher-kva.example", "app", None, None),
    ("k8s.gcr.io/pause:3.9", "k8s.gcr.io", "pause", "3.9", None),
    ("gcr.io/project-id/image_name", "gcr.io", "project-id/image_name", None, None),
    ("quay.io/org/app.v2", "quay.io", "org/app.v2", None, None),
    # IPv6 hosts, with and without a port; hex letters may be upper-case there.
    ("[::1]:5000/app:tag", "[::1]:5000", "app", "tag", None),
    ("[::1]/app", "[::1]", "app", None, None),
    ("[2001:db8::1]:443/x/y", "[2001:db8::1]:443", "x/y", None, None),
    ("[FE80::1]/app", "[FE80::1]", "app", None, None),
    # Upper case is allowed in the domain; an upper-case first component is a domain.
    ("UPPERCASE.example.com/app", "UPPERCASE.example.com", "app", None, None),
    ("ACME/app", "ACME", "app", None, None),
    # Separators: one "." or "_", "__", one or more "-".
    ("a__b", None, "a__b", None, None),
    ("a---b", None, "a---b", None, None),
    ("a_b", None, "a_b", None, None),
    ("a.b", None, "a.b", None, None),
    ("acme/a-b.c_d__e--f", None, "acme/a-b.c_d__e--f", None, None),
    ("docker.io/library/ubuntu", "docker.io", "library/ubuntu", None, None),
    ("index.docker.io/library/ubuntu", "index.docker.io", "library/ubuntu", None, None),
    ("docker.io/ubuntu", "docker.io", "ubuntu", None, None),
    # Tags: [\w][\w.-]{0,127}, upper case allowed, may start with "_".
    ("app:_tag", None, "app", "_tag", None),
    ("app:V1.0-RC_1", None, "app", "V1.0-RC_1", None),
    ("app:" + "x" * 128, None, "app", "x" * 128, None),
    ("app:0", None, "app", "0", None),
    # Only a bare 64-hex string is refused as a name; with a tag it is a name.
    (f"{H}:tag", None, H, "tag", None),
    ("a" * 255, None, "a" * 255, None, None),
    ("example.com/" + "a" * 243, "example.com", "a" * 243, None, None),
]

# ref, part, reason fragment
BAD: list[tuple[str, str, str]] = [
    ("", "reference", "empty"),
    ("Name/App", "name", "must be lower-case"),
    ("docker.io/Library/x", "name", "must be lower-case"),
    ("App", "name", "must be lower-case"),
    ("Foo", "name", "must be lower-case"),
    ("acme/App", "name", "must be lower-case"),
    ("ACME_CORP/app", "name", "must be lower-case"),
    ("-app", "name", "must start with a lower-case letter or digit"),
    ("app-", "name", "must end with a lower-case letter or digit"),
    ("acme/_app", "name", "must start"),
    ("a..b", "name", "invalid separator '..'"),
    ("a___b", "name", "invalid separator '___'"),
    ("a_-b", "name", "invalid separator '_-'"),
    ("a.-b", "name", "invalid separator '.-'"),
    ("a//b", "name", "empty path component"),
    ("a/", "name", "empty path component"),
    ("/a", "name", "empty path component"),
    ("ghcr.io/", "name", "empty path component"),
    ("a/b:c/d", "name", "invalid character ':'"),
    ("app/caf\u00e9", "name", "invalid character 'é'"),
    ("[::1]:5000", "name", "invalid character '['"),
    ("a" * 256, "name", "longer than 255"),
    ("example.com/" + "a" * 244, "name", "longer than 255"),
    ("@sha256:" + H, "name", "repository name is empty"),
    (":tag", "name", "repository name is empty"),
    ("localhost:abc/app", "domain", "invalid port 'abc'"),
    ("host:/app", "domain", "invalid port ''"),
    ("app:1.0/x", "domain", "invalid port '1.0'"),
    ("host:50:00/app", "domain", "invalid port '50:00'"),
    (":5000/app", "domain", "invalid registry host ''"),
    ("-bad.example.com/app", "domain", "invalid registry host"),
    ("bad-.example.com/app", "domain", "invalid registry host"),
    ("a_b.example.com/app", "domain", "invalid registry host"),
    ("a.b./c", "domain", "invalid registry host"),
    ("[::1/app", "domain", "IPv6"),
    ("[::g]/app", "domain", "IPv6"),
    ("[::1]x/app", "domain", "invalid registry address"),
    ("app:", "tag", "tag is empty"),
    ("app:" + "x" * 129, "tag", "longer than 128"),
    ("app:.x", "tag", "must start with a letter, digit or underscore"),
    ("app:-x", "tag", "must start"),
    ("app:v1+2", "tag", "invalid character '+'"),
    ("app:tag:more", "tag", "invalid character ':'"),
    ("app@", "digest", "digest is empty"),
    ("app:v1@", "digest", "digest is empty"),
    ("app@sha256:abc", "digest", "64 lower-case hex characters for sha256 (got 3)"),
    (f"app@sha256:{H.upper()}", "digest", "upper-case"),
    (f"app@sha256:{H}0", "digest", "got 65"),
    (f"app@sha256:{H[:-1]}g", "digest", "found 'g'"),
    ("app@sha256:", "digest", "it is empty"),
    (f"app@sha512:{H}", "digest", "128 lower-case hex characters for sha512 (got 64)"),
    (f"app@md5:{'0' * 32}", "digest", "unknown digest algorithm 'md5'"),
    (f"app@sha384:{'0' * 96}", "digest", "unknown digest algorithm 'sha384'"),
    (f"app@SHA256:{H}", "digest", "algorithm must be lower-case"),
    (f"app@{H}", "digest", "expected sha256:"),
    ("app@sha256", "digest", "expected sha256:"),
    ("app@foo", "digest", "expected sha256:"),
    (f"app@:{H}", "digest", "algorithm is empty"),
    (f"app@sha256:{H}@sha256:{H}", "digest", "found '@'"),
    (f"app@sha256:sha256:{H}", "digest", "found 's'"),
    (H, "reference", "image ID"),
    ("app name", "reference", "contains ' '"),
    (" app", "reference", "contains ' '"),
    ("app\n", "reference", "contains '\\n'"),
    (f"app@sha256:{H} ", "reference", "contains ' '"),
    (f"app{P}", "reference", "contains '\\x00'"),
]


def test_table_is_large_enough() -> None:
    assert len(GOOD) + len(BAD) >= 70
    assert len({ref for ref, *_ in GOOD} | {ref for ref, *_ in BAD}) == len(GOOD) + len(BAD)


@pytest.mark.parametrize(("ref", "domain", "path", "tag", "digest"), GOOD)
def test_good_references(
    ref: str, domain: str | None, path: str, tag: str | None, digest: str | None
) -> None:
    parsed = parse(ref)
    assert parsed == ImageRef(domain, path, tag, digest)
    assert str(parsed) == ref
    assert parsed.name == (path if domain is None else f"{domain}/{path}")
    assert parsed.is_pinned == (digest is not None)
    assert parsed.implicit_latest == (tag is None and digest is None)


@pytest.mark.parametrize(("ref", "part", "fragment"), BAD)
def test_bad_references(ref: str, part: str, fragment: str) -> None:
    with pytest.raises(RefError) as info:
        parse(ref)
    assert fragment in info.value.reason
    assert info.value.part == part
    assert isinstance(info.value, ValueError)
    if ref:
        assert repr(ref) in str(info.value)


@pytest.mark.parametrize("ref", [r for r, *_ in GOOD] + [r for r, *_ in BAD if P not in r])
def test_split_static_agrees_with_parse_on_static_text(ref: str) -> None:
    shape = split_static(ref)
    try:
        parsed = parse(ref)
    except RefError as exc:
        assert shape.error == exc.reason
        return
    assert shape.error is None
    assert shape.is_static
    assert shape.name == parsed.name
    assert shape.has_tag == (parsed.tag is not None)
    assert shape.tag == parsed.tag
    assert shape.has_at == (parsed.digest is not None)
    assert shape.digest == parsed.digest
    assert shape.digest_static == (parsed.digest is not None)
    assert shape.implicit_latest == parsed.implicit_latest


# ---------------------------------------------------------------------------
# Normalisation and familiar names


@pytest.mark.parametrize(
    ("ref", "normalized_name", "familiar_name", "normalized"),
    [
        ("ubuntu", "docker.io/library/ubuntu", "ubuntu", "docker.io/library/ubuntu"),
        (
            "ubuntu:22.04",
            "docker.io/library/ubuntu",
            "ubuntu",
            "docker.io/library/ubuntu:22.04",
        ),
        ("acme/app", "docker.io/acme/app", "acme/app", "docker.io/acme/app"),
        (
            "index.docker.io/library/ubuntu",
            "docker.io/library/ubuntu",
            "ubuntu",
            "docker.io/library/ubuntu",
        ),
        ("index.docker.io/ubuntu", "docker.io/library/ubuntu", "ubuntu", None),
        ("index.docker.io/acme/app", "docker.io/acme/app", "acme/app", None),
        ("docker.io/ubuntu", "docker.io/library/ubuntu", "ubuntu", None),
        ("docker.io/library/ubuntu:1", "docker.io/library/ubuntu", "ubuntu", None),
        # "library/" is only dropped when nothing is nested under it.
        ("docker.io/library/a/b", "docker.io/library/a/b", "library/a/b", None),
        ("library/ubuntu", "docker.io/library/ubuntu", "ubuntu", None),
        ("localhost/app", "localhost/app", "localhost/app", "localhost/app"),
        ("localhost:5000/app:1", "localhost:5000/app", "localhost:5000/app", None),
        ("ghcr.io/acme/app", "ghcr.io/acme/app", "ghcr.io/acme/app", "ghcr.io/acme/app"),
        # Only docker.io and index.docker.io are Docker Hub names.
        (
            "registry-1.docker.io/library/ubuntu",
            "registry-1.docker.io/library/ubuntu",
            "registry-1.docker.io/library/ubuntu",
            None,
        ),
        ("localhost:5000", "docker.io/library/localhost", "localhost", None),
        ("example.com", "docker.io/library/example.com", "example.com", None),
        ("UPPER.example.com/app", "UPPER.example.com/app", "UPPER.example.com/app", None),
        (
            f"app:1@sha256:{H}",
            "docker.io/library/app",
            "app",
            f"docker.io/library/app:1@sha256:{H}",
        ),
        (
            f"ghcr.io/o/app@sha256:{H}",
            "ghcr.io/o/app",
            "ghcr.io/o/app",
            f"ghcr.io/o/app@sha256:{H}",
        ),
    ],
)
def test_normalisation(
    ref: str, normalized_name: str, familiar_name: str, normalized: str | None
) -> None:
    parsed = parse(ref)
    assert parsed.normalized_name == normalized_name
    assert parsed.familiar_name == familiar_name
    if normalized is not None:
        assert parsed.normalized() == normalized
    # Normalising is idempotent and the familiar form means the same image.
    assert parse(parsed.normalized()).normalized() == parsed.normalized()
    assert parse(parsed.familiar()).normalized() == parsed.normalized()


def test_normalized_adds_no_latest_tag() -> None:
    assert parse("ghcr.io/acme/app").normalized() == "ghcr.io/acme/app"
    assert parse("ubuntu").normalized() == "docker.io/library/ubuntu"
    assert parse("ubuntu").implicit_latest
    assert not parse("ubuntu:latest").implicit_latest
    assert not parse(f"ubuntu@sha256:{H}").implicit_latest


@pytest.mark.parametrize(
    ("ref", "last"),
    [
        ("ghcr.io/acme/app", "app"),
        ("ubuntu", "ubuntu"),
        ("localhost:5000/a/b-c:1", "b-c"),
        (f"acme/app.v2@sha256:{H}", "app.v2"),
    ],
)
def test_last_component(ref: str, last: str) -> None:
    assert parse(ref).last_component == last


# ---------------------------------------------------------------------------
# Digests


@pytest.mark.parametrize(
    ("digest", "fragment"),
    [
        (f"sha256:{H}", None),
        (f"sha512:{H512}", None),
        ("", "digest is empty"),
        ("sha256:", "it is empty"),
        ("sha256", "expected sha256:<64 hex characters>"),
        (H, "expected sha256:"),
        (f"sha256:{H[:63]}", "64 lower-case hex characters for sha256 (got 63)"),
        (f"sha256:{H}00", "got 66"),
        (f"sha256:{H.upper()}", "upper-case"),
        (f"sha256:{H[:-1]}A", "upper-case"),
        (f"SHA256:{H}", "algorithm must be lower-case"),
        (f"Sha512:{H512}", "algorithm must be lower-case"),
        (f"md5:{'0' * 32}", "unknown digest algorithm 'md5'"),
        (f"sha1:{'0' * 40}", "unknown digest algorithm 'sha1'"),
        (f"sha384:{'0' * 96}", "unknown digest algorithm 'sha384'"),
        (f"sha512:{H}", "128 lower-case hex characters for sha512 (got 64)"),
        (f"sha256:{H512}", "got 128"),
        (f":{H}", "algorithm is empty"),
        (f"sha256:{H[:-1]}z", "found 'z'"),
        (f"sha256: {H[1:]}", "found ' '"),
        (f"sha256:sha256:{H}", "found 's'"),
    ],
)
def test_check_digest(digest: str, fragment: str | None) -> None:
    reason = check_digest(digest)
    if fragment is None:
        assert reason is None
    else:
        assert reason is not None
        assert fragment in reason


def test_lenient_parse_keeps_grammar_valid_digests() -> None:
    upper = parse(f"app@sha256:{H.upper()}", strict=False)
    assert upper.digest == f"sha256:{H.upper()}"
    assert not upper.is_pinned
    assert upper.digest_error is not None
    assert "upper-case" in upper.digest_error
    md5 = parse(f"app@md5:{'0' * 32}", strict=False)
    assert not md5.is_pinned
    # The grammar allows algorithm separators and any hex of 32 or more.
    assert parse(f"app@sha256+b64:{'0' * 32}", strict=False).digest == f"sha256+b64:{'0' * 32}"
    good = parse(f"app@sha256:{H}", strict=False)
    assert good.is_pinned
    assert good.digest_error is None
    assert parse("app", strict=False).digest_error is None


@pytest.mark.parametrize(
    ("ref", "fragment"),
    [
        ("app@sha256:abc", "got 3"),  # fewer than 32 hex characters
        (f"app@1sha:{'0' * 32}", "unknown digest algorithm '1sha'"),
        (f"app@sha256:{'0' * 31}g", "found 'g'"),
        ("app@", "digest is empty"),
        (f"app@-sha:{'0' * 32}", "unknown digest algorithm"),
    ],
)
def test_lenient_parse_still_applies_the_grammar(ref: str, fragment: str) -> None:
    with pytest.raises(RefError) as info:
        parse(ref, strict=False)
    assert fragment in info.value.reason


# ---------------------------------------------------------------------------
# split_static: references with unknown parts


def shape(
    has_tag: bool = False,
    tag: str | None = None,
    has_at: bool = False,
    digest: str | None = None,
    name: str | None = None,
    error: str | None = None,
) -> dict[str, object]:
    return {
        "has_tag": has_tag,
        "tag": tag,
        "has_at": has_at,
        "digest": digest,
        "digest_static": digest is not None,
        "name": name,
        "error": error,
    }


def fields(got: RefShape) -> dict[str, object]:
    return {
        "has_tag": got.has_tag,
        "tag": got.tag,
        "has_at": got.has_at,
        "digest": got.digest,
        "digest_static": got.digest_static,
        "name": got.name,
        "error": got.error,
    }


@pytest.mark.parametrize(
    ("text", "expected", "error_fragment"),
    [
        # Tag positions: a tag that is an expression is still a tag (DG101).
        (f"app:{P}", shape(has_tag=True, name="app"), None),
        (
            f"ghcr.io/acme/app:sha-{P}",
            shape(has_tag=True, name="ghcr.io/acme/app"),
            None,
        ),
        (f"{P}:{P}", shape(has_tag=True), None),
        (f"{P}/app:1.0", shape(has_tag=True, tag="1.0"), None),
        (f"ghcr.io/{P}/app:v{P}.0", shape(has_tag=True), None),
        (f"app:{P}@sha256:{H}", shape(True, None, True, f"sha256:{H}", "app"), None),
        (f"app:1.0@{P}", shape(True, "1.0", True, None, "app"), None),
        # A ":" before the last "/" is a port, not a tag.
        (f"localhost:{P}/app", shape(), None),
        (f"{P}:5000/app:{P}", shape(has_tag=True), None),
        # With no "/" at all the ":" is a tag separator, as in `localhost:5000`.
        (f"localhost:{P}", shape(has_tag=True, name="localhost"), None),
        # Digest positions.
        (f"ghcr.io/acme/app@{P}", shape(has_at=True, name="ghcr.io/acme/app"), None),
        (f"ghcr.io/acme/app@sha256:{P}", shape(has_at=True, name="ghcr.io/acme/app"), None),
        (f"{P}@{P}", shape(has_at=True), None),
        (f"{P}@sha256:{H}", shape(has_at=True, digest=f"sha256:{H}"), None),
        (f"app@{P}{H[5:]}", shape(has_at=True, name="app"), None),
        (f"app@sha256:{H[:10]}{P}", shape(has_at=True, name="app"), None),
        # Name positions.
        (f"{P}", shape(), None),
        (f"{P}/app", shape(), None),
        (f"ghcr.io/{P}", shape(), None),
        (f"ghcr.io/{P}/app", shape(), None),
        (f"{P}.example.com:{P}/team/{P}-app", shape(), None),
        (f"ghcr.io/{P}{P}/app", shape(), None),
        # Statically malformed: DG103.
        (f"app@md5:{P}", shape(has_at=True, name="app", error=""), "unknown digest algorithm"),
        (f"app@SHA256:{P}", shape(has_at=True, name="app", error=""), "lower-case"),
        (f"app@sha256:ABC{P}", shape(has_at=True, name="app", error=""), "upper-case"),
        (f"app@sha256:xyz{P}", shape(has_at=True, name="app", error=""), "found 'x'"),
        (f"app@sha256:{'0' * 65}{P}", shape(has_at=True, name="app", error=""), "more than 64"),
        (f"app@{P}@x", shape(has_at=True, name="app", error=""), "invalid character '@'"),
        (f"app@:{P}", shape(has_at=True, name="app", error=""), "algorithm is empty"),
        (f"{P}:1.0@sha256:abc", shape(True, "1.0", True, "sha256:abc", error=""), "got 3"),
        (f"{P}@", shape(has_at=True, digest="", error=""), "digest is empty"),
        (f"Acme/App:{P}", shape(has_tag=True, name="Acme/App", error=""), "must be lower-case"),
        (f"ghcr.io/acme/-{P}", shape(error=""), "must start"),
        (f"ghcr.io/acme/{P}_", shape(error=""), "must end"),
        (f"{P}/a..b", shape(error=""), "invalid separator '..'"),
        (f"{P}//app", shape(error=""), "empty path component"),
        (f"host:x{P}/app", shape(error=""), "invalid port"),
        (f"app:.{P}", shape(has_tag=True, name="app", error=""), "must start"),
        (f"app:{P}", shape(has_tag=True, name="app"), None),
        (f"app:{P}+x", shape(has_tag=True, name="app", error=""), "invalid character '+'"),
        (f":{P}", shape(has_tag=True, name="", error=""), "repository name is empty"),
        (f"{P} app", shape(error=""), "contains ' '"),
        # Lengths count a placeholder as possibly empty.
        (f"app:{P}{'x' * 128}", shape(has_tag=True, name="app"), None),
        (f"app:{P}{'x' * 129}", shape(has_tag=True, name="app", error=""), "longer than 128"),
        (f"{P}/{'a' * 253}", shape(), None),
        (f"{P}/{'a' * 255}", shape(error=""), "longer than 255"),
    ],
)
def test_split_static(text: str, expected: dict[str, object], error_fragment: str | None) -> None:
    got = split_static(text)
    if error_fragment is not None:
        assert got.error is not None
        assert error_fragment in got.error
        expected = {**expected, "error": got.error}
    assert fields(got) == expected


def test_split_static_tail_and_implicit_latest() -> None:
    # Unknown text at the end may carry a tag or digest: not known to be `latest`.
    assert split_static(P).open_tail
    assert not split_static(P).implicit_latest
    assert split_static(f"ghcr.io/{P}").open_tail
    assert split_static(f"app{P}").open_tail
    # A static last component: no tag, no digest, so `latest`.
    assert split_static(f"ghcr.io/{P}/app").implicit_latest
    assert split_static(f"{P}/app").name_text == f"{P}/app"
    assert split_static("ghcr.io/acme/app").implicit_latest
    assert not split_static(f"app:{P}").open_tail
    assert not split_static(f"app@{P}").open_tail
    assert not split_static(f"app:{P}").implicit_latest
    # Runs of placeholders are one placeholder.
    assert split_static(f"{P}{P}{P}:x") == split_static(f"{P}:x")
    assert not split_static(f"app:{P}").is_static
    assert split_static("app:1").is_static


@pytest.mark.parametrize(
    ("text", "code"),
    [
        (f"ghcr.io/o/app@{P}", None),  # a digest from an expression: provenance decides
        (f"ghcr.io/o/app@sha256:{H}", None),
        (f"ghcr.io/o/app:{P}@sha256:{H}", None),
        (f"ghcr.io/o/app:{P}", "DG101"),
        (f"{P}:latest", "DG101"),
        ("ghcr.io/o/app", "DG101"),
        (f"ghcr.io/{P}/app", "DG101"),
        (P, None),  # wholly an expression: DG102's business
        (f"ghcr.io/o/app@sha256:{H.upper()}", "DG103"),
        (f"ghcr.io/o/app@{P}:abc", None),
        ("ghcr.io/o/app@latest", "DG103"),
        (f"ghcr.io/o/App:{P}", "DG103"),
        (f"app@sha256:abc{P}", None),
    ],
)
def test_split_static_decides_the_code(text: str, code: str | None) -> None:
    """The decision a rule makes from the shape (RULES.md: one reference, one code)."""
    got = split_static(text)
    if got.error is not None:
        decided: str | None = "DG103"
    elif not got.has_at and (got.has_tag or got.implicit_latest):
        decided = "DG101"
    else:
        decided = None
    assert decided == code


# ---------------------------------------------------------------------------
# Properties: an independent regex oracle, round trips, placeholders


_ALNUM = r"[a-z0-9]+"
_SEP = r"(?:[._]|__|-+)"
_COMP = rf"{_ALNUM}(?:{_SEP}{_ALNUM})*"
_PATH = rf"{_COMP}(?:/{_COMP})*"
_DCOMP = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DCOMP}(?:\.{_DCOMP})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST = r"sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128}"
ORACLE = re.compile(
    rf"(?P<name>(?:{_DOMAIN}/)?{_PATH})(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?"
)
ORACLE_PATH = re.compile(_PATH)
ORACLE_DOMAIN = re.compile(_DOMAIN)


def oracle(ref: str) -> ImageRef | None:
    """The grammar as one anchored expression, then Docker's domain rule."""
    if re.fullmatch(r"[a-f0-9]{64}", ref):
        return None
    m = ORACLE.fullmatch(ref)
    if m is None:
        return None
    name = m["name"]
    if len(name) > 255:
        return None
    first, slash, rest = name.partition("/")
    domain_like = "." in first or ":" in first or first == "localhost" or first != first.lower()
    if slash and domain_like:
        if not (ORACLE_DOMAIN.fullmatch(first) and ORACLE_PATH.fullmatch(rest)):
            return None
        return ImageRef(first, rest, m["tag"], m["digest"])
    if not ORACLE_PATH.fullmatch(name):
        return None
    return ImageRef(None, name, m["tag"], m["digest"])


alnums = st.text("abcxyz0189", min_size=1, max_size=6)
separators = st.sampled_from([".", "_", "__", "-", "--", "---"])
components = st.builds(
    lambda first, rest: first + "".join(sep + part for sep, part in rest),
    alnums,
    st.lists(st.tuples(separators, alnums), max_size=3),
)
labels = st.builds(
    lambda head, tail: head + (f"-{tail}" if tail else ""),
    st.text("abzAZ09", min_size=1, max_size=5),
    st.text("abzAZ09", max_size=4),
)
domains = st.one_of(
    st.sampled_from(
        [
            "ghcr.io",
            "localhost",
            "localhost:5000",
            "[::1]:5000",
            "[2001:db8::1]",
            "Registry.Example.com:443",
            "10.0.0.1",
            "ACME",
            "docker.io",
            "index.docker.io",
        ]
    ),
    st.builds(
        lambda parts, port: ".".join(parts) + (f":{port}" if port is not None else ""),
        st.lists(labels, min_size=2, max_size=4),
        st.none() | st.integers(0, 99999),
    ),
)
tags = st.builds(
    lambda head, tail: head + tail,
    st.sampled_from("aZ9_"),
    st.text("aZ09_.-", max_size=20),
)
digests = st.one_of(
    st.text("0123456789abcdef", min_size=64, max_size=64).map(lambda h: f"sha256:{h}"),
    st.text("0123456789abcdef", min_size=128, max_size=128).map(lambda h: f"sha512:{h}"),
)


@st.composite
def valid_refs(draw: st.DrawFn) -> tuple[str, ImageRef]:
    domain = draw(st.none() | domains)
    path_components = draw(st.lists(components, min_size=1, max_size=3))
    if domain is None and len(path_components) > 1:
        first = path_components[0]
        if "." in first or first == "localhost":
            path_components[0] = first.replace(".", "-").replace("localhost", "lh")
    path = "/".join(path_components)
    tag = draw(st.none() | tags)
    digest = draw(st.none() | digests)
    expected = ImageRef(domain, path, tag, digest)
    text = str(expected)
    if len(expected.name) > 255 or re.fullmatch(r"[a-f0-9]{64}", text):
        expected = ImageRef(None, "app", tag, digest)
        text = str(expected)
    return text, expected


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(valid_refs())
def test_valid_references_parse_and_round_trip(case: tuple[str, ImageRef]) -> None:
    text, expected = case
    parsed = parse(text)
    assert parsed == expected
    assert str(parsed) == text
    assert oracle(text) == expected
    got = split_static(text)
    assert got.error is None
    assert got.has_tag == (expected.tag is not None)
    assert got.has_at == (expected.digest is not None)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(valid_refs(), st.data())
def test_placeholders_never_invent_an_error(
    case: tuple[str, ImageRef], data: st.DataObject
) -> None:
    """Replacing a run of characters (no separator among them) by a placeholder keeps
    a valid reference valid and keeps its tag and digest separators."""
    text, expected = case
    start = data.draw(st.integers(0, len(text) - 1))
    end = data.draw(st.integers(start + 1, len(text)))
    if any(c in "/:@[]" for c in text[start:end]):
        return
    partial = text[:start] + P + text[end:]
    got = split_static(partial)
    assert got.error is None, (partial, got.error)
    assert got.has_tag == (expected.tag is not None)
    assert got.has_at == (expected.digest is not None)


def mutate(text: str, position: int, char: str, mode: int) -> str:
    position %= len(text) + 1
    if mode == 0:
        return text[:position] + char + text[position:]
    if mode == 1:
        return text[:position] + text[position + 1 :]
    return text[:position] + char + text[position + 1 :]


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.text("abAB09.-_:/@[]", max_size=24),
        st.builds(
            mutate,
            valid_refs().map(lambda case: case[0]),
            st.integers(0, 400),
            st.sampled_from("aA0.-_:/@[]+ "),
            st.integers(0, 2),
        ),
    )
)
@example("localhost:5000")
@example("[::1]:5000/app")
@example("a_b.c/d")
def test_parse_matches_the_grammar_oracle(text: str) -> None:
    expected = oracle(text)
    try:
        parsed = parse(text)
    except RefError as exc:
        assert expected is None, (text, exc.reason)
        assert split_static(text).error == exc.reason
        return
    assert parsed == expected, text
    assert str(parsed) == text
    assert split_static(text).error is None
