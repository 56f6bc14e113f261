"""CoreDNS and metrics-server, run in the cluster from upstream's own manifests.

The manifests come from the pinned modules in the Go module cache (what the build already
downloaded), with our local image names and a Corefile that never forwards off the machine.
"""

from __future__ import annotations

import re
import subprocess
from typing import Any

import yaml

from .images import COREDNS_IMAGE, METRICS_SERVER_IMAGE
from .layout import DNS_SERVICE_IP
from .modules import source_dir


def coredns_manifest() -> str:
    """local-up-cluster's substitutions, our image, and no `forward`/`loop`.

    Names outside cluster.local get no answer instead of reaching the machine's resolver.
    """
    kubernetes = source_dir("kubernetes")
    text = (kubernetes / "cluster/addons/dns/coredns/coredns.yaml.in").read_text()
    text = text.replace("dns_domain", "cluster.local").replace("dns_server", DNS_SERVICE_IP)
    text = text.replace("dns_memory_limit", "170Mi")
    text = re.sub(r"image: registry\.k8s\.io/coredns/coredns:\S+", f"image: {COREDNS_IMAGE}", text)
    text = re.sub(r"\n *forward \. /etc/resolv\.conf \{[^}]*\}", "", text)
    text = re.sub(r"\n *loop\n", "\n", text)
    return text


def metrics_server_manifest(kubectl: list[str]) -> str:
    base = source_dir("metrics-server")
    rendered = subprocess.run(
        [*kubectl, "kustomize", str(base / "manifests/base")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    docs: list[dict[str, Any]] = [d for d in yaml.safe_load_all(rendered) if d]
    for doc in docs:
        if doc["kind"] != "Deployment":
            continue
        container = doc["spec"]["template"]["spec"]["containers"][0]
        container["image"] = METRICS_SERVER_IMAGE
        container["imagePullPolicy"] = "Never"
        kept = [a for a in container["args"] if not a.startswith("--metric-resolution")]
        container["args"] = [
            *kept,
            # The kubelet's serving certificate is signed by this cluster's own CA.
            "--kubelet-insecure-tls",
            # 15 s (the default) is the HPA's view of CPU; 10 s lets tests see it sooner,
            # and the scrape's timeout must stay below it.
            "--metric-resolution=10s",
            "--kubelet-request-timeout=5s",
        ]
    return yaml.safe_dump_all(docs)


def apply(kubectl: list[str], manifest: str) -> None:
    subprocess.run([*kubectl, "apply", "-f", "-"], input=manifest, text=True, check=True,
                   capture_output=True)  # fmt: skip


def install(kubectl: list[str]) -> None:
    apply(kubectl, coredns_manifest())
    apply(kubectl, metrics_server_manifest(kubectl))
