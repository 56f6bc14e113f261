"""The `cluster` lane: a real Kubernetes, the local one `scripts.localcluster` brings up, or any
cluster KUBECONFIG names. CLUSTER=0 is the only way to skip it; a machine that cannot run the
cluster fails these tests with the reason. CLUSTER_KEEP=1 leaves the local cluster up after.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.localcluster import app_release, host, registry
from scripts.localcluster.layout import NODE_LINK, Layout
from scripts.release.names import chart_version
from service import __version__

from .kube import CHART, REPO, Cluster, Registry


def _external() -> Cluster:
    """Any cluster: the published chart and images by default (COREBOUND_* to point elsewhere;
    a private registry's pull secret is then the namespace's own business)."""
    repository = os.environ.get("COREBOUND_IMAGE_REPOSITORY", "ghcr.io/corebound/corebound")
    return Cluster(
        kubeconfig=Path(os.environ["KUBECONFIG"]),
        kubectl_bin=os.environ.get("KUBECTL", shutil.which("kubectl") or "kubectl"),
        helm_bin=os.environ.get("HELM", shutil.which("helm") or "helm"),
        images={
            "service": f"{repository}:{__version__}",
            "loadtest": f"{repository}-loadtest:{__version__}",
        },
        chart=os.environ.get("COREBOUND_CHART", str(CHART)),
        chart_version=os.environ.get("COREBOUND_CHART_VERSION"),
    )


def _login(cluster: Cluster, creds: registry.Credentials) -> None:
    """`helm registry login` once, into the session's own registry config."""
    cluster.helm("registry", "login", creds.host, "--username", creds.username,
                 "--password-stdin", "--ca-file", str(creds.ca_file),
                 input=creds.password)  # fmt: skip


def _local_up(layout: Layout, tmp: Path) -> Cluster:
    log = REPO / ".cluster-up.log"
    with log.open("w") as out:
        done = subprocess.run(
            [sys.executable, "-m", "scripts.localcluster", "up"],
            cwd=REPO, stdout=out, stderr=subprocess.STDOUT, timeout=3600,
        )  # fmt: skip
    if done.returncode != 0:
        tail = "".join(log.read_text().splitlines(keepends=True)[-40:])
        pytest.fail(f"the local cluster did not come up (full log {log}):\n{tail}", False)
    # What `up` released to the cluster's registry: the tests install it as users do.
    released = json.loads(app_release.output(layout).read_text())
    creds = registry.credentials(layout)
    tag = released["tags"][0]
    cluster = Cluster(
        kubeconfig=layout.kubeconfig,
        kubectl_bin=str(layout.tool("kubectl")),
        helm_bin=str(layout.tool("helm")),
        images={
            target: f"{released[target]['repository']}:{tag}" for target in ("service", "loadtest")
        },
        chart=released["chart"]["repository"],
        chart_version=released["chart"]["version"],
        registry=Registry(creds.host, creds.username, creds.password, creds.ca_file),
        helm_registry_config=tmp / "helm-registry.json",
        release=released,
        rebuild=lambda revision: app_release.release(
            layout, "--revision", revision, "--skip-chart"
        ),
    )
    assert cluster.chart_version == chart_version(), "the release pushed another chart"
    _login(cluster, creds)
    return cluster


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
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if os.environ.get("CLUSTER") == "0":
        pytest.skip("CLUSTER=0: the cluster lane is switched off")
    if os.environ.get("KUBECONFIG"):
        yield _external()
        return
    if os.geteuid() != 0:
        pytest.fail("the local cluster needs root (containerd, iptables, mounts, cgroups)", False)
    layout = Layout.default()
    yield _local_up(layout, tmp_path_factory.mktemp("cluster"))
    if os.environ.get("CLUSTER_KEEP") == "1":
        return  # left up for inspection; `python -m scripts.localcluster down` removes it
    done = subprocess.run(
        [sys.executable, "-m", "scripts.localcluster", "down"],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert _leftovers(layout) == [], "`down` left these behind"
