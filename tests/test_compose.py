"""Tests for digestgate.compose (reading compose files, variables, which files a
command reads) and for the operations `digestgate.commands` makes of compose commands."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from digestgate import commands, compose
from digestgate.facts import Command, ImageUse, Operation, Piece, PieceKind, Role, Value
from digestgate.span import Span

ROOT = Path(__file__).parent / "fixtures" / "compose"
READER = compose.repository_reader(ROOT)
D = "sha256:" + "a" * 64


def cmd(line: str) -> Command:
    """Words split like a shell would (literal values only), columns found in the line."""
    argv: list[Value] = []
    at = 0
    for word in shlex.split(line):
        start = line.find(word, at)
        start = at if start < 0 else start
        at = start + len(word)
        argv.append(Value.literal(word, Span(1, start + 1, 1, start + 1 + len(word)), "w.sh"))
    return Command(tuple(argv), Span(1, 1, 1, len(line) + 1), "w.sh")


def lit(text: str) -> Value:
    return Value.literal(text, Span(9, 1, 9, 1 + len(text)), ".github/workflows/ci.yml")


def summary(ops: list[Operation]) -> list[tuple[str, str, list[str]]]:
    return [
        (o.role.value, o.tool, [f"{i.use.value}={i.value.text}" for i in o.images]) for o in ops
    ]


def app() -> compose.ComposeFile:
    got = READER("app/compose.yaml")
    assert got is not None
    return got


def service(name: str) -> compose.ComposeService:
    return next(s for s in app().services if s.name == name)


# --- the file model ------------------------------------------------------------------


def test_services_are_read() -> None:
    file = app()
    assert file.path == "app/compose.yaml"
    assert [s.name for s in file.services] == ["app", "worker", "db", "cache", "tests", "odd"]
    a = service("app")
    assert a.builds and a.build_context == "app" and a.dockerfile == "Dockerfile.ci"
    assert [t.text for t in a.build_tags] == ["ghcr.io/o/app:ci"]
    assert a.depends_on == ("db",) and a.platforms == ("linux/amd64",)
    assert a.span == Span(2, 3, 2, 6)
    assert a.context_value is not None and a.context_value.span.line == 4
    w = service("worker")
    assert w.builds and w.image is None and w.build_context == "app/worker"
    db = service("db")
    assert not db.builds and db.image is not None and db.image.text == "postgres:16"
    assert db.image.is_static and db.image.path == "app/compose.yaml"
    assert service("tests").depends_on == ("db",)
    assert service("tests").profiles == ("test",)


def test_image_variables_are_var_pieces_with_positions() -> None:
    image = service("app").image
    assert image is not None
    assert [(p.kind, p.text) for p in image.pieces] == [
        (PieceKind.VAR, "REGISTRY:-ghcr.io/o"),
        (PieceKind.LITERAL, "/app:"),
        (PieceKind.VAR, "TAG:-latest"),
    ]
    line = "    image: ${REGISTRY:-ghcr.io/o}/app:${TAG:-latest}"
    assert image.pieces[0].span == Span(9, 12, 9, 12 + len("${REGISTRY:-ghcr.io/o}"))
    tag_col = line.index("${TAG") + 1
    assert image.pieces[2].span == Span(9, tag_col, 9, tag_col + len("${TAG:-latest}"))
    assert image.span == Span(9, 12, 9, len(line) + 1)
    assert compose.var_name(image.pieces[2]) == "TAG"


def test_bare_variable_and_dollar_escape() -> None:
    cache = service("cache").image
    assert cache is not None
    assert [(p.kind, p.text) for p in cache.pieces] == [
        (PieceKind.LITERAL, "redis:"),
        (PieceKind.VAR, "REDIS_VERSION"),
    ]
    odd = service("odd").image
    assert odd is not None
    assert [(p.kind, p.text) for p in odd.pieces] == [
        (PieceKind.LITERAL, "x/price$:"),
        (PieceKind.VAR, "REQUIRED:?set it"),
    ]


# --- variables -----------------------------------------------------------------------


def test_resolve_defaults_when_unknown() -> None:
    image = service("app").image
    assert image is not None
    got = compose.resolve_vars(image, {})
    assert got.text == "ghcr.io/o/app:latest" and got.is_static
    # the default keeps its place in the compose file
    tag = got.pieces[-1]
    assert tag.text == "latest"
    line = "    image: ${REGISTRY:-ghcr.io/o}/app:${TAG:-latest}"
    col = line.index("latest") + 1
    assert tag.span == Span(9, col, 9, col + len("latest"))


def test_resolve_known_variables() -> None:
    image = service("app").image
    assert image is not None
    expr = Value(
        (Piece(PieceKind.EXPR, "${{ github.sha }}", Span(3, 3, 3, 20)),), Span(3, 3, 3, 20), "w.yml"
    )
    got = compose.resolve_vars(image, {"TAG": expr, "REGISTRY": lit("r.io/x")})
    assert got.text == "r.io/x/app:${{ github.sha }}"
    assert got.pieces[-1].kind is PieceKind.EXPR
    assert got.path == "app/compose.yaml" and got.span == image.span


def test_resolve_empty_value_with_colon_default() -> None:
    image = service("app").image
    assert image is not None
    assert compose.resolve_vars(image, {"TAG": lit("")}).text == "ghcr.io/o/app:latest"


def test_unresolvable_stays_a_bare_var() -> None:
    cache = service("cache").image
    odd = service("odd").image
    assert cache is not None and odd is not None
    got = compose.resolve_vars(cache, {})
    assert [(p.kind, p.text) for p in got.pieces] == [
        (PieceKind.LITERAL, "redis:"),
        (PieceKind.VAR, "REDIS_VERSION"),
    ]
    assert got.text == "redis:${REDIS_VERSION}"
    assert compose.resolve_vars(odd, {}).pieces[-1] == Piece(
        PieceKind.VAR, "REQUIRED", odd.pieces[-1].span
    )
    assert compose.resolve_vars(cache, {"REDIS_VERSION": lit("7")}).text == "redis:7"


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ("a:${T:+set}", {}, "a:"),
        ("a:${T:+set}", {"T": "x"}, "a:set"),
        ("a:${T:+set}", {"T": ""}, "a:"),
        ("a:${T-dflt}", {}, "a:dflt"),
        ("a:${T-dflt}", {"T": ""}, "a:"),
        ("a:${T:-${U:-z}}", {}, "a:z"),
        ("a:${T:-${U}}", {"U": "u"}, "a:u"),
        ("$$HOME/x", {}, "$HOME/x"),
        ("${T}", {"T": "v"}, "v"),
    ],
)
def test_interpolation_forms(text: str, env: dict[str, str], expected: str) -> None:
    file = compose.parse_compose(f"services:\n  s:\n    image: '{text}'\n", "c.yml")
    assert file is not None and file.services[0].image is not None
    got = compose.resolve_vars(file.services[0].image, {k: lit(v) for k, v in env.items()})
    assert got.text == expected


# --- reading safely ------------------------------------------------------------------


def test_reader_missing_invalid_and_outside(tmp_path: Path) -> None:
    assert READER("nope/compose.yaml") is None
    assert READER("invalid/compose.yml") is None
    assert READER("../compose/app/compose.yaml") is None  # climbs out of the root first
    assert READER("/etc/passwd") is None
    assert READER("$DIR/compose.yml") is None
    assert READER("app") is None  # a directory
    assert compose.repository_reader(ROOT, "app")("compose.yaml") is not None
    assert compose.repository_reader(ROOT, "app")("../multi/ci.yml") is not None
    assert compose.repository_reader(ROOT, "app")("../../x.yml") is None


def test_reader_refuses_symlinks_out_of_the_root(tmp_path: Path) -> None:
    outside = tmp_path / "outside.yml"
    outside.write_text("services:\n  s:\n    image: x:1\n", encoding="utf-8")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "compose.yml").symlink_to(outside)
    (repo / "inside.yml").write_text("services:\n  s:\n    image: y:1\n", encoding="utf-8")
    (repo / "link.yml").symlink_to(repo / "inside.yml")
    reader = compose.repository_reader(repo)
    assert reader("compose.yml") is None
    got = reader("link.yml")
    assert got is not None and got.path == "link.yml"


def test_parse_compose_shapes() -> None:
    assert compose.parse_compose("a: [", "x.yml") is None
    assert compose.parse_compose("networks: {}\n", "x.yml") == compose.ComposeFile("x.yml", ())
    got = compose.parse_compose("services:\n  s:\n  t:\n    build: {context: ctx}\n", "d/x.yml")
    assert got is not None
    assert [(s.name, s.builds, s.build_context) for s in got.services] == [
        ("s", False, None),
        ("t", True, "d/ctx"),
    ]


def test_repository_path() -> None:
    assert compose.repository_path("compose.yml", "deploy") == "deploy/compose.yml"
    assert compose.repository_path("./a/../b.yml") == "b.yml"
    assert compose.repository_path("../x.yml") is None
    assert compose.repository_path("~/x.yml") is None


# --- which files a command reads -----------------------------------------------------


@pytest.mark.parametrize(
    ("line", "env", "expected"),
    [
        ("docker compose -f a.yml -f b.yml up", {}, ["a.yml", "b.yml"]),
        ("docker compose --file=a.yml --file b.yml up -d", {}, ["a.yml", "b.yml"]),
        ("docker-compose -f ci/docker-compose.yml up", {}, ["ci/docker-compose.yml"]),
        ("sudo docker --context x compose -f a.yml up", {}, ["a.yml"]),
        ("podman compose -fa.yml up", {}, ["a.yml"]),
        ("docker compose up", {"COMPOSE_FILE": "a.yml:b.yml"}, ["a.yml", "b.yml"]),
        ("env COMPOSE_FILE=x.yml docker compose up", {}, ["x.yml"]),
        ("docker compose up", {}, list(compose.DEFAULT_FILES)),
        (
            "docker compose --project-directory deploy up",
            {},
            [f"deploy/{n}" for n in compose.DEFAULT_FILES],
        ),
        ("docker compose -f - up", {}, []),
        ("docker build .", {}, []),
    ],
)
def test_compose_files(line: str, env: dict[str, str], expected: list[str]) -> None:
    assert compose.compose_files(cmd(line), {k: lit(v) for k, v in env.items()}) == expected


def test_default_file_and_its_override() -> None:
    inv = compose.parse_invocation(cmd("up").argv)
    project = compose.load_project(inv, {}, compose.repository_reader(ROOT, "defaults"))
    assert [f.path for f in project.files] == [
        "defaults/compose.yaml",
        "defaults/compose.override.yaml",
    ]
    images = {s.name: s.image.text for s in project.services if s.image is not None}
    assert images == {"api": "ghcr.io/o/api:override", "extra": "busybox:1.36"}


def test_no_default_file_found() -> None:
    inv = compose.parse_invocation(cmd("up").argv)
    project = compose.load_project(inv, {}, compose.repository_reader(ROOT, "app/nothing"))
    assert not project.read and project.missing == ("compose.yaml",)


def test_select_services() -> None:
    inv = compose.parse_invocation(cmd("-f app/compose.yaml up").argv)
    project = compose.load_project(inv, {}, READER)
    names = [s.name for s in compose.select_services(project)]
    assert names == ["app", "worker", "db"]
    names = [s.name for s in compose.select_services(project, ["tests"])]
    assert names == ["db", "tests"]
    names = [s.name for s in compose.select_services(project, ["tests"], with_deps=False)]
    assert names == ["tests"]
    profiled = compose.load_project(
        compose.parse_invocation(cmd("-f app/compose.yaml --profile cache up").argv), {}, READER
    )
    assert "cache" in [s.name for s in compose.select_services(profiled)]
    everything = compose.load_project(inv, {"COMPOSE_PROFILES": lit("*")}, READER)
    assert len(compose.select_services(everything)) == 6


# --- operations of compose commands --------------------------------------------------


def classify(line: str, env: dict[str, str] | None = None) -> list[Operation]:
    values = {k: lit(v) for k, v in (env or {}).items()}
    return commands.classify(cmd(line), compose=READER, env=values)


def test_up_builds_and_validates() -> None:
    ops = classify("docker compose -f app/compose.yaml up -d --wait", {"TAG": "sha-1"})
    assert summary(ops) == [
        ("build", "docker compose build", ["tag=ghcr.io/o/app:sha-1", "tag=ghcr.io/o/app:ci"]),
        ("build", "docker compose build", []),
        ("validate", "docker compose up", ["service=ghcr.io/o/app:sha-1", "service=postgres:16"]),
    ]
    app_build, worker_build, up = ops
    assert app_build.load and not app_build.push
    assert app_build.context is not None and app_build.context.text == "app"
    assert app_build.dockerfile is not None and app_build.dockerfile.text == "Dockerfile.ci"
    assert app_build.platforms == ("linux/amd64",)
    assert worker_build.context is not None and worker_build.context.text == "app/worker"
    assert "worker" in up.note
    assert up.span == Span(1, 1, 1, len("docker compose -f app/compose.yaml up -d --wait") + 1)
    # the service image is positioned in the compose file
    assert up.images[1].value.path == "app/compose.yaml" and up.images[1].value.span.line == 14
    # the built service's image is a local tag: the reference refers to that build
    assert "ghcr.io/o/app:sha-1" in commands.local_tags(ops)


def test_up_named_service_with_profile_and_no_build() -> None:
    ops = classify("docker compose -f app/compose.yaml --profile test up --no-build tests")
    assert summary(ops) == [
        ("validate", "docker compose up", ["service=postgres:16", f"service=ghcr.io/o/tests@{D}"]),
    ]


def test_run_service_with_command() -> None:
    ops = classify(
        "docker compose -f app/compose.yaml run --rm -e A=1 --no-deps db psql -c 'select 1'"
    )
    assert summary(ops) == [("validate", "docker compose run", ["service=postgres:16"])]


def test_start_does_not_build() -> None:
    ops = classify("docker compose -f app/compose.yaml start")
    assert [o.role for o in ops] == [Role.VALIDATE]


def test_build_and_push() -> None:
    ops = classify("docker compose -f app/compose.yaml build app")
    assert summary(ops) == [
        ("build", "docker compose build", ["tag=ghcr.io/o/app:latest", "tag=ghcr.io/o/app:ci"])
    ]
    ops = classify("docker compose -f app/compose.yaml build --push app")
    assert [o.role for o in ops] == [Role.BUILD, Role.PUSH]
    assert ops[0].push and ops[1].push
    ops = classify("docker compose -f app/compose.yaml push")
    assert summary(ops) == [("push", "docker compose push", ["push=ghcr.io/o/app:latest"])]


def test_pull_gives_references() -> None:
    got = commands.references(cmd("docker compose -f app/compose.yaml pull"), compose=READER)
    assert [(r.use, r.value.text) for r in got] == [(ImageUse.PULL, "postgres:16")]
    assert classify("docker compose -f app/compose.yaml pull") == []


def test_several_files() -> None:
    ops = classify("docker compose -f multi/base.yml -f multi/ci.yml up", {"DIGEST": D})
    assert summary(ops) == [
        ("build", "docker compose build", [f"tag=ghcr.io/o/web@{D}"]),
        ("validate", "docker compose up", [f"service=ghcr.io/o/web@{D}", "service=nginx:1.27"]),
    ]
    # unknown variable: stays a slot for provenance to judge
    ops = classify("docker-compose -f multi/base.yml -f multi/ci.yml up")
    web = ops[-1].images[0].value
    assert web.text == "ghcr.io/o/web@${DIGEST}"
    assert web.pieces[-1].kind is PieceKind.VAR and web.path == "multi/ci.yml"


def test_missing_file_is_said() -> None:
    (op,) = classify("docker compose -f nope.yml up -d")
    assert op.role is Role.VALIDATE and op.images == ()
    assert op.note == "compose file not read: nope.yml"
    (op,) = commands.classify(cmd("docker compose -f app/compose.yaml up"))  # no reader
    assert "compose file not read" in op.note
    (op,) = classify("docker compose -f nope.yml build")
    assert op.role is Role.BUILD and "nope.yml" in op.note


def test_compose_file_from_environment() -> None:
    ops = classify("docker compose up db", {"COMPOSE_FILE": "app/compose.yaml"})
    assert summary(ops) == [("validate", "docker compose up", ["service=postgres:16"])]


def test_exec_runs_tests() -> None:
    ops = classify("docker compose -f app/compose.yaml exec -T app pytest -q")
    assert summary(ops) == [("validate", "pytest", [])]


def test_stack_deploy() -> None:
    ops = classify(
        "docker stack deploy -c stack/stack.yml --with-registry-auth web", {"VERSION": "2"}
    )
    assert summary(ops) == [
        (
            "deploy",
            "docker stack deploy",
            ["deploy=ghcr.io/o/web@sha256:" + "b" * 64, "deploy=ghcr.io/o/worker:2"],
        )
    ]


def test_bake_reads_compose_targets() -> None:
    ops = classify("docker buildx bake -f app/compose.yaml --push app")
    assert summary(ops) == [
        ("build", "docker buildx bake", ["tag=ghcr.io/o/app:latest", "tag=ghcr.io/o/app:ci"]),
        ("push", "docker buildx bake", ["push=ghcr.io/o/app:latest", "push=ghcr.io/o/app:ci"]),
    ]
    assert ops[0].context is not None and ops[0].context.text == "app"


def test_compose_arguments() -> None:
    assert commands.compose_arguments(cmd("docker compose up").argv) is not None
    assert commands.compose_arguments(cmd("docker build .").argv) is None
    assert commands.compose_arguments(()) is None
