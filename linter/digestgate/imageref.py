"""Container image references: parsing, checking and normalising.

The grammar is the one of distribution/reference (what Docker, containerd, buildx and
most registries' clients use)::

    reference        := name [ ":" tag ] [ "@" digest ]
    name             := [domain "/"] path
    domain           := host [":" port]
    host             := domain-name | "[" IPv6 "]"
    domain-name      := domain-component ("." domain-component)*
    domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
    port             := [0-9]+
    path             := path-component ("/" path-component)*
    path-component   := [a-z0-9]+ (separator [a-z0-9]+)*
    separator        := "." | "_" | "__" | "-"+
    tag              := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
    digest           := algorithm ":" hex

The first component of a name is a domain when a "/" follows it and it contains "." or
":", is "localhost", or has upper-case letters (Docker's `splitDockerDomain`). A name
with no "/" never has a domain, so `localhost:5000` is the repository `localhost` with
the tag `5000`, as for Docker.

On top of the grammar, digestgate's policy accepts only `sha256:` + 64 and
`sha512:` + 128 lower-case hex characters as a digest (`check_digest`).

This module is imported by the light `digestgate verify` runtime command: standard
library only, no heavy imports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

__all__ = [
    "DEFAULT_DOMAIN",
    "DIGEST_LENGTHS",
    "LEGACY_DEFAULT_DOMAIN",
    "MAX_NAME_LENGTH",
    "MAX_TAG_LENGTH",
    "OFFICIAL_PREFIX",
    "PLACEHOLDER",
    "ImageRef",
    "RefError",
    "RefShape",
    "check_digest",
    "parse",
    "split_static",
]

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_PREFIX = "library/"
MAX_NAME_LENGTH = 255
MAX_TAG_LENGTH = 128

#: The digest algorithms digestgate accepts, with their hex length.
DIGEST_LENGTHS: dict[str, int] = {"sha256": 64, "sha512": 128}

#: Stands for any run of unknown text (an expression, a variable) in `split_static`.
PLACEHOLDER = "\x00"

# A registry on the runner itself: `localhost`, `*.localhost`, 127.0.0.0/8, 0.0.0.0 or
# [::1], with any port, followed by the repository path.
_ON_RUNNER = re.compile(
    r"^(localhost|[^/]+\.localhost|127(\.\d{1,3}){3}|0\.0\.0\.0|\[::1\])(:[^/]*)?/", re.I
)


def on_runner(ref: str) -> bool:
    """The reference names a registry on the runner (`localhost:5000/app:ci`): a test
    fixture that lives as long as the job, not an image anyone promotes or pulls."""
    return _ON_RUNNER.match(ref.strip()) is not None


# Substituted for a placeholder when checking the static rest of a reference: a digit
# is valid wherever a letter or digit is (domain, port, path, tag), so a reference whose
# static text is valid stays valid.
_STAND_IN = "0"

_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_DOMAIN_COMPONENT = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?")
_IPV6 = re.compile(r"\[[a-fA-F0-9:]+\]")
_PORT = re.compile(r"[0-9]+")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_TAG_CHARS = re.compile(r"[A-Za-z0-9_.-]*")
_IDENTIFIER = re.compile(r"[a-f0-9]{64}")
_GRAMMAR_DIGEST = re.compile(
    r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
)
_SEPARATOR_RUN = re.compile(r"[._-]+")
_VALID_SEPARATOR = re.compile(r"[._]|__|-+")
_HEX_LOWER = frozenset("0123456789abcdef")
_HEX_ANY = frozenset("0123456789abcdefABCDEF")
_PATH_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-")
_DIGEST_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789:+._-")


class RefError(ValueError):
    """An image reference that is not valid.

    `reason` says why, in words fit for a finding message; `part` names the part of the
    reference at fault: "reference", "domain", "name", "tag" or "digest".
    """

    def __init__(self, reason: str, ref: str = "", part: str = "reference") -> None:
        super().__init__(f"invalid image reference {ref!r}: {reason}" if ref else reason)
        self.reason = reason
        self.ref = ref
        self.part = part


@dataclass(frozen=True, slots=True)
class ImageRef:
    """A parsed image reference; every field is as written."""

    domain: str | None
    path: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """The repository name as written: `domain/path`, or `path`."""
        return self.path if self.domain is None else f"{self.domain}/{self.path}"

    @property
    def normalized_domain(self) -> str:
        if self.domain is None or self.domain == LEGACY_DEFAULT_DOMAIN:
            return DEFAULT_DOMAIN
        return self.domain

    @property
    def normalized_name(self) -> str:
        """The canonical name: `ubuntu` -> `docker.io/library/ubuntu`, `acme/app` ->
        `docker.io/acme/app`, `index.docker.io/x/y` -> `docker.io/x/y`."""
        domain = self.normalized_domain
        path = self.path
        if domain == DEFAULT_DOMAIN and "/" not in path:
            path = OFFICIAL_PREFIX + path
        return f"{domain}/{path}"

    @property
    def familiar_name(self) -> str:
        """The short name people write: `docker.io/library/ubuntu` -> `ubuntu`,
        `docker.io/acme/app` -> `acme/app`; other registries keep their domain."""
        domain = self.normalized_domain
        if domain != DEFAULT_DOMAIN:
            return f"{domain}/{self.path}"
        path = self.path
        if path.startswith(OFFICIAL_PREFIX):
            rest = path[len(OFFICIAL_PREFIX) :]
            if "/" not in rest:
                return rest
        return path

    @property
    def last_component(self) -> str:
        """The last path component: `app` for `ghcr.io/acme/app`."""
        return self.path.rsplit("/", 1)[-1]

    @property
    def is_pinned(self) -> bool:
        """Has a digest that digestgate accepts (see `check_digest`)."""
        return self.digest is not None and check_digest(self.digest) is None

    @property
    def digest_error(self) -> str | None:
        """Why the digest is not one digestgate accepts; None when fine or absent.
        Only a reference parsed with `strict=False` can have one."""
        return None if self.digest is None else check_digest(self.digest)

    @property
    def implicit_latest(self) -> bool:
        """Neither tag nor digest: the registry serves `latest`."""
        return self.tag is None and self.digest is None

    def normalized(self) -> str:
        """`normalized_name` with the tag and digest as written (no implied `latest`)."""
        return self.normalized_name + self._suffix()

    def familiar(self) -> str:
        """`familiar_name` with the tag and digest as written."""
        return self.familiar_name + self._suffix()

    def _suffix(self) -> str:
        out = ""
        if self.tag is not None:
            out += ":" + self.tag
        if self.digest is not None:
            out += "@" + self.digest
        return out

    def __str__(self) -> str:
        return self.name + self._suffix()


def check_digest(digest: str) -> str | None:
    """None when `digest` is one digestgate accepts (`sha256:` + 64 or `sha512:` + 128
    lower-case hex characters), else the reason it is not."""
    if not digest:
        return "digest is empty"
    algorithm, colon, hex_part = digest.partition(":")
    if not colon:
        return f"digest {digest!r} is not algorithm:hex (expected sha256:<64 hex characters>)"
    if not algorithm:
        return "digest algorithm is empty (expected sha256)"
    length = DIGEST_LENGTHS.get(algorithm)
    if length is None:
        if algorithm.lower() in DIGEST_LENGTHS:
            return f"digest algorithm must be lower-case ({algorithm.lower()}, not {algorithm})"
        return f"unknown digest algorithm {algorithm!r} (expected sha256 or sha512)"
    return _hex_error(algorithm, length, hex_part)


def _hex_error(algorithm: str, length: int, hex_part: str) -> str | None:
    if len(hex_part) == length and all(c in _HEX_LOWER for c in hex_part):
        return None
    base = f"digest hex must be {length} lower-case hex characters for {algorithm}"
    if not hex_part:
        return f"{base} (it is empty)"
    bad = next((c for c in hex_part if c not in _HEX_ANY), None)
    if bad is not None:
        return f"{base} (found {bad!r})"
    if len(hex_part) != length:
        return f"{base} (got {len(hex_part)})"
    return f"{base} (found upper-case hex)"


def parse(ref: str, *, strict: bool = True) -> ImageRef:
    """Parse `name`, `name:tag`, `name@digest` or `name:tag@digest`.

    Raises `RefError` when the reference is not valid under the distribution grammar,
    or, with `strict` (the default), when its digest is not one digestgate accepts.
    With `strict=False` any digest the grammar allows is kept (`is_pinned` and
    `digest_error` tell the rest).
    """
    name_text, tag, digest = _split(ref)
    error = _reference_error(ref, name_text, tag, digest, strict=strict)
    if error is not None:
        raise RefError(error[1], ref, error[0])
    domain, path = _split_domain(name_text)
    return ImageRef(domain, path, tag, digest)


def _split(ref: str) -> tuple[str, str | None, str | None]:
    """Name, tag and digest text, by the separators: the digest follows the first "@";
    the tag follows the first ":" after the last "/" before it."""
    before, at, digest_text = ref.partition("@")
    digest = digest_text if at else None
    slash = before.rfind("/")
    colon = before.find(":", slash + 1)
    if colon < 0:
        return before, None, digest
    return before[:colon], before[colon + 1 :], digest


def _split_domain(name: str) -> tuple[str | None, str]:
    first, slash, rest = name.partition("/")
    if slash and _looks_like_domain(first):
        return first, rest
    return None, name


def _looks_like_domain(first: str) -> bool:
    return "." in first or ":" in first or first == "localhost" or first.lower() != first


def _reference_error(
    ref: str, name: str, tag: str | None, digest: str | None, *, strict: bool
) -> tuple[str, str] | None:
    """(part, reason) for the first problem of a reference, or None."""
    if not ref:
        return "reference", "reference is empty"
    bad = next((c for c in ref if c.isspace() or not c.isprintable()), None)
    if bad is not None:
        return "reference", f"reference contains {bad!r}"
    if _IDENTIFIER.fullmatch(ref):
        return "reference", "a 64-character hex string is an image ID, not a repository name"
    found = _name_error(name)
    if found is not None:
        return found
    if tag is not None:
        reason = _tag_error(tag)
        if reason is not None:
            return "tag", reason
    if digest is not None:
        reason = _digest_error(digest, strict=strict)
        if reason is not None:
            return "digest", reason
    return None


def _name_error(name: str, length: int | None = None) -> tuple[str, str] | None:
    """`length` overrides len(name) for the length limit (the shortest a name with
    placeholders can be)."""
    if not name:
        return "name", "repository name is empty"
    first, slash, rest = name.partition("/")
    if slash and _looks_like_domain(first):
        reason = _domain_error(first)
        if reason is not None:
            if "." in first or ":" in first or first == "localhost":
                return "domain", reason
            # Taken for a domain only because of its upper-case letters: as Docker does,
            # say what is wrong with it as a path component.
            return "name", _path_component_error(first) or reason
        path = rest
    else:
        path = name
    for component in path.split("/"):
        reason = _path_component_error(component)
        if reason is not None:
            return "name", reason
    if (len(name) if length is None else length) > MAX_NAME_LENGTH:
        return "name", f"repository name is longer than {MAX_NAME_LENGTH} characters"
    return None


def _domain_error(domain: str) -> str | None:
    if domain.startswith("["):
        close = domain.find("]")
        if close < 0 or not _IPV6.fullmatch(domain[: close + 1]):
            return f"invalid IPv6 registry address {domain!r}"
        host, port_part = domain[: close + 1], domain[close + 1 :]
        if port_part and not port_part.startswith(":"):
            return f"invalid registry address {domain!r}"
    else:
        host = domain.partition(":")[0]
        port_part = domain[len(host) :]
        for label in host.split("."):
            if not _DOMAIN_COMPONENT.fullmatch(label):
                return f"invalid registry host {host!r}"
    if port_part and not _PORT.fullmatch(port_part[1:]):
        return f"invalid port {port_part[1:]!r} in registry {domain!r}"
    return None


def _path_component_error(component: str) -> str | None:
    if _PATH_COMPONENT.fullmatch(component):
        return None
    if not component:
        return "repository name has an empty path component"
    lowered = component.lower()
    if lowered != component and _PATH_COMPONENT.fullmatch(lowered):
        return "repository name must be lower-case"
    bad = next((c for c in lowered if c not in _PATH_CHARS), None)
    if bad is not None:
        return f"invalid character {bad!r} in repository name"
    if component[0] in "._-":
        return f"path component {component!r} must start with a lower-case letter or digit"
    if component[-1] in "._-":
        return f"path component {component!r} must end with a lower-case letter or digit"
    for run in _SEPARATOR_RUN.findall(component):
        if not _VALID_SEPARATOR.fullmatch(run):
            return f"invalid separator {run!r} in repository name"
    return f"invalid path component {component!r}"


def _tag_error(tag: str, length: int | None = None) -> str | None:
    if _TAG.fullmatch(tag):
        return None
    if not tag:
        return "tag is empty"
    if not _TAG_CHARS.fullmatch(tag):
        bad = next(c for c in tag if not _TAG_CHARS.fullmatch(c))
        return f"invalid character {bad!r} in tag"
    if tag[0] in ".-":
        return "tag must start with a letter, digit or underscore"
    if (len(tag) if length is None else length) > MAX_TAG_LENGTH:
        return f"tag is longer than {MAX_TAG_LENGTH} characters"
    return None


def _digest_error(digest: str, *, strict: bool) -> str | None:
    if not digest:
        return "digest is empty (nothing after '@')"
    policy = check_digest(digest)
    if strict or policy is None:
        return policy
    # Lenient: any digest the grammar allows; otherwise the policy reason says why not.
    return None if _GRAMMAR_DIGEST.fullmatch(digest) else policy


@dataclass(frozen=True, slots=True)
class RefShape:
    """What can be told statically about a reference whose unknown parts are
    `PLACEHOLDER`s (see `split_static`).

    A rule decides: `error` -> DG103; else `has_tag` and not `has_at` -> DG101 (even
    when the tag is an expression); else a digest whose text is an expression is a
    matter of provenance (DG102/DG303); `implicit_latest` (no tag, no digest, and no
    unknown text at the end that could carry one) -> DG101.
    """

    has_tag: bool
    tag: str | None  # the tag, when wholly static
    has_at: bool
    digest: str | None  # the digest text, when wholly static
    digest_static: bool  # there is a digest and it is wholly static
    name: str | None  # the name (domain/path), when wholly static
    error: str | None  # why the reference cannot be valid, judged by its static text
    name_text: str = ""  # the name with its placeholders
    open_tail: bool = False  # no tag and no "@", and the text ends with a placeholder

    @property
    def is_static(self) -> bool:
        """No placeholder anywhere."""
        return (
            self.name is not None
            and (not self.has_tag or self.tag is not None)
            and (not self.has_at or self.digest_static)
        )

    @property
    def implicit_latest(self) -> bool:
        """Statically neither tag nor digest, and no unknown tail that could add one."""
        return not self.has_tag and not self.has_at and not self.open_tail


def split_static(ref: str) -> RefShape:
    """The shape of a partially known reference.

    `ref` is the text with each unknown part (a `${{ }}` expression, a shell variable)
    replaced by `PLACEHOLDER`, which stands for any run of unknown text. The separators
    are read from the static text: the digest follows the first "@", the tag follows
    the first ":" after the last "/" before it (`app:${{ github.sha }}` has a tag,
    `localhost:${{ env.PORT }}/app` has none). `error` is set only when no text in
    place of the placeholders could make the reference valid, as far as the static
    characters tell; with no placeholder at all it is exactly `parse`'s reason.
    """
    while PLACEHOLDER * 2 in ref:
        ref = ref.replace(PLACEHOLDER * 2, PLACEHOLDER)
    name_text, tag_text, digest_text = _split(ref)
    has_tag = tag_text is not None
    has_at = digest_text is not None
    static_digest = (
        digest_text if digest_text is not None and PLACEHOLDER not in digest_text else None
    )
    shape = RefShape(
        has_tag=has_tag,
        tag=tag_text if tag_text is not None and PLACEHOLDER not in tag_text else None,
        has_at=has_at,
        digest=static_digest,
        digest_static=static_digest is not None,
        name=None if PLACEHOLDER in name_text else name_text,
        error=None,
        name_text=name_text,
        open_tail=not has_tag and not has_at and name_text.endswith(PLACEHOLDER),
    )
    if PLACEHOLDER not in ref:
        error = _reference_error(ref, name_text, tag_text, digest_text, strict=True)
    else:
        error = _partial_error(ref, name_text, tag_text, digest_text)
    return shape if error is None else replace(shape, error=error[1])


def _partial_error(
    ref: str, name: str, tag: str | None, digest: str | None
) -> tuple[str, str] | None:
    bad = next((c for c in ref if c != PLACEHOLDER and (c.isspace() or not c.isprintable())), None)
    if bad is not None:
        return "reference", f"reference contains {bad!r}"
    if name != PLACEHOLDER:  # a wholly unknown name can be anything
        found = _name_error(
            name.replace(PLACEHOLDER, _STAND_IN), len(name.replace(PLACEHOLDER, ""))
        )
        if found is not None:
            return found
    if tag is not None:
        reason = _tag_error(tag.replace(PLACEHOLDER, _STAND_IN), len(tag.replace(PLACEHOLDER, "")))
        if reason is not None:
            return "tag", reason
    if digest is not None:
        if PLACEHOLDER not in digest:
            reason = _digest_error(digest, strict=True)
        else:
            reason = _partial_digest_error(digest)
        if reason is not None:
            return "digest", reason
    return None


def _partial_digest_error(digest: str) -> str | None:
    """What the static characters of a digest with unknown parts already get wrong."""
    bad = next((c for c in digest if c != PLACEHOLDER and c not in _DIGEST_CHARS), None)
    if bad is not None:
        return f"invalid character {bad!r} in digest"
    algorithm, colon, hex_part = digest.partition(":")
    if not colon or PLACEHOLDER in algorithm:
        return None
    if not algorithm:
        return "digest algorithm is empty (expected sha256)"
    length = DIGEST_LENGTHS.get(algorithm)
    if length is None:
        return check_digest(digest)
    static_hex = hex_part.replace(PLACEHOLDER, "")
    bad = next((c for c in static_hex if c not in _HEX_LOWER), None)
    if bad is not None or len(static_hex) > length:
        base = f"digest hex must be {length} lower-case hex characters for {algorithm}"
        if bad is None:
            return f"{base} (got more than {length})"
        if bad in _HEX_ANY:
            return f"{base} (found upper-case hex)"
        return f"{base} (found {bad!r})"
    return None
