"""Python scripts (`digestgate.pyscripts`): commands, Docker SDK and python-on-whales
operations, values with their spans, guards, and hostile input.

Spans are 1-based, columns in code points, end exclusive; the expected numbers were
counted by hand on the fixture lines quoted next to them.
"""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

from digestgate import pyscripts
from digestgate.facts import Command, ImageUse, Operation, PieceKind, Role, Value, WriteTarget
from digestgate.pyscripts import PythonScript, analyse_python, module_path
from digestgate.span import Span

FIXTURES = Path(__file__).parent / "fixtures" / "pyscripts"


def fixture(name: str) -> PythonScript:
    path = f"scripts/{name}"
    return analyse_python((FIXTURES / name).read_text(encoding="utf-8"), path)


def script(text: str) -> PythonScript:
    return analyse_python(inspect.cleandoc(text) + "\n", "s.py")


def argvs(result: PythonScript) -> list[list[str]]:
    return [[a.text for a in c.argv] for c in result.commands]


def only(result: PythonScript) -> Command:
    assert len(result.commands) == 1, argvs(result)
    return result.commands[0]


def pieces(value: Value) -> list[tuple[str, str]]:
    return [(p.kind.value, p.text) for p in value.pieces]


def images(op: Operation) -> list[tuple[str, str]]:
    return [(i.use.value, i.value.text) for i in op.images]


# --------------------------------------------------------------------------- fixtures


def test_release_script_builds_pushes_and_reads_the_digest() -> None:
    result = fixture("release.py")
    assert not result.errors and not result.opaque
    tag = "ghcr.io/acme/app:sha-${GITHUB_SHA}"
    assert argvs(result) == [
        ["docker", "build", "--file", "docker/Dockerfile", "--tag", tag, "."],
        ["docker", "push", tag],
        ["crane", "digest", tag],
        ["docker", "image", "prune", "-f"],
    ]
    build, push, crane, prune = result.commands
    assert all(c.path == "scripts/release.py" for c in result.commands)
    # `subprocess.run(args, check=True)` in the helper `sh`: failures fail the script
    assert [c.guarded for c in result.commands] == [False, False, False, True]
    assert [c.substituted for c in result.commands] == [False, False, True, False]
    # commands run through the helper land on the helper's call, where they are written:
    # line 19 `    sh("docker", "build", "--file", "docker/Dockerfile", "--tag", TAG, ".")`
    assert build.span == Span(19, 5, 19, 76)
    assert push.span == Span(20, 5, 20, 30)  # `    sh("docker", "push", TAG)`
    # line 21 `    digest = subprocess.check_output(["crane", "digest", TAG], text=True).strip()`
    assert crane.span == Span(21, 14, 21, 74)
    assert prune.span == Span(24, 5, 24, 55)


def test_release_script_values_keep_where_each_part_is_written() -> None:
    build = fixture("release.py").commands[0]
    tag = build.argv[5]
    assert tag.span == Span(19, 67, 19, 70)  # the name `TAG` in the call
    assert pieces(tag) == [
        ("literal", "ghcr.io"),
        ("literal", "/acme/app"),
        ("literal", ":sha-"),
        ("var", "GITHUB_SHA"),
    ]
    assert [p.span for p in tag.pieces] == [
        Span(7, 13, 7, 20),  # REGISTRY = "ghcr.io"
        Span(8, 21, 8, 30),  # IMAGE = f"{REGISTRY}/acme/app"
        Span(10, 16, 10, 21),  # TAG = f"{IMAGE}:sha-{SHA}"
        Span(9, 7, 9, 31),  # SHA = os.environ["GITHUB_SHA"]
    ]
    assert build.argv[0].span == Span(19, 8, 19, 16)  # "docker", quotes included
    assert build.argv[0].pieces[0].span == Span(19, 9, 19, 15)  # docker


def test_release_script_writes_the_digest_output() -> None:
    (write,) = fixture("release.py").writes
    assert (write.target, write.name) == (WriteTarget.OUTPUT, "digest")
    assert pieces(write.value) == [("command", "crane digest ghcr.io/acme/app:sha-${GITHUB_SHA}")]
    # line 23 `        out.write(f"digest={digest}\n")`
    assert write.span == Span(23, 9, 23, 40)
    assert write.value.span == Span(23, 29, 23, 35)


def test_whales_multi_platform_build_with_push() -> None:
    result = fixture("whales_build.py")
    assert not result.errors and not result.commands
    build, push, promote, validate = result.operations
    assert build.role is Role.BUILD and build.tool == "python-on-whales buildx.build"
    assert images(build) == [("tag", "ghcr.io/acme/api:1.4.2"), ("tag", "ghcr.io/acme/api:edge")]
    assert build.push and not build.load and build.provenance
    assert build.platforms == ("linux/amd64", "linux/arm64")
    assert build.context is not None and build.context.text == "services/api"
    assert build.dockerfile is not None and build.dockerfile.text == "services/api/Dockerfile"
    assert build.span == Span(10, 5, 17, 6)  # the dk.buildx.build(...) call
    assert push.role is Role.PUSH and push.push and push.note == "pushed by the build"
    assert images(push) == [("push", "ghcr.io/acme/api:1.4.2"), ("push", "ghcr.io/acme/api:edge")]
    # the version comes from the call `build("1.4.2")` at the end of the script
    version = build.images[0].value.pieces[-1]
    assert version.text == "1.4.2" and version.span == Span(23, 8, 23, 13)
    assert promote.role is Role.PROMOTE and promote.push
    assert images(promote) == [
        ("copy-source", "ghcr.io/acme/api:1.4.2"),
        ("copy-target", "ghcr.io/acme/api:stable"),
    ]
    assert validate.role is Role.VALIDATE and images(validate) == [("run", "redis:7")]
    assert [(r.use, r.value.text) for r in result.references] == [(ImageUse.PULL, "redis:7")]
    assert result.references[0].value.span == Span(19, 13, 19, 22)  # dk.pull("redis:7")


def test_docker_sdk_build_test_tag_push_and_pull_tag_push() -> None:
    result = fixture("docker_sdk.py")
    assert not result.errors
    build, test, push, promote, service = result.operations
    assert build.role is Role.BUILD and build.tool == "docker-py images.build"
    # `image.tag(REPO, tag="1.0.0")` on the built image adds a name to the build
    assert images(build) == [
        ("tag", "worker:ci"),
        ("tag", "registry.example.com/team/worker:1.0.0"),
    ]
    assert build.load and not build.push
    assert build.context is not None and build.context.text == "."
    assert build.dockerfile is not None and build.dockerfile.text == "Dockerfile.worker"
    assert test.role is Role.VALIDATE and images(test) == [("run", "worker:ci")]
    assert push.role is Role.PUSH and push.push
    assert images(push) == [("push", "registry.example.com/team/worker:1.0.0")]
    assert push.span == Span(12, 5, 12, 42)
    # pull + tag + push of a pulled image is one PROMOTE, and the pull is no reference
    assert promote.role is Role.PROMOTE and promote.push
    assert images(promote) == [
        ("copy-source", "python:3.12-slim"),
        ("copy-target", "registry.example.com/team/worker-base:3.12"),
    ]
    assert service.role is Role.VALIDATE and service.note == "detached service"
    assert images(service) == [("run", "postgres:16")]
    assert [(r.use, r.value.text) for r in result.references] == [(ImageUse.PULL, "busybox:1.36")]


def test_test_runner_with_compose_and_pytest() -> None:
    result = fixture("run_tests.py")
    assert argvs(result) == [
        ["docker", "compose", "-f", "compose.ci.yml", "up", "-d", "--wait"],
        ["python", "-m", "pytest", "-q", "tests/integration"],
        ["docker", "compose", "-f", "compose.ci.yml", "down", "-v"],
    ]
    up, tests, down = result.commands
    assert not up.guarded
    assert not tests.guarded  # its returncode is passed to SystemExit
    assert down.guarded  # check=False
    # `*COMPOSE` spliced into the list: each word keeps the span where it is written
    assert up.argv[2].span == Span(5, 33, 5, 37)  # "-f" in COMPOSE = [...]
    assert up.argv[4].span == Span(8, 27, 8, 31)  # "up"


def test_constant_propagation_format_join_split_and_shell_strings() -> None:
    result = fixture("constants.py")
    assert not result.errors
    ref = "ghcr.io/acme/web:2.0.1"
    assert argvs(result) == [
        [
            *["docker", "buildx", "build", "--platform", "linux/amd64", "--push", "-t", ref],
            *["--label", "org.opencontainers.image.title=Web App", "."],
        ],
        ["docker", "pull", ref],
        ["docker", "tag", ref, "ghcr.io/acme/web:latest"],
        ["docker", "push", "ghcr.io/acme/web:latest"],
        ["trivy", "image", "--exit-code", "1", ref],
        ["cosign", "sign", "--yes", ref],
        ["kubectl", "set", "image", "deploy/web", f"web={ref}"],
        ["helm", "upgrade", "web", "./chart", "--set", "image.tag=2.0.1"],
    ]
    guarded = [c.guarded for c in result.commands]
    # `a && b; c` with check=True: only the last list can fail the shell
    assert guarded == [False, True, True, False, True, False, True, False]
    # the shell string is one call: every command it runs is reported there
    assert {c.span for c in result.commands[1:4]} == {Span(18, 1, 22, 2)}
    pull = result.commands[1]
    # line 19 `    f"docker pull {REF} && docker tag {REF} {REPO}:latest; docker push ..."`
    assert pull.argv[2].span == Span(19, 20, 19, 23)  # the placeholder REF
    assert pull.argv[0].span == Span(19, 7, 19, 13)  # docker, inside the string
    assert [p.span for p in pull.argv[2].pieces][:2] == [
        Span(9, 9, 9, 17),  # REPO = "ghcr.io/" + OWNER + "/" + NAME
        Span(7, 10, 7, 14),  # OWNER = "acme"
    ]
    assert pull.argv[2].pieces[4].text == ":"
    assert pull.argv[2].pieces[4].span == Span(11, 10, 11, 11)  # REF = "{}:{}".format(...)
    label = result.commands[0].argv[9]
    # line 15 `ARGS = shlex.split(f"-t {REF} --label 'org.opencontainers.image.title=Web App' .")`
    assert label.span == Span(15, 39, 15, 79)
    assert label.pieces[0].span == Span(15, 40, 15, 78)


def test_syntax_error_is_reported_and_opaque() -> None:
    result = fixture("syntax_error.py")
    assert result.opaque
    assert result.errors == ("line 3: invalid syntax",)
    assert result.commands == () and result.operations == ()


# --------------------------------------------------------------------------- values


def test_fstring_placeholders_known_and_unknown() -> None:
    result = script(
        """
        import subprocess, sys
        REPO = "ghcr.io/o/app"
        PORT = 8080
        tag = sys.argv[1]
        subprocess.run(["docker", "push", f"{REPO}:{tag}", f"{REPO}:{tag!r}", f"{PORT}"])
        subprocess.run(["docker", "push", f"{REPO}:{args.version:>5}", tag])
        """
    )
    first, second = result.commands
    assert pieces(first.argv[2]) == [("literal", "ghcr.io/o/app"), ("literal", ":"), ("var", "tag")]
    assert first.argv[2].text == "ghcr.io/o/app:${tag}"
    assert pieces(first.argv[3])[-1] == ("var", "tag")
    assert pieces(first.argv[4]) == [("literal", "8080")]
    assert pieces(second.argv[2])[-1] == ("var", "args.version")
    # an unknown value outside an f-string is UNKNOWN, named after what is written
    assert pieces(second.argv[3]) == [("unknown", "tag")]


def test_environment_reads_are_step_variables() -> None:
    result = script(
        """
        import os
        from os import environ, getenv
        import subprocess
        subprocess.run(["docker", "push", os.environ["A"], os.environ.get("B", "x"),
                        os.getenv("C"), environ["D"], getenv("E")])
        os.environ["IMAGE"] = "ghcr.io/o/app:" + os.environ["SHA"]
        subprocess.run("docker push $IMAGE && docker push ${OTHER:-x}", shell=True)
        subprocess.run(["docker", "push", os.environ["IMAGE"]])
        """
    )
    first, second, third, fourth = result.commands
    assert [pieces(a) for a in first.argv[2:]] == [[("var", n)] for n in "ABCDE"]
    assert second.argv[2].text == "ghcr.io/o/app:${SHA}"
    assert pieces(third.argv[2]) == [("var", "OTHER")]
    assert fourth.argv[2].text == "ghcr.io/o/app:${SHA}"


def test_defaults_and_programs_found_on_path() -> None:
    result = script(
        """
        import os, shutil, subprocess
        IMAGE = os.environ.get("IMAGE") or "ghcr.io/o/app:dev"
        DOCKER = shutil.which("docker")
        subprocess.run([DOCKER, "push", IMAGE], check=True)
        """
    )
    assert [pieces(a) for a in only(result).argv] == [
        [("literal", "docker")],
        [("literal", "push")],
        [("var", "IMAGE")],
    ]


def test_lists_built_step_by_step() -> None:
    result = script(
        """
        import subprocess
        IMAGE = "ghcr.io/o/app:1"
        cmd = ["docker", "buildx", "build"]
        cmd += ["--platform", "linux/amd64,linux/arm64"]
        cmd.append("--push")
        cmd.extend(["-t", IMAGE])
        cmd.insert(3, "--pull")
        subprocess.run(cmd + ["."], check=True)
        extra = get_args()
        subprocess.run(["docker", "build", *extra, "."], check=True)
        """
    )
    first, second = result.commands
    assert [a.text for a in first.argv] == [
        "docker", "buildx", "build", "--pull", "--platform", "linux/amd64,linux/arm64",
        "--push", "-t", "ghcr.io/o/app:1", ".",
    ]  # fmt: skip
    assert [a.text for a in second.argv] == ["docker", "build", "*extra", "."]
    assert pieces(second.argv[2]) == [("unknown", "*extra")]
    assert first.span == Span(8, 1, 8, 40)  # the list is written before the call


def test_string_methods_and_percent_format() -> None:
    result = script(
        """
        import os, subprocess, shlex
        NAME = "app"
        REF = "ghcr.io/o/%s:%s" % (NAME, "1.0")
        LINE = "  docker   push  {ref}  ".format(ref=REF).strip()
        subprocess.run(LINE.split(), check=True)
        subprocess.run(shlex.split(f"docker run --rm {REF} 'a b' \\"c d\\""), check=True)
        subprocess.run(shlex.join(["echo", "a b"]), shell=True, check=True)
        subprocess.run(["docker", "build", "-f", os.path.join("docker", NAME, "Dockerfile")])
        subprocess.run("-".join(["x", NAME, unknown]).split("-"))
        """
    )
    assert argvs(result) == [
        ["docker", "push", "ghcr.io/o/app:1.0"],
        ["docker", "run", "--rm", "ghcr.io/o/app:1.0", "a b", "c d"],
        ["echo", "a b"],
        ["docker", "build", "-f", "docker/app/Dockerfile"],
        ["x", "app", "unknown"],
    ]


def test_escapes_and_code_point_columns() -> None:
    result = script(
        """
        import subprocess
        subprocess.run(["echo", "héllo wörld", "tab\\there", "x"])
        subprocess.run("printf '%s' \\"é\\" x", shell=True)
        """
    )
    first, second = result.commands
    # line 2 `subprocess.run(["echo", "héllo wörld", "tab\\there", "x"])`: columns count
    # code points, not bytes
    assert first.argv[3].span == Span(2, 53, 2, 56)
    assert first.argv[2].text == "tab\there"
    # the escape is two characters in the file for one in the value: pieces stay exact
    assert [(p.text, p.span) for p in first.argv[2].pieces] == [
        ("tab", Span(2, 41, 2, 44)),
        ("\t", Span(2, 44, 2, 46)),
        ("here", Span(2, 46, 2, 50)),
    ]
    assert [a.text for a in second.argv] == ["printf", "%s", "é", "x"]
    assert second.argv[3].span == Span(3, 35, 3, 36)


def test_captured_output_is_a_command_piece() -> None:
    result = script(
        """
        import subprocess
        digest = subprocess.check_output(["crane", "digest", "ghcr.io/o/app:1"]).decode().strip()
        proc = subprocess.run(["docker", "inspect", "x"], capture_output=True, text=True)
        subprocess.run(["cosign", "sign", f"ghcr.io/o/app@{digest}", proc.stdout], check=True)
        """
    )
    sign = result.commands[2]
    assert pieces(sign.argv[2]) == [
        ("literal", "ghcr.io/o/app@"),
        ("command", "crane digest ghcr.io/o/app:1"),
    ]
    assert pieces(sign.argv[3]) == [("command", "docker inspect x")]
    assert result.commands[0].substituted and result.commands[1].substituted
    assert result.commands[1].guarded  # only .stdout is read: the status is not


def test_branches_that_disagree_make_a_value_unknown() -> None:
    result = script(
        """
        import os, subprocess
        if os.environ.get("RELEASE"):
            channel = "stable"
        else:
            channel = "edge"
        cmd = ["docker", "push", "ghcr.io/o/app:" + channel]
        if os.environ.get("ALL_TAGS"):
            cmd.append("--all-tags")
        subprocess.run(cmd, check=True)
        """
    )
    (command,) = result.commands
    # both branches set `channel`: unknown; only one changes `cmd`: it is taken
    assert [a.text for a in command.argv] == [
        "docker",
        "push",
        "ghcr.io/o/app:channel",
        "--all-tags",
    ]
    assert pieces(command.argv[2]) == [("literal", "ghcr.io/o/app:"), ("unknown", "channel")]


def test_output_writes() -> None:
    result = script(
        """
        import os, subprocess
        from pathlib import Path
        REF = "ghcr.io/o/app:1"
        digest = subprocess.check_output(["crane", "digest", REF], text=True).strip()
        with open(os.environ["GITHUB_OUTPUT"], "a") as out:
            print(f"image={REF}", file=out)
            out.write("notes<<EOF\\nbuilt by CI\\nEOF\\n")
        with open(os.getenv("GITHUB_ENV"), "a") as env:
            env.write("IMAGE_REF=" + REF + "@" + digest + "\\n")
        with open(os.environ["GITHUB_STEP_SUMMARY"], "a") as summary:
            summary.write("digest=ignored\\n")
        Path("digest.txt").write_text(digest)
        """
    )
    assert [(w.target, w.name, w.value.text) for w in result.writes] == [
        (WriteTarget.OUTPUT, "image", "ghcr.io/o/app:1"),
        (WriteTarget.OUTPUT, "notes", "built by CI"),
        (WriteTarget.ENV, "IMAGE_REF", "ghcr.io/o/app:1@$(crane digest ghcr.io/o/app:1)"),
        (WriteTarget.FILE, "digest.txt", "$(crane digest ghcr.io/o/app:1)"),
    ]


# --------------------------------------------------------------------------- guards


@pytest.mark.parametrize(
    ("code", "guarded"),
    [
        ('subprocess.run(["make", "test"])', True),
        ('subprocess.run(["make", "test"], check=True)', False),
        ('subprocess.run(["make", "test"], check=strict)', False),
        ('subprocess.check_call(["make", "test"])', False),
        ('subprocess.check_output(["make", "test"])', False),
        ('subprocess.call(["make", "test"])', True),
        ('sys.exit(subprocess.call(["make", "test"]))', False),
        ('result = subprocess.run(["make", "test"])', True),
        (
            'result = subprocess.run(["make", "test"])\nif result.returncode:\n    sys.exit(1)',
            False,
        ),
        ('result = subprocess.run(["make", "test"])\nresult.check_returncode()', False),
        ('result = subprocess.run(["make", "test"])\nprint(result.stdout)', True),
        ('subprocess.run(["make", "test"]).check_returncode()', False),
        ('p = subprocess.Popen(["make", "test"])\np.wait()', True),
        ('p = subprocess.Popen(["make", "test"])\nif p.wait():\n    sys.exit(1)', False),
        ('os.system("make test")', True),
        ('if os.system("make test"):\n    sys.exit(1)', False),
        ('rc = os.system("make test")\nsys.exit(rc)', False),
        ('os.popen("make test").read()', True),
        ('try:\n    subprocess.check_call(["make", "test"])\nexcept Exception:\n    pass', True),
        ("try:\n    subprocess.check_call(['make', 'test'])\nexcept:\n    print('failed')", True),
        (
            "try:\n    subprocess.check_call(['make', 'test'])\n"
            "except subprocess.CalledProcessError:\n    sys.exit(1)",
            False,
        ),
        ("try:\n    subprocess.check_call(['make', 'test'])\nexcept KeyError:\n    pass", False),
        (
            "with contextlib.suppress(subprocess.CalledProcessError):\n"
            "    subprocess.check_call(['make', 'test'])",
            True,
        ),
        ('os.execvp("make", ["make", "test"])', False),
        ('os.spawnvp(os.P_WAIT, "make", ["make", "test"])', True),
        ('sh.make("test")', False),
        ('sh.make("test", _ok_code=[0, 2])', True),
    ],
)
def test_guarded(code: str, guarded: bool) -> None:
    source = "import contextlib, os, subprocess, sys\nimport sh\n" + code + "\n"
    result = analyse_python(source, "s.py")
    assert only(result).guarded is guarded


def test_shell_string_lists_pipelines_and_set_e() -> None:
    result = script(
        """
        import subprocess
        subprocess.run("docker build -t x . | tee log || echo failed", shell=True, check=True)
        subprocess.run("set -e; docker push x; crane digest x", shell=True, check=True)
        subprocess.run("if docker pull x; then docker push x & fi", shell=True, check=True)
        """
    )
    by_name = [(c.argv[0].text, c.guarded, c.background) for c in result.commands]
    assert by_name == [
        ("docker", True, False),  # before `|`, and on the left of `||`
        ("tee", True, False),
        ("echo", False, False),
        ("set", False, False),
        ("docker", False, False),  # after `set -e`
        ("crane", False, False),
        ("docker", True, False),  # an `if` condition
        ("docker", True, True),  # in the background
    ]


def test_shell_string_redirects_heredocs_and_substitutions() -> None:
    result = script(
        """
        import subprocess
        subprocess.run('''cat > digest.txt <<EOF
        sha256:abc
        EOF
        docker push "$(cat image.txt)" 2>/dev/null''', shell=True, check=True)
        """
    )
    cat, push = result.commands
    assert [(op, v.text) for op, v in cat.redirects] == [(">", "digest.txt")]
    assert cat.stdin is not None and cat.stdin.text == "sha256:abc\n"
    assert pieces(push.argv[2]) == [("command", "cat image.txt")]
    assert [(op, v.text) for op, v in push.redirects] == [("2>", "/dev/null")]


# --------------------------------------------------------------------------- libraries


def test_sh_library_forms() -> None:
    result = script(
        """
        import sh
        from sh import docker as dock
        REF = "ghcr.io/o/app:1"
        sh.docker("push", REF)
        sh.Command("crane")("copy", REF, "ghcr.io/o/app:prod")
        dock.buildx.build(".", tag=REF, push=True, q=True)
        kubectl = sh.kubectl.bake("--context", "prod")
        kubectl("set", "image", "deploy/app", f"app={REF}")
        out = sh.crane("digest", REF)
        """
    )
    assert argvs(result) == [
        ["docker", "push", "ghcr.io/o/app:1"],
        ["crane", "copy", "ghcr.io/o/app:1", "ghcr.io/o/app:prod"],
        ["docker", "buildx", "build", ".", "--tag=ghcr.io/o/app:1", "--push", "-q"],
        ["kubectl", "--context", "prod", "set", "image", "deploy/app", "app=ghcr.io/o/app:1"],
        ["crane", "digest", "ghcr.io/o/app:1"],
    ]
    assert [c.substituted for c in result.commands] == [False] * 4 + [True]
    assert result.commands[0].argv[0].span == Span(4, 4, 4, 10)  # the attribute `docker`


def test_plumbum_forms() -> None:
    result = script(
        """
        from plumbum import local, FG, BG
        from plumbum.cmd import kubectl
        docker = local["docker"]
        docker["push", "ghcr.io/o/app:1"] & FG
        docker["run", "-d", "redis:7"] & BG
        kubectl("rollout", "status", "deploy/app")
        """
    )
    assert argvs(result) == [
        ["docker", "push", "ghcr.io/o/app:1"],
        ["docker", "run", "-d", "redis:7"],
        ["kubectl", "rollout", "status", "deploy/app"],
    ]
    assert [(c.guarded, c.background) for c in result.commands] == [
        (False, False),
        (True, True),
        (False, False),
    ]


def test_invoke_tasks_and_fabric() -> None:
    result = script(
        """
        from invoke import task
        from fabric import Connection

        IMAGE = "ghcr.io/o/tool"

        @task
        def release(c, version):
            c.run(f"docker build -t {IMAGE}:{version} .")
            c.run(f"docker push {IMAGE}:{version}", warn=True)

        def deploy():
            Connection("prod").run(f"docker pull {IMAGE}:1")
        """
    )
    assert argvs(result) == [
        ["docker", "build", "-t", "ghcr.io/o/tool:${version}", "."],
        ["docker", "push", "ghcr.io/o/tool:${version}"],
        ["docker", "pull", "ghcr.io/o/tool:1"],
    ]
    assert [c.guarded for c in result.commands] == [False, True, False]


def test_os_exec_spawn_and_asyncio() -> None:
    result = script(
        """
        import asyncio, os
        os.execlp("docker", "docker", "push", "a:1")
        os.spawnv(os.P_NOWAIT, "/usr/bin/docker", ["docker", "pull", "b:1"])
        async def main():
            proc = await asyncio.create_subprocess_exec("docker", "run", "c:1", "pytest")
            await proc.wait()
            await asyncio.create_subprocess_shell("docker push d:1")
        """
    )
    assert argvs(result) == [
        ["docker", "push", "a:1"],
        ["docker", "pull", "b:1"],
        ["docker", "run", "c:1", "pytest"],
        ["docker", "push", "d:1"],
    ]
    assert result.commands[1].background


def test_whales_defaults_outputs_compose_and_bake() -> None:
    result = script(
        """
        from python_on_whales import DockerClient
        docker = DockerClient(compose_files=["compose.yml"])
        docker.build(".", tags="app:ci")
        docker.buildx.build(".", tags=["ghcr.io/o/app:1"], output={"type": "registry"})
        docker.compose.up(detach=True)
        docker.buildx.bake(targets=["api"], files=["docker-bake.hcl"], push=True)
        docker.image.tag("app:ci", "ghcr.io/o/app:ci")
        docker.push("ghcr.io/o/app:ci")
        """
    )
    local, registry, _push, push_ci = result.operations
    assert (
        local.load
        and not local.push
        and images(local) == [("tag", "app:ci"), ("tag", "ghcr.io/o/app:ci")]
    )
    assert registry.push and not registry.load
    assert push_ci.role is Role.PUSH and images(push_ci) == [("push", "ghcr.io/o/app:ci")]
    assert argvs(result) == [
        ["docker", "compose", "up", "-d"],
        ["docker", "buildx", "bake", "-f", "docker-bake.hcl", "--push", "api"],
    ]


def test_sdk_client_aliases_and_low_level_api() -> None:
    result = script(
        """
        from docker import DockerClient, APIClient
        client = DockerClient(base_url="unix://var/run/docker.sock")
        api = APIClient()
        def publish(name):
            client.api.build(path="ctx", tag=name, platform="linux/arm64")
            api.push("ghcr.io/o/app", tag="2")
            client.images.get_registry_data("ghcr.io/o/app:2")
            client.containers.create("ghcr.io/o/app:2", "true")
        """
    )
    build, push = result.operations
    assert build.role is Role.BUILD and build.platforms == ("linux/arm64",)
    assert images(build) == [("tag", "name")]  # an unknown parameter
    assert build.images[0].value.pieces[0].kind is PieceKind.UNKNOWN
    assert push.role is Role.PUSH and images(push) == [("push", "ghcr.io/o/app:2")]
    assert [(r.use, r.value.text) for r in result.references] == [
        (ImageUse.INPUT, "ghcr.io/o/app:2"),
        (ImageUse.RUN, "ghcr.io/o/app:2"),
    ]


# --------------------------------------------------------------------------- functions


def test_helper_functions_are_followed_not_reported_alone() -> None:
    result = script(
        """
        import subprocess

        def run(cmd, check=True):
            subprocess.run(cmd, check=check)

        def push(image):
            run(["docker", "push", image])

        def image_ref(name, tag="latest"):
            return f"ghcr.io/o/{name}:{tag}"

        push(image_ref("api", "1.0"))
        push(image_ref("web"))
        run(["docker", "pull", "x"], check=False)
        """
    )
    assert argvs(result) == [
        ["docker", "push", "ghcr.io/o/api:1.0"],
        ["docker", "push", "ghcr.io/o/web:latest"],
        ["docker", "pull", "x"],
    ]
    # each lands where its list is written: in `push`, for the first two
    assert [c.span.line for c in result.commands] == [7, 7, 14]
    assert [c.guarded for c in result.commands] == [False, False, True]


def test_a_helper_that_prefixes_its_arguments_reports_at_its_callers() -> None:
    result = script(
        """
        import subprocess
        def docker(*args):
            cmd = ["docker", *args]
            return subprocess.run(cmd, check=True, capture_output=True).stdout
        docker("push", "ghcr.io/o/app:1")
        digest = docker("inspect", "--format", "{{index .RepoDigests 0}}", "ghcr.io/o/app:1")
        """
    )
    assert argvs(result) == [
        ["docker", "push", "ghcr.io/o/app:1"],
        ["docker", "inspect", "--format", "{{index .RepoDigests 0}}", "ghcr.io/o/app:1"],
    ]
    assert [c.span for c in result.commands] == [Span(5, 1, 5, 34), Span(6, 10, 6, 86)]
    assert [c.substituted for c in result.commands] == [True, True]


def test_uncalled_function_is_analysed_once_with_unknown_parameters() -> None:
    result = script(
        """
        import subprocess
        class Release:
            def push(self, image):
                subprocess.run(["docker", "push", image], check=True)
        """
    )
    assert pieces(only(result).argv[2]) == [("unknown", "image")]


def test_recursion_is_bounded() -> None:
    result = script(
        """
        import os
        def again(x):
            os.system(x)
            return again(x)
        again("make test")
        """
    )
    assert argvs(result) == [["make", "test"]]


# --------------------------------------------------------------------------- run: bodies


def test_inline_body_placeholders_and_locate() -> None:
    source = (
        "import subprocess\n"
        'IMAGE = "${{ env.IMAGE }}:1"\n'
        'subprocess.run(["docker", "push", IMAGE, ${{ inputs.extra }}])\n'
    )

    def locate(offset: int, length: int) -> Span:
        # the body starts at line 10, column 7 of the workflow, one source line per line
        before = source[:offset]
        line = before.count("\n")
        column = offset - (before.rfind("\n") + 1)
        end = offset + length
        end_line = source[:end].count("\n")
        end_column = end - (source[:end].rfind("\n") + 1)
        return Span(10 + line, 7 + column, 10 + end_line, 7 + end_column)

    command = only(analyse_python(source, ".github/workflows/ci.yml", locate))
    image = command.argv[2]
    assert pieces(image) == [("expr", "${{ env.IMAGE }}"), ("literal", ":1")]
    assert image.pieces[0].span == Span(11, 16, 11, 32)
    assert pieces(command.argv[3]) == [("unknown", "${{ inputs.extra }}")]
    assert command.span == Span(12, 7, 12, 69)


# --------------------------------------------------------------------------- module_path


def test_module_path(tmp_path: Path) -> None:
    (tmp_path / "tools" / "release").mkdir(parents=True)
    (tmp_path / "tools" / "__init__.py").write_text("")
    (tmp_path / "tools" / "build.py").write_text("")
    (tmp_path / "tools" / "release" / "__main__.py").write_text("")
    (tmp_path / "src" / "ci").mkdir(parents=True)
    (tmp_path / "src" / "ci" / "e2e.py").write_text("")
    assert module_path("tools.build", tmp_path) == "tools/build.py"
    assert module_path("tools.release", tmp_path) == "tools/release/__main__.py"
    assert module_path("ci.e2e", tmp_path) == "src/ci/e2e.py"
    assert module_path("pytest", tmp_path) is None
    assert module_path("tools..build", tmp_path) is None
    assert module_path("../etc/passwd", tmp_path) is None


# --------------------------------------------------------------------------- hostile input


def test_a_one_megabyte_script_finishes_quickly() -> None:
    body = "".join(
        f"def step_{i}():\n"
        f"    cmd = ['docker', 'push', IMAGE + ':{i}']\n"
        f"    subprocess.run(cmd, check=True)  # step {i}\n\n"
        for i in range(11000)
    )
    source = "import subprocess\nIMAGE = 'ghcr.io/o/app'\n" + body
    assert len(source) > 1_000_000
    began = time.perf_counter()
    result = analyse_python(source, "big.py")
    assert time.perf_counter() - began < 15  # about 2 s on a quiet machine
    assert result.opaque and "too large" in result.errors[0]
    assert result.commands and result.commands[0].argv[2].text == "ghcr.io/o/app:0"


def test_a_large_script_keeps_the_statements_that_matter() -> None:
    filler = "".join(f"VALUE_{i} = {{'key': [{i}, {i + 1}]}}\n" for i in range(8000))
    source = (
        "import subprocess\nIMAGE = 'ghcr.io/o/app:1'\n"
        + filler
        + "subprocess.run(['docker', 'push', IMAGE], check=True)\n"
    )
    assert len(source) > 100_000
    result = analyse_python(source, "big.py")
    assert not result.opaque
    assert argvs(result) == [["docker", "push", "ghcr.io/o/app:1"]]
    assert result.commands[0].span.line == 8003


@pytest.mark.parametrize(
    "source",
    [
        "x = " + "+".join(['"a"'] * 50000) + "\n",  # the native parser would crash
        "x = " + "[" * 120 + "]" * 120 + "\nimport os\nos.system('make')\n",
        "import os\nx = 0\nif x:\n    pass\n"
        + "".join(f"elif x == {i}:\n    pass\n" for i in range(500)),
        "x = 1\0\n",
        "\ufeffimport os\nos.system('make test')\n",
        "",
        "def f(:\n",
        "import os\nos.system(" * 300,
    ],
    ids=["long-chain", "deep-list", "500-elifs", "null-byte", "bom", "empty", "syntax", "unclosed"],
)
def test_hostile_input_never_raises(source: str) -> None:
    result = analyse_python(source, "x.py")
    assert isinstance(result, PythonScript)
    if result.commands:
        assert result.commands[0].argv[0].text == "make"


def test_bom_keeps_columns() -> None:
    result = analyse_python("\ufeffimport os\nos.system('make test')\n", "x.py")
    assert only(result).argv[0].span == Span(2, 12, 2, 16)


def test_nested_deep_statement_is_skipped_but_the_rest_is_read() -> None:
    deep = "x = " + "[" * 120 + "]" * 120 + "\n"
    result = analyse_python("import os\n" + deep + "os.system('make test')\n", "x.py")
    assert result.opaque and result.errors == (
        "line 2: this statement is nested too deeply to analyse",
    )
    assert argvs(result) == [["make", "test"]]


def test_a_script_that_cannot_report_is_not_parsed_further() -> None:
    from digestgate.pyscripts import _Plan, _plan

    quiet = inspect.cleandoc(
        """
        import json, os.path, sys
        data = json.load(open(sys.argv[1]))
        with open(os.path.join("a", "b"), "r", encoding="utf-8") as f:
            print(len(f.read()), file=sys.stderr)
        """
    )
    plan = _plan(quiet + "\n")
    assert isinstance(plan, _Plan) and plan.regions == []
    assert script(quiet) == PythonScript()
    # each of these can report something, so the script is read
    for line, expected in (
        ("open(name, mode).write('a=1')", WriteTarget.FILE),  # the mode is not known here
        ("Path('x').write_text('x')", WriteTarget.FILE),
        ("print('a=1', file=open(os.environ['GITHUB_OUTPUT'], 'a'))", WriteTarget.OUTPUT),
    ):
        source = f"import os\nfrom pathlib import Path\nname, mode = 'out.txt', 'w'\n{line}\n"
        plan = _plan(source)
        assert isinstance(plan, _Plan) and plan.regions, line
        assert [w.target for w in analyse_python(source, "s.py").writes] == [expected], line
    remote = script(
        """
        from invoke import task
        @task
        def push(c):
            c.run("make release")
        """
    )
    assert argvs(remote) == [["make", "release"]]  # only `invoke` says it is a command


def test_positions_match_libcsts_provider() -> None:
    import libcst
    import libcst.metadata

    from digestgate.pyscripts import _positions

    source = (FIXTURES / "docker_sdk.py").read_text(encoding="utf-8") + inspect.cleandoc(
        """

        def f(a, /, b=1, *args, c: int = 2, **kw) -> None:
            x = [i for i in range(3) if i]; y = {k: v for k, v in kw.items()}
            async def g():
                async with a as b:
                    await b
            match a:
                case {"k": [1, *rest]} | None:
                    pass
            return lambda q: (q if q else -q) @ x[1:2, ...]
        s = f'{a!r:>{b}}' \\
            "more"
        try:
            pass
        except* ValueError:
            pass
        """
    )
    module = libcst.parse_module(source)
    wrapper = libcst.metadata.MetadataWrapper(module, unsafe_skip_copy=True)
    expected = {
        id(node): (r.start.line, r.start.column, r.end.line, r.end.column)
        for node, r in wrapper.resolve(libcst.metadata.PositionProvider).items()
    }
    assert len(expected) > 500
    assert _positions(module) == expected


# --- the `_Flow` pre-check: scripts that cannot report are not parsed with libcst -------

_REPORTING = {
    "alias of open": """
        import os
        o = open
        f = o(os.environ["GITHUB_OUTPUT"], "a")
        f.write("digest=sha256:abc\\n")
    """,
    "pathlib alias": """
        import os
        from pathlib import Path as P
        P(os.environ["GITHUB_OUTPUT"]).write_text("tag=v1\\n")
    """,
    "print to an opened file": """
        import os
        print("digest=x", file=open(os.environ["GITHUB_OUTPUT"], "a"))
    """,
    "path passed as a parameter": """
        import os
        def save(p, v):
            with open(p, "a") as f:
                f.write(v)
        save(os.environ["GITHUB_OUTPUT"], "digest=sha256:abc\\n")
    """,
    "environ imported under another name": """
        from os import environ as E
        with open(E["GITHUB_OUTPUT"], "a") as fh:
            fh.write("tag=1\\n")
    """,
    "path returned by a function": """
        import os
        def out():
            return os.environ["GITHUB_OUTPUT"]
        with open(out(), "a") as fh:
            fh.write("tag=1\\n")
    """,
    "path passed in **kwargs": """
        import os
        def save(**kw):
            with open(kw["path"], "a") as f:
                f.write("x=1\\n")
        save(path=os.environ["GITHUB_OUTPUT"])
    """,
    "literal file name": """
        with open("digest.txt", "w") as f:
            f.write("sha256:abc")
    """,
}

_SILENT = {
    "argparse output path": """
        import argparse, json
        parser = argparse.ArgumentParser()
        parser.add_argument("--output")
        args = parser.parse_args()
        with open(args.output, "w") as f:
            json.dump({"docker": 1}, f)
    """,
    "path joined from __file__": """
        import json
        from pathlib import Path
        root = Path(__file__).parent
        (root / "report.json").write_text(json.dumps({"sh": 1}))
    """,
}


def _reports(script: PythonScript) -> bool:
    return bool(script.commands or script.operations or script.references or script.writes)


def _forced(source: str, path: str, monkeypatch: pytest.MonkeyPatch) -> PythonScript:
    """The analysis with the `_Flow` pre-check switched off (every script parsed)."""
    with monkeypatch.context() as patch:
        patch.setattr(pyscripts, "_FLOW_CHECK", False)
        return analyse_python(source, path)


def test_flow_check_can_be_switched_off() -> None:
    # What `_forced` relies on, seen from outside: with the check off a silent script is
    # read with libcst (imported on first use), with it on it is not.
    source = inspect.cleandoc(next(iter(_SILENT.values()))) + "\n"
    program = (
        "import sys\nfrom digestgate import pyscripts\n"
        "pyscripts._FLOW_CHECK = sys.argv[1] == 'on'\n"
        "pyscripts.analyse_python(sys.argv[2], 's.py')\n"
        "print('libcst' in sys.modules)\n"
    )
    seen = {
        state: subprocess.run(
            [sys.executable, "-c", program, state, source],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for state in ("on", "off")
    }
    assert seen == {"on": "False", "off": "True"}


def test_a_check_without_python_scripts_does_not_import_libcst(tmp_path: Path) -> None:
    # libcst takes longer to import than a small check takes (the pre-commit case)
    workflow = tmp_path / ".github" / "workflows" / "ci.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text(
        "on: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: docker build -t ghcr.io/acme/web:latest . && docker push ghcr.io/acme/web\n"
        "      - run: print('done')\n        shell: python\n",
        encoding="utf-8",
    )
    program = (
        "import sys\nfrom digestgate import engine\n"
        "engine.check([sys.argv[1]], engine.Options(no_config=True, cache=False))\n"
        "print('libcst' in sys.modules)\n"
    )
    seen = subprocess.run(
        [sys.executable, "-c", program, str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert seen == "False"


@pytest.mark.parametrize("name", sorted(_REPORTING))
def test_flow_parses_scripts_that_report(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    source = inspect.cleandoc(_REPORTING[name]) + "\n"
    assert _reports(_forced(source, "s.py", monkeypatch))  # the case is worth checking
    assert pyscripts._can_report(ast.parse(source))
    assert analyse_python(source, "s.py") == _forced(source, "s.py", monkeypatch)


@pytest.mark.parametrize("name", sorted(_SILENT))
def test_flow_skips_scripts_that_cannot_report(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    source = inspect.cleandoc(_SILENT[name]) + "\n"
    tree = ast.parse(source)
    assert pyscripts._may_report(source, tree.body)  # the older, coarser check keeps it
    assert not pyscripts._can_report(tree)
    assert not _reports(_forced(source, "s.py", monkeypatch))
    assert analyse_python(source, "s.py") == PythonScript()


def test_flow_skips_only_what_reports_nothing_in_the_standard_library(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Soundness on real code any machine has: every standard-library module the
    coarse check would parse and `_Flow` skips reports nothing when parsed anyway."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    skipped = 0
    modules = [*sorted(stdlib.glob("*.py")), *sorted(stdlib.glob("*/*.py"))]
    for path in modules:
        if path.parent.name in ("test", "site-packages", "idlelib", "turtledemo"):
            continue
        source = path.read_text(encoding="utf-8", errors="replace")
        if len(source) > 20_000:
            continue
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        if not pyscripts._may_report(source, tree.body) or pyscripts._can_report(tree):
            continue
        assert not _reports(_forced(source, path.name, monkeypatch)), path.name
        skipped += 1
        if skipped == 25:
            break
    assert skipped == 25  # enough modules were skipped for this to mean something
