"""The catalogue of well-known actions: what a remote `uses:` step does, as data.

Remote actions are never fetched (RULES.md, "What is read"). Their behaviour comes
from `CATALOGUE`, one `ActionSpec` per action, keyed by `owner/repo[/path]` in lower
case and independent of the version (`action_key`). Each entry cites the action.yml or
README its facts come from. An action that is not in the catalogue is *opaque*:
`step_facts` returns None for it.

What a step using a known action becomes (`step_facts`):

* one `Operation` per role the step has with its inputs (a `docker/build-push-action`
  step with `push: true` has a BUILD and a PUSH operation, both with `push=True` and
  the same images; rules that look at both dedupe by the image's span). An operation
  is located at the input that decides it when there is one (`push:`, `subject-digest:`),
  else at the `uses:` value;
* images come from the step's `with:` values through `value_of_text`; an input that
  holds several images (`tags: |`, comma lists, `images:`) gives one `ImageArg` per
  item, each with the exact span of its item. Images that several inputs make
  together (`registry` + `image` + `tags` of `redhat-actions/push-to-registry`,
  `subject-name` + `subject-digest` of an attestation) are one `Value` whose pieces
  keep their own spans; its span is that of the item that varies (the tag, the digest);
* a boolean input is true when it is `true` in any case (GitHub passes strings); an
  expression makes it unknown, and a role that depends on it is kept as *possible*
  with the note "<role> depends on an expression" (a push that may happen is a push);
* one `OutputWrite(target=OUTPUT, name=<output>, value=None)` per output whose
  content is known: a digest (`BUILD_OUTPUT`, `METADATA` for buildx metadata JSON,
  `READ_BACK` for a repo digest read back), tags (`TAG`), a local image ID
  (`IMAGE_ID`), or `source=None` for an output that is a file path carrying the image
  (`amazon-ecs-render-task-definition` `task-definition`); `of_image` is the first
  image the step names (else the first it consumes). A `digest` output of a build that
  does not push names no registry image: check the operation's `push`.

Images a step names or consumes outside any role (`docker/metadata-action` `images:`
names, `anchore/sbom-action` `image:`) are not in an `Operation` (every operation has a
role): `loose_images` returns them.

A RECORD operation with no images records files, not an image digest (an attestation
by `subject-path`/`subject-checksums`); only one whose images carry a digest persists
digest provenance.

Artifacts are not a role. They are `OutputWrite`s with `target=FILE`:

* upload (`actions/upload-artifact`): one write per `path:` line (exclusions `!x`
  skipped): `name="artifact:<name as written>"` (`artifact` when unnamed),
  `value=<that path line>`: "artifact <name> now holds this file";
* download (`actions/download-artifact`): one write with `name=<path input as
  written>` (`.` when absent: the workspace) and `value` = the literal `artifact:`
  followed by the `name` (or `pattern`) pieces, or, for an artifact of another run,
  `artifact-run:` + the `run-id` pieces + `:` + the name pieces (another repository:
  `artifact-repo:` + `repository` + `:` + name): "these files now hold that artifact".
  The typed view of both is `artifact_io`.

Other entry points: `reusable_job_facts` for well-known reusable workflows called as a
job (`slsa-framework/slsa-github-generator` container generator, `docker/github-builder`);
`wrapped_command` for retry wrappers whose input is a shell command (`nick-fields/retry`
`command`, analysed by the caller as a script; `wrapped_shell` says which shell);
`needs_gate` / `is_needs_gate` for `re-actors/alls-green`, which fails its job unless
every needed job succeeded (a step gate for DG302).

`digestgate/digestgate` is this project's own action for the runtime check: its
`command` input (`record` or `verify`) makes it RECORD or VERIFY. The runtime action
ships later; the entry describes the inputs it will take.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from types import MappingProxyType
from typing import TypeAlias

from digestgate.expressions import find_placeholders, is_whole_expression
from digestgate.facts import (
    DigestSource,
    ImageArg,
    ImageUse,
    Operation,
    OutputWrite,
    Piece,
    PieceKind,
    Role,
    Value,
    WriteTarget,
    value_of_text,
)
from digestgate.model import Step, Text
from digestgate.span import Span

# --- the data ------------------------------------------------------------------------


class Test(str, Enum):
    """How a condition reads an input (values are compared in lower case)."""

    TRUE = "true"  # a boolean input that is true
    SET = "set"  # given and not empty
    UNSET = "unset"
    IN = "in"  # equal to one of `values`
    NOT_IN = "not-in"
    CONTAINS = "contains"  # holds one of `values`
    REGISTRY_OUTPUT = "registry-output"  # a buildx `outputs` list that pushes to a registry
    PUSH_BY_DIGEST = "push-by-digest"  # a buildx `outputs` list with push-by-digest=true
    DOCKER_OUTPUT = "docker-output"  # a buildx `outputs` list that loads (type=docker)


@dataclass(frozen=True)
class Cond:
    """A condition on one input; `default` is the action's default for it."""

    input: str
    test: Test = Test.TRUE
    values: tuple[str, ...] = ()
    default: str = ""


@dataclass(frozen=True)
class RoleRule:
    """The step has `role` when any `when` holds (always, if none), every `require`
    holds, and no `unless` holds. `images` names the image inputs (or handler keys)
    whose images the operation carries (None: all); `use` overrides their use."""

    role: Role
    when: tuple[Cond, ...] = ()
    require: tuple[Cond, ...] = ()
    unless: tuple[Cond, ...] = ()
    images: tuple[str, ...] | None = None
    use: ImageUse | None = None
    requires_push: bool = False  # only when the step pushes (BuildKit provenance)
    note: str = ""


class Split(str, Enum):
    """How an input holding several images is cut into items."""

    ONE = "one"  # the whole value is one image
    LINES = "lines"  # one per line
    LIST = "list"  # newline- or comma-separated (docker actions-toolkit getInputList)
    WORDS = "words"  # whitespace-separated (redhat-actions)
    OUTPUTS = "outputs"  # the `name=` values of a buildx `--output` list
    META_IMAGES = "meta-images"  # docker/metadata-action `images`: a line, or `name=` of it
    BAKE_SET_TAGS = "bake-set-tags"  # docker/bake-action `set`: values of `<target>.tags=`


@dataclass(frozen=True)
class ActionSpec:
    """What a well-known action does, as a function of its inputs."""

    source: str  # where the facts come from (URL or owner/repo/path@commit)
    roles: tuple[RoleRule, ...] = ()
    image_inputs: Mapping[str, ImageUse] = field(default_factory=dict)  # input -> use
    list_inputs: Mapping[str, Split] = field(default_factory=dict)  # inputs holding several images
    # an image input that counts only when its condition can hold (trivy: scan-type image)
    image_when: Mapping[str, Cond] = field(default_factory=dict)
    digest_outputs: Mapping[str, DigestSource] = field(default_factory=dict)
    file_outputs: tuple[str, ...] = ()  # outputs that are paths of files carrying the image
    context_inputs: tuple[str, ...] = ()  # the first one given is the build context
    context_default: str | None = None
    dockerfile_inputs: tuple[str, ...] = ()
    platforms_input: str | None = None
    load: tuple[Cond, ...] = ()  # any: the build is loaded into the local image store
    provenance: tuple[Cond, ...] = ()  # any: BuildKit provenance explicitly requested
    push_by_digest: Cond | None = None
    can_fail: Cond | None = None  # None: the step fails when its check fails
    notes: tuple[tuple[Cond, str], ...] = ()  # notes added when a condition holds
    handler: str = ""  # a function in _HANDLERS for what data cannot say
    command_input: str | None = None  # retry wrappers: the input holding a command
    shell_input: str | None = None
    needs_gate_input: str | None = None  # alls-green: the input given `toJSON(needs)`
    reusable: bool = False  # a reusable workflow, called as a job
    opaque: bool = False  # known, but what it does cannot be told from its inputs
    note: str = ""

    def __post_init__(self) -> None:
        # entries are written with dict literals: freeze them
        for name in ("image_inputs", "list_inputs", "image_when", "digest_outputs"):
            value = getattr(self, name)
            if isinstance(value, dict):
                object.__setattr__(self, name, MappingProxyType(value))


def _none(source: str, note: str = "") -> ActionSpec:
    """An action known to do nothing the rules care about (setup, login, ...)."""
    return ActionSpec(source=source, note=note)


_FALSE = ("false",)
_BUILDX_PROVENANCE = (
    Cond("provenance", Test.NOT_IN, ("false", ""), default=""),
    Cond("attests", Test.CONTAINS, ("type=provenance",)),
)


def _buildx_spec(source: str) -> ActionSpec:
    """docker/build-push-action and the actions that take the same inputs."""
    push = (Cond("push", Test.TRUE, default="false"), Cond("outputs", Test.REGISTRY_OUTPUT))
    return ActionSpec(
        source=source,
        roles=(
            RoleRule(Role.BUILD),
            RoleRule(Role.PUSH, when=push),
            RoleRule(
                Role.RECORD,
                when=_BUILDX_PROVENANCE,
                requires_push=True,
                note="BuildKit provenance attestation on the push",
            ),
        ),
        image_inputs={"tags": ImageUse.TAG, "outputs": ImageUse.TAG},
        list_inputs={"tags": Split.LIST, "outputs": Split.OUTPUTS},
        digest_outputs={
            "digest": DigestSource.BUILD_OUTPUT,
            "metadata": DigestSource.METADATA,
            "imageid": DigestSource.IMAGE_ID,
        },
        context_inputs=("context",),
        context_default=".",
        dockerfile_inputs=("file",),
        platforms_input="platforms",
        load=(Cond("load", Test.TRUE, default="false"), Cond("outputs", Test.DOCKER_OUTPUT)),
        provenance=_BUILDX_PROVENANCE,
        push_by_digest=Cond("outputs", Test.PUSH_BY_DIGEST),
    )


_GENERAL = (
    "actions/checkout",
    "actions/setup-python",
    "actions/setup-node",
    "actions/setup-go",
    "actions/setup-java",
    "actions/setup-dotnet",
    "actions/cache",
    "actions/cache/restore",
    "actions/cache/save",
    "astral-sh/setup-uv",
    "step-security/harden-runner",
    "swatinem/rust-cache",
    "dtolnay/rust-toolchain",
    "pnpm/action-setup",
)
_RETRY = "retry: the `command` input is a shell command, analysed as a script"
_GH = "https://github.com/"

CATALOGUE: Mapping[str, ActionSpec] = MappingProxyType(
    {
        # --- build and push ----------------------------------------------------------
        # docker/build-push-action action.yml @0259cb08 (inputs push, load, outputs,
        # provenance, attests, tags, context, file, platforms; outputs imageid, digest,
        # metadata); digest = metadata["containerimage.digest"] (PLATFORM.md 4.10)
        "docker/build-push-action": _buildx_spec("docker/build-push-action/action.yml@0259cb08"),
        # depot/build-push-action action.yml @2053cb7d: the same inputs and outputs
        "depot/build-push-action": _buildx_spec("depot/build-push-action/action.yml@2053cb7d"),
        # useblacksmith/build-push-action action.yml @527d67c3: a fork, same inputs/outputs
        "useblacksmith/build-push-action": _buildx_spec(
            "useblacksmith/build-push-action/action.yml@527d67c3"
        ),
        # docker/bake-action action.yml @c7c2c6ed: push, load, provenance, set, files,
        # targets, source; output metadata. Images come from the bake definition.
        "docker/bake-action": ActionSpec(
            source="docker/bake-action/action.yml@c7c2c6ed",
            roles=(
                RoleRule(Role.BUILD, note="images from the bake definition"),
                RoleRule(
                    Role.PUSH,
                    when=(
                        Cond("push", Test.TRUE, default="false"),
                        Cond("set", Test.CONTAINS, ("output=type=registry", "push=true")),
                    ),
                ),
                RoleRule(
                    Role.RECORD,
                    when=(
                        Cond("provenance", Test.NOT_IN, ("false", ""), default=""),
                        Cond("set", Test.CONTAINS, ("attest=type=provenance",)),
                    ),
                    requires_push=True,
                    note="BuildKit provenance attestation on the push",
                ),
            ),
            image_inputs={"set": ImageUse.TAG},
            list_inputs={"set": Split.BAKE_SET_TAGS},
            digest_outputs={"metadata": DigestSource.METADATA},
            context_inputs=("workdir", "source"),
            load=(
                Cond("load", Test.TRUE, default="false"),
                Cond("set", Test.CONTAINS, ("output=type=docker",)),
            ),
            provenance=(
                Cond("provenance", Test.NOT_IN, ("false", ""), default=""),
                Cond("set", Test.CONTAINS, ("attest=type=provenance",)),
            ),
        ),
        # redhat-actions/buildah-build action.yml @3ffbc5da: image, tags (whitespace-
        # separated, default latest; a tag may be a full name), containerfiles /
        # dockerfiles, context, base-image, platforms; outputs image, tags, image-with-tag
        "redhat-actions/buildah-build": ActionSpec(
            source="redhat-actions/buildah-build/action.yml@3ffbc5da",
            roles=(RoleRule(Role.BUILD, note="buildah: local image store"),),
            image_inputs={"base-image": ImageUse.BASE},
            digest_outputs={
                "image": DigestSource.TAG,
                "tags": DigestSource.TAG,
                "image-with-tag": DigestSource.TAG,
            },
            context_inputs=("context",),
            context_default=".",
            dockerfile_inputs=("containerfiles", "dockerfiles"),
            platforms_input="platforms",
            load=(Cond("image", Test.SET), Cond("tags", Test.SET)),
            handler="buildah_build",
        ),
        # redhat-actions/push-to-registry action.yml @9ba8e23c: image, tags (whitespace-
        # separated, default latest), registry, digestfile; outputs digest,
        # registry-path, registry-paths
        "redhat-actions/push-to-registry": ActionSpec(
            source="redhat-actions/push-to-registry/action.yml@9ba8e23c",
            roles=(RoleRule(Role.PUSH),),
            digest_outputs={
                "digest": DigestSource.BUILD_OUTPUT,
                "registry-path": DigestSource.TAG,
                "registry-paths": DigestSource.TAG,
            },
            handler="push_to_registry",
        ),
        # mr-smithers-excellent/docker-build-push action.yml @6387d358: image, registry,
        # tags (comma-separated; generated from git when absent), dockerfile, directory,
        # platform, pushImage (default true); outputs imageFullName, imageName, tags
        "mr-smithers-excellent/docker-build-push": ActionSpec(
            source="mr-smithers-excellent/docker-build-push/action.yml@6387d358",
            roles=(
                RoleRule(Role.BUILD),
                RoleRule(Role.PUSH, unless=(Cond("pushImage", Test.IN, _FALSE),)),
            ),
            digest_outputs={
                "imageFullName": DigestSource.TAG,
                "imageName": DigestSource.TAG,
                "tags": DigestSource.TAG,
            },
            context_inputs=("directory",),
            context_default=".",
            dockerfile_inputs=("dockerfile",),
            platforms_input="platform",
            handler="smithers",
        ),
        # elgohr/Publish-Docker-Github-Action action.yml @184d5f4b: name, registry, tags
        # (comma-separated), dockerfile, context, workdir, no_push; outputs tag,
        # snapshot-tag, digest (the pushed image's repo digest, read back)
        "elgohr/publish-docker-github-action": ActionSpec(
            source="elgohr/Publish-Docker-Github-Action/action.yml@184d5f4b",
            roles=(
                RoleRule(Role.BUILD),
                RoleRule(Role.PUSH, unless=(Cond("no_push", Test.TRUE),)),
            ),
            digest_outputs={
                "tag": DigestSource.TAG,
                "snapshot-tag": DigestSource.TAG,
                "digest": DigestSource.READ_BACK,
            },
            context_inputs=("context", "workdir"),
            context_default=".",
            dockerfile_inputs=("dockerfile",),
            handler="elgohr",
        ),
        # goreleaser/goreleaser-action action.yml @c5666875: args, install-only,
        # workdir; outputs artifacts, metadata. Which images it builds and pushes is in
        # .goreleaser.yml (`dockers`, `kos`), not in the step.
        "goreleaser/goreleaser-action": ActionSpec(
            source="goreleaser/goreleaser-action/action.yml@c5666875",
            roles=(
                RoleRule(
                    Role.BUILD,
                    unless=(Cond("install-only", Test.TRUE),),
                    note="goreleaser: dockers from .goreleaser.yml",
                ),
                RoleRule(
                    Role.PUSH,
                    when=(Cond("args", Test.UNSET), Cond("args", Test.CONTAINS, ("release",))),
                    unless=(
                        Cond("install-only", Test.TRUE),
                        Cond(
                            "args",
                            Test.CONTAINS,
                            (
                                "--snapshot",
                                "--skip-publish",
                                "--skip=publish",
                                "--skip-docker",
                                "--skip=docker",
                            ),
                        ),
                    ),
                    note="goreleaser: dockers from .goreleaser.yml",
                ),
            ),
            context_inputs=("workdir",),
            context_default=".",
        ),
        # --- metadata, login, setup: no role ----------------------------------------
        # docker/metadata-action action.yml @2bd8a81e: images (names, one per line,
        # optionally `name=...,enable=...`); outputs version, tags, tag-names, labels,
        # annotations, json, bake-file*: tags, never digests (PLATFORM.md 4.11)
        "docker/metadata-action": ActionSpec(
            source="docker/metadata-action/action.yml@2bd8a81e",
            image_inputs={"images": ImageUse.TAG},
            list_inputs={"images": Split.META_IMAGES},
            digest_outputs={
                name: DigestSource.TAG
                for name in (
                    "tags",
                    "tag-names",
                    "json",
                    "version",
                    "labels",
                    "annotations",
                    "bake-file",
                    "bake-file-tags",
                )
            },
        ),
        "docker/login-action": _none(_GH + "docker/login-action/blob/master/action.yml"),
        "docker/setup-buildx-action": _none(_GH + "docker/setup-buildx-action"),
        "docker/setup-qemu-action": _none(_GH + "docker/setup-qemu-action"),
        "docker/setup-docker-action": _none(_GH + "docker/setup-docker-action"),
        "docker/bake-action/subaction/matrix": _none(
            _GH + "docker/bake-action/tree/master/subaction"
        ),
        "docker/bake-action/subaction/list-targets": _none(
            _GH + "docker/bake-action/tree/master/subaction"
        ),
        "useblacksmith/setup-docker-builder": _none(_GH + "useblacksmith/setup-docker-builder"),
        "sigstore/cosign-installer": _none(_GH + "sigstore/cosign-installer/blob/main/action.yml"),
        # signs files (Python packages), not images
        "sigstore/gh-action-sigstore-python": _none(
            _GH + "sigstore/gh-action-sigstore-python/blob/main/action.yml"
        ),
        "ko-build/setup-ko": _none(_GH + "ko-build/setup-ko"),
        "imjasonh/setup-crane": _none(_GH + "imjasonh/setup-crane"),
        "slsa-framework/slsa-verifier/actions/installer": _none(
            _GH + "slsa-framework/slsa-verifier/tree/main/actions/installer"
        ),
        "anchore/sbom-action/download-syft": _none(_GH + "anchore/sbom-action"),
        # anchore/sbom-action action.yml @767b08fd: `image` is read to make an SBOM
        "anchore/sbom-action": ActionSpec(
            source="anchore/sbom-action/action.yml@767b08fd",
            image_inputs={"image": ImageUse.INPUT},
        ),
        "helm/kind-action": _none(_GH + "helm/kind-action"),
        "engineerd/setup-kind": _none(_GH + "engineerd/setup-kind"),
        "azure/setup-helm": _none(_GH + "Azure/setup-helm"),
        "azure/setup-kubectl": _none(_GH + "Azure/setup-kubectl"),
        "azure/login": _none(_GH + "Azure/login"),
        "imranismail/setup-kustomize": _none(_GH + "imranismail/setup-kustomize"),
        "google-github-actions/auth": _none(_GH + "google-github-actions/auth"),
        "google-github-actions/setup-gcloud": _none(_GH + "google-github-actions/setup-gcloud"),
        "google-github-actions/get-gke-credentials": _none(
            "google-github-actions/get-gke-credentials/action.yml@2dfac901"
        ),
        "aws-actions/configure-aws-credentials": _none(
            _GH + "aws-actions/configure-aws-credentials"
        ),
        # outputs `registry` (a host), not an image
        "aws-actions/amazon-ecr-login": _none(_GH + "aws-actions/amazon-ecr-login"),
        "softprops/action-gh-release": _none(_GH + "softprops/action-gh-release"),
        "crazy-max/ghaction-setup-docker": _none(_GH + "crazy-max/ghaction-setup-docker"),
        "crazy-max/ghaction-docker-buildx": _none(_GH + "crazy-max/ghaction-docker-buildx"),
        "helm/chart-testing-action": _none(_GH + "helm/chart-testing-action"),
        "chainguard-dev/actions/setup-registry": _none(_GH + "chainguard-dev/actions"),
        "sigstore/scaffolding/actions/setup": _none(_GH + "sigstore/scaffolding"),
        # general-purpose actions seen most often in the corpus: no image involved
        **{key: _none(_GH + key) for key in _GENERAL},
        # --- wrappers and gates ------------------------------------------------------
        # nick-fields/retry action.yml @3e91a016: command, shell; renamed from nick-invision
        "nick-fields/retry": ActionSpec(
            source="nick-fields/retry/action.yml@3e91a016",
            command_input="command",
            shell_input="shell",
            note=_RETRY,
        ),
        "nick-invision/retry": ActionSpec(
            source="nick-fields/retry/action.yml@3e91a016 (former name)",
            command_input="command",
            shell_input="shell",
            note=_RETRY,
        ),
        # Wandalen/wretry.action action.yml @989579ef: `command`, or `action` + `with`
        # (another action, given as text: opaque, see _analyse)
        "wandalen/wretry.action": ActionSpec(
            source="Wandalen/wretry.action/action.yml@989579ef",
            command_input="command",
            note=_RETRY,
        ),
        # re-actors/alls-green action.yml @48166456: jobs (`toJSON(needs)`),
        # allowed-failures, allowed-skips; exits 1 unless every needed job succeeded
        "re-actors/alls-green": ActionSpec(
            source="re-actors/alls-green/action.yml@48166456",
            needs_gate_input="jobs",
        ),
        # --- artifacts ---------------------------------------------------------------
        # actions/upload-artifact action.yml @2244c820: name (default artifact), path
        "actions/upload-artifact": ActionSpec(
            source="actions/upload-artifact/action.yml@2244c820", handler="upload_artifact"
        ),
        # actions/download-artifact action.yml @0d690179: name, pattern, path,
        # merge-multiple, github-token, repository, run-id; output download-path
        "actions/download-artifact": ActionSpec(
            source="actions/download-artifact/action.yml@0d690179", handler="download_artifact"
        ),
        # --- promotion ---------------------------------------------------------------
        # akhilerm/tag-push-action action.yml @4b925348: src (source image), dst
        # (destination images, one per line)
        "akhilerm/tag-push-action": ActionSpec(
            source="akhilerm/tag-push-action/action.yml@4b925348",
            roles=(RoleRule(Role.PROMOTE),),
            image_inputs={"src": ImageUse.COPY_SOURCE, "dst": ImageUse.COPY_TARGET},
            list_inputs={"dst": Split.LINES},
        ),
        # int128/docker-manifest-create-action README @v2: push (default true; false is a
        # dry run), tags, sources (multi-line), index-annotations; output digest of the
        # created index (`docker buildx imagetools create`). v1 (action.yaml @5fe15d33):
        # tags + suffixes or digests.
        "int128/docker-manifest-create-action": ActionSpec(
            source="int128/docker-manifest-create-action/README.md@3453bda1 and v2 README",
            roles=(RoleRule(Role.PROMOTE, unless=(Cond("push", Test.IN, _FALSE),)),),
            image_inputs={"sources": ImageUse.COPY_SOURCE, "tags": ImageUse.COPY_TARGET},
            list_inputs={"sources": Split.LINES, "tags": Split.LINES},
            digest_outputs={"digest": DigestSource.BUILD_OUTPUT},
            handler="manifest_create",
        ),
        # --- deployment --------------------------------------------------------------
        # google-github-actions/deploy-cloudrun action.yml @07422ad9: image, metadata
        # (a service YAML), source (built by Cloud Build, then deployed); output url
        "google-github-actions/deploy-cloudrun": ActionSpec(
            source="google-github-actions/deploy-cloudrun/action.yml@07422ad9",
            roles=(
                RoleRule(Role.DEPLOY, images=("image",)),
                RoleRule(
                    Role.BUILD,
                    when=(Cond("source", Test.SET),),
                    images=(),
                    note="deploys from source: Cloud Build builds the image",
                ),
                RoleRule(
                    Role.PUSH,
                    when=(Cond("source", Test.SET),),
                    images=(),
                    note="deploys from source: Cloud Build builds the image",
                ),
            ),
            image_inputs={"image": ImageUse.DEPLOY},
            context_inputs=("source",),
            notes=((Cond("metadata", Test.SET), "image from the service YAML (metadata)"),),
        ),
        # aws-actions/amazon-ecs-render-task-definition action.yml @c9632d88: image is
        # written into the task definition; output task-definition is the new file's path
        "aws-actions/amazon-ecs-render-task-definition": ActionSpec(
            source="aws-actions/amazon-ecs-render-task-definition/action.yml@c9632d88",
            roles=(
                RoleRule(
                    Role.DEPLOY,
                    note="renders the task definition that amazon-ecs-deploy-task-definition uses",
                ),
            ),
            image_inputs={"image": ImageUse.DEPLOY},
            file_outputs=("task-definition",),
        ),
        # aws-actions/amazon-ecs-deploy-task-definition action.yml @20ba7fd1
        "aws-actions/amazon-ecs-deploy-task-definition": ActionSpec(
            source="aws-actions/amazon-ecs-deploy-task-definition/action.yml@20ba7fd1",
            roles=(RoleRule(Role.DEPLOY, note="image from the task-definition file"),),
        ),
        # Azure/webapps-deploy action.yml @7a68e650: images (one per line) for
        # containers, configuration-file for compose; `package` deploys files
        "azure/webapps-deploy": ActionSpec(
            source="Azure/webapps-deploy/action.yml@7a68e650",
            roles=(
                RoleRule(
                    Role.DEPLOY,
                    when=(Cond("images", Test.SET), Cond("configuration-file", Test.SET)),
                ),
            ),
            image_inputs={"images": ImageUse.DEPLOY},
            list_inputs={"images": Split.LINES},
        ),
        # Azure/k8s-deploy action.yml @2296dd88: manifests, images (one per line),
        # action deploy|promote|reject
        "azure/k8s-deploy": ActionSpec(
            source="Azure/k8s-deploy/action.yml@2296dd88",
            roles=(RoleRule(Role.DEPLOY, unless=(Cond("action", Test.IN, ("reject",)),)),),
            image_inputs={"images": ImageUse.DEPLOY},
            list_inputs={"images": Split.LINES},
        ),
        # Azure/container-apps-deploy-action action.yml @7676cb97: appSourcePath is built
        # and pushed as imageToBuild; imageToDeploy (default imageToBuild) is deployed
        "azure/container-apps-deploy-action": ActionSpec(
            source="Azure/container-apps-deploy-action/action.yml@7676cb97",
            roles=(
                RoleRule(Role.DEPLOY, images=("imageToDeploy",)),
                RoleRule(
                    Role.BUILD, when=(Cond("appSourcePath", Test.SET),), images=("imageToBuild",)
                ),
                RoleRule(
                    Role.PUSH, when=(Cond("appSourcePath", Test.SET),), images=("imageToBuild",)
                ),
            ),
            image_inputs={"imageToDeploy": ImageUse.DEPLOY, "imageToBuild": ImageUse.TAG},
            context_inputs=("appSourcePath",),
            dockerfile_inputs=("dockerfilePath",),
            notes=(
                (Cond("imageToDeploy", Test.UNSET), "deploys the image it builds"),
                (Cond("yamlConfigPath", Test.SET), "image from the YAML configuration"),
            ),
        ),
        # actions-hub/kubectl action.yml @a3b3f405: args are kubectl's arguments
        "actions-hub/kubectl": ActionSpec(
            source="actions-hub/kubectl/action.yml@a3b3f405", handler="kubectl"
        ),
        # --- validation --------------------------------------------------------------
        # aquasecurity/trivy-action action.yaml @0dffaf35: scan-type (default image),
        # image-ref, scan-ref, input (an image archive), exit-code (default 0: findings
        # do not fail the step)
        "aquasecurity/trivy-action": ActionSpec(
            source="aquasecurity/trivy-action/action.yaml@0dffaf35",
            roles=(RoleRule(Role.VALIDATE),),
            image_inputs={"image-ref": ImageUse.SCAN},
            image_when={"image-ref": Cond("scan-type", Test.IN, ("image",), default="image")},
            can_fail=Cond("exit-code", Test.NOT_IN, ("0", ""), default="0"),
            notes=(
                (Cond("scan-type", Test.IN, ("fs", "repo", "config", "rootfs")), "source"),
                (Cond("input", Test.SET), "scans an image archive"),
            ),
        ),
        # anchore/scan-action action.yml @9cc4fe30 (`image-reference`, v1) and README
        # (`image`, `path`, `sbom`; fail-build default true from v3)
        "anchore/scan-action": ActionSpec(
            source="anchore/scan-action/action.yml@9cc4fe30 and README",
            roles=(RoleRule(Role.VALIDATE),),
            image_inputs={"image": ImageUse.SCAN, "image-reference": ImageUse.SCAN},
            can_fail=Cond("fail-build", Test.NOT_IN, _FALSE, default="true"),
            notes=(
                (Cond("path", Test.SET), "source"),
                (Cond("sbom", Test.SET), "scans an SBOM"),
            ),
        ),
        # docker/scout-action action.yaml @c8546001: command (comma-separated), image,
        # to; exit-code fails the step on vulnerabilities
        "docker/scout-action": ActionSpec(
            source="docker/scout-action/action.yaml@c8546001",
            roles=(
                RoleRule(
                    Role.VALIDATE,
                    when=(
                        Cond(
                            "command",
                            Test.CONTAINS,
                            ("cves", "compare", "quickview", "recommendations", "policy"),
                        ),
                    ),
                ),
            ),
            image_inputs={"image": ImageUse.SCAN, "to": ImageUse.SCAN},
            can_fail=Cond("exit-code", Test.TRUE),
        ),
        # crazy-max/ghaction-container-scan action.yml @784bfe7a: image, tarball,
        # severity_threshold (fails the step)
        "crazy-max/ghaction-container-scan": ActionSpec(
            source="crazy-max/ghaction-container-scan/action.yml@784bfe7a",
            roles=(RoleRule(Role.VALIDATE),),
            image_inputs={"image": ImageUse.SCAN},
            can_fail=Cond("severity_threshold", Test.SET),
            notes=((Cond("tarball", Test.SET), "scans an image archive"),),
        ),
        # --- provenance --------------------------------------------------------------
        # actions/attest-build-provenance action.yml @2251ec77 (a wrapper of
        # actions/attest): exactly one of subject-path / subject-digest /
        # subject-checksums; subject-name with subject-digest; push-to-registry
        "actions/attest-build-provenance": ActionSpec(
            source="actions/attest-build-provenance/action.yml@2251ec77",
            roles=(RoleRule(Role.RECORD, when=(Cond("subject-digest", Test.SET),)),),
            handler="attest",
        ),
        # actions/attest action.yml @73d7abb0: the same subject inputs, plus predicate
        "actions/attest": ActionSpec(
            source="actions/attest/action.yml@73d7abb0",
            roles=(RoleRule(Role.RECORD, when=(Cond("subject-digest", Test.SET),)),),
            handler="attest",
        ),
        # this project's runtime check (RUNTIME.md): `command: record|verify`, `images`
        # (one NAME@sha256:... per line), `metadata-file`, `record`, `output`
        "digestgate/digestgate": ActionSpec(
            source="digestgate RUNTIME.md (the runtime action ships later)",
            roles=(
                RoleRule(
                    Role.RECORD,
                    when=(Cond("command", Test.IN, ("record",)),),
                    use=ImageUse.SUBJECT,
                    note="digestgate record",
                ),
                RoleRule(
                    Role.VERIFY,
                    when=(Cond("command", Test.IN, ("verify",)),),
                    use=ImageUse.INPUT,
                    note="digestgate verify",
                ),
            ),
            image_inputs={"images": ImageUse.INPUT},
            list_inputs={"images": Split.LINES},
        ),
        # --- opaque ------------------------------------------------------------------
        # appleboy/ssh-action action.yml @03b440e4: `script` runs on a remote host; what
        # it deploys there cannot be told
        "appleboy/ssh-action": ActionSpec(
            source="appleboy/ssh-action/action.yml@03b440e4",
            opaque=True,
            note="runs a script on a remote host",
        ),
        # --- reusable workflows (jobs.<id>.uses) -------------------------------------
        # slsa-framework/slsa-github-generator generator_container_slsa3.yml @d6b8c9f3:
        # inputs image (no tag) and digest; `cosign attest` of image@digest
        "slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml": (
            ActionSpec(
                source=(
                    "slsa-framework/slsa-github-generator/.github/workflows/"
                    "generator_container_slsa3.yml@d6b8c9f3"
                ),
                roles=(
                    RoleRule(
                        Role.RECORD,
                        note="SLSA provenance attested to the registry (cosign attest)",
                    ),
                ),
                handler="slsa_container",
                reusable=True,
            )
        ),
        # docker/github-builder README @c767551a and build.yml @0667ebe8: output
        # image|local, push, meta-images, meta-tags, context, file, platforms; pushes by
        # digest, then tags with `imagetools create`; signed SLSA provenance (mode=max)
        "docker/github-builder/.github/workflows/build.yml": ActionSpec(
            source="docker/github-builder/README.md@c767551a, .github/workflows/build.yml@0667ebe8",
            roles=(
                RoleRule(Role.BUILD, note="tags from meta-tags"),
                RoleRule(
                    Role.PUSH,
                    when=(Cond("push", Test.TRUE, default="false"),),
                    require=(Cond("output", Test.IN, ("image", "registry")),),
                ),
                RoleRule(
                    Role.RECORD,
                    when=(Cond("push", Test.TRUE, default="false"),),
                    require=(Cond("output", Test.IN, ("image", "registry")),),
                    note="signed SLSA provenance",
                ),
            ),
            image_inputs={"meta-images": ImageUse.TAG},
            list_inputs={"meta-images": Split.LINES},
            context_inputs=("context",),
            context_default=".",
            dockerfile_inputs=("file", "build-file"),
            platforms_input="platforms",
            provenance=(Cond("output", Test.IN, ("image", "registry")),),
            reusable=True,
        ),
        "docker/github-builder/.github/workflows/bake.yml": ActionSpec(
            source="docker/github-builder/README.md@c767551a (bake reusable workflow)",
            roles=(
                RoleRule(Role.BUILD, note="images from the bake definition and meta-images"),
                RoleRule(
                    Role.PUSH,
                    when=(Cond("push", Test.TRUE, default="false"),),
                    require=(Cond("output", Test.IN, ("image", "registry")),),
                ),
                RoleRule(
                    Role.RECORD,
                    when=(Cond("push", Test.TRUE, default="false"),),
                    require=(Cond("output", Test.IN, ("image", "registry")),),
                    note="signed SLSA provenance",
                ),
            ),
            image_inputs={"meta-images": ImageUse.TAG},
            list_inputs={"meta-images": Split.LINES},
            context_inputs=("context",),
            context_default=".",
            provenance=(Cond("output", Test.IN, ("image", "registry")),),
            reusable=True,
        ),
    }
)


# --- keys ----------------------------------------------------------------------------


@lru_cache(maxsize=4096)  # the same few hundred `uses:` values come back in every repository
def action_key(uses: str) -> str | None:
    """The catalogue key of a `uses:` value: `owner/repo[/path]` in lower case, without
    the ref. Local (`./x`) and Docker (`docker://x`) uses have no key; a full URL
    (Gitea and Forgejo accept `https://host/owner/repo@ref`) is keyed by its path."""
    value = uses.strip()
    if not value or "${{" in value:
        return None
    lowered = value.lower()
    if lowered.startswith(("docker://", "./", "../", "/", ".\\")):
        return None
    if "://" in value:
        value = value.split("://", 1)[1]
        if "/" not in value:
            return None
        value = value.split("/", 1)[1]  # drop the host
    value = value.split("@", 1)[0].strip().strip("/")
    if value.endswith(".git"):
        value = value[:-4]
    if value.count("/") < 1:
        return None
    return value.lower()


def spec_of(uses: str) -> ActionSpec | None:
    key = action_key(uses)
    return CATALOGUE.get(key) if key is not None else None


# --- splitting inputs ----------------------------------------------------------------


def _masked(value: str) -> list[bool]:
    """For each character: is it inside a `${{ }}`?"""
    mask = [False] * len(value)
    if "${{" in value:
        for p in find_placeholders(value):
            for i in range(p.start, min(p.end, len(value))):
                mask[i] = True
    return mask


def _cut(
    value: str, start: int, end: int, seps: str, quotes: bool = False
) -> list[tuple[int, int]]:
    """Ranges of the items of `value[start:end]` between separators outside `${{ }}`
    (and, with `quotes`, outside double quotes), stripped of blanks, empty ones dropped."""
    mask = _masked(value)
    out: list[tuple[int, int]] = []
    at = start
    quoted = False
    for i in range(start, end + 1):
        if i < end and quotes and value[i] == '"' and not mask[i]:
            quoted = not quoted
        if i == end or (value[i] in seps and not mask[i] and not quoted):
            a, b = at, i
            while a < b and value[a].isspace():
                a += 1
            while b > a and value[b - 1].isspace():
                b -= 1
            if a < b:
                out.append((a, b))
            at = i + 1
    return out


def _unquote(value: str, a: int, b: int) -> tuple[int, int]:
    if b - a >= 2 and value[a] == '"' and value[b - 1] == '"':
        return a + 1, b - 1
    return a, b


def _fields(value: str, a: int, b: int) -> list[tuple[str, int, int]]:
    """The `key=value` fields of one CSV line (buildx outputs, metadata images):
    (lower-case key, value start, value end); a field without `=` has key ''."""
    out = []
    for fa, fb in _cut(value, a, b, ",", quotes=True):
        fa, fb = _unquote(value, fa, fb)
        eq = value.find("=", fa, fb)
        if eq < 0 or "${{" in value[fa:eq]:
            out.append(("", fa, fb))
            continue
        va, vb = _unquote(value, eq + 1, fb)
        out.append((value[fa:eq].strip().lower(), va, vb))
    return out


def _item_ranges(value: str, how: Split) -> list[tuple[int, int]]:
    n = len(value)
    if how is Split.ONE:
        return [(0, n)] if value.strip() else []
    if how is Split.LINES:
        ranges = _cut(value, 0, n, "\n")
    elif how is Split.LIST:
        ranges = [_unquote(value, a, b) for a, b in _cut(value, 0, n, "\n,")]
    elif how is Split.WORDS:
        ranges = _cut(value, 0, n, " \t\n")
    elif how is Split.OUTPUTS:
        ranges = []
        for la, lb in _cut(value, 0, n, "\n"):
            for key, va, vb in _fields(value, la, lb):
                if key == "name":
                    ranges.extend(_cut(value, va, vb, ","))
    elif how is Split.BAKE_SET_TAGS:
        ranges = []
        for la, lb in _cut(value, 0, n, "\n"):
            eq = value.find("=", la, lb)
            if eq > 0 and value[la:eq].strip().endswith(".tags"):
                ranges.extend(_cut(value, eq + 1, lb, ","))
    else:  # META_IMAGES
        ranges = []
        for la, lb in _cut(value, 0, n, "\n"):
            fields = _fields(value, la, lb)
            named = [(va, vb) for key, va, vb in fields if key == "name"]
            if named:
                ranges.extend(named)
            elif fields and fields[0][0] == "":
                ranges.append((fields[0][1], fields[0][2]))
    return [(a, b) for a, b in ranges if not value.startswith("#", a)]


def _slice(text: Text, start: int, end: int, path: str) -> Value:
    """`value[start:end]` of a `with:` value as a `Value`, each piece with its span."""
    value = text.value
    if start == 0 and end == len(value):
        return value_of_text(text, path)
    pieces: list[Piece] = []
    at = start
    for p in find_placeholders(value) if "${{" in value else []:
        if p.end <= start or p.start >= end:
            continue
        a, b = max(p.start, start), min(p.end, end)
        if a > at:
            pieces.append(Piece(PieceKind.LITERAL, value[at:a], text.locate(at, a - at)))
        pieces.append(Piece(PieceKind.EXPR, value[a:b], text.locate(a, b - a)))
        at = b
    if at < end:
        pieces.append(Piece(PieceKind.LITERAL, value[at:end], text.locate(at, end - at)))
    return Value(tuple(pieces), text.locate(start, end - start), path)


def split_input(text: Text, how: Split, path: str) -> list[Value]:
    """The items of an input holding several values, each with its exact span."""
    return [_slice(text, a, b, path) for a, b in _item_ranges(text.value, how)]


_join = Value.concat


# --- reading conditions --------------------------------------------------------------


@dataclass
class _Ctx:
    step: Step
    path: str
    anchor: Span  # the `uses:` value
    inputs: dict[str, Text]  # lower-case input names: GitHub matches them so

    def text(self, name: str) -> Text | None:
        return self.inputs.get(name.lower())

    def given(self, name: str) -> Text | None:
        t = self.text(name)
        return t if t is not None and t.value.strip() else None

    def value(self, name: str) -> Value | None:
        t = self.given(name)
        return value_of_text(t, self.path) if t is not None else None


Tri: TypeAlias = "bool | None"  # three-valued: None is "depends on an expression"


def _buildx_outputs(raw: str) -> list[dict[str, str]]:
    return [
        {key: raw[va:vb].strip().lower() for key, va, vb in _fields(raw, la, lb)}
        for la, lb in _cut(raw, 0, len(raw), "\n")
    ]


def _test_outputs(raw: str, test: Test) -> Tri:
    unknown = False
    for out in _buildx_outputs(raw):
        kind = out.get("type", "")
        if "${{" in out.get("", "") or "${{" in kind:
            unknown = True  # the line, or its type, is only known at run time
            continue
        if test is Test.REGISTRY_OUTPUT:
            push = out.get("push", "")
            if kind == "registry" or (kind == "image" and push == "true"):
                return True
            unknown = unknown or (kind == "image" and "${{" in push)
        elif test is Test.PUSH_BY_DIGEST:
            by_digest = out.get("push-by-digest", "")
            if by_digest == "true":
                return True
            unknown = unknown or "${{" in by_digest
        elif kind == "docker":
            return True
    return None if unknown else False


def _eval(cond: Cond, ctx: _Ctx) -> Tri:
    text = ctx.text(cond.input)
    raw = text.value if text is not None else cond.default
    value = raw.strip().lower()
    dynamic = "${{" in raw
    if cond.test is Test.SET or cond.test is Test.UNSET:
        is_set = bool(value)
        return is_set if cond.test is Test.SET else not is_set
    if cond.test in (Test.REGISTRY_OUTPUT, Test.PUSH_BY_DIGEST, Test.DOCKER_OUTPUT):
        return _test_outputs(raw, cond.test)
    if cond.test is Test.TRUE:
        hit = value == "true"
    elif cond.test in (Test.IN, Test.NOT_IN):
        hit = value in cond.values
    else:  # CONTAINS
        hit = any(v in value for v in cond.values)
    if not hit and dynamic and (cond.test is not Test.CONTAINS or _wholly_dynamic(raw)):
        return None
    if cond.test is Test.NOT_IN:
        return not hit
    return hit


def _wholly_dynamic(raw: str) -> bool:
    """A list whose value, or one of whose lines, is only an expression: anything may
    be in it. An expression inside a line (`*.cache-to=...${{ x }}`) hides no setting."""
    return is_whole_expression(raw) or any(is_whole_expression(line) for line in raw.splitlines())


def _any(results: Sequence[Tri]) -> Tri:
    if True in results:
        return True
    return None if None in results else False


def _and(a: Tri, b: Tri) -> Tri:
    if a is False or b is False:
        return False
    return None if a is None or b is None else True


def _not(a: Tri) -> Tri:
    return None if a is None else not a


def _rule(rule: RoleRule, ctx: _Ctx) -> tuple[Tri, Span | None]:
    """Whether the rule holds, and the input that decided it (for the span)."""
    results = [_eval(c, ctx) for c in rule.when]
    active = _any(results) if rule.when else True
    for c in rule.require:
        active = _and(active, _eval(c, ctx))
    if rule.unless:
        active = _and(active, _not(_any([_eval(c, ctx) for c in rule.unless])))
    where = None
    for c, r in zip(rule.when, results, strict=True):
        t = ctx.text(c.input)
        if r is not False and t is not None:
            where = t.span
            break
    return active, where


# --- handlers: what data cannot say --------------------------------------------------


@dataclass
class _Extra:
    images: dict[str, list[ImageArg]] = field(default_factory=dict)
    ops: list[Operation] = field(default_factory=list)
    writes: list[OutputWrite] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    digest_file: Value | None = None
    index_assembly: bool = False


def _items(ctx: _Ctx, name: str, how: Split) -> list[Value]:
    t = ctx.given(name)
    return split_input(t, how, ctx.path) if t is not None else []


def _qualified(v: Value) -> bool:
    """A tag item that is a whole image name (`quay.io/o/app:1`), not just a tag."""
    return "/" in v.text


def _named_tags(
    ctx: _Ctx, base: Value | None, tags: list[Value], default_tag: str, use: ImageUse
) -> list[ImageArg]:
    """`base:tag` for each tag (a fully qualified tag stands alone); `base:default_tag`
    when no tag is given."""
    out = []
    for tag in tags:
        if _qualified(tag) or base is None:
            out.append(ImageArg(tag, use))
        else:
            out.append(ImageArg(_join([base, ":", tag], tag.span, ctx.path), use))
    if not tags and base is not None:
        suffix = ":" + default_tag if default_tag else ""
        out.append(ImageArg(_join([base, suffix], base.span, ctx.path), use))
    return out


def _h_buildah_build(ctx: _Ctx) -> _Extra:
    tags = _items(ctx, "tags", Split.WORDS)
    return _Extra(
        images={"names": _named_tags(ctx, ctx.value("image"), tags, "latest", ImageUse.TAG)}
    )


def _prefixed(ctx: _Ctx, registry: Value | None, image: Value | None) -> Value | None:
    if image is None:
        return None
    if registry is None or image.text.startswith(registry.text.rstrip("/") + "/"):
        return image
    return _join([registry, "/", image], image.span, ctx.path)


def _h_push_to_registry(ctx: _Ctx) -> _Extra:
    base = _prefixed(ctx, ctx.value("registry"), ctx.value("image"))
    tags = _items(ctx, "tags", Split.WORDS)
    names = _named_tags(ctx, base, tags, "latest", ImageUse.PUSH)
    extra = _Extra(images={"names": names})
    digest_file = ctx.given("digestfile")
    if digest_file is not None:
        extra.digest_file = value_of_text(digest_file, ctx.path)
        extra.writes.append(
            OutputWrite(
                WriteTarget.FILE,
                digest_file.value,
                None,
                digest_file.span,
                ctx.path,
                DigestSource.DIGEST_FILE,
                names[0].value if names else None,
            )
        )
    return extra


def _h_smithers(ctx: _Ctx) -> _Extra:
    base = _prefixed(ctx, ctx.value("registry"), ctx.value("image"))
    tags = _items(ctx, "tags", Split.LIST)
    extra = _Extra(images={"names": _named_tags(ctx, base, tags, "", ImageUse.TAG)})
    if not tags:
        extra.notes.append("tags generated from git")
    return extra


def _h_elgohr(ctx: _Ctx) -> _Extra:
    base = _prefixed(ctx, ctx.value("registry"), ctx.value("name"))
    tags = _items(ctx, "tags", Split.LIST)
    extra = _Extra(images={"names": _named_tags(ctx, base, tags, "", ImageUse.TAG)})
    if not tags:
        extra.notes.append("tag from the git ref")
    return extra


def _h_attest(ctx: _Ctx) -> _Extra:
    extra = _Extra()
    digest = ctx.value("subject-digest")
    name = ctx.value("subject-name")
    if digest is not None:
        subject = _join([name, "@", digest], digest.span, ctx.path) if name else digest
        extra.images["subject"] = [ImageArg(subject, ImageUse.SUBJECT)]
    else:
        files = "subject-checksums" if ctx.given("subject-checksums") else "subject-path"
        extra.ops.append(
            Operation(
                Role.RECORD,
                _tool(ctx),
                ctx.anchor,
                ctx.path,
                note=f"attests files ({files}), not an image digest",
            )
        )
    if _eval(Cond("push-to-registry", Test.TRUE, default="false"), ctx) is not False:
        extra.notes.append("attestation pushed to the registry")
    return extra


def _strip_tag(v: Value) -> Value:
    """`repo:tag` -> `repo` when the last component's tag is literal text."""
    last = v.pieces[-1] if v.pieces else None
    if last is None or last.kind is not PieceKind.LITERAL:
        return v
    colon = last.text.rfind(":")
    if colon < 0 or "/" in last.text[colon:]:
        return v
    trimmed = Piece(PieceKind.LITERAL, last.text[:colon], last.span)
    return Value((*v.pieces[:-1], trimmed), v.span, v.path)


def _h_manifest_create(ctx: _Ctx) -> _Extra:
    tags = _items(ctx, "tags", Split.LINES)
    suffixes = _items(ctx, "suffixes", Split.LINES)
    digests = _items(ctx, "digests", Split.LIST)
    sources = [
        _join([tag, suffix], suffix.span, ctx.path) for tag in tags for suffix in suffixes
    ] + [_join([_strip_tag(tag), "@", d], d.span, ctx.path) for tag in tags for d in digests]
    extra = _Extra(images={"v1-sources": [ImageArg(s, ImageUse.COPY_SOURCE) for s in sources]})
    extra.index_assembly = bool(suffixes or digests or len(_items(ctx, "sources", Split.LINES)) > 1)
    if extra.index_assembly:
        extra.notes.append("index assembly when the sources are per-platform images of one build")
    return extra


def _h_slsa_container(ctx: _Ctx) -> _Extra:
    image, digest = ctx.value("image"), ctx.value("digest")
    if digest is None:
        return _Extra()
    subject = _join([image, "@", digest], digest.span, ctx.path) if image else digest
    return _Extra(images={"subject": [ImageArg(subject, ImageUse.SUBJECT)]})


_KUBECTL_APPLY = frozenset({"apply", "create", "replace"})


def _h_kubectl(ctx: _Ctx) -> _Extra:
    args = ctx.given("args")
    if args is None:
        return _Extra()
    ranges = _cut(args.value, 0, len(args.value), " \t\n")
    words = [args.value[a:b] for a, b in ranges]
    extra = _Extra()
    if words[:2] == ["set", "image"]:
        images = []
        for (a, b), word in zip(ranges[2:], words[2:], strict=True):
            eq = word.find("=")
            if word.startswith("-") or eq < 0 or "${{" in word[:eq]:
                continue
            images.append(ImageArg(_slice(args, a + eq + 1, b, ctx.path), ImageUse.DEPLOY))
        extra.ops.append(
            Operation(
                Role.DEPLOY,
                _tool(ctx),
                args.span,
                ctx.path,
                tuple(images),
                note="kubectl set image",
            )
        )
    elif words and words[0] in _KUBECTL_APPLY:
        extra.ops.append(
            Operation(
                Role.DEPLOY,
                _tool(ctx),
                args.span,
                ctx.path,
                note=f"kubectl {words[0]}: images from the manifests",
            )
        )
    return extra


def _h_upload_artifact(ctx: _Ctx) -> _Extra:
    name = ctx.given("name")
    label = "artifact:" + (name.value.strip() if name is not None else "artifact")
    extra = _Extra()
    for item in _items(ctx, "path", Split.LINES):
        if not item.text.startswith("!"):
            extra.writes.append(OutputWrite(WriteTarget.FILE, label, item, item.span, ctx.path))
    return extra


def _h_download_artifact(ctx: _Ctx) -> _Extra:
    io = _download(ctx)
    dest = ctx.given("path")
    prefix: list[Value | str] = ["artifact:"]
    if io.repository is not None:
        prefix = ["artifact-repo:", io.repository, ":"]
    elif io.run_id is not None:
        prefix = ["artifact-run:", io.run_id, ":"]
    what = io.name or io.pattern
    span = what.span if what is not None else ctx.anchor
    value = _join([*prefix, what if what is not None else "*"], span, ctx.path)
    write = OutputWrite(
        WriteTarget.FILE, dest.value.strip() if dest is not None else ".", value, span, ctx.path
    )
    return _Extra(writes=[write])


_HANDLERS: Mapping[str, Callable[[_Ctx], _Extra]] = MappingProxyType(
    {
        "buildah_build": _h_buildah_build,
        "push_to_registry": _h_push_to_registry,
        "smithers": _h_smithers,
        "elgohr": _h_elgohr,
        "attest": _h_attest,
        "manifest_create": _h_manifest_create,
        "slsa_container": _h_slsa_container,
        "kubectl": _h_kubectl,
        "upload_artifact": _h_upload_artifact,
        "download_artifact": _h_download_artifact,
    }
)


# --- turning a step into facts -------------------------------------------------------


@dataclass(frozen=True)
class _Result:
    operations: list[Operation]
    writes: list[OutputWrite]
    loose: list[ImageArg]


def _tool(ctx: _Ctx) -> str:
    uses = ctx.step.uses
    return (action_key(uses.value) or uses.value) if uses is not None else ""


def _first(ctx: _Ctx, names: tuple[str, ...]) -> Value | None:
    for name in names:
        v = ctx.value(name)
        if v is not None:
            return v
    return None


def _images(spec: ActionSpec, ctx: _Ctx) -> dict[str, list[ImageArg]]:
    out: dict[str, list[ImageArg]] = {}
    for name, use in spec.image_inputs.items():
        text = ctx.given(name)
        if text is None:
            continue
        when = spec.image_when.get(name)
        if when is not None and _eval(when, ctx) is False:
            continue
        how = spec.list_inputs.get(name, Split.ONE)
        out[name] = [ImageArg(v, use) for v in split_input(text, how, ctx.path)]
    return out


def _analyse(spec: ActionSpec, ctx: _Ctx) -> _Result:
    handler = _HANDLERS.get(spec.handler)
    extra = handler(ctx) if handler is not None else _Extra()
    images = _images(spec, ctx)
    images.update(extra.images)

    active: list[tuple[RoleRule, Tri, Span | None]] = []
    for rule in spec.roles:
        state, where = _rule(rule, ctx)
        if state is not False:
            active.append((rule, state, where))
    push_states = [s for r, s, _ in active if r.role is Role.PUSH]
    pushes: Tri = _any(push_states) if push_states else False
    if any(r.role is Role.PROMOTE for r, _, _ in active):
        pushes = True if pushes is False else pushes

    notes = [n for c, n in spec.notes if _eval(c, ctx) is True] + extra.notes
    if pushes is None:
        notes.append("push depends on an expression")
    load = _any([_eval(c, ctx) for c in spec.load]) if spec.load else False
    if load is None:
        notes.append("load depends on an expression")
    provenance = bool(pushes is not False and _any([_eval(c, ctx) for c in spec.provenance]))
    by_digest = spec.push_by_digest is not None and _eval(spec.push_by_digest, ctx) is True
    can_fail = spec.can_fail is None or _eval(spec.can_fail, ctx) is not False
    context = _first(ctx, spec.context_inputs)
    if context is None and spec.context_default is not None:
        context = Value.literal(spec.context_default, ctx.anchor, ctx.path)
    platforms_text = ctx.given(spec.platforms_input) if spec.platforms_input else None
    platforms = (
        tuple(v.text for v in split_input(platforms_text, Split.LIST, ctx.path))
        if platforms_text is not None
        else ()
    )

    ops: list[Operation] = []
    used: set[str] = set()
    for rule, state, where in active:
        if rule.requires_push and pushes is False:
            continue
        keys = list(images) if rule.images is None else [k for k in rule.images if k in images]
        used.update(keys)
        args = tuple(
            ImageArg(a.value, rule.use) if rule.use is not None else a
            for k in keys
            for a in images[k]
        )
        op_notes = [rule.note] if rule.note else []
        if state is None and rule.role is not Role.PUSH:
            op_notes.append(f"{rule.role.value} depends on an expression")
        builds = rule.role in (Role.BUILD, Role.PUSH, Role.PROMOTE, Role.RECORD)
        ops.append(
            Operation(
                role=rule.role,
                tool=_tool(ctx),
                span=where or ctx.anchor,
                path=ctx.path,
                images=args,
                push=builds and pushes is not False,
                load=rule.role is Role.BUILD and load is not False,
                context=context if rule.role in (Role.BUILD, Role.PUSH) else None,
                dockerfile=_first(ctx, spec.dockerfile_inputs)
                if rule.role in (Role.BUILD, Role.PUSH)
                else None,
                platforms=platforms if rule.role in (Role.BUILD, Role.PUSH) else (),
                push_by_digest=by_digest and builds,
                provenance=provenance and builds,
                digest_file=extra.digest_file,
                can_fail=can_fail,
                index_assembly=extra.index_assembly and rule.role is Role.PROMOTE,
                note="; ".join(dict.fromkeys(op_notes + notes)),
            )
        )
    ops.extend(extra.ops)

    loose = [a for k, args in images.items() if k not in used for a in args]
    every = [a for op in ops for a in op.images] + loose
    named = [a.value for a in every if not a.use.is_reference]
    of_image = named[0] if named else (every[0].value if every else None)
    writes = [
        OutputWrite(WriteTarget.OUTPUT, name, None, ctx.anchor, ctx.path, source, of_image)
        for name, source in spec.digest_outputs.items()
    ]
    writes.extend(
        OutputWrite(WriteTarget.OUTPUT, name, None, ctx.anchor, ctx.path, None, of_image)
        for name in spec.file_outputs
    )
    writes.extend(extra.writes)
    return _Result(ops, writes, loose)


def _context(step: Step, path: str) -> tuple[ActionSpec, _Ctx] | None:
    if step.uses is None:
        return None
    spec = spec_of(step.uses.value)
    if spec is None or spec.opaque or spec.reusable:
        return None
    if spec.command_input == "command" and step.with_.get("action") is not None:
        return None  # wretry.action wrapping another action, given as text: opaque
    inputs = {k.lower(): v for k, v in step.with_.items()}
    return spec, _Ctx(step, path, step.uses.span, inputs)


def step_facts(
    step: Step, path: str
) -> tuple[list[Operation], list[OutputWrite], list[ImageArg]] | None:
    """The operations, output writes and loose images (`loose_images`) of a step that
    uses a catalogued action; None when the action is unknown (or known to be opaque)."""
    found = _context(step, path)
    if found is None:
        return None
    result = _analyse(*found)
    return result.operations, result.writes, result.loose


def loose_images(step: Step, path: str) -> list[ImageArg]:
    """Images a catalogued step names or consumes outside any role
    (`docker/metadata-action` `images:`, `anchore/sbom-action` `image:`)."""
    found = _context(step, path)
    return _analyse(*found).loose if found is not None else []


def reusable_job_facts(
    uses: str, with_: Mapping[str, Text], path: str, span: Span
) -> list[Operation] | None:
    """The operations of a job that calls a well-known reusable workflow
    (`jobs.<id>.uses`); None when the workflow is not in the catalogue. `span` is
    where the operations land (the job's `uses:` value)."""
    spec = spec_of(uses)
    if spec is None or not spec.reusable:
        return None
    step = Step(index=0, span=span, uses=Text(uses, span), with_=dict(with_))
    ctx = _Ctx(step, path, span, {k.lower(): v for k, v in with_.items()})
    return _analyse(spec, ctx).operations


def wrapped_command(step: Step) -> Text | None:
    """The input of a retry wrapper that holds a shell command (`nick-fields/retry`
    `command`), for the caller to analyse as a script; None for other steps."""
    if step.uses is None:
        return None
    spec = spec_of(step.uses.value)
    if spec is None or spec.command_input is None:
        return None
    inputs = {k.lower(): v for k, v in step.with_.items()}
    return inputs.get(spec.command_input)


def wrapped_shell(step: Step) -> str:
    """The shell a wrapped command runs in (`bash` unless the wrapper's input says)."""
    spec = spec_of(step.uses.value) if step.uses is not None else None
    if spec is None or spec.shell_input is None:
        return "bash"
    given = {k.lower(): v for k, v in step.with_.items()}.get(spec.shell_input)
    return given.value.strip() if given is not None and given.value.strip() else "bash"


@dataclass(frozen=True)
class NeedsGate:
    """A step that fails its job unless every needed job succeeded (alls-green)."""

    jobs: Text  # the input given the `needs` context
    allowed_failures: Text | None = None  # jobs whose failure does not fail the gate
    allowed_skips: Text | None = None


def needs_gate(step: Step) -> NeedsGate | None:
    """The gate a step is, when it uses an alls-green-like action and is given
    `needs` (`jobs: ${{ toJSON(needs) }}`)."""
    spec = spec_of(step.uses.value) if step.uses is not None else None
    if spec is None or spec.needs_gate_input is None:
        return None
    inputs = {k.lower(): v for k, v in step.with_.items()}
    jobs = inputs.get(spec.needs_gate_input)
    if jobs is None or "needs" not in jobs.value:
        return None
    return NeedsGate(jobs, inputs.get("allowed-failures"), inputs.get("allowed-skips"))


def is_needs_gate(step: Step) -> bool:
    return needs_gate(step) is not None


# --- artifacts -----------------------------------------------------------------------


@dataclass(frozen=True)
class ArtifactIO:
    """An artifact upload or download, as the provenance code reads it."""

    upload: bool
    name: Value | None  # as written; None: the default (`artifact` / every artifact)
    pattern: Value | None = None  # download by glob
    paths: tuple[Value, ...] = ()  # upload: the files; download: the destination
    run_id: Value | None = None  # download from another run (given, not `github.run_id`)
    repository: Value | None = None  # download from another repository
    merge_multiple: bool = False

    @property
    def external(self) -> bool:
        """From another run or repository: EXTERNAL provenance, unless the run is
        the `workflow_run` that triggered this one and the caller can tie them."""
        return self.run_id is not None or self.repository is not None


def _download(ctx: _Ctx) -> ArtifactIO:
    run_id = ctx.value("run-id")
    if run_id is not None and run_id.text.replace(" ", "") == "${{github.run_id}}":
        run_id = None
    repository = ctx.value("repository")
    if repository is not None and repository.text.replace(" ", "") == "${{github.repository}}":
        repository = None
    dest = ctx.value("path")
    return ArtifactIO(
        upload=False,
        name=ctx.value("name"),
        pattern=ctx.value("pattern"),
        paths=(dest,) if dest is not None else (),
        run_id=run_id,
        repository=repository,
        merge_multiple=_eval(Cond("merge-multiple", Test.TRUE), ctx) is True,
    )


def artifact_io(step: Step, path: str) -> ArtifactIO | None:
    """The artifact a step uploads or downloads (`actions/upload-artifact`,
    `actions/download-artifact`); None for other steps."""
    if step.uses is None:
        return None
    spec = spec_of(step.uses.value)
    if spec is None or spec.handler not in ("upload_artifact", "download_artifact"):
        return None
    ctx = _Ctx(step, path, step.uses.span, {k.lower(): v for k, v in step.with_.items()})
    if spec.handler == "download_artifact":
        return _download(ctx)
    paths = tuple(v for v in _items(ctx, "path", Split.LINES) if not v.text.startswith("!"))
    return ArtifactIO(upload=True, name=ctx.value("name"), paths=paths)
