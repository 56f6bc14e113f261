"""The cluster's certificates and kubeconfigs, made locally with openssl (no cfssl download).

Identities are local-up-cluster's, so the default RBAC bindings cover every component.
"""

from __future__ import annotations

import base64
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .layout import API_PORT, KUBERNETES_SERVICE_IP, NODE_IP, NODE_NAME, Layout


@dataclass(frozen=True)
class Leaf:
    name: str
    subject: str
    alt_names: str = ""
    ca: str = "ca"


LEAVES = (
    Leaf(
        "apiserver",
        "/CN=kube-apiserver",
        "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,"
        "DNS:kubernetes.default.svc.cluster.local,DNS:localhost,"
        f"IP:127.0.0.1,IP:{KUBERNETES_SERVICE_IP},IP:{NODE_IP}",
    ),
    Leaf("admin", "/O=system:masters/CN=corebound-admin"),
    Leaf("apiserver-kubelet-client", "/O=system:masters/CN=kube-apiserver-kubelet-client"),
    Leaf("controller-manager", "/CN=system:kube-controller-manager"),
    Leaf("scheduler", "/CN=system:kube-scheduler"),
    Leaf("kube-proxy", "/CN=system:kube-proxy"),
    Leaf("kubelet-client", f"/O=system:nodes/CN=system:node:{NODE_NAME}"),
    # The kubelet's serving certificate; metrics-server and `kubectl logs` connect to it.
    Leaf("kubelet", f"/CN={NODE_NAME}", f"DNS:{NODE_NAME},DNS:localhost,IP:{NODE_IP},IP:127.0.0.1"),
    Leaf("front-proxy-client", "/CN=front-proxy-client", ca="front-proxy-ca"),
    # The registry's serving certificate; containerd, podman and helm verify it with the CA.
    Leaf("registry", "/CN=corebound-registry", f"IP:{NODE_IP},IP:127.0.0.1,DNS:localhost"),
)

# Which component's kubeconfig uses which client certificate.
KUBECONFIGS = {
    "admin": "admin",
    "controller-manager": "controller-manager",
    "scheduler": "scheduler",
    "kube-proxy": "kube-proxy",
    "kubelet": "kubelet-client",
}


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _ca(pki: Path, name: str, subject: str) -> None:
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
        "-out", f"{name}.crt", "-days", "3650", "-subj", subject, cwd=pki,
    )  # fmt: skip


def _leaf(pki: Path, leaf: Leaf) -> None:
    # Without the -addext overrides, `req -x509 -CA` marks leaf certificates CA:TRUE.
    args = [
        "req", "-x509", "-newkey", "rsa:2048", "-nodes",
        "-keyout", f"{leaf.name}.key", "-out", f"{leaf.name}.crt", "-days", "365",
        "-subj", leaf.subject, "-CA", f"{leaf.ca}.crt", "-CAkey", f"{leaf.ca}.key",
        "-addext", "basicConstraints=critical,CA:FALSE",
        "-addext", "keyUsage=critical,digitalSignature,keyEncipherment",
        "-addext", "extendedKeyUsage=serverAuth,clientAuth",
    ]  # fmt: skip
    if leaf.alt_names:
        args += ["-addext", f"subjectAltName={leaf.alt_names}"]
    _openssl(*args, cwd=pki)


def ensure(layout: Layout) -> None:
    """Makes whatever part of the PKI and kubeconfigs is missing; what exists is kept, so a
    cluster made before a new leaf was added gains just that leaf."""
    pki = layout.pki
    pki.mkdir(parents=True, exist_ok=True)
    for ca, subject in (("ca", "/CN=corebound-local-ca"),
                        ("front-proxy-ca", "/CN=corebound-front-proxy-ca")):  # fmt: skip
        if not (pki / f"{ca}.crt").exists():
            _ca(pki, ca, subject)
    for leaf in LEAVES:
        if not (pki / f"{leaf.name}.crt").exists():  # openssl writes the key first
            _leaf(pki, leaf)
    if not (pki / "service-account.pub").exists():
        _openssl("genrsa", "-out", "service-account.key", "2048", cwd=pki)
        _openssl("rsa", "-in", "service-account.key", "-pubout", "-out", "service-account.pub",
                 cwd=pki)  # fmt: skip
    for name, cert in KUBECONFIGS.items():
        path = layout.kubeconfig if name == "admin" else layout.config / f"{name}.kubeconfig"
        if not path.exists():
            write_kubeconfig(path, pki, cert)


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def write_kubeconfig(path: Path, pki: Path, cert: str) -> None:
    """A kubeconfig with embedded certificates (the file stands alone, as kubeadm's do)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"""apiVersion: v1
kind: Config
clusters:
- name: corebound-local
  cluster:
    server: https://127.0.0.1:{API_PORT}
    certificate-authority-data: {_b64(pki / "ca.crt")}
users:
- name: {cert}
  user:
    client-certificate-data: {_b64(pki / f"{cert}.crt")}
    client-key-data: {_b64(pki / f"{cert}.key")}
contexts:
- name: corebound-local
  context: {{cluster: corebound-local, user: {cert}}}
current-context: corebound-local
"""
    )
    path.chmod(0o600)
