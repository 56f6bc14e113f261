"""The command line of every process the cluster runs, and how to tell it is up.

Flags follow upstream's hack/local-up-cluster.sh, trimmed to one node on one machine.
"""

from __future__ import annotations

import socket
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from .layout import API_PORT, NODE_IP, NODE_NAME, SERVICE_CIDR, Layout


@dataclass(frozen=True)
class Process:
    name: str
    argv: list[str]


def etcd(layout: Layout) -> Process:
    return Process(
        "etcd",
        [
            str(layout.tool("etcd")),
            f"--data-dir={layout.etcd_data}",
            "--listen-client-urls=http://127.0.0.1:2379",
            "--advertise-client-urls=http://127.0.0.1:2379",
            "--listen-peer-urls=http://127.0.0.1:2380",
            "--initial-advertise-peer-urls=http://127.0.0.1:2380",
            "--initial-cluster=default=http://127.0.0.1:2380",
            "--listen-metrics-urls=http://127.0.0.1:2381",
            # A throwaway test cluster: fsync only costs the shared disk.
            "--unsafe-no-fsync",
        ],
    )


def apiserver(layout: Layout) -> Process:
    pki = layout.pki
    return Process(
        "kube-apiserver",
        [
            str(layout.tool("kube-apiserver")),
            "--etcd-servers=http://127.0.0.1:2379",
            f"--advertise-address={NODE_IP}",
            f"--secure-port={API_PORT}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            f"--tls-cert-file={pki / 'apiserver.crt'}",
            f"--tls-private-key-file={pki / 'apiserver.key'}",
            f"--client-ca-file={pki / 'ca.crt'}",
            f"--kubelet-client-certificate={pki / 'apiserver-kubelet-client.crt'}",
            f"--kubelet-client-key={pki / 'apiserver-kubelet-client.key'}",
            f"--kubelet-certificate-authority={pki / 'ca.crt'}",
            # The node's name resolves nowhere; `kubectl logs`/`exec` go to its address.
            "--kubelet-preferred-address-types=InternalIP",
            "--service-account-issuer=https://kubernetes.default.svc",
            f"--service-account-key-file={pki / 'service-account.pub'}",
            f"--service-account-signing-key-file={pki / 'service-account.key'}",
            "--authorization-mode=Node,RBAC",
            "--enable-admission-plugins=NodeRestriction",
            "--allow-privileged=false",
            # The aggregation layer, which metrics-server's APIService needs.
            f"--requestheader-client-ca-file={pki / 'front-proxy-ca.crt'}",
            "--requestheader-allowed-names=front-proxy-client",
            "--requestheader-username-headers=X-Remote-User",
            "--requestheader-group-headers=X-Remote-Group",
            "--requestheader-extra-headers-prefix=X-Remote-Extra-",
            f"--proxy-client-cert-file={pki / 'front-proxy-client.crt'}",
            f"--proxy-client-key-file={pki / 'front-proxy-client.key'}",
            "--enable-aggregator-routing=true",
        ],
    )


def controller_manager(layout: Layout) -> Process:
    pki, kubeconfig = layout.pki, layout.config / "controller-manager.kubeconfig"
    return Process(
        "kube-controller-manager",
        [
            str(layout.tool("kube-controller-manager")),
            f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            f"--service-account-private-key-file={pki / 'service-account.key'}",
            f"--root-ca-file={pki / 'ca.crt'}",
            f"--cluster-signing-cert-file={pki / 'ca.crt'}",
            f"--cluster-signing-key-file={pki / 'ca.key'}",
            "--use-service-account-credentials",
            "--leader-elect=false",
            "--controllers=*,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller",
            # The HPA reacts within seconds rather than the 15 s default (tests wait for it).
            "--horizontal-pod-autoscaler-sync-period=5s",
        ],
    )


def scheduler(layout: Layout) -> Process:
    kubeconfig = layout.config / "scheduler.kubeconfig"
    return Process(
        "kube-scheduler",
        [
            str(layout.tool("kube-scheduler")),
            f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            "--leader-elect=false",
        ],
    )


def kubelet(layout: Layout) -> Process:
    return Process(
        "kubelet",
        [
            str(layout.tool("kubelet")),
            f"--config={layout.config / 'kubelet.yaml'}",
            f"--kubeconfig={layout.config / 'kubelet.kubeconfig'}",
            f"--root-dir={layout.kubelet_root}",
            f"--hostname-override={NODE_NAME}",
            f"--node-ip={NODE_IP}",
        ],
    )


def kube_proxy(layout: Layout) -> Process:
    return Process(
        "kube-proxy",
        [str(layout.tool("kube-proxy")), f"--config={layout.config / 'kube-proxy.yaml'}"],
    )


def containerd(layout: Layout) -> Process:
    return Process("containerd", ["containerd", f"--config={layout.config / 'containerd.toml'}"])


def wait_for(
    what: str, ready: Callable[[], bool], timeout_s: float, why: Callable[[], str]
) -> None:
    """Polls ready() until it holds; on timeout raises with why() (e.g. the log's tail)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.5)
    raise RuntimeError(f"{what} not ready after {timeout_s:.0f}s:\n{why()}")


def http_ok(url: str, context: ssl.SSLContext | None = None) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3, context=context) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def apiserver_ready(layout: Layout) -> bool:
    context = ssl.create_default_context(cafile=str(layout.pki / "ca.crt"))
    context.load_cert_chain(layout.pki / "admin.crt", layout.pki / "admin.key")
    return http_ok(f"https://127.0.0.1:{API_PORT}/readyz", context)


def socket_ready(path: str) -> bool:
    with socket.socket(socket.AF_UNIX) as sock:
        try:
            sock.connect(path)
        except OSError:
            return False
    return True
