"""The runtime digest check: `digestgate record` and `digestgate verify`.

`record` runs at the end of validation and writes a provenance record of the validated
images: an in-toto Statement v1 whose predicate is a SLSA Verification Summary (VSA v1).
`verify` runs in the promotion job, before the promotion step, and exits 0 only when
every image to promote is digest-pinned and matches a subject of a record that says
PASSED for the same repository (on the same server, `GITHUB_SERVER_URL`) and (unless
`--any-commit`) the same commit. A record must be a well-formed VSA: its required fields
present and of their types, a PASSED one claiming digestgate's level; fields it does not
know are ignored, as in-toto and SLSA require.

Fail-closed: anything unexpected blocks (exit 1) with one message per image naming the
image and the reason; a usage error exits 2. Nothing here prints an environment value
other than the repository and commit it checks.

Light: standard library only (and `digestgate.imageref`, itself standard library only),
so that `digestgate verify` starts fast in a promotion job. See docs RUNTIME.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import stat
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, NoReturn

from digestgate import __version__
from digestgate.imageref import RefError, check_digest, parse

if TYPE_CHECKING:
    import datetime

__all__ = [
    "MAX_RECORD_BYTES",
    "PREDICATE_TYPE",
    "STATEMENT_TYPE",
    "Context",
    "Outcome",
    "Record",
    "RecordError",
    "Subject",
    "build_statement",
    "load_record",
    "main",
    "registry_error",
    "subjects_from_images",
    "subjects_from_metadata",
    "verify_images",
]

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://slsa.dev/verification_summary/v1"
VERIFIER_ID = "https://github.com/digestgate/digestgate"
POLICY_URI = "https://github.com/digestgate/digestgate/blob/main/docs/RUNTIME.md"
#: The level a PASSED record claims (custom levels must not start with `SLSA_`).
VERIFIED_LEVEL = "DIGESTGATE_VALIDATED"
#: Records larger than this are refused before being read.
MAX_RECORD_BYTES = 10 * 1024 * 1024
DEFAULT_SERVER_URL = "https://github.com"

_HEX = frozenset("0123456789abcdef")
_COMMIT_LENGTHS = (40, 64)  # SHA-1 and SHA-256 object names
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")

USAGE_ERROR = 2
BLOCKED = 1


class RecordError(Exception):
    """A record that cannot be used; the message says why."""


class UsageError(Exception):
    """Bad command-line input; exit 2."""


class Subject(NamedTuple):
    """A normalised image name (no tag, no digest) and its sha256 hex."""

    name: str
    sha256: str

    @property
    def digest(self) -> str:
        return f"sha256:{self.sha256}"


class Context(NamedTuple):
    """Where a record comes from, or what `verify` checks it against."""

    repository: str | None = None
    commit: str | None = None
    workflow_ref: str | None = None
    run_id: str | None = None
    run_attempt: str | None = None
    server_url: str = DEFAULT_SERVER_URL


class Record(NamedTuple):
    """A loaded, well-formed record."""

    path: str
    subjects: tuple[Subject, ...]
    passed: bool
    repository: str
    commit: str
    digests: Mapping[str, str]  # name -> sha256 hex
    server: str = DEFAULT_SERVER_URL  # scheme://host of the repository


# --- context -------------------------------------------------------------------------


def _env(name: str, environ: Mapping[str, str]) -> str | None:
    value = environ.get(name, "").strip()
    return value or None


def _pick(flag: str | None, env_name: str, environ: Mapping[str, str]) -> str | None:
    if flag is not None and flag.strip():
        return flag.strip()
    return _env(env_name, environ)


def _is_commit(value: str) -> bool:
    return len(value) in _COMMIT_LENGTHS and all(c in _HEX for c in value)


def _check_repository(value: str, source: str) -> str:
    parts = value.split("/")
    if len(parts) < 2 or not all(parts) or any(c.isspace() for c in value):
        raise UsageError(f"{source} {value!r} is not OWNER/NAME")
    return value


def _check_commit(value: str, source: str) -> str:
    commit = value.lower()
    if not _is_commit(commit):
        raise UsageError(f"{source} {value!r} is not a full commit SHA (40 or 64 hex characters)")
    return commit


def _repository(flag: str | None, environ: Mapping[str, str]) -> str | None:
    value = _pick(flag, "GITHUB_REPOSITORY", environ)
    if value is None:
        return None
    return _check_repository(value, "--repository" if flag else "GITHUB_REPOSITORY")


def _commit(flag: str | None, environ: Mapping[str, str]) -> str | None:
    value = _pick(flag, "GITHUB_SHA", environ)
    if value is None:
        return None
    return _check_commit(value, "--commit" if flag else "GITHUB_SHA")


# --- subjects ------------------------------------------------------------------------


def _subject(ref_text: str, digest: str | None, source: str) -> Subject:
    """A subject from a reference (tag allowed, dropped) and an optional separate digest."""
    try:
        ref = parse(ref_text)
    except RefError as exc:
        raise UsageError(f"{source}: {exc}") from None
    if digest is None:
        digest = ref.digest
    elif ref.digest is not None and ref.digest != digest:
        raise UsageError(f"{source}: {ref_text!r} names another digest than {digest}")
    if digest is None:
        raise UsageError(f"{source}: {ref_text!r} has no digest (expected NAME@sha256:HEX)")
    reason = check_digest(digest)
    if reason is not None:
        raise UsageError(f"{source}: {ref_text!r}: {reason}")
    algorithm, _, hex_part = digest.partition(":")
    if algorithm != "sha256":
        raise UsageError(f"{source}: {ref_text!r}: records hold sha256 digests only")
    return Subject(ref.normalized_name, hex_part)


def subjects_from_images(images: Sequence[str]) -> list[Subject]:
    """Subjects from `NAME[:TAG]@sha256:HEX` references."""
    return [_subject(image, None, "--image") for image in images]


def _metadata_entries(data: object) -> list[Mapping[str, Any]]:
    """The build results of a metadata document: one (buildx build, build-push-action)
    or one per target (buildx bake)."""
    if not isinstance(data, dict):
        return []
    if "containerimage.digest" in data:
        return [data]
    return [v for v in data.values() if isinstance(v, dict) and "containerimage.digest" in v]


def subjects_from_metadata(path: str) -> list[Subject]:
    """Subjects from a buildx `--metadata-file` or build-push-action `metadata` JSON:
    `containerimage.digest` and the comma-separated names of `image.name`."""
    text = _read_text(path, MAX_RECORD_BYTES, UsageError)
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{path}: not valid JSON ({exc})") from None
    entries = _metadata_entries(data)
    if not entries:
        raise UsageError(f"{path}: no `containerimage.digest` (not build metadata?)")
    subjects: list[Subject] = []
    for entry in entries:
        digest = entry.get("containerimage.digest")
        names = entry.get("image.name")
        if not isinstance(digest, str) or not digest:
            raise UsageError(f"{path}: `containerimage.digest` is not a digest")
        if not isinstance(names, str) or not names.strip():
            raise UsageError(f"{path}: no `image.name` (was the image given a name?)")
        for name in names.split(","):
            if name.strip():
                subjects.append(_subject(name.strip(), digest, path))
    return subjects


def _unique(subjects: Sequence[Subject]) -> list[Subject]:
    """Subjects without repeats, in order; two digests for one name is an error."""
    seen: dict[str, str] = {}
    out: list[Subject] = []
    for s in subjects:
        known = seen.get(s.name)
        if known is None:
            seen[s.name] = s.sha256
            out.append(s)
        elif known != s.sha256:
            raise UsageError(f"two different digests for {s.name}: sha256:{known} and {s.digest}")
    return out


# --- the statement -------------------------------------------------------------------


def resource_uri(context: Context) -> str:
    """`git+https://github.com/OWNER/NAME@COMMIT`."""
    return f"git+{context.server_url.rstrip('/')}/{context.repository}@{context.commit}"


def build_statement(
    subjects: Sequence[Subject],
    context: Context,
    *,
    passed: bool,
    checks: Sequence[str] = (),
    now: datetime.datetime | None = None,
) -> dict[str, Any]:
    """The in-toto Statement v1 with a SLSA VSA v1 predicate."""
    import datetime as dt  # imported here: `verify` and `--help` start without it

    when = (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
    run = {
        "repository": context.repository,
        "commit": context.commit,
        "workflowRef": context.workflow_ref,
        "runId": context.run_id,
        "runAttempt": context.run_attempt,
    }
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": s.name, "digest": {"sha256": s.sha256}} for s in subjects],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "verifier": {"id": VERIFIER_ID, "version": {"digestgate": __version__}},
            "timeVerified": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "resourceUri": resource_uri(context),
            "policy": {"uri": POLICY_URI},
            "verificationResult": "PASSED" if passed else "FAILED",
            "verifiedLevels": [VERIFIED_LEVEL] if passed else [],
            "slsaVersion": "1.0",
            "digestgate": {
                "checks": list(checks),
                "run": {k: v for k, v in run.items() if v is not None},
            },
        },
    }


# --- reading records -----------------------------------------------------------------


def _read_text(path: str, limit: int, error: type[Exception]) -> str:
    """The UTF-8 text of a regular file no larger than `limit`; refuses symbolic links,
    directories and anything else, and a too large file before reading it."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except OSError as exc:
        raise error(f"{path}: cannot read ({exc.strerror or exc})") from None
    if stat.S_ISLNK(info.st_mode):
        raise error(f"{path}: is a symbolic link (refused: give the file itself)")
    if stat.S_ISDIR(info.st_mode):
        raise error(f"{path}: is a directory, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise error(f"{path}: is not a regular file")
    if info.st_size > limit:
        raise error(f"{path}: is larger than {limit // (1024 * 1024)} MB ({info.st_size} bytes)")
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise error(f"{path}: is not a regular file")
            data = handle.read(limit + 1)
    except OSError as exc:
        raise error(f"{path}: cannot read ({exc.strerror or exc})") from None
    if len(data) > limit:
        raise error(f"{path}: is larger than {limit // (1024 * 1024)} MB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise error(f"{path}: is not UTF-8 text") from None


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def _parse_resource_uri(uri: object, path: str) -> tuple[str, str, str]:
    """(server, repository, commit) of `git+SCHEME://HOST/OWNER/NAME@COMMIT`."""
    expected = "(expected git+https://HOST/OWNER/NAME@COMMIT)"
    if not isinstance(uri, str) or not uri.startswith("git+"):
        raise RecordError(f"{path}: resourceUri does not name a repository {expected}")
    location, at, commit = uri[len("git+") :].rpartition("@")
    scheme, sep, rest = location.partition("://")
    host, slash, repository = rest.partition("/")
    repository = repository.strip("/").removesuffix(".git")
    if not at or not sep or not slash or "/" not in repository:
        raise RecordError(f"{path}: resourceUri {uri!r} does not name a repository {expected}")
    if not _is_commit(commit):
        raise RecordError(f"{path}: resourceUri {uri!r} does not name a full commit SHA")
    return f"{scheme}://{host}", repository, commit


def _subjects_of(statement: Mapping[str, Any], path: str) -> tuple[Subject, ...]:
    subjects = statement.get("subject")
    if not isinstance(subjects, list):
        raise RecordError(f"{path}: no subject list")
    if not subjects:
        raise RecordError(f"{path}: the subject list is empty")
    out: list[Subject] = []
    for index, item in enumerate(subjects):
        where = f"{path}: subject {index + 1}"
        if not isinstance(item, dict):
            raise RecordError(f"{where} is not an object")
        name, digests = item.get("name"), item.get("digest")
        if not isinstance(name, str) or not name:
            raise RecordError(f"{where} has no name")
        if not isinstance(digests, dict) or "sha256" not in digests:
            raise RecordError(f"{where} ({name}) has no sha256 digest")
        hex_part = digests["sha256"]
        if not isinstance(hex_part, str):
            raise RecordError(f"{where} ({name}) has no sha256 digest")
        reason = check_digest(f"sha256:{hex_part}")
        if reason is not None:
            raise RecordError(f"{where} ({name}): {reason}")
        try:
            ref = parse(name)
        except RefError as exc:
            raise RecordError(f"{where}: {exc}") from None
        if ref.tag is not None or ref.digest is not None:
            raise RecordError(f"{where}: name {name!r} has a tag or digest (expected a name)")
        out.append(Subject(ref.normalized_name, hex_part))
    return tuple(out)


def load_record(path: str) -> Record:
    """Read and check one record; `RecordError` says what is wrong with it."""
    text = _read_text(path, MAX_RECORD_BYTES, RecordError)
    try:
        statement = json.loads(
            text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constant
        )
    except ValueError as exc:  # JSONDecodeError is a ValueError
        raise RecordError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(statement, dict):
        raise RecordError(f"{path}: not an in-toto statement (not a JSON object)")
    kind = statement.get("_type")
    if kind != STATEMENT_TYPE:
        raise RecordError(f"{path}: unknown _type {kind!r} (expected {STATEMENT_TYPE})")
    predicate_type = statement.get("predicateType")
    if predicate_type != PREDICATE_TYPE:
        raise RecordError(
            f"{path}: unknown predicateType {predicate_type!r} (expected {PREDICATE_TYPE})"
        )
    subjects = _subjects_of(statement, path)
    digests: dict[str, str] = {}
    for s in subjects:
        known = digests.setdefault(s.name, s.sha256)
        if known != s.sha256:
            raise RecordError(
                f"{path}: holds two different digests for {s.name}: sha256:{known} and {s.digest}"
            )
    predicate = statement.get("predicate")
    if not isinstance(predicate, dict):
        raise RecordError(f"{path}: no predicate")
    result = predicate.get("verificationResult")
    if result not in ("PASSED", "FAILED"):
        raise RecordError(f"{path}: verificationResult {result!r} is not PASSED or FAILED")
    server, repository, commit = _parse_resource_uri(predicate.get("resourceUri"), path)
    _check_summary(predicate, path, passed=result == "PASSED")
    return Record(path, subjects, result == "PASSED", repository, commit, digests, server)


_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")


def _check_summary(predicate: Mapping[str, Any], path: str, *, passed: bool) -> None:
    """The fields a VSA v1 requires besides those checked already, and the optional ones
    `record` writes, each of its type: a record that is malformed anywhere blocks.
    Unrecognised fields are ignored, as in-toto and SLSA require of consumers."""
    verifier = predicate.get("verifier")
    if not isinstance(verifier, dict) or not _is_text(verifier.get("id")):
        raise RecordError(f"{path}: no verifier.id")
    if "version" in verifier and not _is_text_map(verifier["version"]):
        raise RecordError(f"{path}: verifier.version is not an object of strings")
    when = predicate.get("timeVerified")
    if not isinstance(when, str) or not _TIMESTAMP.fullmatch(when):
        raise RecordError(f"{path}: timeVerified {when!r} is not a timestamp")
    policy = predicate.get("policy")
    if not isinstance(policy, dict) or not _is_text(policy.get("uri")):
        raise RecordError(f"{path}: no policy.uri")
    levels = predicate.get("verifiedLevels")
    if not isinstance(levels, list) or not all(_is_text(level) for level in levels):
        raise RecordError(f"{path}: verifiedLevels is not a list of strings")
    if passed and VERIFIED_LEVEL not in levels:
        raise RecordError(f"{path}: verificationResult PASSED without the level {VERIFIED_LEVEL}")
    if "slsaVersion" in predicate and not _is_text(predicate["slsaVersion"]):
        raise RecordError(f"{path}: slsaVersion is not a string")
    ours = predicate.get("digestgate", {})
    checks = ours.get("checks", []) if isinstance(ours, dict) else None
    run = ours.get("run", {}) if isinstance(ours, dict) else None
    if not isinstance(checks, list) or not all(_is_text(c) for c in checks):
        raise RecordError(f"{path}: digestgate.checks is not a list of strings")
    if not _is_text_map(run):
        raise RecordError(f"{path}: digestgate.run is not an object of strings")


def _is_text(value: object) -> bool:
    return isinstance(value, str) and bool(value)


def _is_text_map(value: object) -> bool:
    return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())


# --- verifying -----------------------------------------------------------------------


def _image_error(image: str) -> tuple[str | None, Subject | None]:
    """(reason it is blocked, None) or (None, subject) for a reference to promote."""
    try:
        ref = parse(image)
    except RefError as exc:
        if exc.part == "digest":
            return f"bad digest: {exc.reason}", None
        return f"not a valid image reference: {exc.reason}", None
    if ref.digest is None:
        what = "tag-only reference" if ref.tag is not None else "no tag and no digest"
        return f"{what}: promote by digest (NAME@sha256:<64 hex>)", None
    algorithm, _, hex_part = ref.digest.partition(":")
    if algorithm != "sha256":
        return f"{algorithm} digest: records hold sha256 digests only", None
    return None, Subject(ref.normalized_name, hex_part)


def _same_server(a: str, b: str) -> bool:
    return a.rstrip("/").lower() == b.rstrip("/").lower()


def _match_error(
    subject: Subject,
    records: Sequence[Record],
    repository: str,
    commit: str | None,
    server: str = DEFAULT_SERVER_URL,
) -> tuple[str | None, Record | None]:
    """(reason, None) when no record vouches for `subject`, else (None, record)."""
    same_name = [r for r in records if subject.name in r.digests]
    if not same_name:
        return f"no record has an image named {subject.name}", None
    matching = [r for r in same_name if r.digests[subject.name] == subject.sha256]
    if not matching:
        first = same_name[0]
        return (
            f"digest {subject.digest} is not the validated one "
            f"(record {first.path} has sha256:{first.digests[subject.name]})"
        ), None
    failed = next((r for r in matching if not r.passed), None)
    if failed is not None:
        return f"record {failed.path} says validation FAILED", None
    for r in matching:
        if r.repository.lower() != repository.lower() or not _same_server(r.server, server):
            continue
        if commit is not None and r.commit != commit:
            continue
        return None, r
    first = matching[0]
    if not _same_server(first.server, server):
        return f"record {first.path} is for a repository on {first.server}, not {server}", None
    if first.repository.lower() != repository.lower():
        return (f"record {first.path} is for repository {first.repository}, not {repository}"), None
    return f"record {first.path} is for commit {first.commit}, not {commit}", None


class Outcome(NamedTuple):
    image: str
    reason: str | None
    record: Record | None = None


def registry_error(
    image: str, *, expect_tag: str | None, environ: Mapping[str, str], timeout: float = 10
) -> str | None:
    """Check 5: why `image` (digest-pinned, checks 1-4 passed) is blocked by its registry,
    or None: its digest must exist there and, with `expect_tag`, `NAME:TAG` must resolve
    to exactly that digest. Fail-closed: a registry error blocks."""
    from digestgate import registry_client  # only with --registry

    ref = parse(image)
    digest = ref.digest
    host = ref.normalized_domain
    try:
        found = registry_client.head_digest(ref, env=environ, timeout=timeout)
        if found is None:
            return f"digest {digest} not found in {host}"
        if found != digest:
            return f"{host} answered digest {found} for {digest}"
        if expect_tag is not None:
            tagged = parse(f"{ref.name}:{expect_tag}")
            resolved = registry_client.head_digest(tagged, env=environ, timeout=timeout)
            name = f"{ref.normalized_name}:{expect_tag}"
            if resolved is None:
                return f"tag {name} not found in {host}"
            if resolved != digest:
                return f"tag {name} resolves to {resolved}, not to {digest}"
    except registry_client.RegistryError as exc:
        return f"registry check failed: {exc}"
    except RefError as exc:
        return f"registry check failed: {exc}"
    return None


def verify_images(
    images: Sequence[str],
    record_paths: Sequence[str],
    *,
    repository: str | None,
    commit: str | None,
    any_commit: bool,
    registry: bool = False,
    expect_tag: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> list[Outcome]:
    """One outcome per image: blocked with a reason, or vouched for by a record (and,
    with `registry`, present in its registry, `expect_tag` resolving to it)."""
    env = os.environ if environ is None else environ
    server = _env("GITHUB_SERVER_URL", env) or DEFAULT_SERVER_URL
    records: list[Record] = []
    record_error: str | None = None
    for path in record_paths:
        try:
            records.append(load_record(path))
        except RecordError as exc:
            record_error = record_error or f"unusable record: {exc}"
    missing = None
    if repository is None:
        missing = (
            "no repository to check the records against: pass --repository or set GITHUB_REPOSITORY"
        )
    elif commit is None and not any_commit:
        missing = (
            "no commit to check the records against: pass --commit (or --any-commit) "
            "or set GITHUB_SHA"
        )
    outcomes: list[Outcome] = []
    for image in images:
        reason, subject = _image_error(image)
        if reason is None:
            reason = record_error or missing
        if reason is None and subject is not None and repository is not None:
            reason, record = _match_error(subject, records, repository, commit, server)
            if reason is None and registry:
                reason = registry_error(image, expect_tag=expect_tag, environ=env)
            if reason is None:
                outcomes.append(Outcome(image, None, record))
                continue
        outcomes.append(Outcome(image, reason))
    return outcomes


# --- command lines -------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(USAGE_ERROR, f"digestgate: {message}\n")


def _record_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="digestgate record",
        description=(
            "Write a provenance record of validated images: an in-toto Statement v1 "
            "with a SLSA Verification Summary. Run it at the end of validation; "
            "`digestgate verify` checks it before promotion."
        ),
        epilog=(
            "Context flags default to GITHUB_REPOSITORY, GITHUB_SHA, GITHUB_RUN_ID and "
            "GITHUB_WORKFLOW_REF (Gitea and Forgejo set them too). "
            "Exit statuses: 0 written, 2 usage or input error."
        ),
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--image",
        action="append",
        metavar="NAME@sha256:HEX",
        help="A validated image, pinned by digest (repeatable).",
    )
    source.add_argument(
        "--metadata-file",
        action="append",
        metavar="FILE",
        help="A buildx --metadata-file or build-push-action `metadata` JSON (repeatable).",
    )
    parser.add_argument(
        "--result",
        choices=("passed", "failed"),
        default="passed",
        help="The outcome of validation (default: passed).",
    )
    parser.add_argument(
        "--check",
        action="append",
        default=[],
        metavar="NAME",
        help="A job or check the validation covered (repeatable).",
    )
    parser.add_argument("--repository", metavar="OWNER/NAME", help="The repository.")
    parser.add_argument("--commit", metavar="SHA", help="The commit validated.")
    parser.add_argument("--run-id", metavar="ID", help="The workflow run.")
    parser.add_argument("--workflow", metavar="REF", help="The workflow ref.")
    parser.add_argument("--output", required=True, metavar="FILE", help="Write the record here.")
    return parser


def _verify_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="digestgate verify",
        description=(
            "Check, before promotion, that every image to promote is pinned by digest "
            "and matches a record written by `digestgate record` that says PASSED for "
            "this repository and commit. Anything unexpected blocks."
        ),
        epilog=(
            "--repository and --commit default to GITHUB_REPOSITORY and GITHUB_SHA; the "
            "records must be for the server GITHUB_SERVER_URL (default https://github.com). "
            "Exit statuses: 0 every image verified, 1 blocked, 2 usage error."
        ),
    )
    parser.add_argument(
        "--record",
        action="append",
        required=True,
        metavar="FILE",
        help="A record written by `digestgate record` (repeatable).",
    )
    parser.add_argument(
        "--image",
        action="append",
        required=True,
        metavar="REF",
        help="An image to promote, NAME@sha256:HEX (repeatable).",
    )
    parser.add_argument("--repository", metavar="OWNER/NAME", help="The running repository.")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--commit", metavar="SHA", help="The running commit.")
    which.add_argument(
        "--any-commit",
        action="store_true",
        help="Accept records of any commit of the repository.",
    )
    parser.add_argument(
        "--registry",
        action="store_true",
        help=(
            "Also check that each digest exists in its registry (HEAD of the manifest; "
            "anonymous, token or basic auth from DIGESTGATE_REGISTRY_USER/_PASSWORD or "
            "the Docker config)."
        ),
    )
    parser.add_argument(
        "--expect-tag",
        metavar="TAG",
        help="With --registry: NAME:TAG must resolve to exactly the digest to promote.",
    )
    return parser


def _error(message: str) -> None:
    print(f"digestgate: {message}", file=sys.stderr)


def _write_atomically(path: str, text: str) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    import tempfile  # imported here: `verify` and `--help` start without it

    fd, temporary = tempfile.mkstemp(prefix=".digestgate-", suffix=".json", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def record_command(argv: Sequence[str], environ: Mapping[str, str]) -> int:
    args = _record_parser().parse_args(list(argv))
    try:
        subjects: list[Subject] = []
        if args.image:
            subjects = subjects_from_images(args.image)
        for path in args.metadata_file or ():
            subjects.extend(subjects_from_metadata(path))
        subjects = _unique(subjects)
        repository = _repository(args.repository, environ)
        commit = _commit(args.commit, environ)
        if repository is None:
            raise UsageError("no repository: pass --repository or set GITHUB_REPOSITORY")
        if commit is None:
            raise UsageError("no commit: pass --commit or set GITHUB_SHA")
    except UsageError as exc:
        _error(str(exc))
        return USAGE_ERROR
    context = Context(
        repository=repository,
        commit=commit,
        workflow_ref=_pick(args.workflow, "GITHUB_WORKFLOW_REF", environ),
        run_id=_pick(args.run_id, "GITHUB_RUN_ID", environ),
        run_attempt=_env("GITHUB_RUN_ATTEMPT", environ),
        server_url=_env("GITHUB_SERVER_URL", environ) or DEFAULT_SERVER_URL,
    )
    statement = build_statement(
        subjects, context, passed=args.result == "passed", checks=args.check
    )
    try:
        _write_atomically(args.output, json.dumps(statement, indent=2) + "\n")
    except OSError as exc:
        _error(f"{args.output}: cannot write ({exc.strerror or exc})")
        return USAGE_ERROR
    result = "PASSED" if args.result == "passed" else "FAILED"
    print(f"digestgate: recorded {len(subjects)} image(s) as {result} in {args.output}")
    return 0


def verify_command(argv: Sequence[str], environ: Mapping[str, str]) -> int:
    args = _verify_parser().parse_args(list(argv))
    try:
        repository = _repository(args.repository, environ)
        commit = None if args.any_commit else _commit(args.commit, environ)
        if args.expect_tag is not None:
            if not args.registry:
                raise UsageError("--expect-tag needs --registry")
            if not _TAG.fullmatch(args.expect_tag):
                raise UsageError(f"--expect-tag {args.expect_tag!r} is not a valid tag")
    except UsageError as exc:
        _error(str(exc))
        return USAGE_ERROR
    outcomes = verify_images(
        args.image,
        args.record,
        repository=repository,
        commit=commit,
        any_commit=args.any_commit,
        registry=args.registry,
        expect_tag=args.expect_tag,
        environ=environ,
    )
    blocked = 0
    for outcome in outcomes:
        if outcome.reason is not None:
            blocked += 1
            _error(f"blocked {outcome.image}: {outcome.reason}")
        elif outcome.record is not None:
            r = outcome.record
            where = " and present in its registry" if args.registry else ""
            print(
                f"digestgate: verified {outcome.image} "
                f"(PASSED in {r.path} for {r.repository}@{r.commit}{where})"
            )
    if blocked:
        _error(f"{blocked} of {len(outcomes)} image(s) blocked")
        return BLOCKED
    return 0


def main(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> int:
    """`main(["verify", ...])` or `main(["record", ...])`: the exit status."""
    env = os.environ if environ is None else environ
    if not argv or argv[0] not in ("record", "verify"):
        _error("expected `record` or `verify`")
        return USAGE_ERROR
    command = record_command if argv[0] == "record" else verify_command
    try:
        return command(argv[1:], env)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else USAGE_ERROR
