"""`digestgate verify --registry [--expect-tag TAG]` (RUNTIME.md check 5) over real HTTP.

Against a real registry (Debian's `docker-registry`, Distribution 2.8) on 127.0.0.1 with
images pushed from bytes written here, and against a tiny fake registry for what a real
one does not do here: no `Docker-Content-Digest`, bearer tokens, cross-host redirects.
Without the `docker-registry` binary the real-registry tests skip, except under CI (`CI`
set), where they fail. Nothing here talks to any address outside 127.0.0.0/8.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import registry_server as rs
from digestgate import registry_client, runtime
from digestgate.imageref import parse

COMMIT = "c" * 40
REPOSITORY = "o/r"
USER = "robot"
PASSWORD = "s3cret-Pa55word-never-printed"


# --- fixtures and helpers ----------------------------------------------------------------


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`127.0.0.1:PORT` of a running `docker-registry`."""
    binary = rs.registry_binary()
    if binary is None:
        reason = "the docker-registry binary is not installed (apt-get install docker-registry)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must run the real-registry tests")
        pytest.skip(reason)
    with rs.real_registry(binary, tmp_path_factory.mktemp("registry")) as address:
        yield address


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """An environment with an empty Docker config of its own (never the user's)."""
    config = tmp_path / "docker"
    config.mkdir()
    return {"DOCKER_CONFIG": str(config), "HOME": str(tmp_path)}


def docker_config(env: dict[str, str], host: str, user: str, password: str) -> None:
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    path = Path(env["DOCKER_CONFIG"]) / "config.json"
    path.write_text(json.dumps({"auths": {host: {"auth": auth}}}), encoding="utf-8")


def verify(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    recorded: str,
    image: str,
    *extra: str,
    env: dict[str, str],
) -> tuple[int, str]:
    """Record `recorded` as PASSED, then verify `image` with `extra`; (status, output)."""
    record = tmp_path / "record.json"
    argv = ["record", "--image", recorded, "--repository", REPOSITORY, "--commit", COMMIT]
    assert runtime.main([*argv, "--output", str(record)], env) == 0
    status = runtime.main(
        [
            "verify",
            "--record",
            str(record),
            "--image",
            image,
            "--repository",
            REPOSITORY,
            "--commit",
            COMMIT,
            *extra,
        ],
        env,
    )
    out, err = capsys.readouterr()
    return status, out + err


# --- a real registry ---------------------------------------------------------------------


def test_existing_digest_passes(
    registry: str, tmp_path: Path, env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    digest = rs.push_image(registry, "test/app", "existing")
    image = f"{registry}/test/app@{digest}"
    status, output = verify(capsys, tmp_path, image, image, "--registry", env=env)
    assert status == 0, output
    assert f"verified {image}" in output
    assert "present in its registry" in output


def test_unknown_digest_is_blocked(
    registry: str, tmp_path: Path, env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    rs.push_image(registry, "test/app", "something else")
    digest = rs.sha256(b"never pushed")
    image = f"{registry}/test/app@{digest}"
    status, output = verify(capsys, tmp_path, image, image, "--registry", env=env)
    assert status == 1
    assert f"blocked {image}: digest {digest} not found in {registry}" in output


def test_unknown_repository_is_blocked(
    registry: str, tmp_path: Path, env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    image = f"{registry}/test/never-pushed@{rs.sha256(b'x')}"
    status, output = verify(capsys, tmp_path, image, image, "--registry", env=env)
    assert status == 1
    assert f"not found in {registry}" in output


def test_without_registry_flag_nothing_is_asked(
    tmp_path: Path, env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    image = f"127.0.0.1:{rs.free_port()}/test/app@{rs.sha256(b'x')}"
    status, output = verify(capsys, tmp_path, image, image, env=env)
    assert status == 0, output


def test_expect_tag_matching_passes(
    registry: str, tmp_path: Path, env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    digest = rs.push_image(registry, "test/tagged", "release", tag="v1")
    image = f"{registry}/test/tagged@{digest}"
    status, output = verify(
        capsys, tmp_path, image, image, "--registry", "--expect-tag", "v1", env=env
    )
    assert status == 0, output


def test_tag_pointing_at_another_digest_is_blocked(
    registry: str, tmp_path: Path, env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    validated = rs.push_image(registry, "test/moved", "validated", tag="prod")
    other = rs.push_image(registry, "test/moved", "other", tag="prod")  # the tag moves
    image = f"{registry}/test/moved@{validated}"
    status, output = verify(
        capsys, tmp_path, image, image, "--registry", "--expect-tag", "prod", env=env
    )
    assert status == 1
    assert f"tag {registry}/test/moved:prod resolves to {other}, not to {validated}" in output


def test_missing_tag_is_blocked(
    registry: str, tmp_path: Path, env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    digest = rs.push_image(registry, "test/notag", "untagged")
    image = f"{registry}/test/notag@{digest}"
    status, output = verify(
        capsys, tmp_path, image, image, "--registry", "--expect-tag", "nope", env=env
    )
    assert status == 1
    assert f"tag {registry}/test/notag:nope not found in {registry}" in output


def test_index_digest_resolution(
    registry: str, tmp_path: Path, env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    index, children = rs.push_index(registry, "test/multi", "multi", tag="latest")
    assert registry_client.head_digest(parse(f"{registry}/test/multi:latest"), env=env) == index
    assert registry_client.head_digest(parse(f"{registry}/test/multi"), env=env) == index
    for child in children:
        assert registry_client.head_digest(parse(f"{registry}/test/multi@{child}"), env=env) == (
            child
        )
    image = f"{registry}/test/multi@{index}"
    status, output = verify(
        capsys, tmp_path, image, image, "--registry", "--expect-tag", "latest", env=env
    )
    assert status == 0, output
    # A per-platform digest is another object than the tag's index.
    child_image = f"{registry}/test/multi@{children[0]}"
    status, output = verify(
        capsys, tmp_path, child_image, child_image, "--registry", "--expect-tag", "latest", env=env
    )
    assert status == 1
    assert f"resolves to {index}, not to {children[0]}" in output


def test_head_digest_answers_none_on_404(registry: str, env: dict[str, str]) -> None:
    ref = parse(f"{registry}/test/app@{rs.sha256(b'absent')}")
    assert registry_client.head_digest(ref, env=env) is None


# --- a fake registry: no Docker-Content-Digest ----------------------------------------------


def test_missing_digest_header_falls_back_to_hashing_the_get(
    tmp_path: Path, env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    fake = rs.FakeRegistry(digest_header=False)
    data = b'{"schemaVersion": 2, "mediaType": "' + rs.OCI_MANIFEST.encode() + b'"}  \n'
    digest = fake.add("test/legacy", "v1", rs.OCI_MANIFEST, data)
    with rs.serve_fake(fake) as address:
        assert registry_client.head_digest(parse(f"{address}/test/legacy:v1"), env=env) == digest
        image = f"{address}/test/legacy@{digest}"
        status, output = verify(
            capsys, tmp_path, image, image, "--registry", "--expect-tag", "v1", env=env
        )
    assert status == 0, output
    methods = [method for method, path, _ in fake.seen if path.endswith(f"/manifests/{digest}")]
    assert methods == ["HEAD", "GET"]


def test_manifest_bytes_not_matching_the_digest_are_blocked(
    tmp_path: Path, env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    fake = rs.FakeRegistry(digest_header=False)
    wanted = rs.sha256(b"the validated manifest")
    fake.manifests[("test/liar", wanted)] = (rs.OCI_MANIFEST, b"other bytes")
    with rs.serve_fake(fake) as address:
        image = f"{address}/test/liar@{wanted}"
        status, output = verify(capsys, tmp_path, image, image, "--registry", env=env)
    assert status == 1
    assert f"answered digest {rs.sha256(b'other bytes')} for {wanted}" in output


# --- a fake registry: bearer tokens -------------------------------------------------------


def test_bearer_flow_with_docker_config_credentials(
    tmp_path: Path, env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    fake = rs.FakeRegistry(basic=(USER, PASSWORD))
    digest = fake.add("team/private", "v2", rs.OCI_MANIFEST, b'{"private": true}')
    with rs.serve_fake(fake) as address:
        docker_config(env, address, USER, PASSWORD)
        image = f"{address}/team/private@{digest}"
        status, output = verify(
            capsys, tmp_path, image, image, "--registry", "--expect-tag", "v2", env=env
        )
    assert status == 0, output
    assert fake.tokens
    token_requests = [auth for _, path, auth in fake.seen if path == "/token"]
    assert token_requests and all(auth.startswith("Basic ") for auth in token_requests)
    bearer = [auth for _, path, auth in fake.seen if "/manifests/" in path and auth]
    assert bearer and all(auth.startswith("Bearer ") for auth in bearer)
    assert PASSWORD not in output
    assert base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode() not in output
    assert not any(token in output for token in fake.tokens)


def test_bearer_flow_with_environment_credentials(
    tmp_path: Path, env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    fake = rs.FakeRegistry(basic=(USER, PASSWORD))
    digest = fake.add("team/private", None, rs.OCI_MANIFEST, b'{"env": true}')
    with rs.serve_fake(fake) as address:
        docker_config(env, address, USER, "a wrong password in the config")
        env = {**env, "DIGESTGATE_REGISTRY_USER": USER, "DIGESTGATE_REGISTRY_PASSWORD": PASSWORD}
        image = f"{address}/team/private@{digest}"
        status, output = verify(capsys, tmp_path, image, image, "--registry", env=env)
    assert status == 0, output
    assert PASSWORD not in output


def test_bearer_flow_with_wrong_credentials_blocks_without_printing_them(
    tmp_path: Path, env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    fake = rs.FakeRegistry(basic=(USER, PASSWORD))
    digest = fake.add("team/private", None, rs.OCI_MANIFEST, b'{"wrong": true}')
    wrong = "wr0ng-Pa55word-also-never-printed"
    with rs.serve_fake(fake) as address:
        docker_config(env, address, USER, wrong)
        image = f"{address}/team/private@{digest}"
        status, output = verify(capsys, tmp_path, image, image, "--registry", env=env)
    assert status == 1
    assert f"registry check failed: token endpoint {address} answered HTTP 401" in output
    assert wrong not in output
    assert base64.b64encode(f"{USER}:{wrong}".encode()).decode() not in output


def test_anonymous_request_to_a_token_registry_blocks(
    tmp_path: Path, env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    fake = rs.FakeRegistry(basic=(USER, PASSWORD))
    digest = fake.add("team/private", None, rs.OCI_MANIFEST, b'{"anonymous": true}')
    with rs.serve_fake(fake) as address:
        image = f"{address}/team/private@{digest}"
        status, output = verify(capsys, tmp_path, image, image, "--registry", env=env)
    assert status == 1
    assert "registry check failed" in output
    assert not [auth for _, path, auth in fake.seen if path == "/token" and auth]


def test_redirect_to_another_host_drops_authorization(
    tmp_path: Path, env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    storage = rs.FakeRegistry()
    digest = storage.add("team/private", None, rs.OCI_MANIFEST, b'{"redirected": true}')
    front = rs.FakeRegistry(basic=(USER, PASSWORD))
    with rs.serve_fake(storage, host="127.0.0.2") as storage_address:
        front.redirect_to = f"http://{storage_address}"
        with rs.serve_fake(front) as address:
            docker_config(env, address, USER, PASSWORD)
            image = f"{address}/team/private@{digest}"
            status, output = verify(capsys, tmp_path, image, image, "--registry", env=env)
    assert status == 0, output
    assert any(auth.startswith("Bearer ") for _, _, auth in front.seen)
    assert storage.seen and all(auth == "" for _, _, auth in storage.seen)


# --- failing closed -------------------------------------------------------------------------


def test_unreachable_registry_blocks(
    tmp_path: Path, env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    address = f"127.0.0.1:{rs.free_port()}"
    image = f"{address}/test/app@{rs.sha256(b'x')}"
    status, output = verify(capsys, tmp_path, image, image, "--registry", env=env)
    assert status == 1
    assert f"registry check failed: {address}: cannot connect" in output


def test_expect_tag_needs_registry(
    tmp_path: Path, env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    image = f"127.0.0.1:5000/test/app@{rs.sha256(b'x')}"
    status, output = verify(capsys, tmp_path, image, image, "--expect-tag", "v1", env=env)
    assert status == 2
    assert "--expect-tag needs --registry" in output


def test_bad_expected_tag_is_a_usage_error(
    tmp_path: Path, env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    image = f"127.0.0.1:5000/test/app@{rs.sha256(b'x')}"
    status, output = verify(
        capsys, tmp_path, image, image, "--registry", "--expect-tag", "bad:tag", env=env
    )
    assert status == 2
    assert "is not a valid tag" in output


# --- hosts and credentials (no network) -------------------------------------------------------


def test_hosts_and_schemes() -> None:
    assert registry_client.registry_host("docker.io") == "registry-1.docker.io"
    assert registry_client.registry_host("ghcr.io") == "ghcr.io"
    for host in ("localhost", "localhost:5000", "127.0.0.1:5000", "127.1.2.3", "[::1]:5000"):
        assert registry_client.is_local(host), host
    for host in ("ghcr.io", "127.0.0.1.example.com", "10.0.0.1:5000", "registry-1.docker.io"):
        assert not registry_client.is_local(host), host
    with pytest.raises(registry_client.RegistryError, match="https only"):
        registry_client._check_scheme("http://ghcr.io/v2/")


def test_docker_hub_credentials_from_the_docker_config(env: dict[str, str]) -> None:
    docker_config(env, "https://index.docker.io/v1/", USER, PASSWORD)
    assert registry_client.credentials("docker.io", env) == (USER, PASSWORD)
    assert registry_client.credentials("ghcr.io", env) is None
    assert registry_client.credentials("ghcr.io", {**env, "DIGESTGATE_REGISTRY_USER": "u"}) is None
    both = {**env, "DIGESTGATE_REGISTRY_USER": "u", "DIGESTGATE_REGISTRY_PASSWORD": "p"}
    assert registry_client.credentials("ghcr.io", both) == ("u", "p")
