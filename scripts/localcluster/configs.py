"""Configuration files of containerd, CNI, the kubelet and kube-proxy, written by `up`.

Written only before the process that reads them starts: kube-proxy exits when its file is
written under it, and a process reads its file once anyway.
"""

from __future__ import annotations

import json
from pathlib import Path

from .layout import (
    BRIDGE,
    CNI_NETWORK,
    DNS_SERVICE_IP,
    NODE_NAME,
    PAUSE_IMAGE,
    POD_CIDR,
    POD_SUBNET,
    Layout,
)

CNI_BIN_DIR = "/usr/lib/cni"  # Debian's containernetworking-plugins


def containerd(layout: Layout) -> str:
    """containerd 1.6 config (schema v2) with its own root, state and socket.

    restrict_oom_score_adj: pods ask for negative OOM scores, which needs CAP_SYS_RESOURCE;
    without it every sandbox fails in runc ("failed to update /proc/self/oom_score_adj").
    Its own CNI conf_dir: podman owns /etc/cni/net.d here.
    """
    return f"""version = 2
root = "{layout.containerd_root}"
state = "{layout.containerd_state}"

[grpc]
  address = "{layout.containerd_socket}"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  restrict_oom_score_adj = true
  # Pod network namespaces under our state dir, so `down` finds every mount it must undo.
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{CNI_BIN_DIR}"
    conf_dir = "{layout.cni_conf_dir}"
  # hosts.toml per registry: the local registry's CA (registry.containerd_hosts).
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "{layout.registry_hosts}"
"""


def cni_conflist(layout: Layout) -> str:
    """A bridge network (local-up-cluster's shape) with its IPAM state in the cluster's dir."""
    return json.dumps(
        {
            "cniVersion": "0.4.0",
            "name": CNI_NETWORK,
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": BRIDGE,
                    "isGateway": True,
                    "ipMasq": True,
                    # A pod reaching its own Service IP is sent back to itself.
                    "hairpinMode": True,
                    "ipam": {
                        "type": "host-local",
                        "dataDir": str(layout.cni_ipam_dir),
                        "ranges": [[{"subnet": POD_SUBNET}]],
                        "routes": [{"dst": "0.0.0.0/0"}],
                    },
                },
                {"type": "portmap", "capabilities": {"portMappings": True}},
            ],
        },
        indent=2,
    )


def kubelet(layout: Layout) -> str:
    pki = layout.pki
    return f"""apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
containerRuntimeEndpoint: unix://{layout.containerd_socket}
# containerd runs runc with cgroupfs (SystemdCgroup = false); there is no systemd here.
cgroupDriver: cgroupfs
# 1.35+ refuse cgroup v1 unless told; this machine has only v1.
failCgroupV1: false
failSwapOn: false
# The default -999 needs CAP_SYS_RESOURCE, which this machine's processes lack.
oomScoreAdj: 0
authentication:
  anonymous: {{enabled: false}}
  webhook: {{enabled: true}}
  x509: {{clientCAFile: {pki / "ca.crt"}}}
# metrics-server and the API server's `logs`/`exec` are authorized by the API server.
authorization: {{mode: Webhook}}
tlsCertFile: {pki / "kubelet.crt"}
tlsPrivateKeyFile: {pki / "kubelet.key"}
# Container logs under the cluster's own directory, which `down` removes.
podLogsDir: {layout.state / "pod-logs"}
clusterDNS: [{DNS_SERVICE_IP}]
clusterDomain: cluster.local
# Image GC would delete the imported add-on images, which no registry can give back.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
# A shared build machine's disk is often fuller than the defaults allow.
evictionHard:
  memory.available: 100Mi
  nodefs.available: "1%"
  imagefs.available: "1%"
  nodefs.inodesFree: "1%"
# Kernel sysctls are the machine's; do not fail when they differ from the kubelet's wishes.
protectKernelDefaults: false
# Fast feedback for tests: node status and pod lifecycle without long waits.
nodeStatusUpdateFrequency: 4s
syncFrequency: 10s
fileCheckFrequency: 10s
serializeImagePulls: false
# An image the kubelet pulled with a secret runs only for pods holding valid credentials for
# it, not for any pod on the node once it is present (KEP-2862; the imported add-on images
# are preloaded and exempt). Without it a wrong pull secret goes unnoticed on a warm node.
featureGates:
  KubeletEnsureSecretPulledImages: true
imagePullCredentialsVerificationPolicy: NeverVerifyPreloadedImages
"""


KUBELET_DROPINS_README = """\
Kubelet drop-ins: each *.conf file here (YAML, a KubeletConfiguration) overrides the fields
it sets in ../kubelet.yaml, in lexical order, when the kubelet starts. The fault lane writes
one for a test and removes it after (scripts/localcluster/node.py).
"""


def kube_proxy(layout: Layout) -> str:
    return f"""apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clusterCIDR: {POD_CIDR}
hostnameOverride: {NODE_NAME}
oomScoreAdj: 0
clientConnection:
  kubeconfig: {layout.config / "kube-proxy.kubeconfig"}
# Zero: leave the machine's conntrack sysctls alone, as local-up-cluster does.
conntrack:
  maxPerCore: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
"""


def written(files: dict[Path, str]) -> bool:
    """Whether every file holds what it would be written with now."""
    try:
        return all(path.read_text() == text for path, text in files.items())
    except FileNotFoundError:
        return False


def write(files: dict[Path, str]) -> None:
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
