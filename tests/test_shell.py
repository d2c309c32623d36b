"""The shell script reader: commands, values, guards, output writes and spans.

Expected values are worked out by hand from the scripts (columns are 1-based code
points, end exclusive).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digestgate.builder import build_workflow
from digestgate.facts import Command, OutputWrite, Piece, PieceKind, Value, WriteTarget
from digestgate.loader import load_text
from digestgate.model import Platform, Text
from digestgate.shell import ShellMode, ShellScript, analyse, file_locator, shell_mode
from digestgate.span import Span

LIT, EXPR, VAR, CMD, UNK = (
    PieceKind.LITERAL,
    PieceKind.EXPR,
    PieceKind.VAR,
    PieceKind.COMMAND,
    PieceKind.UNKNOWN,
)


def run(
    src: str, *, env: Mapping[str, Value] | None = None, shell: str | None = None
) -> ShellScript:
    return analyse(src, "s.sh", file_locator(src), env=env, shell=shell)


def script(text: str, *, env: Mapping[str, Value] | None = None) -> ShellScript:
    return run(inspect.cleandoc(text) + "\n", env=env)


def kinds(value: Value) -> list[tuple[PieceKind, str]]:
    return [(p.kind, p.text) for p in value.pieces]


def words(command: Command) -> list[str]:
    return [a.text for a in command.argv]


def named(result: ShellScript, name: str) -> list[Command]:
    return [c for c in result.commands if c.name == name]


def only(result: ShellScript, name: str) -> Command:
    (found,) = named(result, name)
    return found


def writes(result: ShellScript, target: WriteTarget) -> dict[str, list[tuple[PieceKind, str]]]:
    out = {}
    for w in result.writes:
        if w.target is target:
            assert w.value is not None
            out[w.name] = kinds(w.value)
    return out


def run_text(yaml: str) -> tuple[Text, ShellScript]:
    root = load_text(inspect.cleandoc(yaml) + "\n", "ci.yml").root
    workflow, problems = build_workflow(root, ".github/workflows/ci.yml", Platform.GITHUB)
    assert not problems
    text = next(iter(workflow.jobs.values())).steps[0].run
    assert text is not None
    return text, analyse(text.value, ".github/workflows/ci.yml", text.locate)


# --------------------------------------------------------------------------- locating


def test_file_locator_maps_offsets_to_lines_and_columns() -> None:
    locate = file_locator("ab\ncdé\n")
    assert locate(0, 2) == Span(1, 1, 1, 3)
    assert locate(3, 3) == Span(2, 1, 2, 4)
    assert locate(1, 3) == Span(1, 2, 2, 2)  # across the newline
    assert locate(5, 0) == Span(2, 3, 2, 3)


# --------------------------------------------------------------------------- commands


def test_commands_in_source_order_with_exact_spans() -> None:
    r = run("docker build -t app:1 . && docker push app:1; echo done\n")
    assert [words(c) for c in r.commands] == [
        ["docker", "build", "-t", "app:1", "."],
        ["docker", "push", "app:1"],
        ["echo", "done"],
    ]
    assert [c.span for c in r.commands] == [
        Span(1, 1, 1, 24),
        Span(1, 28, 1, 45),
        Span(1, 47, 1, 56),
    ]
    assert r.commands[1].argv[2].span == Span(1, 40, 1, 45)
    assert not r.errors and not r.opaque


def test_line_continuations() -> None:
    r = run("docker build \\\n  -t app:1 \\\n  .\n")
    (c,) = r.commands
    assert words(c) == ["docker", "build", "-t", "app:1", "."]
    assert c.span == Span(1, 1, 3, 4)
    assert c.argv[3].span == Span(2, 6, 2, 11)
    # a break inside a word joins it
    (joined,) = run("echo ab\\\ncd\n").commands
    assert words(joined) == ["echo", "abcd"]


def test_non_ascii_text_before_a_command() -> None:
    r = run('echo "héllo ✓" && docker push app:1\n')
    echo, push = r.commands
    assert kinds(echo.argv[1]) == [(LIT, "héllo ✓")]
    assert echo.argv[1].span == Span(1, 6, 1, 15)
    assert echo.argv[1].pieces[0].span == Span(1, 7, 1, 14)
    assert push.span == Span(1, 19, 1, 36)
    assert push.argv[2].span == Span(1, 31, 1, 36)


def test_non_ascii_on_earlier_lines_and_in_placeholders() -> None:
    r = run("# ünïcödé ✓✓✓\necho '${{ inputs.ä }}' ö\n")
    (c,) = r.commands
    assert kinds(c.argv[1]) == [(EXPR, "${{ inputs.ä }}")]
    assert c.argv[1].pieces[0].span == Span(2, 7, 2, 22)
    assert c.argv[2].span == Span(2, 24, 2, 25)


def test_run_block_scalar_spans() -> None:
    _, r = run_text(
        """
        on: push
        jobs:
          b:
            runs-on: ubuntu-latest
            steps:
              - run: |
                  IMG=ghcr.io/o/app
                  docker push "$IMG:${{ github.sha }}"
                  echo "digest=$(crane digest "$IMG")" >> "$GITHUB_OUTPUT"
        """
    )
    push = only(r, "docker")
    assert push.path == ".github/workflows/ci.yml"
    assert push.span == Span(8, 11, 8, 47)
    ref = push.argv[2]
    assert ref.span == Span(8, 23, 8, 47)
    assert [(p.kind, p.text, p.span) for p in ref.pieces] == [
        (LIT, "ghcr.io/o/app", Span(7, 15, 7, 28)),  # where the value is written
        (LIT, ":", Span(8, 28, 8, 29)),
        (EXPR, "${{ github.sha }}", Span(8, 29, 8, 46)),
    ]
    (write,) = r.writes
    assert write == OutputWrite(
        WriteTarget.OUTPUT,
        "digest",
        Value(
            (Piece(CMD, 'crane digest "ghcr.io/o/app"', Span(9, 26, 9, 45)),),
            Span(9, 26, 9, 45),
            ".github/workflows/ci.yml",
        ),
        Span(9, 11, 9, 67),
        ".github/workflows/ci.yml",
    )
    crane = only(r, "crane")
    assert crane.substituted and crane.span == Span(9, 26, 9, 45)


def test_wrappers_are_kept() -> None:
    r = run("sudo -E env FOO=1 timeout 60 docker pull app:1\ncommand -v docker\ntime make\n")
    assert [words(c) for c in r.commands] == [
        ["sudo", "-E", "env", "FOO=1", "timeout", "60", "docker", "pull", "app:1"],
        ["command", "-v", "docker"],
        ["time", "make"],
    ]
    (xargs,) = named(run("echo app:1 | xargs docker pull\n"), "xargs")
    assert words(xargs) == ["xargs", "docker", "pull"]


def test_subshells_pipelines_and_blocks() -> None:
    r = script(
        """
        (cd app && make build) | tee build.log
        if [ -f x ]; then docker push a; elif true; then docker push b; else docker push c; fi
        for i in 1 2; do docker push "img:$i"; done
        while read -r line; do echo "$line"; done < list.txt
        case "$X" in a) docker push d ;; *) docker push e ;; esac
        f() { docker push f; }
        { docker push g; }
        """
    )
    assert [words(c) for c in r.commands] == [
        ["cd", "app"],
        ["make", "build"],
        ["tee", "build.log"],
        ["docker", "push", "a"],
        ["true"],
        ["docker", "push", "b"],
        ["docker", "push", "c"],
        ["docker", "push", "img:${i}"],
        ["read", "-r", "line"],
        ["echo", "${line}"],
        ["docker", "push", "d"],
        ["docker", "push", "e"],
        ["docker", "push", "f"],
        ["docker", "push", "g"],
    ]
    loop = r.commands[7]
    assert kinds(loop.argv[2]) == [(LIT, "img:"), (VAR, "i")]


def test_command_substitutions_nested() -> None:
    r = run('IMG=app:1\nD=$(crane digest $(echo "$IMG") --platform `uname -m`)\n')
    assert [(words(c), c.substituted) for c in r.commands] == [
        (["crane", "digest", '$(echo "app:1")', "--platform", "$(uname -m)"], True),
        (["echo", "app:1"], True),
        (["uname", "-m"], True),
    ]
    assert kinds(r.variables["D"]) == [
        (CMD, 'crane digest $(echo "app:1") --platform `uname -m`'),
    ]
    assert r.variables["D"].pieces[0].span == Span(2, 5, 2, 54)


def test_background_and_here_string() -> None:
    r = run('server & docker login --password-stdin <<< "$TOKEN"\n')
    server, login = r.commands
    assert server.background and server.guarded
    assert not login.background
    assert login.stdin is not None and kinds(login.stdin) == [(VAR, "TOKEN")]


# --------------------------------------------------------------------------- values


def test_quotes_and_escapes() -> None:
    r = run("echo a\\ b \"c\\\"d\\$e\\\\f\\g\" 'h\\i' $'j\\tk\\x41' \\$l\n")
    (c,) = r.commands
    assert [a.text for a in c.argv[1:]] == ["a b", 'c"d$e\\f\\g', "h\\i", "j\tkA", "$l"]
    assert all(a.is_static for a in c.argv)


def test_variables_from_assignments_export_and_env() -> None:
    env = {
        "REGISTRY": Value.literal("ghcr.io/o", Span(3, 7, 3, 16), "ci.yml"),
        "DIGEST": Value(
            (Piece(EXPR, "${{ needs.b.outputs.digest }}", Span(4, 9, 4, 39)),),
            Span(4, 9, 4, 39),
            "ci.yml",
        ),
    }
    r = script(
        """
        NAME=app
        export TAG="1.0" OTHER
        local L=x
        readonly R=y; declare -x DX=z
        docker pull "$REGISTRY/$NAME:$TAG" "${REGISTRY}/${NAME}@${DIGEST}" $UNKNOWN
        NAME=other
        """,
        env=env,
    )
    pull = only(r, "docker")
    assert pull.argv[2].text == "ghcr.io/o/app:1.0"
    assert pull.argv[2].pieces[0].span == Span(3, 7, 3, 16)  # from the env mapping
    assert kinds(pull.argv[3]) == [
        (LIT, "ghcr.io/o"),
        (LIT, "/"),
        (LIT, "app"),
        (LIT, "@"),
        (EXPR, "${{ needs.b.outputs.digest }}"),
    ]
    assert kinds(pull.argv[4]) == [(VAR, "UNKNOWN")]
    assert {k: v.text for k, v in r.variables.items()} == {
        "NAME": "other",
        "TAG": "1.0",
        "L": "x",
        "R": "y",
        "DX": "z",
    }
    assert r.variables["NAME"].span == Span(6, 6, 6, 11)


def test_prefix_assignments_only_set_the_command_environment() -> None:
    r = run("TAG=2 docker build -t app:$TAG .\necho $TAG\n")
    build, echo = r.commands
    assert words(build) == ["docker", "build", "-t", "app:${TAG}", "."]  # bash expands first
    assert build.span == Span(1, 1, 1, 33)
    assert kinds(echo.argv[1]) == [(VAR, "TAG")]
    assert "TAG" not in r.variables


def test_assignments_on_separate_lines_are_not_prefixes() -> None:
    # tree-sitter-bash reads `A=1 B=2<newline>cmd` as one command
    r = run("A=1 B=2\ndocker push $A$B\n")
    (c,) = r.commands
    assert words(c) == ["docker", "push", "12"]
    assert c.span == Span(2, 1, 2, 17)


def test_subshell_and_function_assignments_do_not_leak() -> None:
    r = run("X=1\n(X=2; echo $X)\nf() { X=3; }\necho $X\n")
    inner, outer = r.commands
    assert words(inner) == ["echo", "2"]
    assert words(outer) == ["echo", "1"]


def test_loop_and_read_variables_are_unknown() -> None:
    r = run("x=1\nfor x in a b; do :; done\nread -r y\ny=2\nread -r y\necho $x $y\n")
    assert kinds(r.commands[-1].argv[1]) == [(VAR, "x")]
    assert kinds(r.commands[-1].argv[2]) == [(VAR, "y")]


def test_parameter_expansions() -> None:
    r = run(
        "d=sha256:abc\n"
        "echo ${d#sha256:} ${d/abc/def} ${NOPE:-latest} ${d:-x} ${#d} ${d:0:3} ${d^^}"
        ' ${NOPE%.*} ~/x "~/y" $((1 + 2)) *.txt $1 $?\n'
    )
    (c,) = r.commands
    assert [kinds(a) for a in c.argv[1:]] == [
        [(LIT, "abc")],
        [(LIT, "sha256:def")],
        [(VAR, "NOPE")],
        [(LIT, "sha256:abc")],
        [(UNK, "${#d}")],
        [(UNK, "${d:0:3}")],
        [(LIT, "SHA256:ABC")],
        [(UNK, "${NOPE%.*}")],
        [(VAR, "HOME"), (LIT, "/x")],
        [(LIT, "~/y")],
        [(UNK, "$((1 + 2))")],
        [(UNK, "*.txt")],
        [(VAR, "1")],
        [(VAR, "?")],
    ]


# --------------------------------------------------------------------------- placeholders


def test_placeholders_in_words_quotes_arguments_and_command_names() -> None:
    src = (
        "${{ inputs.tool }} build -t ghcr.io/o/app:${{ github.sha }}-rc"
        " \"a ${{ x }} b\" 'c${{ y }}' ${{ z }} $HOME${{ w }}\n"
    )
    (c,) = run(src).commands
    assert [kinds(a) for a in c.argv] == [
        [(EXPR, "${{ inputs.tool }}")],
        [(LIT, "build")],
        [(LIT, "-t")],
        [(LIT, "ghcr.io/o/app:"), (EXPR, "${{ github.sha }}"), (LIT, "-rc")],
        [(LIT, "a "), (EXPR, "${{ x }}"), (LIT, " b")],
        [(LIT, "c"), (EXPR, "${{ y }}")],
        [(EXPR, "${{ z }}")],
        [(VAR, "HOME"), (EXPR, "${{ w }}")],
    ]
    assert c.name == "${{ inputs.tool }}"
    assert c.argv[0].pieces[0].span == Span(1, 1, 1, 19)
    assert [p.span for p in c.argv[3].pieces] == [
        Span(1, 29, 1, 43),
        Span(1, 43, 1, 60),
        Span(1, 60, 1, 63),
    ]
    assert c.argv[6].span == Span(1, 91, 1, 99)


def test_placeholder_with_quotes_and_braces_inside() -> None:
    src = "echo \"${{ format('{0}}', 'a b') }}\" ${{ x }}${{ y }}\n"
    (c,) = run(src).commands
    assert kinds(c.argv[1]) == [(EXPR, "${{ format('{0}}', 'a b') }}")]
    assert kinds(c.argv[2]) == [(EXPR, "${{ x }}"), (EXPR, "${{ y }}")]


def test_placeholders_in_heredocs_and_substitutions() -> None:
    r = run("cat <<'EOF'\n${{ a }} $b\nEOF\nx=$(crane digest ${{ inputs.image }})\n")
    cat, crane = r.commands
    assert cat.stdin is not None
    assert kinds(cat.stdin) == [(EXPR, "${{ a }}"), (LIT, " $b")]
    assert kinds(crane.argv[2]) == [(EXPR, "${{ inputs.image }}")]
    assert kinds(r.variables["x"]) == [(CMD, "crane digest ${{ inputs.image }}")]


# --------------------------------------------------------------------------- heredocs


def test_heredoc_unquoted_expands_quoted_does_not() -> None:
    r = script(
        """
        V=1
        cat <<EOF > a.txt
        x=$V \\$y
        EOF
        cat <<"EOF" > b.txt
        x=$V
        EOF
        cat <<\\EOF
        x=$V
        EOF
        """
    )
    a, b, c = r.commands
    assert a.stdin is not None and kinds(a.stdin) == [(LIT, "x="), (LIT, "1"), (LIT, " $y")]
    assert b.stdin is not None and kinds(b.stdin) == [(LIT, "x=$V")]
    assert c.stdin is not None and kinds(c.stdin) == [(LIT, "x=$V")]
    assert a.span == Span(2, 1, 2, 18)  # the command line, not the body
    assert b.stdin.pieces[0].span == Span(6, 1, 6, 5)


def test_heredoc_with_tabs_stripped() -> None:
    r = run("\tcat <<-EOF > f\n\ta=1\n\t\tb=2\n\tEOF\n")
    (c,) = r.commands
    assert c.stdin is not None and c.stdin.text == "a=1\nb=2"
    assert [p.span for p in c.stdin.pieces] == [Span(2, 2, 3, 1), Span(3, 3, 3, 6)]


# --------------------------------------------------------------------------- writes


def test_output_write_forms() -> None:
    r = script(
        """
        D=sha256:abc
        echo "a=$D" >> "$GITHUB_OUTPUT"
        echo b=2 >> $GITHUB_OUTPUT
        echo "c=${{ steps.x.outputs.y }}" >> ${GITHUB_OUTPUT}
        printf 'd=%s\\n' "$D" >> "$GITHUB_OUTPUT"
        printf '%s=%s\\n' e "$(crane digest x)" >> "$GITHUB_OUTPUT"
        echo f=6 | tee -a "$GITHUB_OUTPUT"
        { echo g=7; echo "h=$D"; } >> "$GITHUB_OUTPUT"
        cat <<EOF >> "$GITHUB_OUTPUT"
        i=$D
        j=10
        EOF
        echo "k=1" >> $GITHUB_ENV
        echo "not a write" >> "$GITHUB_STEP_SUMMARY"
        echo "l=1" >&2
        """
    )
    assert writes(r, WriteTarget.OUTPUT) == {
        "a": [(LIT, "sha256:abc")],
        "b": [(LIT, "2")],
        "c": [(EXPR, "${{ steps.x.outputs.y }}")],
        "d": [(LIT, "sha256:abc")],
        "e": [(CMD, "crane digest x")],
        "f": [(LIT, "6")],
        "g": [(LIT, "7")],
        "h": [(LIT, "sha256:abc")],
        "i": [(LIT, "sha256:abc")],
        "j": [(LIT, "10")],
    }
    assert writes(r, WriteTarget.ENV) == {"k": [(LIT, "1")]}
    assert writes(r, WriteTarget.FILE) == {}
    by_name = {w.name: w for w in r.writes}
    assert by_name["a"].span == Span(2, 1, 2, 32)
    assert by_name["a"].value is not None
    assert by_name["a"].value.span == Span(2, 9, 2, 11)  # `$D` where it is written
    assert by_name["a"].value.pieces[0].span == Span(1, 3, 1, 13)  # where D is set
    assert by_name["i"].span == Span(9, 1, 9, 30)
    assert by_name["i"].value is not None
    assert by_name["i"].value.span == Span(10, 3, 10, 5)
    assert by_name["j"].value is not None
    assert by_name["j"].value.pieces[0].span == Span(11, 3, 11, 5)


def test_more_write_shapes() -> None:
    r = script(
        """
        cat <<EOF | tee -a "$GITHUB_OUTPUT"
        a=1
        EOF
        >> "$GITHUB_OUTPUT" echo b=2
        echo c=3 | sudo tee -a "$GITHUB_OUTPUT" > /dev/null
        if true; then echo d=4 >> "$GITHUB_OUTPUT"; fi
        echo "::set-output name=e::5"
        D=$(echo 6) && echo "f=$D" 1>> "$GITHUB_OUTPUT"
        """
    )
    assert writes(r, WriteTarget.OUTPUT) == {
        "a": [(LIT, "1")],
        "b": [(LIT, "2")],
        "c": [(LIT, "3")],
        "d": [(LIT, "4")],
        "e": [(LIT, "5")],
        "f": [(CMD, "echo 6")],
    }
    assert [w.span.line for w in r.writes] == [1, 4, 5, 6, 7, 8]


def test_runner_files_are_not_taken_from_env() -> None:
    env = {"GITHUB_OUTPUT": Value.literal("/tmp/out", Span(1, 1, 1, 2), "ci.yml")}
    r = run('echo a=1 >> "$GITHUB_OUTPUT"\n', env=env)
    assert writes(r, WriteTarget.OUTPUT) == {"a": [(LIT, "1")]}


def test_multiline_output_writes() -> None:
    r = script(
        """
        EOF=$(openssl rand -hex 8)
        echo "tags<<$EOF" >> "$GITHUB_OUTPUT"
        echo "app:1" >> "$GITHUB_OUTPUT"
        echo "app:2" >> "$GITHUB_OUTPUT"
        echo "$EOF" >> "$GITHUB_OUTPUT"
        {
          echo "json<<JSON"
          cat meta.json
          echo "JSON"
        } >> "$GITHUB_ENV"
        cat <<EOF >> "$GITHUB_OUTPUT"
        notes<<END
        line 1
        line 2
        END
        EOF
        """
    )
    assert writes(r, WriteTarget.OUTPUT) == {
        "tags": [(LIT, "app:1"), (LIT, "\n"), (LIT, "app:2")],
        "notes": [(LIT, "line 1\nline 2")],
    }
    assert writes(r, WriteTarget.ENV) == {"json": [(CMD, "cat meta.json")]}
    tags = next(w for w in r.writes if w.name == "tags")
    assert tags.span == Span(2, 1, 5, 32)
    notes = next(w for w in r.writes if w.name == "notes")
    assert notes.value is not None and notes.value.span == Span(13, 1, 14, 7)


def test_file_writes() -> None:
    r = script(
        """
        digest=$(crane digest app:1)
        echo "$digest" > digest.txt
        mkdir -p digests && touch "digests/${digest#sha256:}"
        echo "$digest" >> "digests/$name"
        docker buildx imagetools inspect app:1 --format '{{json .Manifest}}' > manifest.json
        echo ok > /dev/null
        echo "x" | tee out.txt >/dev/null
        """
    )
    assert writes(r, WriteTarget.FILE) == {
        "digest.txt": [(CMD, "crane digest app:1")],
        "digests/${name}": [(CMD, "crane digest app:1")],
        "manifest.json": [
            (CMD, "docker buildx imagetools inspect app:1 --format '{{json .Manifest}}'")
        ],
        "out.txt": [(LIT, "x")],
    }
    first = r.writes[0]
    assert first.span == Span(2, 1, 2, 28)
    assert not writes(r, WriteTarget.OUTPUT) and not writes(r, WriteTarget.ENV)


def test_redirects_are_recorded_on_each_command() -> None:
    r = run('{ echo a=1; echo b=2; } >> "$GITHUB_OUTPUT"\nls 2>&1 > out.txt\n')
    first, second, ls = r.commands
    assert [(op, v.text) for op, v in first.redirects] == [(">>", "${GITHUB_OUTPUT}")]
    assert [(op, v.text) for op, v in second.redirects] == [(">>", "${GITHUB_OUTPUT}")]
    assert [(op, v.text) for op, v in ls.redirects] == [("2>&", "1"), (">", "out.txt")]
    assert ls.span == Span(2, 1, 2, 18)


# --------------------------------------------------------------------------- guards


@pytest.mark.parametrize(
    ("src", "guarded"),
    [
        ("pytest || true\necho end\n", True),
        ("pytest || :\necho end\n", True),
        ("pytest || exit 0\necho end\n", True),
        ('pytest || echo "tests failed"\necho end\n', True),
        ("pytest || printf 'x'\necho end\n", True),
        ("pytest || exit 1\necho end\n", False),
        ("pytest || { echo failed; exit 1; }\necho end\n", False),
        ("pytest\necho end\n", False),
        ("if pytest; then echo ok; fi\necho end\n", True),
        ("if ! pytest; then exit 1; fi\necho end\n", False),
        ("if pytest; then echo ok; else echo bad; exit 1; fi\necho end\n", False),
        ("while pytest; do sleep 1; done\necho end\n", True),
        ("until pytest; do sleep 1; done\necho end\n", True),
        ("! pytest\necho end\n", True),
        ("pytest | tee log\necho end\n", True),
        ("set -o pipefail\npytest | tee log\necho end\n", False),
        ("pytest && echo passed\necho end\n", True),  # bash -e ignores it here
        ("echo start\npytest && echo passed\n", False),  # the script's exit status
        ("cd app && pytest\necho end\n", False),
        ("pytest &\necho end\n", True),
        ("pytest & pid=$!\nwait $pid\necho end\n", False),
        ("set +e\npytest\necho end\n", True),
        ("set +e\npytest\nset -e\necho end\n", True),
        ("set +e\necho start\nset -e\npytest\necho end\n", False),
        ("set +e\npytest\nrc=$?\nset -e\necho end\nexit $rc\n", False),
        ("set +e\npytest\nstatus=$?\nif [ $status -ne 0 ]; then echo failed; fi\n", False),
        ("set +e\npytest\nrc=$?\nif [[ $rc != 0 ]]; then exit 1; fi\n", False),
        ("set +e\npytest\nrc=$?\n(( rc == 0 )) || exit 1\n", False),
        ("set +e\npytest\nrc=$?\necho $rc\n", True),  # saved, never checked
        ("pytest || rc=$?\nexit ${rc:-0}\n", False),
        ("pytest || rc=$?\necho end\n", True),
        ("set +e\npytest\nif [ $? -ne 0 ]; then exit 1; fi\n", False),
        ("set +e\npytest || exit 1\n", False),
        ("set +eo pipefail\npytest\necho end\n", True),
        ("(set +e; echo x)\npytest\necho end\n", False),  # a subshell's own option
    ],
)
def test_guarded(src: str, guarded: bool) -> None:
    assert only(run(src), "pytest").guarded is guarded


def test_guarded_by_shell() -> None:
    src = "pytest | tee log\necho end\n"
    assert only(run(src), "pytest").guarded  # no shell: bash -e {0}
    assert not only(run(src, shell="bash"), "pytest").guarded  # -eo pipefail
    assert only(run(src, shell="sh"), "pytest").guarded
    assert not only(run(src, shell="bash --noprofile --norc -eo pipefail {0}"), "pytest").guarded
    assert only(run("pytest\necho end\n", shell="bash {0}"), "pytest").guarded  # no -e
    assert not only(run("pytest\necho end\n", shell="bash -e {0}"), "pytest").guarded


def test_substituted_commands_guards() -> None:
    r = run("x=$(false1)\necho $(false2)\nlocal y=$(false3)\n")
    assert not only(r, "false1").guarded  # the assignment fails with it
    assert only(r, "false2").guarded  # echo's status wins
    assert only(r, "false3").guarded  # local's status wins


# --------------------------------------------------------------------------- shells


def test_shell_modes() -> None:
    assert shell_mode(None) == ShellMode("bash", True, False)
    assert shell_mode("bash") == ShellMode("bash", True, True)
    assert shell_mode("sh") == ShellMode("sh", True, False)
    assert shell_mode("bash --noprofile --norc -eo pipefail {0}") == ShellMode("bash", True, True)
    assert shell_mode("/usr/bin/env bash -o errexit -o pipefail {0}") == ShellMode(
        "bash", True, True
    )
    assert shell_mode("sh -e {0}") == ShellMode("sh", True, False)
    assert shell_mode("bash {0}") == ShellMode("bash", False, False)
    for other in ("pwsh", "powershell", "python", "cmd", "python {0}", "node {0}", "zsh {0}"):
        assert shell_mode(other) is None


@pytest.mark.parametrize("shell", ["pwsh", "powershell", "python", "cmd", "perl {0}"])
def test_other_shells_are_opaque(shell: str) -> None:
    r = run("docker push app:1\n", shell=shell)
    assert r.commands == () and r.writes == () and r.opaque
    assert r.errors == (f"shell {shell.split()[0]} is not analysed",)


def test_sh_echo_interprets_escapes() -> None:
    r = run("echo 'a=1\\nb=2' >> $GITHUB_OUTPUT\n", shell="sh")
    assert writes(r, WriteTarget.OUTPUT) == {"a": [(LIT, "1")], "b": [(LIT, "2")]}
    r = run("echo 'a=1\\nb=2' >> $GITHUB_OUTPUT\n", shell="bash")
    assert writes(r, WriteTarget.OUTPUT) == {"a": [(LIT, "1\\nb=2")]}


# --------------------------------------------------------------------------- robustness


@pytest.mark.parametrize(
    ("src", "line"),
    [
        ('echo "unterminated\ndocker push app:1\n', 1),
        ("echo ok\necho 'unterminated\n", 2),
        ("if true; then\n  echo x\n", 3),
        ("echo ${{ not closed\n", 1),
    ],
)
def test_parse_errors_do_not_raise(src: str, line: int) -> None:
    r = run(src)
    assert r.opaque
    assert r.errors and r.errors[0].startswith(f"line {line}: ")
    assert any(c.name == "echo" for c in r.commands)


def test_a_megabyte_heredoc() -> None:
    body = ("x=" + "a" * 60 + " $HOME ${{ github.sha }}\n") * 12000
    src = "cat <<EOF > big.txt\n" + body + "EOF\necho done\n"
    assert len(src) > 1_000_000
    r = run(src)
    assert [c.name for c in r.commands] == ["cat", "echo"]
    assert r.commands[1].span == Span(12003, 1, 12003, 10)
    assert not r.errors
    quoted = "cat <<'EOF' >> $GITHUB_OUTPUT\n" + ("k=" + "v" * 100 + "\n") * 10_000 + "EOF\n"
    assert len(quoted) > 1_000_000
    many = run(quoted).writes
    assert len(many) == 10_000
    assert many[-1].value is not None and many[-1].value.span == Span(10_001, 3, 10_001, 103)


def test_deep_nesting_completes() -> None:
    n = 10_000
    r = run("( " * n + "docker push app:1" + " )" * n + "\n")
    assert words(only(r, "docker")) == ["docker", "push", "app:1"]
    r = run("(" * n + "echo hi" + ")" * n + "\n")
    assert isinstance(r, ShellScript)
    r = run("echo " + "$(" * n + "echo hi" + ")" * n + "\n")
    assert r.opaque and any("nested deeper" in e for e in r.errors)
    r = run('echo "' + "${a:-" * n + "x" + "}" * n + '"\n')
    assert isinstance(r, ShellScript)


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab $(){}[]'\"`\\|&;<>\n#=${{}}é-")), max_size=80))
def test_never_raises(src: str) -> None:
    r = run(src)
    assert isinstance(r, ShellScript)
    for c in r.commands:
        assert c.argv


def test_locate_failures_do_not_raise() -> None:
    def broken(offset: int, length: int) -> Span:
        raise ValueError("no")

    r = analyse("echo hi\n", "s.sh", broken)
    assert r.opaque and r.errors


def test_mid_word_variable_before_punctuation_stays_one_word() -> None:
    # tree-sitter-bash splits `$A:$V-x` into `$A:$` and `V-x`; the analyser works around it
    from digestgate.span import Span

    script = analyse(
        "docker build -t $IMAGE:$VERSION-slim . && cp $SRC/$NAME.tar /tmp",
        "ci.yml",
        lambda offset, length: Span(1, offset + 1, 1, offset + 1 + length),
    )
    argv = [[a.text for a in c.argv] for c in script.commands]
    assert argv == [
        ["docker", "build", "-t", "${IMAGE}:${VERSION}-slim", "."],
        ["cp", "${SRC}/${NAME}.tar", "/tmp"],
    ]
    tag = script.commands[0].argv[3]
    assert tag.span == Span(1, 17, 1, 37)  # `$IMAGE:$VERSION-slim` is 20 characters
