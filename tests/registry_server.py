"""Test helpers for the registry check: a real registry (Debian's `docker-registry`, that is
Distribution 2.8) started on 127.0.0.1, an uploader that pushes images built from bytes the
tests write, and a tiny fake registry (optionally without `Docker-Content-Digest`, optionally
behind a bearer-token or redirect) served by `http.server`.

Nothing here talks to any address outside 127.0.0.0/8.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import secrets
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

REGISTRY_BINARY = "/usr/bin/docker-registry"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# --- a real registry -----------------------------------------------------------------


def registry_binary() -> str | None:
    """The `docker-registry` binary, or None."""
    found = shutil.which("docker-registry")
    if found:
        return found
    return REGISTRY_BINARY if os.access(REGISTRY_BINARY, os.X_OK) else None


@contextmanager
def real_registry(binary: str, workdir: Path, *, wait: float = 30.0) -> Iterator[str]:
    """Run `docker-registry serve CONFIG` on 127.0.0.1:<free port>; yields `127.0.0.1:PORT`."""
    port = free_port()
    storage = workdir / "storage"
    storage.mkdir(parents=True, exist_ok=True)
    config = workdir / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: error\n"
        "storage:\n"
        f"  filesystem:\n    rootdirectory: {storage}\n"
        "  delete:\n    enabled: true\n"
        "http:\n"
        f"  addr: 127.0.0.1:{port}\n",
        encoding="utf-8",
    )
    log = (workdir / "registry.log").open("wb")
    process = subprocess.Popen(
        [binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT, cwd=workdir
    )
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + wait
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"docker-registry exited with {process.returncode}: "
                    + (workdir / "registry.log").read_text(errors="replace")[-2000:]
                )
            try:
                status, _, _ = request(address, "GET", "/v2/")
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"docker-registry did not answer GET /v2/ within {wait} s")
            time.sleep(0.1)
        yield address
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def request(
    address: str,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> tuple[int, http.client.HTTPMessage, bytes]:
    connection = http.client.HTTPConnection(address, timeout=10)
    try:
        connection.request(method, path, body=body, headers=dict(headers or {}))
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


# --- pushing images --------------------------------------------------------------------


def push_blob(address: str, name: str, data: bytes) -> str:
    """Upload a blob (POST then monolithic PUT); its digest."""
    digest = sha256(data)
    status, headers, body = request(address, "POST", f"/v2/{name}/blobs/uploads/")
    if status != 202:
        raise RuntimeError(f"blob upload start: HTTP {status} {body!r}")
    location = headers["Location"]
    parts = urlsplit(location)
    path = parts.path + ("?" + parts.query if parts.query else "")
    path += ("&" if parts.query else "?") + f"digest={digest}"
    status, _, body = request(
        address,
        "PUT",
        path,
        body=data,
        headers={"Content-Type": "application/octet-stream", "Content-Length": str(len(data))},
    )
    if status != 201:
        raise RuntimeError(f"blob upload: HTTP {status} {body!r}")
    return digest


def push_manifest(address: str, name: str, reference: str, media_type: str, data: bytes) -> str:
    """PUT a manifest under a tag or its digest; its digest."""
    path = f"/v2/{name}/manifests/{reference}"
    status, headers, body = request(
        address, "PUT", path, body=data, headers={"Content-Type": media_type}
    )
    if status != 201:
        raise RuntimeError(f"manifest upload: HTTP {status} {body!r}")
    digest = sha256(data)
    answered = headers.get("Docker-Content-Digest")
    if answered is not None and answered != digest:
        raise RuntimeError(f"registry computed {answered}, expected {digest}")
    return digest


def image_manifest(address: str, name: str, seed: str, arch: str = "amd64") -> bytes:
    """Push a config and a layer made from `seed`; the bytes of an OCI image manifest."""
    config = json.dumps(
        {"architecture": arch, "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}},
        sort_keys=True,
    ).encode()
    layer = f"layer for {seed}\n".encode()
    config_digest = push_blob(address, name, config)
    layer_digest = push_blob(address, name, layer)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config)},
        "layers": [{"mediaType": OCI_LAYER, "digest": layer_digest, "size": len(layer)}],
        "annotations": {"seed": seed},
    }
    return json.dumps(manifest, sort_keys=True, indent=2).encode()


def push_image(address: str, name: str, seed: str, tag: str | None = None) -> str:
    """Push a single-platform OCI image (by digest, and under `tag` if given); its digest."""
    data = image_manifest(address, name, seed)
    digest = push_manifest(address, name, sha256(data), OCI_MANIFEST, data)
    if tag is not None:
        push_manifest(address, name, tag, OCI_MANIFEST, data)
    return digest


def push_index(address: str, name: str, seed: str, tag: str | None = None) -> tuple[str, list[str]]:
    """Push two platform manifests and an OCI index of them; (index digest, their digests)."""
    children: list[dict[str, Any]] = []
    digests: list[str] = []
    for arch in ("amd64", "arm64"):
        data = image_manifest(address, name, f"{seed}-{arch}", arch)
        digest = push_manifest(address, name, sha256(data), OCI_MANIFEST, data)
        digests.append(digest)
        children.append(
            {
                "mediaType": OCI_MANIFEST,
                "digest": digest,
                "size": len(data),
                "platform": {"architecture": arch, "os": "linux"},
            }
        )
    index = json.dumps(
        {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": children}, indent=2
    ).encode()
    index_digest = push_manifest(address, name, sha256(index), OCI_INDEX, index)
    if tag is not None:
        push_manifest(address, name, tag, OCI_INDEX, index)
    return index_digest, digests


# --- a tiny fake registry ----------------------------------------------------------------


@dataclass
class FakeRegistry:
    """Serves `manifests[(name, reference)] = (media type, bytes)`.

    `digest_header`: send `Docker-Content-Digest` (a registry of an earlier spec may not).
    `basic`: when set, the registry wants a bearer token from its own `/token` realm, which
    it issues only for these basic credentials. `redirect_to`: answer manifest requests with
    a 307 to this base URL instead. `seen` records (method, path, Authorization or "")."""

    manifests: dict[tuple[str, str], tuple[str, bytes]] = field(default_factory=dict)
    digest_header: bool = True
    basic: tuple[str, str] | None = None
    redirect_to: str | None = None
    seen: list[tuple[str, str, str]] = field(default_factory=list)
    tokens: set[str] = field(default_factory=set)
    address: str = ""

    def add(self, name: str, tag: str | None, media_type: str, data: bytes) -> str:
        digest = sha256(data)
        self.manifests[(name, digest)] = (media_type, data)
        if tag is not None:
            self.manifests[(name, tag)] = (media_type, data)
        return digest


def _handler(fake: FakeRegistry) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, headers: Mapping[str, str], body: bytes = b"") -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            if "Content-Length" not in headers:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _authorized(self) -> bool:
            if fake.basic is None:
                return True
            value = self.headers.get("Authorization", "")
            return value.startswith("Bearer ") and value[len("Bearer ") :] in fake.tokens

        def _token(self) -> None:
            assert fake.basic is not None
            query = parse_qs(urlsplit(self.path).query)
            expected = "Basic " + base64.b64encode(":".join(fake.basic).encode()).decode()
            if self.headers.get("Authorization") != expected or query.get("service") != [
                "fake-registry"
            ]:
                self._send(401, {"Content-Type": "application/json"}, b'{"errors":[]}')
                return
            token = secrets.token_hex(16)
            fake.tokens.add(token)
            body = json.dumps({"access_token": token, "expires_in": 60}).encode()
            self._send(200, {"Content-Type": "application/json"}, body)

        def _serve(self) -> None:
            path = urlsplit(self.path).path
            fake.seen.append((self.command, path, self.headers.get("Authorization", "")))
            if path == "/token":
                self._token()
                return
            if not self._authorized():
                name = path.removeprefix("/v2/").rpartition("/manifests/")[0]
                challenge = (
                    f'Bearer realm="http://{fake.address}/token",service="fake-registry",'
                    f'scope="repository:{name}:pull"'
                )
                self._send(401, {"WWW-Authenticate": challenge}, b'{"errors":[]}')
                return
            if path == "/v2/":
                self._send(200, {"Content-Type": "application/json"}, b"{}")
                return
            name, sep, reference = path.removeprefix("/v2/").rpartition("/manifests/")
            if not sep or not path.startswith("/v2/"):
                self._send(404, {}, b"")
                return
            if fake.redirect_to is not None:
                self._send(307, {"Location": fake.redirect_to + path})
                return
            found = fake.manifests.get((name, reference))
            if found is None:
                self._send(404, {"Content-Type": "application/json"}, b'{"errors":[]}')
                return
            media_type, data = found
            headers = {"Content-Type": media_type, "Content-Length": str(len(data))}
            if fake.digest_header:
                headers["Docker-Content-Digest"] = sha256(data)
            self._send(200, headers, data)

        do_GET = _serve
        do_HEAD = _serve

    return Handler


@contextmanager
def serve_fake(fake: FakeRegistry, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve `fake` on `host` (in 127.0.0.0/8):<free port>; yields `host:PORT`."""
    server = ThreadingHTTPServer((host, 0), _handler(fake))
    server.daemon_threads = True
    fake.address = f"{host}:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake.address
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
