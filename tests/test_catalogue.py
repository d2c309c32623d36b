"""The catalogue of well-known actions: keys, roles, images with exact spans, outputs."""

from __future__ import annotations

import inspect
import textwrap

import pytest

from digestgate import catalogue
from digestgate.builder import build_workflow
from digestgate.catalogue import (
    CATALOGUE,
    action_key,
    artifact_io,
    is_needs_gate,
    loose_images,
    needs_gate,
    reusable_job_facts,
    step_facts,
    wrapped_command,
    wrapped_shell,
)
from digestgate.facts import (
    DigestSource,
    ImageArg,
    ImageUse,
    Operation,
    OutputWrite,
    PieceKind,
    Role,
    WriteTarget,
)
from digestgate.loader import load_text
from digestgate.model import Platform, Step, Workflow
from digestgate.span import Span

PATH = ".github/workflows/ci.yml"


class Doc:
    """A one-job workflow around the given steps, and span helpers on its text."""

    def __init__(self, steps: str) -> None:
        body = textwrap.indent(inspect.cleandoc(steps), " " * 6)
        self.text = "on: push\njobs:\n  j:\n    runs-on: ubuntu-latest\n    steps:\n" + body + "\n"
        self.workflow = _build(self.text)
        self.steps = self.workflow.jobs["j"].steps

    def span(self, needle: str, occurrence: int = 0) -> Span:
        """The span of the `occurrence`-th `needle` in the document (one line)."""
        at = -1
        for _ in range(occurrence + 1):
            at = self.text.index(needle, at + 1)
        line = self.text.count("\n", 0, at) + 1
        column = at - (self.text.rfind("\n", 0, at) + 1) + 1
        return Span(line, column, line, column + len(needle))

    def facts(self, index: int = 0) -> tuple[list[Operation], list[OutputWrite]]:
        found = step_facts(self.steps[index], PATH)
        assert found is not None
        operations, writes, loose = found
        assert loose == loose_images(self.steps[index], PATH)
        return operations, writes


def _build(text: str) -> Workflow:
    workflow, problems = build_workflow(load_text(text, PATH).root, PATH, Platform.GITHUB)
    assert problems == []
    return workflow


def roles(ops: list[Operation]) -> list[Role]:
    return [op.role for op in ops]


def op_of(ops: list[Operation], role: Role) -> Operation:
    (found,) = [op for op in ops if op.role is role]
    return found


def texts(images: tuple[ImageArg, ...] | list[ImageArg]) -> list[tuple[ImageUse, str]]:
    return [(i.use, i.value.text) for i in images]


def outputs(writes: list[OutputWrite]) -> dict[str, DigestSource | None]:
    return {w.name: w.source for w in writes if w.target is WriteTarget.OUTPUT}


# --- keys --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uses", "key"),
    [
        ("docker/build-push-action@v6", "docker/build-push-action"),
        (
            "Docker/Build-Push-Action@263435318d21b8e681c14492fe198d362a7d2c83",
            "docker/build-push-action",
        ),
        ("actions/cache/restore@v4", "actions/cache/restore"),
        (" docker/login-action@v3 ", "docker/login-action"),
        ("https://github.com/docker/metadata-action@v5", "docker/metadata-action"),
        ("https://data.forgejo.org/docker/build-push-action@v6", "docker/build-push-action"),
        (
            "slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@v2.1.0",
            "slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml",
        ),
        ("docker://alpine:3.20", None),
        ("Docker://alpine", None),
        ("./.github/actions/build", None),
        ("../shared/action", None),
        ("${{ matrix.action }}", None),
        ("checkout", None),
    ],
)
def test_action_key(uses: str, key: str | None) -> None:
    assert action_key(uses) == key


def test_catalogue_is_well_formed() -> None:
    for key, spec in CATALOGUE.items():
        assert key == key.lower() == action_key(key + "@v1"), key
        assert spec.source, key
        assert spec.handler == "" or spec.handler in catalogue._HANDLERS, key
        for rule in spec.roles:
            for name in rule.images or ():
                assert name in spec.image_inputs or spec.handler, (key, name)


def test_unknown_local_and_docker_actions_are_opaque() -> None:
    doc = Doc(
        """
        - uses: someone/unknown-action@v1
        - uses: docker://alpine:3.20
        - uses: ./.github/actions/local
        - run: echo hi
        - uses: appleboy/ssh-action@v1
          with:
            script: docker pull ghcr.io/o/app:latest && docker compose up -d
        """
    )
    assert [step_facts(s, PATH) for s in doc.steps] == [None] * 5
    assert CATALOGUE["appleboy/ssh-action"].opaque


# --- docker/build-push-action ---------------------------------------------------------


BUILD_PUSH = """
- id: push
  uses: docker/build-push-action@v6
  with:
    context: ./app
    file: ./app/Dockerfile.prod
    platforms: linux/amd64,linux/arm64
    push: true
    provenance: mode=max
    tags: |
      ghcr.io/o/app:latest
      ghcr.io/o/app:${{ github.sha }}
      ghcr.io/o/app:1.2.3
"""


def test_build_push_action_push_roles_and_images() -> None:
    doc = Doc(BUILD_PUSH)
    ops, writes = doc.facts()
    assert roles(ops) == [Role.BUILD, Role.PUSH, Role.RECORD]
    build, push, record = ops
    assert build.span == doc.span("docker/build-push-action@v6")
    assert push.span == doc.span("true")  # where the push is decided
    assert build.push and push.push and not build.load
    assert build.provenance and record.provenance
    assert build.platforms == ("linux/amd64", "linux/arm64")
    assert build.context is not None and build.context.text == "./app"
    assert build.dockerfile is not None and build.dockerfile.text == "./app/Dockerfile.prod"
    assert texts(build.images) == [
        (ImageUse.TAG, "ghcr.io/o/app:latest"),
        (ImageUse.TAG, "ghcr.io/o/app:${{ github.sha }}"),
        (ImageUse.TAG, "ghcr.io/o/app:1.2.3"),
    ]
    assert push.images == build.images
    assert record.note == "BuildKit provenance attestation on the push"
    assert outputs(writes) == {
        "digest": DigestSource.BUILD_OUTPUT,
        "metadata": DigestSource.METADATA,
        "imageid": DigestSource.IMAGE_ID,
    }
    assert all(w.value is None for w in writes)
    assert writes[0].of_image == build.images[0].value


def test_build_push_action_tags_have_exact_spans() -> None:
    doc = Doc(BUILD_PUSH)
    ops, _ = doc.facts()
    latest, sha, release = ops[0].images
    assert latest.value.span == doc.span("ghcr.io/o/app:latest")
    assert sha.value.span == doc.span("ghcr.io/o/app:${{ github.sha }}")
    assert release.value.span == doc.span("ghcr.io/o/app:1.2.3")
    # the expression inside an item is its own piece, with its own span
    assert [p.kind for p in sha.value.pieces] == [PieceKind.LITERAL, PieceKind.EXPR]
    assert sha.value.pieces[1].span == doc.span("${{ github.sha }}")


def test_build_push_action_comma_separated_tags() -> None:
    doc = Doc(
        """
        - uses: docker/build-push-action@v6
          with:
            push: "true"
            tags: ghcr.io/o/app:sha-1, "ghcr.io/o/app:v2",${{ env.EXTRA_TAG }}
        """
    )
    ops, _ = doc.facts()
    assert roles(ops) == [Role.BUILD, Role.PUSH]
    assert texts(ops[0].images) == [
        (ImageUse.TAG, "ghcr.io/o/app:sha-1"),
        (ImageUse.TAG, "ghcr.io/o/app:v2"),
        (ImageUse.TAG, "${{ env.EXTRA_TAG }}"),
    ]
    spans = [i.value.span for i in ops[0].images]
    assert spans == [
        doc.span("ghcr.io/o/app:sha-1"),
        doc.span("ghcr.io/o/app:v2"),
        doc.span("${{ env.EXTRA_TAG }}"),
    ]


def test_build_push_action_push_from_expression_is_possible() -> None:
    doc = Doc(
        """
        - uses: docker/build-push-action@v6
          with:
            push: ${{ github.event_name != 'pull_request' }}
            tags: ${{ steps.meta.outputs.tags }}
        """
    )
    ops, _ = doc.facts()
    assert roles(ops) == [Role.BUILD, Role.PUSH]
    assert all(op.push for op in ops)
    assert all("push depends on an expression" in op.note for op in ops)
    # a whole-expression list is one value: it may expand to several tags at run time
    assert texts(ops[0].images) == [(ImageUse.TAG, "${{ steps.meta.outputs.tags }}")]


def test_build_push_action_load_only_is_not_a_push() -> None:
    doc = Doc(
        """
        - uses: docker/build-push-action@v6
          with:
            load: True
            provenance: true
            tags: app:test
        """
    )
    ops, _ = doc.facts()
    assert roles(ops) == [Role.BUILD]  # provenance without a push records nothing
    assert ops[0].load and not ops[0].push and not ops[0].provenance
    assert ops[0].context is not None and ops[0].context.text == "."  # Git context default


@pytest.mark.parametrize(
    ("extra", "recorded"),
    [
        ("provenance: false", False),
        ("provenance: 'true'", True),
        ("attests: type=provenance,mode=max", True),
        ("sbom: true", False),
    ],
)
def test_build_push_action_provenance_values(extra: str, recorded: bool) -> None:
    doc = Doc(
        f"""
        - uses: docker/build-push-action@v6
          with:
            push: true
            tags: ghcr.io/o/app:sha-1
            {extra}
        """
    )
    ops, _ = doc.facts()
    assert (Role.RECORD in roles(ops)) is recorded
    assert ops[0].provenance is recorded


BY_DIGEST = (
    'type=image,"name=${{ env.REGISTRY_IMAGE }}",push-by-digest=true,name-canonical=true,push=true'
)


def test_build_push_action_push_by_digest_outputs() -> None:
    doc = Doc(
        f"""
        - id: build
          uses: docker/build-push-action@v6
          with:
            platforms: ${{{{ matrix.platform }}}}
            outputs: {BY_DIGEST}
        """
    )
    ops, writes = doc.facts()
    assert roles(ops) == [Role.BUILD, Role.PUSH]
    build, push = ops
    assert push.span == doc.span(BY_DIGEST)
    assert build.push and build.push_by_digest
    assert build.platforms == ("${{ matrix.platform }}",)
    assert texts(build.images) == [(ImageUse.TAG, "${{ env.REGISTRY_IMAGE }}")]
    assert build.images[0].value.span == doc.span("${{ env.REGISTRY_IMAGE }}")
    assert writes[0].of_image == build.images[0].value


@pytest.mark.parametrize(
    ("outputs_value", "pushes", "loads"),
    [
        ("type=registry", True, False),
        ("type=image,name=ghcr.io/o/app,push=true", True, False),
        ("type=image,name=ghcr.io/o/app", False, False),
        ("type=docker", False, True),
        ("type=oci,dest=/tmp/app.tar", False, False),
    ],
)
def test_build_push_action_outputs_kinds(outputs_value: str, pushes: bool, loads: bool) -> None:
    doc = Doc(
        f"""
        - uses: docker/build-push-action@v6
          with:
            outputs: {outputs_value}
        """
    )
    ops, _ = doc.facts()
    assert (Role.PUSH in roles(ops)) is pushes
    assert ops[0].push is pushes
    assert ops[0].load is loads


@pytest.mark.parametrize(
    "action", ["depot/build-push-action@v1", "useblacksmith/build-push-action@v1"]
)
def test_build_push_action_lookalikes(action: str) -> None:
    doc = Doc(
        f"""
        - uses: {action}
          with:
            push: true
            tags: ghcr.io/o/app:sha-1
        """
    )
    ops, writes = doc.facts()
    assert roles(ops) == [Role.BUILD, Role.PUSH]
    assert outputs(writes)["digest"] is DigestSource.BUILD_OUTPUT


# --- docker/bake-action and docker/metadata-action ------------------------------------


def test_bake_action() -> None:
    doc = Doc(
        """
        - uses: docker/bake-action@v6
          with:
            targets: release
            push: true
        - uses: docker/bake-action@v6
          with:
            set: |
              *.output=type=registry
        - uses: docker/bake-action@v6
          with:
            load: true
        - uses: docker/bake-action@v6
          with:
            push: true
            set: |
              rpi.tags=${{ steps.setup.outputs.image-name }}-rpi
              *.cache-to=type=registry,ref=${{ steps.setup.outputs.cache-name }},mode=max
        - uses: docker/bake-action@v6
          with:
            set: |
              *.cache-from=type=gha,scope=e2e-${{ matrix.mode }}
        """
    )
    ops, writes = doc.facts(0)
    assert roles(ops) == [Role.BUILD, Role.PUSH]
    assert ops[0].push and ops[0].note == "images from the bake definition"
    assert outputs(writes) == {"metadata": DigestSource.METADATA}
    assert roles(doc.facts(1)[0]) == [Role.BUILD, Role.PUSH]
    loaded = doc.facts(2)[0]
    assert roles(loaded) == [Role.BUILD] and loaded[0].load
    tagged = doc.facts(3)[0][0]
    assert texts(tagged.images) == [(ImageUse.TAG, "${{ steps.setup.outputs.image-name }}-rpi")]
    assert tagged.images[0].value.span == doc.span("${{ steps.setup.outputs.image-name }}-rpi")
    # an expression inside a cache setting says nothing about pushing or loading
    cached = doc.facts(4)[0]
    assert roles(cached) == [Role.BUILD] and not cached[0].push and not cached[0].load
    assert cached[0].note == "images from the bake definition"


def test_metadata_action_names_and_tag_outputs() -> None:
    doc = Doc(
        """
        - id: meta
          uses: docker/metadata-action@v5
          with:
            images: |
              ghcr.io/o/app
              name=docker.io/o/app,enable=${{ github.event_name == 'push' }}
            tags: |
              type=semver,pattern={{version}}
              type=sha
        """
    )
    ops, writes = doc.facts()
    assert ops == []
    assert set(outputs(writes)) >= {"tags", "tag-names", "json", "version", "labels", "annotations"}
    assert set(outputs(writes).values()) == {DigestSource.TAG}
    names = loose_images(doc.steps[0], PATH)
    assert texts(names) == [(ImageUse.TAG, "ghcr.io/o/app"), (ImageUse.TAG, "docker.io/o/app")]
    assert names[1].value.span == doc.span("docker.io/o/app")


@pytest.mark.parametrize(
    "uses",
    [
        "docker/login-action@v3",
        "docker/setup-buildx-action@v3",
        "docker/setup-qemu-action@v3",
        "docker/setup-docker-action@v4",
        "sigstore/cosign-installer@v3",
        "sigstore/gh-action-sigstore-python@v3",
        "ko-build/setup-ko@v0.9",
        "imjasonh/setup-crane@v0.4",
        "helm/kind-action@v1",
        "azure/setup-helm@v4",
        "Azure/login@v2",
        "softprops/action-gh-release@v2",
        "google-github-actions/get-gke-credentials@v2",
        "google-github-actions/auth@v2",
        "aws-actions/amazon-ecr-login@v2",
        "slsa-framework/slsa-verifier/actions/installer@v2.6.0",
        "crazy-max/ghaction-setup-docker@v3",
        "actions/checkout@v4",
        "actions/cache/restore@v4",
    ],
)
def test_actions_without_a_role(uses: str) -> None:
    doc = Doc(
        f"""
        - uses: {uses}
          with:
            registry: ghcr.io
        """
    )
    assert doc.facts() == ([], [])
    assert loose_images(doc.steps[0], PATH) == []


# --- redhat-actions -------------------------------------------------------------------


def test_buildah_build_names_combine_image_and_tags() -> None:
    doc = Doc(
        """
        - id: build
          uses: redhat-actions/buildah-build@v2
          with:
            image: quay.io/o/app
            tags: latest ${{ github.sha }} quay.io/o/other:v1
            base-image: registry.access.redhat.com/ubi9/ubi:latest
            containerfiles: ./Containerfile
        """
    )
    ops, writes = doc.facts()
    assert roles(ops) == [Role.BUILD]
    (build,) = ops
    assert not build.push and build.load
    assert texts(build.images) == [
        (ImageUse.BASE, "registry.access.redhat.com/ubi9/ubi:latest"),
        (ImageUse.TAG, "quay.io/o/app:latest"),
        (ImageUse.TAG, "quay.io/o/app:${{ github.sha }}"),
        (ImageUse.TAG, "quay.io/o/other:v1"),  # a fully qualified tag stands alone
    ]
    sha = build.images[2].value
    assert sha.span == doc.span("${{ github.sha }}")  # the varying part: the tag
    assert sha.pieces[0].span == doc.span("quay.io/o/app")
    assert build.dockerfile is not None and build.dockerfile.text == "./Containerfile"
    assert outputs(writes) == {
        "image": DigestSource.TAG,
        "tags": DigestSource.TAG,
        "image-with-tag": DigestSource.TAG,
    }


def test_push_to_registry_names_digest_and_digestfile() -> None:
    doc = Doc(
        """
        - id: push
          uses: redhat-actions/push-to-registry@v2
          with:
            image: ${{ steps.build.outputs.image }}
            tags: ${{ steps.build.outputs.tags }}
            registry: quay.io/o
            digestfile: /tmp/digest
        - uses: redhat-actions/push-to-registry@v2
          with:
            image: app
        """
    )
    ops, writes = doc.facts()
    assert roles(ops) == [Role.PUSH]
    (push,) = ops
    assert push.push
    assert texts(push.images) == [
        (
            ImageUse.PUSH,
            "quay.io/o/${{ steps.build.outputs.image }}:${{ steps.build.outputs.tags }}",
        )
    ]
    assert push.digest_file is not None and push.digest_file.text == "/tmp/digest"
    assert outputs(writes) == {
        "digest": DigestSource.BUILD_OUTPUT,
        "registry-path": DigestSource.TAG,
        "registry-paths": DigestSource.TAG,
    }
    (file_write,) = [w for w in writes if w.target is WriteTarget.FILE]
    assert file_write.name == "/tmp/digest" and file_write.source is DigestSource.DIGEST_FILE
    assert file_write.span == doc.span("/tmp/digest")
    default_tag = doc.facts(1)[0][0]
    assert texts(default_tag.images) == [(ImageUse.PUSH, "app:latest")]


# --- other builders -------------------------------------------------------------------


def test_mr_smithers_docker_build_push() -> None:
    doc = Doc(
        """
        - uses: mr-smithers-excellent/docker-build-push@v6
          with:
            image: o/app
            registry: ghcr.io
            tags: v1, latest
            dockerfile: build/Dockerfile
        - uses: mr-smithers-excellent/docker-build-push@v6
          with:
            image: o/app
            registry: docker.io
            pushImage: false
        """
    )
    ops, writes = doc.facts(0)
    assert roles(ops) == [Role.BUILD, Role.PUSH]
    assert texts(ops[0].images) == [
        (ImageUse.TAG, "ghcr.io/o/app:v1"),
        (ImageUse.TAG, "ghcr.io/o/app:latest"),
    ]
    assert ops[0].images[1].value.span == doc.span("latest", 1)
    assert outputs(writes)["imageFullName"] is DigestSource.TAG
    local, _ = doc.facts(1)
    assert roles(local) == [Role.BUILD] and "tags generated from git" in local[0].note


def test_elgohr_publish_docker() -> None:
    doc = Doc(
        """
        - uses: elgohr/Publish-Docker-Github-Action@v5
          with:
            name: o/app
            registry: ghcr.io
            tags: "latest,${{ github.sha }}"
        - uses: elgohr/Publish-Docker-Github-Action@v5
          with:
            name: ghcr.io/o/app
            registry: ghcr.io
            no_push: true
        """
    )
    ops, writes = doc.facts(0)
    assert roles(ops) == [Role.BUILD, Role.PUSH]
    assert texts(ops[0].images) == [
        (ImageUse.TAG, "ghcr.io/o/app:latest"),
        (ImageUse.TAG, "ghcr.io/o/app:${{ github.sha }}"),
    ]
    assert outputs(writes)["digest"] is DigestSource.READ_BACK
    local, _ = doc.facts(1)
    assert roles(local) == [Role.BUILD]
    assert texts(local[0].images) == [(ImageUse.TAG, "ghcr.io/o/app")]  # registry not doubled


@pytest.mark.parametrize(
    ("with_", "expected"),
    [
        ("args: release --clean", [Role.BUILD, Role.PUSH]),
        ("version: '~> v2'", [Role.BUILD, Role.PUSH]),  # no args: `goreleaser release`
        ("args: release --snapshot --clean", [Role.BUILD]),
        ("args: build --single-target", [Role.BUILD]),
        ("install-only: true", []),
    ],
)
def test_goreleaser(with_: str, expected: list[Role]) -> None:
    doc = Doc(
        f"""
        - uses: goreleaser/goreleaser-action@v6
          with:
            {with_}
        """
    )
    ops, _ = doc.facts()
    assert roles(ops) == expected
    for op in ops:
        assert op.note.startswith("goreleaser: dockers from .goreleaser.yml")
        assert op.images == ()


# --- provenance -----------------------------------------------------------------------


@pytest.mark.parametrize("action", ["actions/attest-build-provenance@v2", "actions/attest@v2"])
def test_attest_by_digest_records_the_image(action: str) -> None:
    doc = Doc(
        f"""
        - uses: {action}
          with:
            subject-name: ghcr.io/${{{{ github.repository }}}}
            subject-digest: ${{{{ steps.push.outputs.digest }}}}
            push-to-registry: true
        """
    )
    ops, writes = doc.facts()
    assert writes == []
    (record,) = ops
    assert record.role is Role.RECORD
    assert record.span == doc.span("${{ steps.push.outputs.digest }}")
    assert texts(record.images) == [
        (ImageUse.SUBJECT, "ghcr.io/${{ github.repository }}@${{ steps.push.outputs.digest }}")
    ]
    assert record.images[0].value.span == doc.span("${{ steps.push.outputs.digest }}")
    assert "attestation pushed to the registry" in record.note


def test_attest_by_path_records_files_only() -> None:
    doc = Doc(
        """
        - uses: actions/attest-build-provenance@v2
          with:
            subject-path: dist/*
        """
    )
    ops, _ = doc.facts()
    (record,) = ops
    assert record.role is Role.RECORD and record.images == ()
    assert record.note == "attests files (subject-path), not an image digest"


def test_digestgate_action_record_and_verify() -> None:
    doc = Doc(
        """
        - uses: digestgate/digestgate@v1
          with:
            command: record
            images: |
              ghcr.io/o/app@${{ needs.build.outputs.digest }}
        - uses: digestgate/digestgate@v1
          with:
            command: verify
            images: ghcr.io/o/app@${{ needs.build.outputs.digest }}
        """
    )
    record = doc.facts(0)[0]
    assert roles(record) == [Role.RECORD]
    assert texts(record[0].images) == [
        (ImageUse.SUBJECT, "ghcr.io/o/app@${{ needs.build.outputs.digest }}")
    ]
    verify = doc.facts(1)[0]
    assert roles(verify) == [Role.VERIFY]
    assert verify[0].images[0].use is ImageUse.INPUT


# --- artifacts ------------------------------------------------------------------------


def test_upload_artifact_writes_files_into_a_named_artifact() -> None:
    doc = Doc(
        """
        - uses: actions/upload-artifact@v4
          with:
            name: digests-${{ matrix.platform }}
            path: |
              /tmp/digests/*
              !/tmp/digests/*.log
        - uses: actions/upload-artifact@v4
          with:
            path: record.json
        """
    )
    ops, writes = doc.facts(0)
    assert ops == []
    (write,) = writes
    assert write.target is WriteTarget.FILE
    assert write.name == "artifact:digests-${{ matrix.platform }}"
    assert write.value is not None and write.value.text == "/tmp/digests/*"
    assert write.span == doc.span("/tmp/digests/*")
    (unnamed,) = doc.facts(1)[1]
    assert unnamed.name == "artifact:artifact"
    io = artifact_io(doc.steps[0], PATH)
    assert io is not None and io.upload and [p.text for p in io.paths] == ["/tmp/digests/*"]


def test_download_artifact_same_run_and_other_run_are_told_apart() -> None:
    doc = Doc(
        """
        - uses: actions/download-artifact@v4
          with:
            pattern: digests-*
            path: /tmp/digests
            merge-multiple: true
        - uses: actions/download-artifact@v4
          with:
            name: provenance
            run-id: ${{ github.event.workflow_run.id }}
            github-token: ${{ github.token }}
        - uses: actions/download-artifact@v4
          with:
            name: provenance
            run-id: ${{ github.run_id }}
        """
    )
    ops, (same,) = doc.facts(0)
    assert ops == []
    assert same.target is WriteTarget.FILE and same.name == "/tmp/digests"
    assert same.value is not None and same.value.text == "artifact:digests-*"
    (other,) = doc.facts(1)[1]
    assert other.name == "."
    assert other.value is not None
    assert other.value.text == "artifact-run:${{ github.event.workflow_run.id }}:provenance"
    io_same, io_other, io_this = (artifact_io(s, PATH) for s in doc.steps)
    assert io_same is not None and not io_same.external and io_same.merge_multiple
    assert io_same.pattern is not None and io_same.pattern.text == "digests-*"
    assert io_other is not None and io_other.external
    assert io_other.run_id is not None
    assert io_other.run_id.text == "${{ github.event.workflow_run.id }}"
    assert io_this is not None and not io_this.external  # this run, said explicitly


# --- promotion ------------------------------------------------------------------------


def test_tag_push_action_promotes() -> None:
    doc = Doc(
        """
        - uses: akhilerm/tag-push-action@v2.2.0
          with:
            src: ghcr.io/o/app:${{ github.sha }}
            dst: |
              ghcr.io/o/app:latest
              docker.io/o/app:latest
        """
    )
    ops, _ = doc.facts()
    (promote,) = ops
    assert promote.role is Role.PROMOTE and promote.push
    assert texts(promote.images) == [
        (ImageUse.COPY_SOURCE, "ghcr.io/o/app:${{ github.sha }}"),
        (ImageUse.COPY_TARGET, "ghcr.io/o/app:latest"),
        (ImageUse.COPY_TARGET, "docker.io/o/app:latest"),
    ]
    assert promote.images[2].value.span == doc.span("docker.io/o/app:latest")


def test_docker_manifest_create_action() -> None:
    doc = Doc(
        """
        - id: build
          uses: int128/docker-manifest-create-action@v2
          with:
            tags: ${{ steps.metadata.outputs.tags }}
            sources: |
              ghcr.io/${{ github.repository }}@${{ needs.build-amd64.outputs.digest }}
              ghcr.io/${{ github.repository }}@${{ needs.build-arm64.outputs.digest }}
        - uses: int128/docker-manifest-create-action@v2
          with:
            push: false
            sources: ghcr.io/o/app@${{ needs.build.outputs.digest }}
        - uses: int128/docker-manifest-create-action@v1
          with:
            tags: ghcr.io/o/app:v1
            suffixes: |
              -linux-amd64
              -linux-arm64
        """
    )
    ops, writes = doc.facts(0)
    (promote,) = ops
    assert promote.role is Role.PROMOTE and promote.push and promote.index_assembly
    assert [i.use for i in promote.images] == [
        ImageUse.COPY_SOURCE,
        ImageUse.COPY_SOURCE,
        ImageUse.COPY_TARGET,
    ]
    assert promote.images[1].value.span == doc.span(
        "ghcr.io/${{ github.repository }}@${{ needs.build-arm64.outputs.digest }}"
    )
    assert outputs(writes) == {"digest": DigestSource.BUILD_OUTPUT}
    assert doc.facts(1)[0] == []  # a dry run
    v1 = doc.facts(2)[0][0]
    assert texts(v1.references()) == [
        (ImageUse.COPY_SOURCE, "ghcr.io/o/app:v1-linux-amd64"),
        (ImageUse.COPY_SOURCE, "ghcr.io/o/app:v1-linux-arm64"),
    ]
    assert v1.references()[1].value.span == doc.span("-linux-arm64")


# --- deployment -----------------------------------------------------------------------


def test_deploy_cloudrun() -> None:
    doc = Doc(
        """
        - uses: google-github-actions/deploy-cloudrun@v2
          with:
            service: app
            image: us-docker.pkg.dev/p/r/app@${{ needs.build.outputs.digest }}
        - uses: google-github-actions/deploy-cloudrun@v2
          with:
            service: app
            source: ./
        """
    )
    ops, _ = doc.facts(0)
    (deploy,) = ops
    assert deploy.role is Role.DEPLOY
    assert texts(deploy.images) == [
        (ImageUse.DEPLOY, "us-docker.pkg.dev/p/r/app@${{ needs.build.outputs.digest }}")
    ]
    from_source, _ = doc.facts(1)
    assert roles(from_source) == [Role.DEPLOY, Role.BUILD, Role.PUSH]
    build = op_of(from_source, Role.BUILD)
    assert build.note == "deploys from source: Cloud Build builds the image"
    assert build.context is not None and build.context.text == "./"


def test_ecs_render_and_deploy_task_definition() -> None:
    doc = Doc(
        """
        - id: render
          uses: aws-actions/amazon-ecs-render-task-definition@v1
          with:
            task-definition: task-definition.json
            container-name: app
            image: ${{ steps.login.outputs.registry }}/app:${{ github.sha }}
        - uses: aws-actions/amazon-ecs-deploy-task-definition@v2
          with:
            task-definition: ${{ steps.render.outputs.task-definition }}
            service: app
            cluster: prod
        """
    )
    ops, writes = doc.facts(0)
    (render,) = ops
    assert render.role is Role.DEPLOY
    assert texts(render.images) == [
        (ImageUse.DEPLOY, "${{ steps.login.outputs.registry }}/app:${{ github.sha }}")
    ]
    (task,) = writes
    assert task.name == "task-definition" and task.source is None
    assert task.of_image == render.images[0].value
    deploy, writes = doc.facts(1)
    assert roles(deploy) == [Role.DEPLOY] and writes == []
    assert deploy[0].note == "image from the task-definition file"


def test_azure_webapps_deploy() -> None:
    doc = Doc(
        """
        - uses: azure/webapps-deploy@v3
          with:
            app-name: app
            images: |
              myregistry.azurecr.io/app:${{ github.sha }}
              myregistry.azurecr.io/sidecar@sha256:1111111111111111111111111111111111111111111111111111111111111111
        - uses: azure/webapps-deploy@v3
          with:
            app-name: app
            package: dist/app.zip
        """
    )
    ops, _ = doc.facts(0)
    (deploy,) = ops
    assert [i.use for i in deploy.images] == [ImageUse.DEPLOY, ImageUse.DEPLOY]
    assert deploy.images[0].value.span == doc.span("myregistry.azurecr.io/app:${{ github.sha }}")
    assert doc.facts(1)[0] == []  # a package, not an image


def test_azure_k8s_deploy_multiline_images() -> None:
    doc = Doc(
        """
        - uses: Azure/k8s-deploy@v5
          with:
            manifests: k8s/
            images: |
              ghcr.io/o/api:${{ github.sha }}
              ghcr.io/o/web:${{ github.sha }}
        """
    )
    ops, _ = doc.facts()
    (deploy,) = ops
    assert deploy.role is Role.DEPLOY
    assert texts(deploy.images) == [
        (ImageUse.DEPLOY, "ghcr.io/o/api:${{ github.sha }}"),
        (ImageUse.DEPLOY, "ghcr.io/o/web:${{ github.sha }}"),
    ]
    assert deploy.images[1].value.span == doc.span("ghcr.io/o/web:${{ github.sha }}")


def test_container_apps_deploy() -> None:
    doc = Doc(
        """
        - uses: azure/container-apps-deploy-action@v2
          with:
            imageToDeploy: myacr.azurecr.io/app@${{ needs.build.outputs.digest }}
            containerAppName: app
        - uses: azure/container-apps-deploy-action@v2
          with:
            appSourcePath: ${{ github.workspace }}/src
            acrName: myacr
            imageToBuild: myacr.azurecr.io/app:${{ github.sha }}
        """
    )
    deploy_only, _ = doc.facts(0)
    assert roles(deploy_only) == [Role.DEPLOY]
    assert deploy_only[0].images[0].use is ImageUse.DEPLOY
    built, _ = doc.facts(1)
    assert roles(built) == [Role.DEPLOY, Role.BUILD, Role.PUSH]
    assert texts(op_of(built, Role.PUSH).images) == [
        (ImageUse.TAG, "myacr.azurecr.io/app:${{ github.sha }}")
    ]
    assert "deploys the image it builds" in built[0].note


def test_actions_hub_kubectl_set_image() -> None:
    doc = Doc(
        """
        - uses: actions-hub/kubectl@master
          with:
            args: set image deployment/app app=ghcr.io/o/app:${{ github.sha }} --record
        - uses: actions-hub/kubectl@master
          with:
            args: apply -f k8s/
        - uses: actions-hub/kubectl@master
          with:
            args: get pods
        """
    )
    ops, _ = doc.facts(0)
    (deploy,) = ops
    assert deploy.role is Role.DEPLOY
    assert texts(deploy.images) == [(ImageUse.DEPLOY, "ghcr.io/o/app:${{ github.sha }}")]
    assert deploy.images[0].value.span == doc.span("ghcr.io/o/app:${{ github.sha }}")
    assert roles(doc.facts(1)[0]) == [Role.DEPLOY]
    assert doc.facts(2)[0] == []


# --- validation -----------------------------------------------------------------------


def test_trivy_action() -> None:
    doc = Doc(
        """
        - uses: aquasecurity/trivy-action@0.28.0
          with:
            image-ref: ghcr.io/o/app@${{ needs.build.outputs.digest }}
            format: sarif
        - uses: aquasecurity/trivy-action@0.28.0
          with:
            image-ref: ghcr.io/o/app:${{ github.sha }}
            scan-type: image
            exit-code: '1'
        - uses: aquasecurity/trivy-action@0.28.0
          with:
            scan-type: fs
            scan-ref: .
            exit-code: 1
        """
    )
    ops, _ = doc.facts(0)
    (scan,) = ops
    assert scan.role is Role.VALIDATE
    assert texts(scan.images) == [
        (ImageUse.SCAN, "ghcr.io/o/app@${{ needs.build.outputs.digest }}")
    ]
    assert not scan.can_fail  # exit-code defaults to 0: findings never fail the step
    failing = doc.facts(1)[0][0]
    assert failing.can_fail and failing.images[0].use is ImageUse.SCAN
    source = doc.facts(2)[0][0]
    assert source.role is Role.VALIDATE and source.images == () and source.note == "source"


def test_anchore_scan_and_sbom() -> None:
    doc = Doc(
        """
        - uses: anchore/scan-action@v6
          with:
            image: ghcr.io/o/app:${{ github.sha }}
            fail-build: true
        - uses: anchore/sbom-action@v0
          with:
            image: ghcr.io/o/app:${{ github.sha }}
        """
    )
    scan = doc.facts(0)[0]
    assert roles(scan) == [Role.VALIDATE] and scan[0].can_fail
    assert texts(scan[0].images) == [(ImageUse.SCAN, "ghcr.io/o/app:${{ github.sha }}")]
    assert doc.facts(1) == ([], [])
    assert texts(loose_images(doc.steps[1], PATH)) == [
        (ImageUse.INPUT, "ghcr.io/o/app:${{ github.sha }}")
    ]


def test_scout_and_container_scan() -> None:
    doc = Doc(
        """
        - uses: docker/scout-action@v1
          with:
            command: cves,recommendations
            image: ghcr.io/o/app:pr-1
            exit-code: true
        - uses: docker/scout-action@v1
          with:
            command: sbom
            image: ghcr.io/o/app:pr-1
        - uses: crazy-max/ghaction-container-scan@v3
          with:
            image: ghcr.io/o/app:pr-1
        """
    )
    scout = doc.facts(0)[0]
    assert roles(scout) == [Role.VALIDATE] and scout[0].can_fail
    assert scout[0].images[0].use is ImageUse.SCAN
    assert doc.facts(1)[0] == []
    container_scan = doc.facts(2)[0]
    assert roles(container_scan) == [Role.VALIDATE] and not container_scan[0].can_fail


# --- wrappers and gates ---------------------------------------------------------------


def test_retry_wrappers_expose_their_command() -> None:
    doc = Doc(
        """
        - uses: nick-fields/retry@v3
          with:
            timeout_minutes: 10
            max_attempts: 3
            command: docker push ghcr.io/o/app:latest
        - uses: nick-invision/retry@v2
          with:
            timeout_minutes: 5
            max_attempts: 2
            shell: pwsh
            command: ./push.ps1
        - uses: Wandalen/wretry.action@v3
          with:
            command: npm test
        - uses: Wandalen/wretry.action@v3
          with:
            action: docker/build-push-action@v6
            with: |
              push: true
        - uses: docker/login-action@v3
        """
    )
    first = wrapped_command(doc.steps[0])
    assert first is not None and first.value == "docker push ghcr.io/o/app:latest"
    assert first.span == doc.span("docker push ghcr.io/o/app:latest")
    assert wrapped_shell(doc.steps[0]) == "bash"
    second = wrapped_command(doc.steps[1])
    assert second is not None and second.value == "./push.ps1"
    assert wrapped_shell(doc.steps[1]) == "pwsh"
    third = wrapped_command(doc.steps[2])
    assert third is not None and third.value == "npm test"
    assert doc.facts(0) == ([], [])
    assert step_facts(doc.steps[3], PATH) is None  # wraps an action given as text: opaque
    assert wrapped_command(doc.steps[4]) is None


def test_alls_green_is_a_needs_gate() -> None:
    doc = Doc(
        """
        - uses: re-actors/alls-green@release/v1
          with:
            jobs: ${{ toJSON(needs) }}
            allowed-failures: docs
        - uses: re-actors/alls-green@release/v1
          with:
            jobs: '{}'
        - run: exit 0
        """
    )
    assert is_needs_gate(doc.steps[0])
    gate = needs_gate(doc.steps[0])
    assert gate is not None and gate.allowed_failures is not None
    assert gate.allowed_failures.value == "docs"
    assert not is_needs_gate(doc.steps[1])
    assert not is_needs_gate(doc.steps[2])
    assert doc.facts(0) == ([], [])


# --- reusable workflows ---------------------------------------------------------------


def _job_call(text: str) -> tuple[list[Operation] | None, Workflow]:
    workflow = _build(inspect.cleandoc(text) + "\n")
    job = workflow.jobs["call"]
    assert job.uses is not None
    return reusable_job_facts(job.uses.value, job.with_, PATH, job.uses.span), workflow


SLSA = "slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml"


def test_slsa_container_generator_records_image_at_digest() -> None:
    text = f"""
        on: push
        jobs:
          call:
            needs: [build]
            uses: {SLSA}@v2.1.0
            with:
              image: ghcr.io/o/app
              digest: ${{{{ needs.build.outputs.digest }}}}
              registry-username: ${{{{ github.actor }}}}
    """
    ops, _ = _job_call(text)
    assert ops is not None
    (record,) = ops
    assert record.role is Role.RECORD
    assert texts(record.images) == [
        (ImageUse.SUBJECT, "ghcr.io/o/app@${{ needs.build.outputs.digest }}")
    ]
    doc_text = inspect.cleandoc(text)
    line = doc_text.splitlines().index("      digest: ${{ needs.build.outputs.digest }}") + 1
    assert record.images[0].value.span == Span(line, 15, line, 48)
    # not a step action
    step = Step(index=0, span=record.span, uses=None)
    assert step_facts(step, PATH) is None


def test_github_builder_reusable_workflow() -> None:
    ops, _ = _job_call(
        """
        on: push
        jobs:
          call:
            uses: docker/github-builder/.github/workflows/build.yml@v1
            with:
              output: image
              push: ${{ github.event_name != 'pull_request' }}
              platforms: linux/amd64,linux/arm64
              meta-images: name/app
        """
    )
    assert ops is not None
    assert roles(ops) == [Role.BUILD, Role.PUSH, Role.RECORD]
    assert all(op.push and op.provenance for op in ops)
    assert "push depends on an expression" in ops[0].note
    assert texts(ops[0].images) == [(ImageUse.TAG, "name/app")]
    assert ops[0].platforms == ("linux/amd64", "linux/arm64")
    not_known, _ = _job_call(
        """
        on: push
        jobs:
          call:
            uses: o/r/.github/workflows/x.yml@v1
        """
    )
    assert not_known is None


def test_input_names_are_case_insensitive() -> None:
    doc = Doc(
        """
        - uses: docker/build-push-action@v6
          with:
            Push: TRUE
            Tags: ghcr.io/o/app:sha-1
        """
    )
    ops, _ = doc.facts()
    assert roles(ops) == [Role.BUILD, Role.PUSH]
    assert texts(ops[0].images) == [(ImageUse.TAG, "ghcr.io/o/app:sha-1")]
