"""Credentials for one release only: podman's auth file, Helm's registry config and the CA
live in a temporary directory that is removed afterwards; nothing is left in $HOME."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from . import tools

PASSWORD_ENV = "REGISTRY_PASSWORD"


@dataclass(frozen=True)
class Session:
    authfile: Path  # podman's --authfile
    helm_config: Path  # Helm's --registry-config
    cert_dir: Path | None  # podman's --cert-dir: the registry's CA as ca.crt
    ca_file: Path | None  # Helm's --ca-file

    def podman_flags(self) -> list[str]:
        flags = ["--authfile", str(self.authfile)]
        return flags + (["--cert-dir", str(self.cert_dir)] if self.cert_dir else [])

    def helm_flags(self) -> list[str]:
        flags = ["--registry-config", str(self.helm_config)]
        return flags + (["--ca-file", str(self.ca_file)] if self.ca_file else [])


@contextmanager
def session(host: str, username: str | None, ca_file: Path | None) -> Iterator[Session]:
    """Logged in to host as username (the password from $REGISTRY_PASSWORD), or, without a
    username, with the credentials podman and Helm already hold (their own logins)."""
    with tempfile.TemporaryDirectory(prefix="corebound-release-") as tmp:
        cert_dir = None
        if ca_file is not None:
            cert_dir = Path(tmp) / "certs"
            cert_dir.mkdir()
            shutil.copyfile(ca_file, cert_dir / "ca.crt")
        if username is None:
            yield Session(_podman_default_auth(Path(tmp)), _helm_default_config(), cert_dir,
                          ca_file)  # fmt: skip
            return
        password = os.environ.get(PASSWORD_ENV)
        if not password:
            raise SystemExit(f"--username {username} needs the password in ${PASSWORD_ENV}")
        made = Session(Path(tmp) / "auth.json", Path(tmp) / "helm-registry.json", cert_dir,
                       ca_file)  # fmt: skip
        tools.podman("login", *made.podman_flags(), "--username", username, "--password-stdin",
                     host, input=password)  # fmt: skip
        tools.helm("registry", "login", *made.helm_flags(), "--username", username,
                   "--password-stdin", host, input=password)  # fmt: skip
        yield made


def _podman_default_auth(tmp: Path) -> Path:
    """podman's own auth file, or an empty one (a registry that needs no login)."""
    runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    default = Path(os.environ.get("REGISTRY_AUTH_FILE") or Path(runtime) / "containers/auth.json")
    if default.exists():
        return default
    empty = tmp / "auth.json"
    empty.write_text('{"auths": {}}')
    return empty


def _helm_default_config() -> Path:
    config = os.environ.get("HELM_REGISTRY_CONFIG")
    return Path(config) if config else Path.home() / ".config/helm/registry/config.json"
