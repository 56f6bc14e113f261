"""CoreDNS, metrics-server and the local-path provisioner, run in the cluster from upstream's
own manifests.

The manifests come from the pinned modules in the Go module cache (what the build already
downloaded), with our local image names, a Corefile that never forwards off the machine and
volumes under the cluster's state directory.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from .images import COREDNS_IMAGE, LOCAL_PATH_HELPER_IMAGE, LOCAL_PATH_IMAGE, METRICS_SERVER_IMAGE
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


def local_path_manifest(volumes: Path) -> str:
    """deploy/local-path-storage.yaml with our images, the volumes under `volumes` (so `down`
    removes them with the rest) and its StorageClass the default, for PVCs that name none."""
    source = source_dir("local-path-provisioner") / "deploy/local-path-storage.yaml"
    docs: list[dict[str, Any]] = [d for d in yaml.safe_load_all(source.read_text()) if d]
    for doc in docs:
        if doc["kind"] == "Deployment":
            container = doc["spec"]["template"]["spec"]["containers"][0]
            container["image"] = LOCAL_PATH_IMAGE
            container["imagePullPolicy"] = "Never"
            # The FROM scratch image has no PATH to find the binary by its bare name.
            if container["command"][0] != "local-path-provisioner":
                raise ValueError(f"upstream's command changed: {container['command']}")
            container["command"][0] = "/local-path-provisioner"
        elif doc["kind"] == "StorageClass":
            annotations = doc["metadata"].setdefault("annotations", {})
            annotations["storageclass.kubernetes.io/is-default-class"] = "true"
        elif doc["kind"] == "ConfigMap":
            data = doc["data"]
            config = json.loads(data["config.json"])
            config["nodePathMap"] = [
                {"node": "DEFAULT_PATH_FOR_NON_LISTED_NODES", "paths": [str(volumes)]}
            ]
            data["config.json"] = json.dumps(config, indent=2)
            helper = yaml.safe_load(data["helperPod.yaml"])
            helper["spec"]["containers"][0]["image"] = LOCAL_PATH_HELPER_IMAGE
            helper["spec"]["containers"][0]["imagePullPolicy"] = "Never"
            data["helperPod.yaml"] = yaml.safe_dump(helper)
    return yaml.safe_dump_all(docs)


def apply(kubectl: list[str], manifest: str) -> None:
    subprocess.run([*kubectl, "apply", "-f", "-"], input=manifest, text=True, check=True,
                   capture_output=True)  # fmt: skip


def install(kubectl: list[str], volumes: Path) -> None:
    apply(kubectl, coredns_manifest())
    apply(kubectl, metrics_server_manifest(kubectl))
    apply(kubectl, local_path_manifest(volumes))
