"""The cluster's OCI registry: CNCF Distribution over TLS from the cluster's CA, htpasswd auth.

`python -m scripts.release` pushes the project's images and chart here; the kubelet pulls
them through containerd (which trusts the CA through hosts.toml), `helm install oci://`
reads the chart. Its data lives under the cluster's state directory, so `down` removes it.
"""

from __future__ import annotations

import secrets
import ssl
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .layout import NODE_IP, Layout

PORT = 5000
HOST = f"{NODE_IP}:{PORT}"  # on the node's own link: there only while the cluster is up
USERNAME = "corebound"


@dataclass(frozen=True)
class Credentials:
    host: str
    username: str
    password: str
    ca_file: Path  # the cluster's CA, which signed the registry's certificate


def credentials(layout: Layout) -> Credentials:
    return Credentials(HOST, USERNAME, _password_file(layout).read_text(), layout.pki / "ca.crt")


def _password_file(layout: Layout) -> Path:
    return layout.registry / "password"


def ensure_credentials(layout: Layout) -> None:
    """A random password and its bcrypt htpasswd entry, once per cluster (like the PKI)."""
    password_file = _password_file(layout)
    if password_file.exists() and _htpasswd(layout).exists():
        return
    layout.registry.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(24)
    # -i reads the password from stdin, never from the command line; -B is bcrypt, the one
    # hash Distribution's htpasswd reader accepts.
    entry = subprocess.run(
        ["htpasswd", "-n", "-i", "-B", USERNAME],
        input=password, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    _htpasswd(layout).write_text(entry + "\n")
    password_file.touch(mode=0o600)
    password_file.write_text(password)


def _htpasswd(layout: Layout) -> Path:
    return layout.registry / "htpasswd"


def config(layout: Layout) -> str:
    return f"""version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: {layout.registry / "data"}
  delete:
    enabled: true
http:
  addr: {HOST}
  tls:
    certificate: {layout.pki / "registry.crt"}
    key: {layout.pki / "registry.key"}
auth:
  htpasswd:
    realm: corebound-local
    path: {_htpasswd(layout)}
"""


def containerd_hosts(layout: Layout) -> str:
    """containerd's hosts.toml for the registry: TLS verified against the cluster's CA."""
    return f"""server = "https://{HOST}"

[host."https://{HOST}"]
  capabilities = ["pull", "resolve"]
  ca = "{layout.pki / "ca.crt"}"
"""


def files(layout: Layout) -> dict[Path, str]:
    return {layout.config / "registry.yaml": config(layout)}


def argv(layout: Layout) -> list[str]:
    return [str(layout.tool("registry")), "serve", str(layout.config / "registry.yaml")]


# Distribution exports traces over OTLP by default; nothing here collects them.
ENV = (("OTEL_TRACES_EXPORTER", "none"),)


def ready(layout: Layout) -> bool:
    """Serving TLS with the CA's certificate and asking for credentials (401 on /v2/)."""
    context = ssl.create_default_context(cafile=str(layout.pki / "ca.crt"))
    try:
        with urllib.request.urlopen(f"https://{HOST}/v2/", timeout=3, context=context):
            return False  # a registry answering without credentials is not the one configured
    except urllib.error.HTTPError as err:
        return err.code == 401
    except (urllib.error.URLError, OSError):
        return False
