"""`digestgate verify` fails closed, as properties (hypothesis) over the tamper suite.

From a valid record (written by `build_statement`, as `record` writes it) and a valid
verify command line, which must verify:

* every change of meaning blocks (exit 1, or 2 for a malformed flag): a digest, an
  image name, the repository, commit or server the record is for, the result, a
  required field missing or of another type, the JSON cut short or broken, a
  different image, repository or commit asked for;
* changes that keep the meaning still verify: JSON whitespace, key order, subject
  order, `\\u` escapes, a repeated subject, unrecognised extra fields (in-toto and
  SLSA: "consumers MUST ignore unrecognized fields"), optional fields left out, another
  spelling of the same image name, a tag beside the digest, the repository's case;
* arbitrary bytes or JSON as a record never verify.

Not covered because nothing can detect it: a record has no signature or hash, so an
edit of a field `verify` does not decide on (the checks list, the run id, the time)
passes, as long as the field keeps its type. Signing is the answer (RUNTIME.md).
"""

from __future__ import annotations

import contextlib
import io
import json
import random
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from digestgate import runtime
from digestgate.imageref import parse
from test_properties import paths_of

COMMIT = "c0ffee" + "0" * 34
ENV = {"GITHUB_REPOSITORY": "o/r", "GITHUB_SHA": COMMIT, "GITHUB_SERVER_URL": "https://github.com"}
HEXES = ["a" * 64, "0123456789abcdef" * 4, "f" * 63 + "0"]
NAMES = ["ghcr.io/o/app", "docker.io/acme/tool", "registry.example.com:5000/team/svc"]
# other spellings of the same normalised name
SPELLINGS = {
    "ghcr.io/o/app": ["ghcr.io/o/app"],
    "docker.io/acme/tool": ["docker.io/acme/tool", "acme/tool", "index.docker.io/acme/tool"],
    "registry.example.com:5000/team/svc": ["registry.example.com:5000/team/svc"],
}
SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.large_base_example],
)


class Case:
    """A record (as a JSON document) and the verify arguments that go with it."""

    def __init__(self, count: int, checks: list[str]) -> None:
        self.subjects = [runtime.Subject(NAMES[i], HEXES[i]) for i in range(count)]
        context = runtime.Context(repository="o/r", commit=COMMIT, run_id="7")
        self.doc: Any = runtime.build_statement(self.subjects, context, passed=True, checks=checks)
        self.images = [f"{s.name}@sha256:{s.sha256}" for s in self.subjects]
        self.args: list[str] = []
        self.env = dict(ENV)
        self.text: str | None = None  # the record's text, when not json.dumps(doc)

    def record_text(self) -> str:
        return self.text if self.text is not None else json.dumps(self.doc, indent=2)


cases = st.builds(
    Case, st.integers(1, 3), st.lists(st.sampled_from(["e2e", "smoke", "scan"]), max_size=2)
)


def verify(case: Case) -> tuple[int, str, str]:
    with tempfile.TemporaryDirectory(prefix="dg-verify-") as tmp:
        path = Path(tmp) / "record.json"
        path.write_bytes(case.record_text().encode("utf-8", "surrogatepass"))
        argv = ["verify", "--record", str(path)]
        for image in case.images:
            argv += ["--image", image]
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = runtime.main([*argv, *case.args], case.env)
        return status, out.getvalue(), err.getvalue()


def assert_blocked(case: Case, why: str) -> None:
    status, out, err = verify(case)
    assert status in (1, 2), (why, status, out, case.record_text()[:2000])
    assert err.strip(), why


def assert_verified(case: Case, why: str) -> None:
    status, out, err = verify(case)
    assert (status, err) == (0, ""), (why, err, case.record_text()[:2000], case.images)
    assert out.count("digestgate: verified ") == len(case.images), out


# --- meaning-preserving changes ------------------------------------------------------


def shuffled(value: Any, rnd: random.Random) -> Any:
    if isinstance(value, dict):
        items = list(value.items())
        rnd.shuffle(items)
        return {k: shuffled(v, rnd) for k, v in items}
    if isinstance(value, list):
        return [shuffled(v, rnd) for v in value]
    return value


def escaped(text: str, rnd: random.Random) -> str:
    """Some characters inside JSON strings written as `\\uXXXX` (same value)."""
    out, in_string, backslash = [], False, False
    for c in text:
        if in_string and not backslash and c not in '"\\' and rnd.random() < 0.2:
            out.append(f"\\u{ord(c):04x}")
            continue
        out.append(c)
        if backslash:
            backslash = False
        elif c == "\\":
            backslash = True
        elif c == '"':
            in_string = not in_string
    return "".join(out)


def _layout(case: Case, rnd: random.Random) -> None:
    case.doc = shuffled(case.doc, rnd)
    rnd.shuffle(case.doc["subject"])
    indent = rnd.choice([None, 0, 1, 4, "\t"])
    separators = rnd.choice([(",", ":"), (", ", ": "), (" ,\n", " :\t")])
    case.text = json.dumps(case.doc, indent=indent, separators=separators)
    if rnd.random() < 0.5:
        case.text = escaped(case.text, rnd)
    case.text = rnd.choice(["", " ", "\n", "\r\n\t"]) + case.text + rnd.choice(["", "\n", "  "])


def _repeat_subject(case: Case, rnd: random.Random) -> None:
    case.doc["subject"].append(dict(rnd.choice(case.doc["subject"])))


EXTRA_KEYS = ["https://example.com/ext", "x-note", "inputAttestations"]  # unrecognised


def _extra_fields(case: Case, rnd: random.Random) -> None:
    where = rnd.choice(
        [
            case.doc,
            case.doc["predicate"],
            case.doc["subject"][0],
            case.doc["predicate"]["verifier"],
            case.doc["predicate"]["policy"],
        ]
    )
    where[rnd.choice(EXTRA_KEYS)] = rnd.choice([None, 1, "text", [1, {"a": None}], {"k": "v"}])


def _drop_optional(case: Case, rnd: random.Random) -> None:
    predicate = case.doc["predicate"]
    name = rnd.choice(["slsaVersion", "digestgate", "version"])
    if name == "version":
        del predicate["verifier"]["version"]
    else:
        del predicate[name]


def _spelling(case: Case, rnd: random.Random) -> None:
    for subject in case.doc["subject"]:
        subject["name"] = rnd.choice(SPELLINGS[parse(subject["name"]).normalized_name])
    case.images = [
        rnd.choice(SPELLINGS[s.name]) + rnd.choice(["", ":v1.2", ":latest"]) + "@" + s.digest
        for s in case.subjects
    ]


def _repository_case(case: Case, rnd: random.Random) -> None:
    case.args += ["--repository", rnd.choice(["O/R", "o/R", "O/r"])]


PRESERVING: list[Callable[[Case, random.Random], None]] = [
    _repeat_subject,
    _extra_fields,
    _drop_optional,
    _spelling,
    _repository_case,
]


@SETTINGS
@given(cases, st.lists(st.sampled_from(PRESERVING), max_size=4, unique=True), st.randoms())
def test_meaning_preserving_changes_still_verify(
    case: Case, changes: list[Callable[[Case, random.Random], None]], rnd: random.Random
) -> None:
    for change in changes:
        change(case, rnd)
    _layout(case, rnd)  # last: it writes the text
    assert_verified(case, ", ".join(c.__name__ for c in changes))


# --- meaning-changing changes --------------------------------------------------------


def _other_hex(hex_part: str, rnd: random.Random) -> str:
    i = rnd.randrange(len(hex_part))
    new = rnd.choice([c for c in "0123456789abcdef" if c != hex_part[i]])
    return hex_part[:i] + new + hex_part[i + 1 :]


def _record_digest(case: Case, rnd: random.Random) -> None:
    subject = rnd.choice(case.doc["subject"])
    subject["digest"]["sha256"] = _other_hex(subject["digest"]["sha256"], rnd)


def _record_name(case: Case, rnd: random.Random) -> None:
    old = rnd.choice(case.doc["subject"])["name"]
    new = rnd.choice(
        [
            old + "x",
            old + "/sub",
            "ghcr.io/o/other",
            "docker.io/o/app",
            "ghcr.io/o/app-" + str(rnd.randrange(10)),
        ]
    )
    for subject in case.doc["subject"]:  # a repeated subject too
        if subject["name"] == old:
            subject["name"] = new


def _resource(case: Case, rnd: random.Random) -> None:
    uri = case.doc["predicate"]["resourceUri"]
    case.doc["predicate"]["resourceUri"] = rnd.choice(
        [
            uri.replace("/o/r@", "/o/r2@"),
            uri.replace("/o/r@", "/x/r@"),
            uri.replace("/o/r@", "/o/r/sub@"),
            uri.replace(COMMIT, _other_hex(COMMIT, rnd)),
            uri.replace("github.com", "github.example.com"),
            uri.replace("git+https", "https"),
            uri.split("@")[0],
            uri.replace(COMMIT, COMMIT[:12]),
        ]
    )


def _result(case: Case, rnd: random.Random) -> None:
    case.doc["predicate"]["verificationResult"] = rnd.choice(
        ["FAILED", "passed", "Passed", "PASSED ", "", None, True, ["PASSED"]]
    )


def _levels(case: Case, rnd: random.Random) -> None:
    case.doc["predicate"]["verifiedLevels"] = rnd.choice(
        [[], ["SLSA_BUILD_LEVEL_3"], ["FAILED"], "DIGESTGATE_VALIDATED", None]
    )


def _kinds(case: Case, rnd: random.Random) -> None:
    key = rnd.choice(["_type", "predicateType"])
    case.doc[key] = rnd.choice([case.doc[key] + "x", case.doc[key].replace("v1", "v0.1"), None])


# fmt: off
REQUIRED = [
    ("_type",), ("subject",), ("predicateType",), ("predicate",), ("predicate", "verifier"),
    ("predicate", "verifier", "id"), ("predicate", "timeVerified"), ("predicate", "resourceUri"),
    ("predicate", "policy"), ("predicate", "policy", "uri"), ("predicate", "verificationResult"),
    ("predicate", "verifiedLevels"), ("subject", 0, "name"), ("subject", 0, "digest"),
    ("subject", 0, "digest", "sha256"),
]
# fmt: on


def _at(doc: Any, path: tuple[Any, ...]) -> tuple[Any, Any]:
    for part in path[:-1]:
        doc = doc[part]
    return doc, path[-1]


def _missing(case: Case, rnd: random.Random) -> None:
    parent, key = _at(case.doc, rnd.choice(REQUIRED))
    del parent[key]


def typed_paths(doc: Any) -> list[tuple[Any, ...]]:
    """Every field `record` writes (each has one JSON type); not unrecognised ones."""
    return [path for path in paths_of(doc) if path and not set(path) & set(EXTRA_KEYS)]


OTHER_TYPES: list[Any] = [None, True, 0, 1.5, "s", [], ["s"], {}, {"k": "v"}]


def _retyped(case: Case, rnd: random.Random) -> None:
    parent, key = _at(case.doc, rnd.choice(list(typed_paths(case.doc))))
    old = parent[key]
    parent[key] = rnd.choice([v for v in OTHER_TYPES if type(v) is not type(old)])


STRUCTURAL = set('{}[]:,"')


def _broken_json(case: Case, rnd: random.Random) -> None:
    """Cut the text short, or delete a structural character outside strings."""
    text = json.dumps(case.doc, indent=rnd.choice([None, 2]))
    if rnd.random() < 0.5:
        case.text = text[: rnd.randrange(len(text.rstrip()))]
        return
    places, in_string, backslash = [], False, False
    for i, c in enumerate(text):
        if backslash:
            backslash = False
        elif in_string and c == "\\":
            backslash = True
        elif c == '"':
            in_string = not in_string
            places.append(i)
        elif not in_string and c in STRUCTURAL:
            places.append(i)
    i = rnd.choice(places)
    case.text = text[:i] + text[i + 1 :]


def _other_image(case: Case, rnd: random.Random) -> None:
    i = rnd.randrange(len(case.images))
    s = case.subjects[i]
    case.images[i] = rnd.choice(
        [
            f"{s.name}@sha256:{_other_hex(s.sha256, rnd)}",
            f"{s.name}x@{s.digest}",
            f"{s.name}:latest",
            s.name,
            f"{s.name}@sha512:{'e' * 128}",
            f"{s.name}@{s.digest.upper()}",
            f"ghcr.io/o/unrecorded@{s.digest}",
        ]
    )


def _extra_image(case: Case, rnd: random.Random) -> None:
    case.images.append(f"ghcr.io/o/unrecorded@sha256:{HEXES[0]}")


def _asked_for(case: Case, rnd: random.Random) -> None:
    choice = rnd.randrange(5)
    if choice == 0:
        case.args += ["--repository", rnd.choice(["o/r2", "x/r", "o/r/x"])]
    elif choice == 1:
        case.args += ["--commit", _other_hex(COMMIT, rnd)]
    elif choice == 2:
        case.env["GITHUB_SHA"] = _other_hex(COMMIT, rnd)
    elif choice == 3:
        case.env["GITHUB_SERVER_URL"] = "https://git.example.com"
    else:  # (with --repository given, only the commit can go missing)
        names = (
            ["GITHUB_SHA"] if "--repository" in case.args else ["GITHUB_REPOSITORY", "GITHUB_SHA"]
        )
        del case.env[rnd.choice(names)]


# fmt: off
CHANGING: list[Callable[[Case, random.Random], None]] = [
    _record_digest, _record_name, _resource, _result, _levels, _kinds, _missing, _retyped,
    _broken_json, _other_image, _extra_image, _asked_for,
]
# fmt: on


@SETTINGS
@given(cases, st.sampled_from(CHANGING), st.sampled_from([*PRESERVING, None]), st.randoms())
def test_meaning_changes_are_blocked(
    case: Case,
    change: Callable[[Case, random.Random], None],
    harmless: Callable[[Case, random.Random], None] | None,
    rnd: random.Random,
) -> None:
    assert_verified(Case(len(case.subjects), []), "the unchanged record")
    if harmless is not None and harmless is not _spelling:
        harmless(case, rnd)
    change(case, rnd)
    assert_blocked(case, change.__name__)


@settings(SETTINGS, max_examples=25)  # each example checks every field
@given(cases, st.randoms())
def test_every_field_changed_in_type_blocks(case: Case, rnd: random.Random) -> None:
    """Each field of the record in turn (not a random one) gets another JSON type."""
    for path in list(typed_paths(case.doc)):
        changed = Case(len(case.subjects), [])
        changed.doc = json.loads(json.dumps(case.doc))
        parent, key = _at(changed.doc, path)
        old = parent[key]
        parent[key] = rnd.choice([v for v in OTHER_TYPES if type(v) is not type(old)])
        if path[-1] == "checks" and parent[key] == []:
            continue  # [] is a list of strings too
        assert_blocked(changed, f"{path} = {parent[key]!r}")


json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=15,
)


@SETTINGS
@given(
    st.one_of(
        st.binary(max_size=300).map(lambda b: b.decode("utf-8", "surrogateescape")),
        json_values.map(json.dumps),
        st.fixed_dictionaries(
            {
                "_type": st.just(runtime.STATEMENT_TYPE),
                "predicateType": st.just(runtime.PREDICATE_TYPE),
            },
            optional={"subject": json_values, "predicate": json_values},
        ).map(json.dumps),
    )
)
@example("")
@example("null")
@example('{"_type": "https://in-toto.io/Statement/v1"}')
def test_garbage_never_verifies(text: str) -> None:
    case = Case(1, [])
    case.text = text
    assert_blocked(case, "garbage")
