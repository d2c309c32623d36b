"""A minimal OCI distribution client for `digestgate verify --registry` (RUNTIME.md check 5).

`head_digest(ref)` asks the registry which digest a reference resolves to:
`HEAD /v2/<name>/manifests/<digest-or-tag>` with the four manifest media types in `Accept`,
the `Docker-Content-Digest` answer (or, when a registry omits it, the sha256 of the exact
bytes of a `GET`), or `None` when the registry answers 404.

Authentication: anonymous first; on `401` with a `Bearer` challenge, a token from the
challenge's realm (with basic credentials when known), on a `Basic` challenge the basic
credentials themselves. Credentials come from `DIGESTGATE_REGISTRY_USER` and
`DIGESTGATE_REGISTRY_PASSWORD`, else from the Docker config file (`$DOCKER_CONFIG/config.json`
or `~/.docker/config.json`, `auths.<host>.auth`). Credentials are never part of a message:
errors name the host and the HTTP status only.

Plain http only for localhost, 127.0.0.0/8 and [::1]; https otherwise. Redirects are
followed, but `Authorization` is never forwarded to another host.

Standard library only, so that `digestgate verify` stays light.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import re
import ssl
from collections.abc import Mapping
from urllib.parse import urlencode, urljoin, urlsplit

from digestgate.imageref import DEFAULT_DOMAIN, ImageRef

__all__ = [
    "MANIFEST_MEDIA_TYPES",
    "RegistryError",
    "credentials",
    "head_digest",
    "registry_host",
]

MANIFEST_MEDIA_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
ACCEPT = ", ".join(MANIFEST_MEDIA_TYPES)
#: Docker Hub names normalise to `docker.io`; its registry API lives here.
DOCKER_HUB_REGISTRY = "registry-1.docker.io"
#: Keys the Docker CLI uses for Docker Hub in `auths`.
_DOCKER_HUB_KEYS = (
    "https://index.docker.io/v1/",
    "index.docker.io",
    "docker.io",
    DOCKER_HUB_REGISTRY,
)
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
MAX_TOKEN_BYTES = 1024 * 1024
MAX_REDIRECTS = 5
USER_AGENT = "digestgate-verify"

_PARAM = re.compile(r'([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))')


class RegistryError(Exception):
    """Anything unexpected while asking a registry; the message names the host and the
    status, never a credential."""


# --- hosts and credentials -----------------------------------------------------------


def registry_host(domain: str) -> str:
    """The host (and port) serving the registry API for a normalised domain."""
    return DOCKER_HUB_REGISTRY if domain == DEFAULT_DOMAIN else domain


def _hostname(host: str) -> str:
    """`host` without its port; `[::1]:5000` -> `::1`."""
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def is_local(host: str) -> bool:
    """localhost, 127.0.0.0/8 or [::1] (with or without a port)."""
    name = _hostname(host).lower()
    if name in ("localhost", "::1"):
        return True
    parts = name.split(".")
    return len(parts) == 4 and parts[0] == "127" and all(p.isdigit() for p in parts)


def _config_path(env: Mapping[str, str]) -> str:
    directory = env.get("DOCKER_CONFIG", "").strip()
    if directory:
        return os.path.join(directory, "config.json")
    home = env.get("HOME", "").strip() or os.path.expanduser("~")
    return os.path.join(home, ".docker", "config.json")


def _auth_key(key: str) -> str:
    """A Docker config `auths` key reduced to host[:port]."""
    if "://" in key:
        key = key.partition("://")[2]
    return key.partition("/")[0].lower()


def _from_docker_config(domain: str, env: Mapping[str, str]) -> tuple[str, str] | None:
    try:
        with open(_config_path(env), encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    auths = data.get("auths") if isinstance(data, dict) else None
    if not isinstance(auths, dict):
        return None
    wanted = {domain.lower(), registry_host(domain).lower()}
    if domain == DEFAULT_DOMAIN:
        wanted.update(_auth_key(k) for k in _DOCKER_HUB_KEYS)
    for key, entry in auths.items():
        if not isinstance(key, str) or _auth_key(key) not in wanted:
            continue
        if not isinstance(entry, dict) or not isinstance(entry.get("auth"), str):
            continue
        try:
            user, sep, password = base64.b64decode(entry["auth"]).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            continue
        if sep and user:
            return user, password
    return None


def credentials(domain: str, env: Mapping[str, str] = os.environ) -> tuple[str, str] | None:
    """Basic credentials for a registry domain (`docker.io`, `ghcr.io`, `localhost:5000`):
    `DIGESTGATE_REGISTRY_USER`/`DIGESTGATE_REGISTRY_PASSWORD`, else the Docker config."""
    user = env.get("DIGESTGATE_REGISTRY_USER", "")
    password = env.get("DIGESTGATE_REGISTRY_PASSWORD", "")
    if user and password:
        return user, password
    return _from_docker_config(domain, env)


def _basic(creds: tuple[str, str]) -> str:
    return "Basic " + base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode("ascii")


# --- HTTP ----------------------------------------------------------------------------


class _Response:
    def __init__(self, status: int, headers: http.client.HTTPMessage, body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body


def _netloc(url: str) -> str:
    return urlsplit(url).netloc.lower()


def _check_scheme(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme == "https":
        return
    if parts.scheme == "http" and is_local(parts.netloc):
        return
    raise RegistryError(f"{parts.netloc or url}: refusing {parts.scheme or 'a'} URL (https only)")


def _once(
    method: str, url: str, headers: Mapping[str, str], timeout: float, limit: int
) -> _Response:
    _check_scheme(url)
    parts = urlsplit(url)
    host = parts.netloc
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(
            host, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        connection = http.client.HTTPConnection(host, timeout=timeout)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    try:
        connection.request(method, target, headers={"User-Agent": USER_AGENT, **headers})
        response = connection.getresponse()
        body = b"" if method == "HEAD" else response.read(limit + 1)
        if len(body) > limit:
            raise RegistryError(f"{host}: answer larger than {limit} bytes")
        return _Response(response.status, response.headers, body)
    except (OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise RegistryError(f"{host}: cannot connect ({reason})") from None
    finally:
        connection.close()


def _request(
    method: str,
    url: str,
    headers: Mapping[str, str],
    *,
    timeout: float,
    limit: int = MAX_MANIFEST_BYTES,
) -> _Response:
    """One request, following redirects; `Authorization` stays on the first host."""
    origin = _netloc(url)
    current = dict(headers)
    for _ in range(MAX_REDIRECTS + 1):
        response = _once(method, url, current, timeout, limit)
        location = response.headers.get("Location")
        if response.status not in (301, 302, 303, 307, 308) or not location:
            return response
        url = urljoin(url, location)
        if _netloc(url) != origin:
            current = {k: v for k, v in current.items() if k.lower() != "authorization"}
        if response.status == 303 and method != "HEAD":
            method = "GET"
    raise RegistryError(f"{origin}: too many redirects")


def _challenge(header: str) -> tuple[str, dict[str, str]]:
    """(scheme, parameters) of a `WWW-Authenticate` header."""
    scheme, _, rest = header.strip().partition(" ")
    params = {
        m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3) or "")
        for m in _PARAM.finditer(rest)
    }
    return scheme.lower(), params


def _token(
    params: Mapping[str, str], scope: str, creds: tuple[str, str] | None, timeout: float
) -> str:
    realm = params.get("realm", "")
    parts = urlsplit(realm)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise RegistryError("registry asked for a token without a usable realm")
    realm_host = parts.netloc
    query = {k: v for k, v in (("service", params.get("service", "")), ("scope", scope)) if v}
    url = realm + ("&" if parts.query else "?") + urlencode(query) if query else realm
    headers = {"Accept": "application/json"}
    if creds is not None:
        headers["Authorization"] = _basic(creds)
    response = _request("GET", url, headers, timeout=timeout, limit=MAX_TOKEN_BYTES)
    if response.status != 200:
        raise RegistryError(f"token endpoint {realm_host} answered HTTP {response.status}")
    try:
        data = json.loads(response.body)
    except ValueError:
        raise RegistryError(f"token endpoint {realm_host} answered no JSON") from None
    token = None
    if isinstance(data, dict):
        token = data.get("token") or data.get("access_token")
    if not isinstance(token, str) or not token:
        raise RegistryError(f"token endpoint {realm_host} answered no token")
    return token


class _Session:
    """Requests to one repository of one registry, with the authorization it earned."""

    def __init__(self, ref: ImageRef, env: Mapping[str, str], timeout: float) -> None:
        domain = ref.normalized_domain
        self.host = registry_host(domain)
        self.repository = ref.normalized_name[len(domain) + 1 :]
        self.scheme = "http" if is_local(self.host) else "https"
        self.env = env
        self.domain = domain
        self.timeout = timeout
        self.authorization: str | None = None

    def manifest_url(self, reference: str) -> str:
        return f"{self.scheme}://{self.host}/v2/{self.repository}/manifests/{reference}"

    def request(self, method: str, url: str) -> _Response:
        headers = {"Accept": ACCEPT}
        if self.authorization is not None:
            headers["Authorization"] = self.authorization
        response = _request(method, url, headers, timeout=self.timeout)
        if response.status != 401 or self.authorization is not None:
            return response
        challenge = response.headers.get("WWW-Authenticate", "")
        scheme, params = _challenge(challenge)
        creds = credentials(self.domain, self.env)
        if scheme == "bearer":
            scope = params.get("scope") or f"repository:{self.repository}:pull"
            self.authorization = "Bearer " + _token(params, scope, creds, self.timeout)
        elif scheme == "basic" and creds is not None:
            self.authorization = _basic(creds)
        else:
            return response
        headers["Authorization"] = self.authorization
        return _request(method, url, headers, timeout=self.timeout)


def _status_error(host: str, response: _Response) -> RegistryError:
    if response.status in (401, 403):
        return RegistryError(f"{host}: access denied (HTTP {response.status})")
    return RegistryError(f"{host}: unexpected answer HTTP {response.status}")


def head_digest(
    ref: ImageRef, *, env: Mapping[str, str] = os.environ, timeout: float = 10
) -> str | None:
    """The digest `ref` (its digest, else its tag, else `latest`) resolves to in its
    registry, or `None` when the registry answers 404; `RegistryError` otherwise."""
    reference = ref.digest or ref.tag or "latest"
    session = _Session(ref, env, timeout)
    url = session.manifest_url(reference)
    response = session.request("HEAD", url)
    if response.status == 404:
        return None
    if response.status != 200:
        raise _status_error(session.host, response)
    digest = response.headers.get("Docker-Content-Digest", "").strip()
    if digest:
        return digest
    response = session.request("GET", url)
    if response.status == 404:
        return None
    if response.status != 200:
        raise _status_error(session.host, response)
    return "sha256:" + hashlib.sha256(response.body).hexdigest()
