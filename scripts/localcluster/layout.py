"""Where the local cluster keeps things, and its network.

One frozen description read by every step, so `up` and `down` agree on every path and name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# The address plan. Pods and services stay on this machine: the node's address on a link of
# its own and the pods' bridge, both made by `up`; the ranges avoid podman's 10.88.0.0/16.
NODE_NAME = "corebound-node"
NODE_IP = "10.200.255.1"
NODE_LINK = "cb-node0"
BRIDGE = "cb-cni0"
CNI_NETWORK = "corebound"
POD_CIDR = "10.244.0.0/16"
POD_SUBNET = "10.244.0.0/24"
SERVICE_CIDR = "10.96.0.0/16"
KUBERNETES_SERVICE_IP = "10.96.0.1"
DNS_SERVICE_IP = "10.96.0.10"
API_PORT = 6443

# Image names the cluster's manifests use; all local, none ever pulled.
PAUSE_IMAGE = "registry.k8s.io/pause:3.10"
IMAGE_PREFIX = "localhost/corebound-cluster"


def cache_root() -> Path:
    """Built binaries, kept outside the clone so a second run on this machine builds nothing."""
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "corebound"


@dataclass(frozen=True)
class Layout:
    """Every path the cluster writes; `down` removes all of them."""

    state: Path  # etcd data, PKI, configs, logs, PIDs, kubelet and containerd roots
    run: Path  # sockets and containerd's runtime state (tmpfs-like, under /run)
    bin: Path  # built binaries, each with a stamp of the sources it was built from

    @classmethod
    def default(cls) -> Layout:
        state = Path(os.environ.get("COREBOUND_CLUSTER_DIR", "/var/lib/corebound-cluster"))
        return cls(
            state=state,
            run=Path("/run/corebound-cluster"),
            bin=cache_root() / "cluster" / "bin",
        )

    @property
    def kubeconfig(self) -> Path:
        return self.state / "kubeconfig"

    @property
    def pki(self) -> Path:
        return self.state / "pki"

    @property
    def logs(self) -> Path:
        return self.state / "logs"

    @property
    def pids(self) -> Path:
        return self.state / "pids"

    @property
    def config(self) -> Path:
        return self.state / "config"

    @property
    def etcd_data(self) -> Path:
        return self.state / "etcd"

    @property
    def kubelet_dropins(self) -> Path:
        """The kubelet's --config-dir: each *.conf in it overrides fields of kubelet.yaml."""
        return self.config / "kubelet.conf.d"

    @property
    def kubelet_root(self) -> Path:
        return self.state / "kubelet"

    @property
    def containerd_root(self) -> Path:
        return self.state / "containerd"

    @property
    def containerd_state(self) -> Path:
        return self.run / "containerd"

    @property
    def containerd_socket(self) -> Path:
        return self.run / "containerd.sock"

    @property
    def cni_conf_dir(self) -> Path:
        return self.state / "cni"

    @property
    def cni_ipam_dir(self) -> Path:
        return self.state / "cni-ipam"

    @property
    def volumes(self) -> Path:
        """The local-path provisioner's PersistentVolumes, a directory each."""
        return self.state / "volumes"

    @property
    def registry(self) -> Path:
        """The registry's storage and credentials."""
        return self.state / "registry"

    @property
    def registry_hosts(self) -> Path:
        """containerd's config_path: a hosts.toml per registry it pulls from."""
        return self.config / "certs.d"

    def tool(self, name: str) -> Path:
        return self.bin / name

    def kubectl(self) -> list[str]:
        """The built kubectl as the cluster's admin."""
        return [str(self.tool("kubectl")), f"--kubeconfig={self.kubeconfig}"]
