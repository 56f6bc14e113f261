"""The `cluster` lane: a real Kubernetes, the local one `scripts.localcluster` brings up, or any
cluster KUBECONFIG names. CLUSTER=0 is the only way to skip it; a machine that cannot run the
cluster fails these tests with the reason. CLUSTER_KEEP=1 leaves the local cluster up after.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.localcluster import app_images, host
from scripts.localcluster.layout import NODE_LINK, Layout

from .kube import REPO, Cluster


def _external() -> Cluster:
    images = {
        "service": os.environ.get("COREBOUND_SERVICE_IMAGE", app_images.tags()["service"]),
        "loadtest": os.environ.get("COREBOUND_LOADTEST_IMAGE", app_images.tags()["loadtest"]),
    }
    return Cluster(
        kubeconfig=Path(os.environ["KUBECONFIG"]),
        kubectl_bin=os.environ.get("KUBECTL", shutil.which("kubectl") or "kubectl"),
        helm_bin=os.environ.get("HELM", shutil.which("helm") or "helm"),
        images=images,
    )


def _local_up(layout: Layout) -> Cluster:
    log = REPO / ".cluster-up.log"
    with log.open("w") as out:
        done = subprocess.run(
            [sys.executable, "-m", "scripts.localcluster", "up"],
            cwd=REPO, stdout=out, stderr=subprocess.STDOUT, timeout=3600,
        )  # fmt: skip
    if done.returncode != 0:
        tail = "".join(log.read_text().splitlines(keepends=True)[-40:])
        pytest.fail(f"the local cluster did not come up (full log {log}):\n{tail}", False)
    return Cluster(
        kubeconfig=layout.kubeconfig,
        kubectl_bin=str(layout.tool("kubectl")),
        helm_bin=str(layout.tool("helm")),
        images=app_images.tags(),
    )


def _leftovers(layout: Layout) -> list[str]:
    """What `down` must have removed: anything listed here is a defect of `down`."""
    left = [f"mount {m}" for m in host.mounts_below(layout.state, layout.run)]
    left += [f"path {p}" for p in (layout.state, layout.run) if p.exists()]
    if host.run("ip", "link", "show", NODE_LINK, check=False).returncode == 0:
        left.append(f"link {NODE_LINK}")
    saved = host.run("iptables-save").stdout
    left += [f"iptables {ln}" for ln in saved.splitlines() if ln.startswith(":KUBE-")]
    left += [f"cgroup {p}" for p in host.CGROUP_ROOT.glob("*/kubepods")]
    return left


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    if os.environ.get("CLUSTER") == "0":
        pytest.skip("CLUSTER=0: the cluster lane is switched off")
    if os.environ.get("KUBECONFIG"):
        yield _external()
        return
    if os.geteuid() != 0:
        pytest.fail("the local cluster needs root (containerd, iptables, mounts, cgroups)", False)
    layout = Layout.default()
    yield _local_up(layout)
    if os.environ.get("CLUSTER_KEEP") == "1":
        return  # left up for inspection; `python -m scripts.localcluster down` removes it
    done = subprocess.run(
        [sys.executable, "-m", "scripts.localcluster", "down"],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert _leftovers(layout) == [], "`down` left these behind"
