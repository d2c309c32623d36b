"""Tests for digestgate.commands: command classification, wrappers, sequences and
digest sources. Inputs are made by a small shell-like word splitter below (the real
shell parser is `digestgate.shell`): quotes, `${{ }}` (EXPR), `$VAR`/`${VAR}` (VAR)
and `$(...)` (COMMAND) pieces, each with its column on the line."""

from __future__ import annotations

import pytest

from digestgate import commands
from digestgate.facts import (
    Command,
    DigestSource,
    ImageUse,
    Operation,
    Piece,
    PieceKind,
    Role,
    Value,
)
from digestgate.span import Span

PATH = "script.sh"


def _scan_word(line: str, i: int, lineno: int) -> tuple[list[Piece], int]:
    """Pieces of the word starting at `i` (0-based) and the index after it."""
    pieces: list[Piece] = []
    buf: list[str] = []
    buf_start = i

    def flush(end: int) -> None:
        if buf:
            text = "".join(buf)
            span = Span(lineno, buf_start + 1, lineno, end + 1)
            if end - buf_start != len(text):
                span = Span(lineno, buf_start + 1, lineno, end + 1)
            pieces.append(Piece(PieceKind.LITERAL, text, span))
            buf.clear()

    quote: str | None = None
    n = len(line)
    while i < n:
        c = line[i]
        if quote is None and c in " \t":
            break
        if quote == "'":
            if c == "'":
                flush(i)
                quote = None
                i += 1
                buf_start = i
                continue
            buf.append(c)
            i += 1
            continue
        if c in "'\"" and (quote is None or quote == c):
            flush(i)
            quote = None if quote == c else c
            i += 1
            buf_start = i
            continue
        if line.startswith("${{", i):
            end = line.index("}}", i) + 2
            flush(i)
            pieces.append(Piece(PieceKind.EXPR, line[i:end], Span(lineno, i + 1, lineno, end + 1)))
            i = end
            buf_start = i
            continue
        if line.startswith("$(", i):
            depth, j = 0, i + 1
            while j < n:
                if line[j] == "(":
                    depth += 1
                elif line[j] == ")":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            flush(i)
            pieces.append(
                Piece(PieceKind.COMMAND, line[i + 2 : j], Span(lineno, i + 1, lineno, j + 2))
            )
            i = j + 1
            buf_start = i
            continue
        if (
            c == "$"
            and i + 1 < n
            and (line[i + 1] == "{" or line[i + 1].isalpha() or line[i + 1] == "_")
        ):
            if line[i + 1] == "{":
                end = line.index("}", i)
                name, nxt = line[i + 2 : end], end + 1
            else:
                j = i + 1
                while j < n and (line[j].isalnum() or line[j] == "_"):
                    j += 1
                name, nxt = line[i + 1 : j], j
            flush(i)
            pieces.append(Piece(PieceKind.VAR, name, Span(lineno, i + 1, lineno, nxt + 1)))
            i = nxt
            buf_start = i
            continue
        if c == "\\" and quote is None and i + 1 < n:
            if not buf:
                buf_start = i
            buf.append(line[i + 1])
            i += 2
            continue
        if not buf:
            buf_start = i
        buf.append(c)
        i += 1
    flush(i)
    return pieces, i


def words(line: str, lineno: int = 1, path: str = PATH) -> list[Value]:
    out: list[Value] = []
    i = 0
    while i < len(line):
        if line[i] in " \t":
            i += 1
            continue
        start = i
        pieces, i = _scan_word(line, i, lineno)
        if not pieces:
            pieces = [Piece(PieceKind.LITERAL, "", Span(lineno, start + 1, lineno, i + 1))]
        out.append(Value(tuple(pieces), Span(lineno, start + 1, lineno, i + 1), path))
    return out


def cmd(line: str, lineno: int = 1, *, guarded: bool = False, path: str = PATH) -> Command:
    argv = tuple(words(line, lineno, path))
    return Command(argv, Span(lineno, 1, lineno, len(line) + 1), path, guarded=guarded)


def script(text: str) -> list[Command]:
    return [cmd(line, n) for n, line in enumerate(text.splitlines(), 1) if line.strip()]


def summary(ops: list[Operation]) -> list[tuple[str, str, list[str]]]:
    return [
        (o.role.value, o.tool, [f"{i.use.value}={i.value.text}" for i in o.images]) for o in ops
    ]


def refs(line: str) -> list[str]:
    return [f"{i.use.value}={i.value.text}" for i in commands.references(cmd(line))]


D = "sha256:" + "a" * 64

# (command line, [(role, tool, ["use=image", ...]), ...])
CASES: list[tuple[str, list[tuple[str, str, list[str]]]]] = [
    # --- BUILD ---------------------------------------------------------------------
    ("docker build -t app:test .", [("build", "docker build", ["tag=app:test"])]),
    (
        "docker build --tag=ghcr.io/o/app:1.0 -f docker/Dockerfile ctx",
        [("build", "docker build", ["tag=ghcr.io/o/app:1.0"])],
    ),
    ("docker build . -t app:a -t app:b", [("build", "docker build", ["tag=app:a", "tag=app:b"])]),
    (
        "docker buildx build --push -t ghcr.io/o/app:sha .",
        [
            ("build", "docker buildx build", ["tag=ghcr.io/o/app:sha"]),
            ("push", "docker buildx build", ["push=ghcr.io/o/app:sha"]),
        ],
    ),
    (
        "docker buildx build --output type=registry -t x:1 .",
        [
            ("build", "docker buildx build", ["tag=x:1"]),
            ("push", "docker buildx build", ["push=x:1"]),
        ],
    ),
    (
        "docker buildx build -o type=image,name=ghcr.io/o/app,push-by-digest=true,"
        "name-canonical=true,push=true --platform linux/amd64 .",
        [
            ("build", "docker buildx build", ["tag=ghcr.io/o/app"]),
            ("push", "docker buildx build", ["push=ghcr.io/o/app"]),
        ],
    ),
    (
        "docker buildx build -o type=image,name=a:1,push=false .",
        [("build", "docker buildx build", ["tag=a:1"])],
    ),
    ("docker buildx build --load -t app:ci .", [("build", "docker buildx build", ["tag=app:ci"])]),
    (
        "docker buildx build -o type=docker -t app:ci .",
        [("build", "docker buildx build", ["tag=app:ci"])],
    ),
    (
        "docker buildx build -o type=oci,dest=out.tar -t app .",
        [("build", "docker buildx build", ["tag=app"])],
    ),
    ("podman build -t localhost/app:1 .", [("build", "podman build", ["tag=localhost/app:1"])]),
    (
        "podman build --manifest app-list --platform linux/amd64,linux/arm64 .",
        [("build", "podman build", ["tag=app-list"])],
    ),
    ("nerdctl build -t app .", [("build", "nerdctl build", ["tag=app"])]),
    ("docker image build -t app .", [("build", "docker build", ["tag=app"])]),
    ("docker builder build -t app .", [("build", "docker build", ["tag=app"])]),
    ("docker buildx b -t app .", [("build", "docker buildx build", ["tag=app"])]),
    (
        "docker buildx --builder ci build --push -t x .",
        [("build", "docker buildx build", ["tag=x"]), ("push", "docker buildx build", ["push=x"])],
    ),
    (
        "docker --context remote -H tcp://h:2375 build -t x .",
        [("build", "docker build", ["tag=x"])],
    ),
    (
        "docker buildx build --build-context base=docker-image://alpine:3.20 -t x .",
        [("build", "docker buildx build", ["tag=x", "base=alpine:3.20"])],
    ),
    (
        "docker buildx build --build-context src=../src -t x .",
        [("build", "docker buildx build", ["tag=x"])],
    ),
    (
        "docker buildx bake --push",
        [("build", "docker buildx bake", []), ("push", "docker buildx bake", [])],
    ),
    (
        "docker buildx bake app web --set *.tags=ghcr.io/o/app:sha --set *.platform=linux/amd64",
        [("build", "docker buildx bake", ["tag=ghcr.io/o/app:sha"])],
    ),
    (
        "docker buildx bake --set *.output=type=registry",
        [("build", "docker buildx bake", []), ("push", "docker buildx bake", [])],
    ),
    ("docker buildx bake --print", []),
    ("docker bake release", [("build", "docker buildx bake", [])]),
    ("buildah bud -t app .", [("build", "buildah build", ["tag=app"])]),
    (
        "buildah build --format docker -t quay.io/o/app:1 -f Containerfile .",
        [("build", "buildah build", ["tag=quay.io/o/app:1"])],
    ),
    (
        "buildah from docker.io/library/alpine:3",
        [("build", "buildah from", ["base=docker.io/library/alpine:3"])],
    ),
    (
        "buildah from --name work --pull=always alpine:3",
        [("build", "buildah from", ["base=alpine:3"])],
    ),
    ("buildah from scratch", [("build", "buildah from", [])]),
    ("buildah commit $ctr quay.io/o/app:1", [("build", "buildah commit", ["tag=quay.io/o/app:1"])]),
    (
        "buildah commit ctr docker://quay.io/o/app:1",
        [
            ("build", "buildah commit", ["tag=quay.io/o/app:1"]),
            ("push", "buildah commit", ["push=quay.io/o/app:1"]),
        ],
    ),
    ("docker commit c app:snap", [("build", "docker commit", ["tag=app:snap"])]),
    (
        "/kaniko/executor --context . --dockerfile Dockerfile --destination ghcr.io/o/app:1 "
        "--digest-file /tmp/digest",
        [
            ("build", "kaniko", ["tag=ghcr.io/o/app:1"]),
            ("push", "kaniko", ["push=ghcr.io/o/app:1"]),
        ],
    ),
    (
        "/kaniko/executor --context=. --destination=x:1 --no-push --tar-path=img.tar",
        [("build", "kaniko", ["tag=x:1"])],
    ),
    (
        "executor -c . -d x:1 -d x:latest",
        [
            ("build", "kaniko", ["tag=x:1", "tag=x:latest"]),
            ("push", "kaniko", ["push=x:1", "push=x:latest"]),
        ],
    ),
    ("executor --help-me", []),
    ("ko build ./cmd/app", [("build", "ko build", []), ("push", "ko build", [])]),
    (
        "ko publish --bare --platform=all ./cmd/app",
        [("build", "ko publish", []), ("push", "ko publish", [])],
    ),
    ("ko build --push=false ./cmd/app", [("build", "ko build", [])]),
    ("ko build --local ./cmd/app", [("build", "ko build", [])]),
    (
        "ko apply -f config/",
        [("build", "ko apply", []), ("push", "ko apply", []), ("deploy", "ko apply", [])],
    ),
    ("ko version", []),
    (
        "pack build ghcr.io/o/app:1 --builder paketobuildpacks/builder:base --publish",
        [
            ("build", "pack build", ["tag=ghcr.io/o/app:1"]),
            ("push", "pack build", ["push=ghcr.io/o/app:1"]),
        ],
    ),
    (
        "pack build app --path . --run-image x/run:1",
        [("build", "pack build", ["tag=app", "base=x/run:1"])],
    ),
    (
        "mvn -B compile jib:build -Dimage=ghcr.io/o/app:1",
        [
            ("build", "mvn jib:build", ["tag=ghcr.io/o/app:1"]),
            ("push", "mvn jib:build", ["push=ghcr.io/o/app:1"]),
        ],
    ),
    (
        "./mvnw com.google.cloud.tools:jib-maven-plugin:3.4.0:dockerBuild -Djib.to.image=app:local",
        [("build", "mvn jib:dockerBuild", ["tag=app:local"])],
    ),
    (
        "mvn jib:build -D jib.to.image=r/app:1 -Djib.from.image=eclipse-temurin:21",
        [
            ("build", "mvn jib:build", ["tag=r/app:1", "base=eclipse-temurin:21"]),
            ("push", "mvn jib:build", ["push=r/app:1"]),
        ],
    ),
    (
        "./gradlew jib --image=ghcr.io/o/app:1",
        [
            ("build", "gradle jib", ["tag=ghcr.io/o/app:1"]),
            ("push", "gradle jib", ["push=ghcr.io/o/app:1"]),
        ],
    ),
    ("gradle :app:jibDockerBuild", [("build", "gradle jibDockerBuild", [])]),
    (
        "depot build --push -t x:1 .",
        [("build", "depot build", ["tag=x:1"]), ("push", "depot build", ["push=x:1"])],
    ),
    ("depot build -t x .", [("build", "depot build", ["tag=x"])]),
    ("depot bake --load", [("build", "depot bake", [])]),
    (
        "gcloud builds submit --tag gcr.io/p/app:1 .",
        [
            ("build", "gcloud builds submit", ["tag=gcr.io/p/app:1"]),
            ("push", "gcloud builds submit", ["push=gcr.io/p/app:1"]),
        ],
    ),
    (
        "gcloud --project p builds submit --region us-central1 --tag=gcr.io/p/app:1 src",
        [
            ("build", "gcloud builds submit", ["tag=gcr.io/p/app:1"]),
            ("push", "gcloud builds submit", ["push=gcr.io/p/app:1"]),
        ],
    ),
    ("gcloud builds submit --config cloudbuild.yaml .", [("build", "gcloud builds submit", [])]),
    (
        "az acr build --registry reg --image app:1 .",
        [("build", "az acr build", ["tag=app:1"]), ("push", "az acr build", ["push=app:1"])],
    ),
    ("make docker-build", [("build", "make docker-build", [])]),
    ("make docker-push", [("build", "make docker-push", []), ("push", "make docker-push", [])]),
    (
        "make -j4 IMAGE=x image-release",
        [("build", "make image-release", []), ("push", "make image-release", [])],
    ),
    ("make push", [("build", "make push", []), ("push", "make push", [])]),
    ("just image", [("build", "just image", [])]),
    ("make build", []),
    ("make sign-images", []),
    ("make docker.promote", []),
    ("make kustomize-set-image", []),
    ("make docker-scan", [("validate", "make docker-scan", [])]),
    ("make docker-login", []),
    ("make docker-deploy-k8s", []),
    (
        "make e2e-build-load-externaldata-image",
        [("build", "make e2e-build-load-externaldata-image", [])],
    ),
    ("make release", []),
    # --- PUSH ----------------------------------------------------------------------
    ("docker push ghcr.io/o/app:1", [("push", "docker push", ["push=ghcr.io/o/app:1"])]),
    ("docker image push -a ghcr.io/o/app", [("push", "docker push", ["push=ghcr.io/o/app"])]),
    (
        "podman push --digestfile d.txt localhost/app docker://ghcr.io/o/app:1",
        [("push", "podman push", ["push=ghcr.io/o/app:1"])],
    ),
    ("podman push --tls-verify=false app:1", [("push", "podman push", ["push=app:1"])]),
    ("podman push app oci-archive:app.tar", []),
    (
        "buildah push --digestfile /tmp/d quay.io/o/app:1",
        [("push", "buildah push", ["push=quay.io/o/app:1"])],
    ),
    (
        "buildah manifest push --all list docker://quay.io/o/app:1",
        [("push", "buildah manifest push", ["push=quay.io/o/app:1"])],
    ),
    (
        "podman manifest push --all app-list docker://q.io/o/app:1",
        [("push", "podman manifest push", ["push=q.io/o/app:1"])],
    ),
    (
        "docker manifest push ghcr.io/o/app:1",
        [("push", "docker manifest push", ["push=ghcr.io/o/app:1"])],
    ),
    ("crane push img.tar ghcr.io/o/app:1", [("push", "crane push", ["push=ghcr.io/o/app:1"])]),
    (
        "crane append -b alpine:3 -f layer.tar -t ghcr.io/o/app:1",
        [("push", "crane append", ["push=ghcr.io/o/app:1", "base=alpine:3"])],
    ),
    (
        "oras push ghcr.io/o/artifact:1 file.txt:text/plain",
        [("push", "oras push", ["push=ghcr.io/o/artifact:1"])],
    ),
    ("oras push --oci-layout layout:1 file.txt", []),
    ("sudo docker push x:1", [("push", "docker push", ["push=x:1"])]),
    (
        "skopeo copy docker-archive:app.tar docker://ghcr.io/o/app:1",
        [("push", "skopeo copy", ["push=ghcr.io/o/app:1"])],
    ),
    # --- PROMOTE -------------------------------------------------------------------
    (
        f"docker buildx imagetools create -t ghcr.io/o/app:prod ghcr.io/o/app@{D}",
        [
            (
                "promote",
                "docker buildx imagetools create",
                [f"copy-source=ghcr.io/o/app@{D}", "copy-target=ghcr.io/o/app:prod"],
            )
        ],
    ),
    (
        f"docker buildx imagetools create --tag=a:prod --tag b:prod src@{D}",
        [
            (
                "promote",
                "docker buildx imagetools create",
                [f"copy-source=src@{D}", "copy-target=a:prod", "copy-target=b:prod"],
            )
        ],
    ),
    (
        'docker buildx imagetools create $(jq -cr \'.tags | map("-t " + .) | join(" ")\' m.json) '
        "$(printf 'r/app@sha256:%s ' *)",
        [
            (
                "promote",
                "docker buildx imagetools create",
                [
                    "copy-source=$(printf 'r/app@sha256:%s ' *)",
                    'copy-target=$(jq -cr \'.tags | map("-t " + .) | join(" ")\' m.json)',
                ],
            )
        ],
    ),
    ("docker buildx imagetools create --dry-run -t a b", []),
    (
        f"crane copy ghcr.io/o/app@{D} ghcr.io/o/app:prod",
        [
            (
                "promote",
                "crane copy",
                [f"copy-source=ghcr.io/o/app@{D}", "copy-target=ghcr.io/o/app:prod"],
            )
        ],
    ),
    ("crane cp a:1 b:1", [("promote", "crane copy", ["copy-source=a:1", "copy-target=b:1"])]),
    ("gcrane cp a:1 b:1", [("promote", "crane copy", ["copy-source=a:1", "copy-target=b:1"])]),
    (
        f"crane tag ghcr.io/o/app@{D} prod",
        [("promote", "crane tag", [f"copy-source=ghcr.io/o/app@{D}", "copy-target=prod"])],
    ),
    (
        "crane mutate ghcr.io/o/app:1 --label a=b -t ghcr.io/o/app:2",
        [
            (
                "promote",
                "crane mutate",
                ["copy-source=ghcr.io/o/app:1", "copy-target=ghcr.io/o/app:2"],
            )
        ],
    ),
    (
        "skopeo copy --all docker://ghcr.io/o/app:rc docker://ghcr.io/o/app:prod",
        [
            (
                "promote",
                "skopeo copy",
                ["copy-source=ghcr.io/o/app:rc", "copy-target=ghcr.io/o/app:prod"],
            )
        ],
    ),
    (
        "skopeo --debug copy --src-creds u:p --dest-creds u:p docker://a:1 docker://b:1",
        [("promote", "skopeo copy", ["copy-source=a:1", "copy-target=b:1"])],
    ),
    ("skopeo copy docker://a:1 oci:dir", []),
    (
        "skopeo sync --src docker --dest docker ghcr.io/o/app quay.io/o",
        [("promote", "skopeo sync", ["copy-source=ghcr.io/o/app", "copy-target=quay.io/o"])],
    ),
    (
        "oras copy ghcr.io/a:1 ghcr.io/b:1",
        [("promote", "oras copy", ["copy-source=ghcr.io/a:1", "copy-target=ghcr.io/b:1"])],
    ),
    (
        "oras cp -r --to-username u a:1 b:1",
        [("promote", "oras copy", ["copy-source=a:1", "copy-target=b:1"])],
    ),
    (
        "oras tag a:1 prod stable",
        [("promote", "oras tag", ["copy-source=a:1", "copy-target=prod", "copy-target=stable"])],
    ),
    (
        "regctl image copy a:1 b:1",
        [("promote", "regctl image copy", ["copy-source=a:1", "copy-target=b:1"])],
    ),
    (
        "gcloud artifacts docker tags add us-docker.pkg.dev/p/r/app:rc "
        "us-docker.pkg.dev/p/r/app:prod",
        [
            (
                "promote",
                "gcloud artifacts docker tags add",
                [
                    "copy-source=us-docker.pkg.dev/p/r/app:rc",
                    "copy-target=us-docker.pkg.dev/p/r/app:prod",
                ],
            )
        ],
    ),
    (
        "gcloud container images add-tag gcr.io/p/a:1 gcr.io/p/a:prod gcr.io/p/a:stable --quiet",
        [
            (
                "promote",
                "gcloud container images add-tag",
                [
                    "copy-source=gcr.io/p/a:1",
                    "copy-target=gcr.io/p/a:prod",
                    "copy-target=gcr.io/p/a:stable",
                ],
            )
        ],
    ),
    (
        'aws ecr put-image --repository-name app --image-tag prod --image-manifest "$MANIFEST"',
        [("promote", "aws ecr put-image", ["copy-target=app:prod"])],
    ),
    (
        "aws ecr put-image --repository-name app --image-tag prod --image-manifest "
        '"$(aws ecr batch-get-image --repository-name app --image-ids imageTag=rc '
        "--query 'images[].imageManifest' --output text)\"",
        [("promote", "aws ecr put-image", ["copy-source=app:rc", "copy-target=app:prod"])],
    ),
    (
        f"az acr import --name reg --source ghcr.io/o/app@{D} --image app:prod --image app:stable",
        [
            (
                "promote",
                "az acr import",
                [
                    f"copy-source=ghcr.io/o/app@{D}",
                    "copy-target=app:prod",
                    "copy-target=app:stable",
                ],
            )
        ],
    ),
    (
        "docker manifest create ghcr.io/o/app:1 ghcr.io/o/app:1-amd64 ghcr.io/o/app:1-arm64",
        [
            (
                "promote",
                "docker manifest create",
                [
                    "copy-target=ghcr.io/o/app:1",
                    "copy-source=ghcr.io/o/app:1-amd64",
                    "copy-source=ghcr.io/o/app:1-arm64",
                ],
            )
        ],
    ),
    (
        "cosign copy a@sha256:x b:prod",
        [("promote", "cosign copy", ["copy-source=a@sha256:x", "copy-target=b:prod"])],
    ),
    # --- DEPLOY --------------------------------------------------------------------
    (
        f"kubectl set image deployment/app app=ghcr.io/o/app@{D}",
        [("deploy", "kubectl set image", [f"deploy=ghcr.io/o/app@{D}"])],
    ),
    (
        "kubectl -n prod set image deploy/app app=x:1 sidecar=y:2 --record",
        [("deploy", "kubectl set image", ["deploy=x:1", "deploy=y:2"])],
    ),
    ("kubectl set image deployment app *=x:1", [("deploy", "kubectl set image", ["deploy=x:1"])]),
    ("oc set image dc/app app=x:1", [("deploy", "kubectl set image", ["deploy=x:1"])]),
    (
        "kubectl run tmp --image=busybox:1.36 --restart=Never",
        [("deploy", "kubectl run", ["deploy=busybox:1.36"])],
    ),
    (
        "kubectl create deployment app --image x:1",
        [("deploy", "kubectl create deployment", ["deploy=x:1"])],
    ),
    ("kubectl apply -f k8s/", []),
    (
        "helm upgrade --install app ./chart --set image.repository=ghcr.io/o/app "
        "--set image.tag=sha-1",
        [("deploy", "helm upgrade", ["deploy=ghcr.io/o/app:sha-1"])],
    ),
    (
        "helm upgrade app chart --set image.repository=r/app,image.digest=sha256:abc",
        [("deploy", "helm upgrade", ["deploy=r/app@sha256:abc"])],
    ),
    (
        "helm upgrade app chart --set image.registry=ghcr.io,image.repository=o/app,image.tag=1",
        [("deploy", "helm upgrade", ["deploy=ghcr.io/o/app:1"])],
    ),
    (
        "helm install app chart --set-string backend.image=x:1",
        [("deploy", "helm install", ["deploy=x:1"])],
    ),
    ("helm upgrade app chart -f values.yaml -n prod", [("deploy", "helm upgrade", [])]),
    (
        "helm upgrade app chart --set image.tag=1.2.3",
        [("deploy", "helm upgrade", ["deploy=1.2.3"])],
    ),
    ("helm upgrade app chart --set replicas=2,env.A=b", [("deploy", "helm upgrade", [])]),
    ("helm upgrade --dry-run app chart --set image.tag=1", []),
    ("helm template app chart --set image.tag=1", []),
    (
        f"kustomize edit set image app=ghcr.io/o/app@{D}",
        [("deploy", "kustomize edit set image", [f"deploy=ghcr.io/o/app@{D}"])],
    ),
    (
        "kustomize edit set image ghcr.io/o/app:1.2",
        [("deploy", "kustomize edit set image", ["deploy=ghcr.io/o/app:1.2"])],
    ),
    ("kustomize build overlays/prod", []),
    (
        f"gcloud run deploy svc --image gcr.io/p/app@{D} --region us-central1",
        [("deploy", "gcloud run deploy", [f"deploy=gcr.io/p/app@{D}"])],
    ),
    (
        "gcloud run deploy svc --source . --region us-central1",
        [
            ("build", "gcloud run deploy", []),
            ("push", "gcloud run deploy", []),
            ("deploy", "gcloud run deploy", []),
        ],
    ),
    (
        "gcloud beta run services update svc --image=x:1",
        [("deploy", "gcloud run services update", ["deploy=x:1"])],
    ),
    (
        "gcloud compute instances update-container vm --zone z --container-image gcr.io/p/app:1",
        [("deploy", "gcloud compute instances update-container", ["deploy=gcr.io/p/app:1"])],
    ),
    (
        "az containerapp update -n app -g rg --image ghcr.io/o/app:1",
        [("deploy", "az containerapp update", ["deploy=ghcr.io/o/app:1"])],
    ),
    (
        "az webapp config container set --name w -g rg --docker-custom-image-name x:1",
        [("deploy", "az webapp config container set", ["deploy=x:1"])],
    ),
    (
        "az webapp config container set -n w -g rg --container-image-name x:2",
        [("deploy", "az webapp config container set", ["deploy=x:2"])],
    ),
    (
        "aws ecs update-service --cluster c --service s --force-new-deployment",
        [("deploy", "aws ecs update-service", [])],
    ),
    (
        "aws lambda update-function-code --function-name f --image-uri 1.dkr.ecr.x/app:1",
        [("deploy", "aws lambda update-function-code", ["deploy=1.dkr.ecr.x/app:1"])],
    ),
    (
        "flyctl deploy --image registry.fly.io/app:1",
        [("deploy", "flyctl deploy", ["deploy=registry.fly.io/app:1"])],
    ),
    (
        "fly deploy",
        [("build", "fly deploy", []), ("push", "fly deploy", []), ("deploy", "fly deploy", [])],
    ),
    (
        "docker service update --image x:1 svc",
        [("deploy", "docker service update", ["deploy=x:1"])],
    ),
    (
        "docker service create --name web --replicas 2 -p 80:80 nginx:1",
        [("deploy", "docker service create", ["deploy=nginx:1"])],
    ),
    ("nomad job run -var image=x:1 job.nomad", [("deploy", "nomad job run", ["deploy=x:1"])]),
    ("nomad job run job.nomad", [("deploy", "nomad job run", [])]),
    (
        "argocd app set app --kustomize-image app=ghcr.io/o/app:1",
        [("deploy", "argocd app set", ["deploy=ghcr.io/o/app:1"])],
    ),
    ("argocd app set app --helm-set image.tag=1", [("deploy", "argocd app set", ["deploy=1"])]),
    # --- VALIDATE ------------------------------------------------------------------
    ("pytest -q tests", [("validate", "pytest", [])]),
    ("python -m pytest", [("validate", "python -m pytest", [])]),
    ("python3.12 -u -m unittest discover", [("validate", "python -m unittest", [])]),
    ("python -mpytest", [("validate", "python -m pytest", [])]),
    ("python manage.py test", [("validate", "python manage.py test", [])]),
    ("python build.py", []),
    ("uv run pytest", [("validate", "pytest", [])]),
    ("uv run --frozen -m pytest", [("validate", "python -m pytest", [])]),
    ("poetry run pytest -x", [("validate", "pytest", [])]),
    ("tox -e py311", [("validate", "tox", [])]),
    ("tox -e docs", []),
    ("tox -e docs,lint", [("validate", "tox", [])]),
    ("tox -e ${{ matrix.env }}", [("validate", "tox", [])]),
    ("python -m nox -s docs", []),
    ("python -m tox", [("validate", "python -m tox", [])]),
    ("shellcheck --version", []),
    ("pytest --help", []),
    ("make setup-test-env", []),
    ("make install-test", []),
    ("make docker-test", [("validate", "make docker-test", [])]),
    ("pnpm playwright install chromium", []),
    ("yarn playwright test", [("validate", "playwright test", [])]),
    ("nox -s tests", [("validate", "nox", [])]),
    ("hatch run test", [("validate", "hatch run test", [])]),
    ("hatch test", [("validate", "hatch test", [])]),
    ("go test ./...", [("validate", "go test", [])]),
    ("go vet ./...", [("validate", "go vet", [])]),
    ("go build ./...", []),
    ("npm test", [("validate", "npm test", [])]),
    ("npm run test:e2e", [("validate", "npm run test:e2e", [])]),
    ("npm run lint", [("validate", "npm run lint", [])]),
    ("npm run build", []),
    ("npm ci", []),
    ("yarn lint", [("validate", "yarn run lint", [])]),
    ("yarn workspace web test", [("validate", "yarn test", [])]),
    ("pnpm --filter web test", [("validate", "pnpm test", [])]),
    ("pnpm -r run e2e", [("validate", "pnpm run e2e", [])]),
    ("pnpm install --frozen-lockfile", []),
    ("bun test", [("validate", "bun test", [])]),
    ("yarn jest --ci", [("validate", "jest", [])]),
    ("npx playwright test", [("validate", "playwright test", [])]),
    ("npx --yes cypress run", [("validate", "cypress run", [])]),
    ("pnpm exec vitest run", [("validate", "vitest", [])]),
    ("cargo test --workspace", [("validate", "cargo test", [])]),
    ("cargo nextest run", [("validate", "cargo nextest", [])]),
    ("cargo build --release", []),
    ("mvn -B verify", [("validate", "mvn verify", [])]),
    ("mvn -B -pl core integration-test", [("validate", "mvn integration-test", [])]),
    ("mvn -B verify -DskipTests", []),
    ("mvn -B package", []),
    ("./gradlew test", [("validate", "gradle test", [])]),
    ("./gradlew build -x test", []),
    ("gradle integrationTest", [("validate", "gradle integrationTest", [])]),
    ("dotnet test", [("validate", "dotnet test", [])]),
    ("vendor/bin/phpunit", [("validate", "phpunit", [])]),
    ("bundle exec rspec", [("validate", "rspec", [])]),
    ("make test", [("validate", "make test", [])]),
    ("make -C app lint e2e", [("validate", "make lint", []), ("validate", "make e2e", [])]),
    ("just check", [("validate", "just check", [])]),
    ("task integration-test", [("validate", "task integration-test", [])]),
    ("bats tests/", [("validate", "bats", [])]),
    ("ctest --output-on-failure", [("validate", "ctest", [])]),
    ("jest --ci", [("validate", "jest", [])]),
    ("vitest run", [("validate", "vitest", [])]),
    ("docker run --rm app:test pytest", [("validate", "docker run", ["run=app:test"])]),
    (
        "docker run -d -p 8080:80 --name web app:test",
        [("validate", "docker run", ["run=app:test"])],
    ),
    (
        "docker run --rm -e A=b -v $PWD:/src -w /src --network host node:20 npm test",
        [("validate", "docker run", ["run=node:20"])],
    ),
    ("podman run --rm --pod p -it app:1 ./test.sh", [("validate", "podman run", ["run=app:1"])]),
    (
        "docker run --rm --entrypoint /app/test.sh app:1",
        [("validate", "docker run", ["run=app:1"])],
    ),
    ("docker run --rm app:test", []),
    (
        "docker run --rm aquasec/trivy:0.50 image ghcr.io/o/app:1",
        [("validate", "trivy image", ["scan=ghcr.io/o/app:1"])],
    ),
    (
        "docker run --rm gcr.io/go-containerregistry/crane copy a:1 b:1",
        [("promote", "crane copy", ["copy-source=a:1", "copy-target=b:1"])],
    ),
    ("docker run --rm -i hadolint/hadolint", [("validate", "hadolint", [])]),
    (
        "trivy image --exit-code 1 ghcr.io/o/app:1",
        [("validate", "trivy image", ["scan=ghcr.io/o/app:1"])],
    ),
    ("trivy --format sarif -o out.sarif image x:1", [("validate", "trivy image", ["scan=x:1"])]),
    ("trivy image --input app.tar", [("validate", "trivy image", [])]),
    ("trivy fs .", [("validate", "trivy fs", [])]),
    ("grype ghcr.io/o/app:1", [("validate", "grype", ["scan=ghcr.io/o/app:1"])]),
    (
        "grype registry:ghcr.io/o/app:1 --fail-on high",
        [("validate", "grype", ["scan=ghcr.io/o/app:1"])],
    ),
    ("grype dir:.", [("validate", "grype", [])]),
    (
        "docker scout cves ghcr.io/o/app:1",
        [("validate", "docker scout cves", ["scan=ghcr.io/o/app:1"])],
    ),
    (
        "docker scout cves registry://ghcr.io/o/app:1",
        [("validate", "docker scout cves", ["scan=ghcr.io/o/app:1"])],
    ),
    ("docker scout cves fs://.", [("validate", "docker scout cves", [])]),
    (
        "snyk container test ghcr.io/o/app:1",
        [("validate", "snyk container test", ["scan=ghcr.io/o/app:1"])],
    ),
    ("snyk test", [("validate", "snyk test", [])]),
    ("dockle app:1", [("validate", "dockle", ["scan=app:1"])]),
    (
        "container-structure-test test --image app:test --config cst.yaml",
        [("validate", "container-structure-test", ["run=app:test"])],
    ),
    ("dgoss run -e A=b -p 80:80 app:test", [("validate", "dgoss run", ["run=app:test"])]),
    ("hadolint Dockerfile", [("validate", "hadolint", [])]),
    ("ruff check .", [("validate", "ruff check", [])]),
    ("ruff format .", []),
    ("ruff format --check .", [("validate", "ruff format", [])]),
    ("black --check .", [("validate", "black", [])]),
    ("black .", []),
    ("pre-commit run --all-files", [("validate", "pre-commit run", [])]),
    ("docker exec app pytest", [("validate", "pytest", [])]),
    ("docker exec -e A=1 -w /app app npm test", [("validate", "npm test", [])]),
    ("xvfb-run -a npm test", [("validate", "npm test", [])]),
    ("timeout 300 npm test", [("validate", "npm test", [])]),
    # --- RECORD / VERIFY -----------------------------------------------------------
    (
        f"cosign attest --yes --predicate p.json --type slsaprovenance ghcr.io/o/app@{D}",
        [("record", "cosign attest", [f"sign=ghcr.io/o/app@{D}"])],
    ),
    (
        "cosign verify --certificate-identity-regexp x --certificate-oidc-issuer y "
        f"ghcr.io/o/app@{D}",
        [("verify", "cosign verify", [f"sign=ghcr.io/o/app@{D}"])],
    ),
    (
        "cosign verify-attestation --type slsaprovenance app:1",
        [("verify", "cosign verify-attestation", ["sign=app:1"])],
    ),
    ("cosign sign --yes ghcr.io/o/app:1", []),
    ("notation sign ghcr.io/o/app:1", []),
    (
        f"notation verify ghcr.io/o/app@{D}",
        [("verify", "notation verify", [f"sign=ghcr.io/o/app@{D}"])],
    ),
    (
        f"gh attestation verify oci://ghcr.io/o/app@{D} --owner o",
        [("verify", "gh attestation verify", [f"sign=ghcr.io/o/app@{D}"])],
    ),
    ("gh attestation verify app.tar -R o/r", [("verify", "gh attestation verify", [])]),
    ("gh release create v1", []),
    (
        f"slsa-verifier verify-image ghcr.io/o/app@{D} --source-uri github.com/o/r",
        [("verify", "slsa-verifier verify-image", [f"sign=ghcr.io/o/app@{D}"])],
    ),
    (
        "slsa-verifier verify-artifact bin --provenance-path p.intoto",
        [("verify", "slsa-verifier verify-artifact", [])],
    ),
    (
        f"digestgate record --image ghcr.io/o/app@{D} --output rec.json",
        [("record", "digestgate record", [f"subject=ghcr.io/o/app@{D}"])],
    ),
    (
        f"digestgate verify --record rec.json --image ghcr.io/o/app@{D}",
        [("verify", "digestgate verify", [f"input=ghcr.io/o/app@{D}"])],
    ),
    (
        f"python -m digestgate verify --record r.json --image x@{D}",
        [("verify", "digestgate verify", [f"input=x@{D}"])],
    ),
    (
        "uvx digestgate record --metadata-file m.json -o r.json",
        [("record", "digestgate record", [])],
    ),
    (
        f"oras attach --artifact-type application/spdx ghcr.io/o/app@{D} sbom.json",
        [("record", "oras attach", [f"sign=ghcr.io/o/app@{D}"])],
    ),
    # --- nothing -------------------------------------------------------------------
    ("echo docker build .", []),
    ("command -v docker", []),
    ("docker login ghcr.io -u x --password-stdin", []),
    ("docker tag a:1 b:1", []),
    ("docker images", []),
    ("$DOCKER build -t x .", []),
    ("docker buildx create --use", []),
    ("docker build --tag= .", [("build", "docker build", [])]),
    ('docker build -t "" .', [("build", "docker build", [])]),
    ("kubectl set image deploy/app app=", [("deploy", "kubectl set image", [])]),
]


@pytest.mark.parametrize(("line", "expected"), CASES, ids=[c[0][:60] for c in CASES])
def test_classify(line: str, expected: list[tuple[str, str, list[str]]]) -> None:
    assert summary(commands.classify(cmd(line))) == expected


REF_CASES: list[tuple[str, list[str]]] = [
    ("docker pull alpine:3.20", ["pull=alpine:3.20"]),
    ("docker pull --platform linux/amd64 -q ghcr.io/o/app:1", ["pull=ghcr.io/o/app:1"]),
    (
        "podman pull docker://quay.io/o/app:1 quay.io/o/b:2",
        ["pull=quay.io/o/app:1", "pull=quay.io/o/b:2"],
    ),
    ("docker image pull x", ["pull=x"]),
    ("docker create --name c -e A=b app:1 sleep 1", ["run=app:1"]),
    ("docker run --rm app:test", ["run=app:test"]),
    ("docker save -o app.tar app:1 app:2", ["input=app:1", "input=app:2"]),
    ("cosign sign --yes --key env://K ghcr.io/o/app:1", ["sign=ghcr.io/o/app:1"]),
    ("notation sign --key k ghcr.io/o/app:1", ["sign=ghcr.io/o/app:1"]),
    ("docker trust sign ghcr.io/o/app:1", ["sign=ghcr.io/o/app:1"]),
    ("docker run --rm aquasec/trivy:0.50 image x:1", ["run=aquasec/trivy:0.50"]),
    ("crane pull ghcr.io/o/app:1 app.tar", ["pull=ghcr.io/o/app:1"]),
    ("skopeo copy docker://a:1 oci-archive:a.tar", ["pull=a:1"]),
    ("oras pull ghcr.io/o/art:1", ["pull=ghcr.io/o/art:1"]),
    ("buildah pull alpine:3", ["pull=alpine:3"]),
    ("docker tag a:1 b:1", []),
    ("docker push a:1", []),
]


@pytest.mark.parametrize(("line", "expected"), REF_CASES, ids=[c[0] for c in REF_CASES])
def test_references(line: str, expected: list[str]) -> None:
    assert refs(line) == expected


def only(line: str, role: Role, **kw: object) -> Operation:
    ops = [o for o in commands.classify(cmd(line, **kw)) if o.role is role]  # type: ignore[arg-type]
    assert len(ops) == 1, summary(ops)
    return ops[0]


# --- operation details ---------------------------------------------------------------


def test_build_details() -> None:
    line = "docker build -f docker/Dockerfile.ci --platform linux/amd64,linux/arm64 -t app:test ctx"
    op = only(line, Role.BUILD)
    assert op.context is not None and op.context.text == "ctx"
    assert op.dockerfile is not None and op.dockerfile.text == "docker/Dockerfile.ci"
    assert op.platforms == ("linux/amd64", "linux/arm64")
    assert op.load and not op.push
    assert op.span == Span(1, 1, 1, len(line) + 1) and op.path == PATH
    assert op.can_fail


def test_buildx_push_by_digest_recipe() -> None:
    line = (
        "docker buildx build --platform linux/arm64 --output "
        'type=image,"name=${{ env.REGISTRY_IMAGE }}",'
        "push-by-digest=true,name-canonical=true,push=true --metadata-file meta.json ."
    )
    build, push = commands.classify(cmd(line))
    assert build.role is Role.BUILD and push.role is Role.PUSH
    for op in (build, push):
        assert op.push and op.push_by_digest and not op.load
        assert op.digest_file is not None and op.digest_file.text == "meta.json"
        assert op.platforms == ("linux/arm64",)
    (name,) = build.names()
    assert name.use is ImageUse.TAG
    assert [p.kind for p in name.value.pieces] == [PieceKind.EXPR]
    assert name.value.text == "${{ env.REGISTRY_IMAGE }}"
    start = line.index("${{")
    assert name.value.span == Span(1, start + 1, 1, line.index("}}") + 3)


def test_buildx_load_and_outputs() -> None:
    assert only("docker buildx build --load -t a .", Role.BUILD).load
    assert only("docker buildx build -o type=docker,name=a:1 .", Role.BUILD).load
    op = only("docker buildx build -o type=local,dest=out .", Role.BUILD)
    assert not op.load and not op.push
    op = only("docker buildx build -o out .", Role.BUILD)
    assert not op.load and not op.push
    op = only("docker buildx build --push=false -t a .", Role.BUILD)
    assert not op.push


def test_provenance() -> None:
    assert only("docker buildx build --provenance=mode=max --push -t x .", Role.BUILD).provenance
    assert only("docker buildx build --provenance --push -t x .", Role.BUILD).provenance
    assert only("docker buildx build --provenance=true --push -t x .", Role.PUSH).provenance
    assert only(
        "docker buildx build --attest type=provenance,mode=max --push -t x .", Role.BUILD
    ).provenance
    assert not only("docker buildx build --provenance=false --push -t x .", Role.BUILD).provenance
    assert not only("docker buildx build --attest type=sbom --push -t x .", Role.BUILD).provenance
    # a local build records nothing in a registry
    assert not only(
        "docker buildx build --provenance=mode=max --load -t x .", Role.BUILD
    ).provenance
    assert only("docker buildx bake --provenance --push", Role.BUILD).provenance
    assert only("docker buildx bake --set *.attest=type=provenance --push", Role.BUILD).provenance


def test_digest_files() -> None:
    op = only(
        "docker buildx build --metadata-file m.json --iidfile id.txt --push -t x .", Role.BUILD
    )
    assert op.digest_file is not None and op.digest_file.text == "m.json"
    assert "iidfile" in op.note
    op = only("docker build --iidfile id.txt -t x .", Role.BUILD)
    assert op.digest_file is not None and op.digest_file.text == "id.txt"
    assert "local image ID" in op.note
    op = only("podman push --digestfile=d.txt app docker://r/app:1", Role.PUSH)
    assert op.digest_file is not None and op.digest_file.text == "d.txt"
    op = only("buildah push --digestfile /tmp/d r/app:1", Role.PUSH)
    assert op.digest_file is not None and op.digest_file.text == "/tmp/d"
    op = only(f"skopeo copy --digestfile d docker://a@{D} docker://b:1", Role.PROMOTE)
    assert op.digest_file is not None and op.digest_file.text == "d"
    op = only("/kaniko/executor --destination x:1 --image-name-with-digest-file f", Role.PUSH)
    assert op.digest_file is not None and op.digest_file.text == "f"
    op = only("ko build --image-refs refs.txt ./cmd/app", Role.PUSH)
    assert op.digest_file is not None and op.digest_file.text == "refs.txt"
    op = only("docker buildx bake --metadata-file bake.json --push", Role.PUSH)
    assert op.digest_file is not None and op.digest_file.text == "bake.json"


def test_kaniko_details() -> None:
    op = only("/kaniko/executor --context=dir:///w --dockerfile=D --destination=x:1", Role.BUILD)
    assert op.push
    assert op.context is not None and op.context.text == "dir:///w"
    assert op.dockerfile is not None and op.dockerfile.text == "D"
    assert not only("/kaniko/executor --destination=x:1 --no-push", Role.BUILD).push


def test_ko_details() -> None:
    env = {"KO_DOCKER_REPO": Value.literal("ghcr.io/o", Span(1, 1, 1, 2), "w.yml")}
    ops = commands.classify(cmd("ko build --platform=linux/amd64,linux/arm64 ./cmd/app"), env=env)
    assert ops[0].platforms == ("linux/amd64", "linux/arm64")
    assert "KO_DOCKER_REPO=ghcr.io/o" in ops[0].note
    ops = commands.classify(cmd("KO_DOCKER_REPO=ko.local ko build ."))
    assert "KO_DOCKER_REPO=ko.local" in ops[0].note
    assert only("ko build -L .", Role.BUILD).load


def test_make_target_notes() -> None:
    op = only("make docker-push", Role.BUILD)
    assert op.push and op.note == "make target"
    assert only("make docker-build", Role.BUILD).load


def test_guarded_command_cannot_fail() -> None:
    for op in commands.classify(cmd("pytest -q", guarded=True)):
        assert not op.can_fail
    for op in commands.classify(cmd("docker buildx build --push -t x .", guarded=True)):
        assert not op.can_fail
    assert only("pytest -q", Role.VALIDATE).can_fail


def test_validate_notes() -> None:
    assert only("hadolint Dockerfile", Role.VALIDATE).note == "source"
    assert only("trivy fs .", Role.VALIDATE).note == "source"
    assert only("docker run -d --name db postgres:16", Role.VALIDATE).note == "detached service"
    assert "in a container" in only("docker exec app pytest", Role.VALIDATE).note


def test_helm_combined_reference_is_located_at_the_tag() -> None:
    line = (
        "helm upgrade app chart --set image.repository=ghcr.io/o/app --set image.tag=${{ env.TAG }}"
    )
    (ref,) = only(line, Role.DEPLOY).references()
    assert ref.value.text == "ghcr.io/o/app:${{ env.TAG }}"
    assert [p.kind for p in ref.value.pieces] == [
        PieceKind.LITERAL,
        PieceKind.LITERAL,
        PieceKind.EXPR,
    ]
    assert ref.value.span.column == line.index("${{") + 1


def test_helm_escaped_comma() -> None:
    (ref,) = only(r"helm upgrade a c --set image=x:1,annotations.a=b\,c", Role.DEPLOY).references()
    assert ref.value.text == "x:1"


def test_ecr_digest_source() -> None:
    line = (
        "aws ecr put-image --repository-name app --image-tag prod --image-manifest "
        f'"$(aws ecr batch-get-image --repository-name app --image-ids imageDigest={D} '
        '--query images[].imageManifest --output text)"'
    )
    op = only(line, Role.PROMOTE)
    assert [i.value.text for i in op.images] == [f"app@{D}", "app:prod"]


# --- values are kept exactly as written ----------------------------------------------


def test_attached_option_value_is_sliced_with_its_span() -> None:
    line = "docker build --tag=ghcr.io/o/app:${{ github.sha }} ."
    (name,) = only(line, Role.BUILD).names()
    assert name.value.text == "ghcr.io/o/app:${{ github.sha }}"
    assert [p.kind for p in name.value.pieces] == [PieceKind.LITERAL, PieceKind.EXPR]
    assert name.value.pieces[0].text == "ghcr.io/o/app:"
    col = line.index("ghcr")
    assert name.value.pieces[0].span == Span(1, col + 1, 1, col + 1 + len("ghcr.io/o/app:"))
    assert name.value.span == Span(1, col + 1, 1, line.index("}}") + 3)


def test_separate_option_value_is_the_argument_itself() -> None:
    c = cmd("docker build -t $IMAGE:$TAG .")
    (name,) = only("docker build -t $IMAGE:$TAG .", Role.BUILD).names()
    assert name.value == c.argv[3]
    assert [p.kind for p in name.value.pieces] == [PieceKind.VAR, PieceKind.LITERAL, PieceKind.VAR]


def test_short_attached_values() -> None:
    (name,) = only("docker build -tapp:1 .", Role.BUILD).names()
    assert name.value.text == "app:1"
    (name,) = only("docker build -t=app:2 .", Role.BUILD).names()
    assert name.value.text == "app:2"


def test_skopeo_strips_transport_keeping_position() -> None:
    line = "skopeo copy docker://ghcr.io/o/app:rc docker://ghcr.io/o/app:prod"
    src, _ = only(line, Role.PROMOTE).images
    assert src.value.text == "ghcr.io/o/app:rc"
    assert src.value.span.column == line.index("ghcr") + 1


RUN_IMAGES = [
    ("docker run -e A=b -v a:b --network host --name n -p 80:80 --entrypoint e IMG cmd", "IMG"),
    ("docker run -w /d --user u --mount type=bind,src=a,dst=b --label l=1 IMG cmd", "IMG"),
    ("docker run --env-file .env --platform linux/amd64 --pull always IMG x", "IMG"),
    ("docker run -it --rm IMG sh", "IMG"),
    ("docker run -dp 80:80 IMG", "IMG"),
    ("docker run -itd -u 1000 IMG x", "IMG"),
    ("docker run --rm --platform=linux/amd64 IMG x", "IMG"),
    ("docker run $DOCKER_ARGS IMG cmd", "IMG"),
    ("docker run --cap-add SYS_ADMIN --security-opt seccomp=unconfined --shm-size 2g IMG x", "IMG"),
    ("docker run --gpus all --ulimit nofile=1024 --tmpfs /tmp --add-host h:1.2.3.4 IMG x", "IMG"),
    ("docker run --health-cmd 'curl -f x' --restart no --log-opt max-size=1m IMG x", "IMG"),
    ("docker run --unknown-flag IMG x", "IMG"),
    ("docker run --unknown-opt=v IMG x", "IMG"),
    ("docker container run -h host -m 1g -c 2 IMG x", "IMG"),
    ("docker run --rm -- IMG x", "IMG"),
    ("podman run --pod p --secret s --tz UTC --userns keep-id IMG x", "IMG"),
    ("nerdctl run --rm --snapshotter stargz IMG x", "IMG"),
    ("docker run --rm IMG --flag-for-the-container", "IMG"),
    ("docker run --rm ${{ needs.build.outputs.image }} test", "${{ needs.build.outputs.image }}"),
]


@pytest.mark.parametrize(("line", "image"), RUN_IMAGES, ids=[r[0] for r in RUN_IMAGES])
def test_run_image_positional(line: str, image: str) -> None:
    ops = commands.classify(cmd(line))
    found = [i.value.text for o in ops for i in o.images] + refs(line)
    assert image in found or f"run={image}" in found


def test_run_in_background_or_fed_a_script_is_a_check() -> None:
    c = cmd("docker run --rm app:test")
    assert commands.classify(c) == []
    (op,) = commands.classify(c._replace(background=True))
    assert op.role is Role.VALIDATE and op.note == "detached service"
    fed = cmd("docker run -i --rm app:test")._replace(stdin=words("pytest")[0])
    assert [o.role for o in commands.classify(fed)] == [Role.VALIDATE]
    redirected = cmd("docker run -i app:test")._replace(redirects=(("<", words("t.sh")[0]),))
    assert [o.role for o in commands.classify(redirected)] == [Role.VALIDATE]


def test_run_after_image_is_the_containers() -> None:
    op = only("docker run --rm app:1 -t x", Role.VALIDATE)
    assert [i.value.text for i in op.images] == ["app:1"]


# --- peel ----------------------------------------------------------------------------

PEEL = [
    ("sudo -E -u runner docker push x", "docker push x"),
    ("sudo --preserve-env=PATH -n docker ps", "docker ps"),
    ("sudo -Eu root docker ps", "docker ps"),
    ("sudo A=1 docker ps", "docker ps"),
    ("env -i A=1 B=2 docker build .", "docker build ."),
    ("env -u X -C /w docker build .", "docker build ."),
    ("timeout -s KILL 10m docker push x", "docker push x"),
    ("timeout --preserve-status 60 docker push x", "docker push x"),
    ("time docker build .", "docker build ."),
    ("time -p docker build .", "docker build ."),
    ("nice -n 10 docker build .", "docker build ."),
    ("nice -10 docker build .", "docker build ."),
    ("nohup docker run x", "docker run x"),
    ("stdbuf -oL -eL docker build .", "docker build ."),
    ("xargs -I{} docker push {}", "docker push {}"),
    ("xargs -n1 -P4 docker pull", "docker pull"),
    ("xargs -0 -r docker rmi", "docker rmi"),
    ("command docker build .", "docker build ."),
    ("command -v docker", ""),
    ("exec docker run x", "docker run x"),
    ("exec -a name docker run x", "docker run x"),
    ("builtin echo hi", "echo hi"),
    ("sudo env A=1 timeout 5 nice docker push x", "docker push x"),
    ("A=1 B=2 docker push x", "docker push x"),
    ("/usr/bin/sudo /usr/bin/docker push x", "/usr/bin/docker push x"),
    ("docker push x", "docker push x"),
    ("env", ""),
    ("uv run --with pytest pytest -q", "pytest -q"),
    ("uv pip install x", "uv pip install x"),
    ("poetry run pytest", "pytest"),
    ("bundle exec rspec", "rspec"),
    ("npx --yes playwright test", "playwright test"),
    ("pnpm exec jest", "jest"),
    ("npm test", "npm test"),
]


@pytest.mark.parametrize(("line", "expected"), PEEL, ids=[p[0] for p in PEEL])
def test_peel(line: str, expected: str) -> None:
    assert " ".join(v.text for v in commands.peel(cmd(line).argv)) == expected


def test_peel_keeps_values() -> None:
    c = cmd("sudo -E docker push $IMAGE")
    peeled = commands.peel(c.argv)
    assert peeled == c.argv[2:]


def test_peel_with_env() -> None:
    argv, env = commands.peel_with_env(
        cmd("sudo env COMPOSE_FILE=a.yml:b.yml docker compose up").argv
    )
    assert argv[0].text == "docker"
    assert env["COMPOSE_FILE"].text == "a.yml:b.yml"


def test_wrapped_commands_classify() -> None:
    assert summary(commands.classify(cmd("sudo -E timeout 10m docker push x:1"))) == [
        ("push", "docker push", ["push=x:1"])
    ]
    assert summary(commands.classify(cmd("xargs -I{} docker push {}"))) == [
        ("push", "docker push", ["push={}"])
    ]


# --- sequences -----------------------------------------------------------------------


def test_pull_tag_push_is_one_promote() -> None:
    commands_ = script(
        "docker pull ghcr.io/o/app:rc\n"
        "docker tag ghcr.io/o/app:rc ghcr.io/o/app:prod\n"
        "docker push ghcr.io/o/app:prod\n"
    )
    result = commands.analyse_script(commands_)
    assert summary(list(result.operations)) == [
        (
            "promote",
            "docker pull + tag + push",
            ["copy-source=ghcr.io/o/app:rc", "copy-target=ghcr.io/o/app:prod"],
        )
    ]
    (op,) = result.operations
    assert op.span == commands_[2].span  # located at the push
    assert op.images[0].value.span.line == 1  # the source as pulled
    assert result.references == ()  # the pull is the promotion's source, not a reference


def test_pull_tag_push_with_other_commands_between() -> None:
    ops = commands.classify_script(
        script(
            "docker pull nginx:1.27\n"
            "echo hi\n"
            "docker tag docker.io/library/nginx:1.27 r.example/nginx:1.27\n"
            "docker push r.example/nginx:1.27\n"
            "docker push other:1\n"
        )
    )
    assert summary(ops) == [
        (
            "promote",
            "docker pull + tag + push",
            ["copy-source=nginx:1.27", "copy-target=r.example/nginx:1.27"],
        ),
        ("push", "docker push", ["push=other:1"]),
    ]


def test_pull_and_tag_without_push_is_only_a_reference() -> None:
    result = commands.analyse_script(script("docker pull a:1\ndocker tag a:1 b:1\n"))
    assert result.operations == ()
    assert [r.value.text for r in result.references] == ["a:1"]


def test_podman_pull_then_push_to_other_destination() -> None:
    ops = commands.classify_script(
        script("podman pull q.io/a:1\npodman push q.io/a:1 docker://r.io/a:1\n")
    )
    assert summary(ops) == [
        ("promote", "podman pull + tag + push", ["copy-source=q.io/a:1", "copy-target=r.io/a:1"])
    ]


def test_local_build_then_run_and_push() -> None:
    ops = commands.classify_script(
        script(
            "docker build -t app:test .\ndocker run --rm app:test pytest\ndocker push app:test\n"
        )
    )
    assert [o.role for o in ops] == [Role.BUILD, Role.VALIDATE, Role.PUSH]
    assert ops[1].note == "local build"
    assert ops[2].note == "local build"
    tags = commands.local_tags(ops)
    assert "app:test" in tags
    assert commands.normalize_reference("docker.io/library/app:test") in tags


def test_local_tags_exclude_push_only_builds() -> None:
    ops = commands.classify(cmd("docker buildx build --push -t r/app:1 ."))
    assert commands.local_tags(ops) == set()
    ops = commands.classify(cmd("docker buildx build --load -t app ."))
    assert commands.local_tags(ops) == {"app", "app:latest"}


def test_retag_after_build_is_a_tag_of_that_build() -> None:
    ops = commands.classify_script(
        script(
            "docker build -t app:ci .\n"
            "docker tag app:ci ghcr.io/o/app:sha\n"
            "docker push ghcr.io/o/app:sha\n"
        )
    )
    assert summary(ops) == [
        ("build", "docker build", ["tag=app:ci", "tag=ghcr.io/o/app:sha"]),
        ("push", "docker push", ["push=ghcr.io/o/app:sha"]),
    ]
    assert ops[1].note == "local build"
    assert "ghcr.io/o/app:sha" in commands.local_tags(ops)


def test_retag_alone_after_build_adds_no_operation() -> None:
    ops = commands.classify_script(script("docker build -t app .\ndocker tag app app:2\n"))
    assert summary(ops) == [("build", "docker build", ["tag=app", "tag=app:2"])]


def test_load_then_push_is_not_a_rebuild() -> None:
    ops = commands.classify_script(
        script("docker load -i image.tar\ndocker push ghcr.io/o/app:sha\n")
    )
    assert summary(ops) == [("push", "docker push", ["push=ghcr.io/o/app:sha"])]
    assert ops[0].note == "loaded archive"
    ops = commands.classify_script(
        script("docker load --input image.tar\ndocker tag app:ci r/app:1\ndocker push r/app:1\n")
    )
    assert ops[0].note == "loaded archive"


def test_tag_of_unknown_image_then_push() -> None:
    ops = commands.classify_script(script("docker tag app:ci r/app:1\ndocker push r/app:1\n"))
    assert summary(ops) == [("push", "docker push", ["push=r/app:1"])]
    assert ops[0].note == "re-tag of app:ci"


def test_ecr_batch_get_then_put_image() -> None:
    ops = commands.classify_script(
        script(
            "MANIFEST=x aws ecr batch-get-image --repository-name app --image-ids imageTag=rc\n"
            "aws ecr put-image --repository-name app --image-tag prod --image-manifest $MANIFEST\n"
        )
    )
    assert summary(ops) == [
        ("promote", "aws ecr put-image", ["copy-source=app:rc", "copy-target=app:prod"])
    ]
    assert ops[0].note == "ecr batch-get-image + put-image"


def test_compose_like_build_then_scan_is_local() -> None:
    ops = commands.classify_script(script("docker build -t app:scan .\ntrivy image app:scan\n"))
    assert ops[1].role is Role.VALIDATE and ops[1].note == "local build"


def test_normalize_reference() -> None:
    assert commands.normalize_reference("nginx") == "nginx:latest"
    assert commands.normalize_reference("docker.io/library/nginx:1") == "nginx:1"
    assert commands.normalize_reference("localhost:5000/app") == "localhost:5000/app:latest"
    assert commands.normalize_reference(f"r/app@{D}") == f"r/app@{D}"


# --- digest sources ------------------------------------------------------------------

SOURCES: list[tuple[str, DigestSource | None]] = [
    ("crane digest ghcr.io/o/app:1", DigestSource.READ_BACK),
    ("sudo crane digest --platform linux/amd64 x", DigestSource.READ_BACK),
    ("docker inspect --format '{{index .RepoDigests 0}}' x", DigestSource.READ_BACK),
    ("docker image inspect -f '{{json .RepoDigests}}' x", DigestSource.READ_BACK),
    ("podman image inspect --format '{{.Digest}}' x", DigestSource.READ_BACK),
    ("docker image inspect -f '{{.Id}}' x", DigestSource.IMAGE_ID),
    ("docker inspect x", None),
    ("docker buildx imagetools inspect x --format '{{.Manifest.Digest}}'", DigestSource.READ_BACK),
    ("docker buildx imagetools inspect x --format '{{json .Manifest}}'", None),
    ("regctl image digest x", DigestSource.READ_BACK),
    ("regctl manifest head x", DigestSource.READ_BACK),
    ("skopeo inspect --format '{{.Digest}}' docker://x", DigestSource.READ_BACK),
    ("skopeo inspect docker://x", None),
    ("oras resolve ghcr.io/o/a:1", DigestSource.READ_BACK),
    ("jq -r '.[\"containerimage.digest\"]' meta.json", DigestSource.METADATA),
    ("jq -r '.\"containerimage.digest\"' meta.json", DigestSource.METADATA),
    ("yq '.[\"containerimage.digest\"]' m.json", DigestSource.METADATA),
    ("jq -r .digest m.json", None),
    ("cat digest.txt", None),
    ("ko build ./cmd/app", DigestSource.PRINTED_REF),
    ("ko build --local ./cmd/app", None),
    ("crane push img.tar x", DigestSource.PRINTED_REF),
    ("crane append -b a -f l.tar -t x", DigestSource.PRINTED_REF),
    ("docker images -q app", DigestSource.IMAGE_ID),
    ("docker image ls --format '{{.ID}}' app", DigestSource.IMAGE_ID),
    ("docker images --digests --format '{{.Digest}}' app", DigestSource.READ_BACK),
    ("docker build -q .", DigestSource.IMAGE_ID),
    ("docker buildx build --quiet .", DigestSource.IMAGE_ID),
    ("buildah commit ctr app", DigestSource.IMAGE_ID),
    (
        "gcloud container images describe x --format='value(image_summary.digest)'",
        DigestSource.READ_BACK,
    ),
    (
        "aws ecr describe-images --repository-name app --image-ids imageTag=1 "
        "--query 'imageDetails[0].imageDigest' --output text",
        DigestSource.READ_BACK,
    ),
    ("az acr repository show -n r --image app:1 --query digest -o tsv", DigestSource.READ_BACK),
    ("echo hi", None),
    ("docker push x", None),
]


@pytest.mark.parametrize(("line", "expected"), SOURCES, ids=[s[0] for s in SOURCES])
def test_digest_source(line: str, expected: DigestSource | None) -> None:
    assert commands.digest_source(cmd(line)) is expected


PIPELINES: list[tuple[str, DigestSource | None]] = [
    (
        "docker buildx imagetools inspect x --format '{{json .Manifest}}' | jq -r .digest",
        DigestSource.READ_BACK,
    ),
    ("docker buildx imagetools inspect x | grep Digest | awk '{print $2}'", DigestSource.READ_BACK),
    ("docker push x:1 | grep digest | cut -d' ' -f3", DigestSource.READ_BACK),
    ("skopeo inspect docker://x | jq -r .Digest", DigestSource.READ_BACK),
    ("docker manifest inspect -v x | jq -r .Descriptor.digest", DigestSource.READ_BACK),
    ("docker manifest inspect x | jq -r .config.digest", None),
    ("cat meta.json | jq -r '.[\"containerimage.digest\"]'", DigestSource.METADATA),
    ("docker inspect -f '{{index .RepoDigests 0}}' x | cut -d@ -f2", DigestSource.READ_BACK),
    ("cat d.txt | tr -d ' '", None),
    ("docker images -q app | head -1", DigestSource.IMAGE_ID),
]


@pytest.mark.parametrize(("line", "expected"), PIPELINES, ids=[s[0] for s in PIPELINES])
def test_pipeline_digest_source(line: str, expected: DigestSource | None) -> None:
    parts = [cmd(p.strip()) for p in _split_pipeline(line)]
    assert commands.pipeline_digest_source(parts) is expected


def _split_pipeline(line: str) -> list[str]:
    out: list[str] = []
    cur: list[str] = []
    quote = ""
    for c in line:
        if c in "'\"" and (not quote or quote == c):
            quote = "" if quote else c
        if c == "|" and not quote:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(c)
    out.append("".join(cur))
    return out


# --- value helpers -------------------------------------------------------------------


def test_slice_value_keeps_slots_and_spans() -> None:
    (v,) = words("pre${{ a }}post")
    assert [p.kind for p in v.pieces] == [PieceKind.LITERAL, PieceKind.EXPR, PieceKind.LITERAL]
    assert commands.flat_text(v) == "pre\x00post"
    s = commands.slice_value(v, 1, 6)
    assert s.text == "re${{ a }}po"
    assert s.pieces[0].span == Span(1, 2, 1, 4)
    assert s.pieces[-1].span == Span(1, 12, 1, 14)
    assert s.span == Span(1, 2, 1, 14)


def test_concat_values() -> None:
    a, b = words("repo tag")
    v = commands.concat_values([a, ":", b], b.span, PATH)
    assert v.text == "repo:tag" and v.is_static and v.span == b.span


def test_command_name() -> None:
    assert commands.command_name(words("/usr/local/bin/docker")[0]) == "docker"
    assert commands.command_name(words("docker.exe")[0]) == "docker"
    assert commands.command_name(words("$DOCKER")[0]) is None


def test_unused_helpers_are_consistent() -> None:
    c = Command((), Span(1, 1, 1, 1), PATH)
    assert commands.classify(c) == []
    assert commands.digest_source(c) is None
    assert commands.pipeline_digest_source([]) is None
    assert Piece(PieceKind.LITERAL, "x").span is None


# Cases from the hand review of job roles over the corpus (closing note of the step
# facts issue): each was misclassified before.
@pytest.mark.parametrize(
    ("line", "roles"),
    [
        ("ruff --help", []),
        ("python -m ruff --version", []),
        ("make quality", ["validate"]),
        ("helm install cert-manager jetstack/cert-manager --set crds.enabled=true", []),
        ("helm upgrade --install app ./chart --set image.tag=1.2", ["deploy"]),
        ("npm run build-docker", ["build"]),
        ("yarn docker-push", ["build", "push"]),
        ("skaffold run --default-repo=ghcr.io/acme --tag=abc", ["build", "push", "deploy"]),
        ("skaffold build --push=false", ["build"]),
        ("chainsaw test --config .chainsaw.yaml", ["validate"]),
        ("chainsaw --version", []),
    ],
)
def test_review_roles(line: str, roles: list[str]) -> None:
    ops = commands.classify(cmd(line))
    assert [op.role.value for op in ops] == roles


def test_oras_push_of_artifact_hub_metadata_is_not_an_image_push() -> None:
    line = (
        "oras push ghcr.io/acme/charts:artifacthub.io"
        " --config /dev/null:application/vnd.cncf.artifacthub.config.v1+yaml"
        " artifacthub-repo.yml:application/vnd.cncf.artifacthub.repository-metadata.layer.v1.yaml"
    )
    assert commands.classify(cmd(line)) == []
    assert [o.role.value for o in commands.classify(cmd("oras push ghcr.io/acme/app:1 a.tar"))] == [
        "push"
    ]
