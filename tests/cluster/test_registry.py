"""The release as users get it: images and chart from a registry over TLS with credentials.

`up` pushed the release (python -m scripts.release) to the cluster's own CNCF Distribution;
here the chart is installed from `oci://` with a pull secret, the kubelet pulls, and a wrong
secret ends in ImagePullBackOff until it is put right.
"""

from __future__ import annotations

import base64
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from .kube import Cluster, Registry, namespace_per_test

# What a registry answers a client that takes an image index or a chart manifest.
ACCEPT = ", ".join((
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
))  # fmt: skip


def _request(registry: Registry, path: str, password: str | None) -> tuple[int, dict[str, str]]:
    assert registry.ca_file is not None
    request = urllib.request.Request(f"https://{registry.host}{path}", method="HEAD")
    request.add_header("Accept", ACCEPT)
    if password is not None:
        token = base64.b64encode(f"{registry.username}:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    context = ssl.create_default_context(cafile=str(registry.ca_file))
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers)


def _digest(registry: Registry, repository: str, tag: str) -> str:
    path = repository.removeprefix("oci://").removeprefix(f"{registry.host}/")
    status, headers = _request(registry, f"/v2/{path}/manifests/{tag}", registry.password)
    assert status == 200, (repository, tag, status)
    return headers["Docker-Content-Digest"]


def test_both_tags_and_the_chart_resolve_to_the_printed_digests(cluster: Cluster) -> None:
    registry, release = cluster.registry, cluster.release
    assert registry is not None
    version, immutable = release["tags"]
    assert version == cluster.images["service"].rsplit(":", 1)[1]
    assert immutable == f"{version}-{release['revision']}"
    for target in ("service", "loadtest"):
        pushed = release[target]
        for tag in (version, immutable):
            assert _digest(registry, pushed["repository"], tag) == pushed["digest"], tag
    chart = release["chart"]
    assert _digest(registry, chart["repository"], chart["version"]) == chart["digest"]


def test_the_registry_refuses_clients_without_the_password(cluster: Cluster) -> None:
    registry = cluster.registry
    assert registry is not None
    assert _request(registry, "/v2/", registry.password)[0] == 200
    assert _request(registry, "/v2/", "not-the-password")[0] == 401
    assert _request(registry, "/v2/", None)[0] == 401


SMALL = ["--set", "resources.cpu=500m", "--set", "autoscaling.enabled=false",
         "--set", "replicaCount=1"]  # fmt: skip


@pytest.fixture
def namespace(cluster: Cluster, request: pytest.FixtureRequest) -> Iterator[str]:
    yield from namespace_per_test(cluster, "registry", request.node.name)


def _events(cluster: Cluster, namespace: str) -> list[str]:
    items = cluster.json("--namespace", namespace, "get", "events")["items"]
    return [f"{e['reason']}: {e['message']}" for e in items]


def test_install_from_oci_pulls_with_the_secret_and_helm_test_passes(
    cluster: Cluster, namespace: str
) -> None:
    # Always: every container start asks the registry, with the pod's secret, whatever the
    # node already holds (the default IfNotPresent relies on the kubelet's credential check).
    cluster.helm(
        "install", "corebound", *cluster.chart_ref(), "--namespace", namespace,
        *cluster.image_values(namespace), *SMALL, "--set", "image.pullPolicy=Always",
        "--wait", "--timeout", "4m",
    )  # fmt: skip
    tested = cluster.helm("test", "corebound", "--namespace", namespace, "--logs", timeout=600)
    assert "Phase:          Succeeded" in tested.stdout, tested.stdout
    events = _events(cluster, namespace)
    service, loadtest = cluster.images["service"], cluster.images["loadtest"]
    assert any(e.startswith(f'Pulled: Successfully pulled image "{service}"') for e in events)
    # The test Pod's loadtest image keeps its IfNotPresent: pulled, or found on the node and
    # its credentials checked by the kubelet.
    assert any(e.startswith(f'Pulled: Successfully pulled image "{loadtest}"') for e in events) \
        or any(f'"{loadtest}" already present' in e and "accessed by the pod" in e
               for e in events), (loadtest, events)  # fmt: skip
    print("kubelet events:", *[e for e in events if e.startswith(("Pulling", "Pulled"))],
          sep="\n  ")  # fmt: skip


def _pull_failures(cluster: Cluster, namespace: str) -> set[str]:
    pods = cluster.json("--namespace", namespace, "get", "pods")["items"]
    statuses = [s for p in pods for key in ("initContainerStatuses", "containerStatuses")
                for s in p["status"].get(key) or []]  # fmt: skip
    return {((s.get("state") or {}).get("waiting") or {}).get("reason", "") for s in statuses}


def test_a_wrong_pull_secret_is_image_pull_backoff_until_put_right(
    cluster: Cluster, namespace: str
) -> None:
    values = cluster.image_values(namespace)
    cluster.prepare_namespace(namespace, password="not-the-password")
    installed = cluster.helm("install", "corebound", *cluster.chart_ref(), "--namespace",
                             namespace, *values, *SMALL)  # fmt: skip
    assert "ImagePullBackOff" in installed.stdout, "NOTES explain a failing pull"
    deadline = time.monotonic() + 120
    while "ImagePullBackOff" not in _pull_failures(cluster, namespace):
        assert time.monotonic() < deadline, _events(cluster, namespace)
        time.sleep(2)
    # The image is on the node (other tests ran it), yet this pod's secret is refused.
    assert any("401 Unauthorized" in e for e in _events(cluster, namespace))
    cluster.prepare_namespace(namespace)  # the right password: the next back-off retry pulls
    cluster.kubectl("--namespace", namespace, "wait", "pod", "-l",
                    "app.kubernetes.io/name=corebound", "--for=condition=Ready",
                    "--timeout=300s", timeout=320)  # fmt: skip
