"""The cluster's processes in one ordered list: command line, config files and readiness.

`up` starts them in this order, waiting for each one's readiness before the next; `down` and
a restart stop them in reverse, clients before the servers they talk to. Flags follow
upstream's hack/local-up-cluster.sh, trimmed to one node on one machine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import configs, health, registry
from .layout import API_PORT, NODE_IP, NODE_NAME, SERVICE_CIDR, Layout


def _no_files(layout: Layout) -> dict[Path, str]:
    return {}


@dataclass(frozen=True)
class Component:
    name: str  # its PID file and log; under bin/, the binary it runs (but containerd)
    argv: Callable[[Layout], list[str]]
    ready: health.Check | None = None  # awaited before the next one starts
    ready_s: float = 120
    files: Callable[[Layout], dict[Path, str]] = _no_files  # config files it reads at start
    env: tuple[tuple[str, str], ...] = ()  # added to the environment it starts with


def _containerd(layout: Layout) -> list[str]:
    # The machine's containerd (Debian's package), found on PATH.
    return ["containerd", f"--config={layout.config / 'containerd.toml'}"]


def _etcd(layout: Layout) -> list[str]:
    return [
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
    ]


def _apiserver(layout: Layout) -> list[str]:
    pki = layout.pki
    return [
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
    ]


def _controller_manager(layout: Layout) -> list[str]:
    pki, kubeconfig = layout.pki, layout.config / "controller-manager.kubeconfig"
    return [
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
    ]


def _scheduler(layout: Layout) -> list[str]:
    kubeconfig = layout.config / "scheduler.kubeconfig"
    return [
        str(layout.tool("kube-scheduler")),
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--leader-elect=false",
    ]


def _kubelet(layout: Layout) -> list[str]:
    return [
        str(layout.tool("kubelet")),
        f"--config={layout.config / 'kubelet.yaml'}",
        # Drop-ins override kubelet.yaml's fields (scripts/localcluster/node.py writes them).
        f"--config-dir={layout.kubelet_dropins}",
        f"--kubeconfig={layout.config / 'kubelet.kubeconfig'}",
        f"--root-dir={layout.kubelet_root}",
        f"--hostname-override={NODE_NAME}",
        f"--node-ip={NODE_IP}",
    ]


def _kube_proxy(layout: Layout) -> list[str]:
    return [str(layout.tool("kube-proxy")), f"--config={layout.config / 'kube-proxy.yaml'}"]


def _containerd_files(layout: Layout) -> dict[Path, str]:
    return {
        layout.config / "containerd.toml": configs.containerd(layout),
        layout.cni_conf_dir / "10-corebound.conflist": configs.cni_conflist(layout),
        layout.registry_hosts / registry.HOST / "hosts.toml": registry.containerd_hosts(layout),
    }


def _kubelet_files(layout: Layout) -> dict[Path, str]:
    return {
        layout.config / "kubelet.yaml": configs.kubelet(layout),
        # Makes the drop-in directory, which the kubelet refuses to start without.
        layout.kubelet_dropins / "README": configs.KUBELET_DROPINS_README,
    }


def _kube_proxy_files(layout: Layout) -> dict[Path, str]:
    return {layout.config / "kube-proxy.yaml": configs.kube_proxy(layout)}


CONTAINERD = "containerd"

ORDER = (
    # First up, last down: nothing else needs it to start, and pods pull from it until the end.
    Component("registry", registry.argv, registry.ready, 60, registry.files, registry.ENV),
    Component(CONTAINERD, _containerd, health.containerd_ready, 30, _containerd_files),
    Component("etcd", _etcd, health.etcd_ready, 60),
    Component("kube-apiserver", _apiserver, health.apiserver_ready),
    Component("kube-controller-manager", _controller_manager),
    Component("kube-scheduler", _scheduler),
    Component("kubelet", _kubelet, health.kubelet_ready, files=_kubelet_files),
    Component("kube-proxy", _kube_proxy, files=_kube_proxy_files),
)


def names() -> tuple[str, ...]:
    return tuple(component.name for component in ORDER)


def stop_order() -> tuple[Component, ...]:
    return tuple(reversed(ORDER))
