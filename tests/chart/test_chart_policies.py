"""The NetworkPolicies and the ServiceMonitor."""

from __future__ import annotations

from typing import Any

import chart_tools as ct
import pytest


def policies(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {p["metadata"]["name"]: p for p in ct.kinds(docs, "NetworkPolicy")}


def test_network_policy_is_optional() -> None:
    assert ct.kinds(ct.render(), "NetworkPolicy") == []
    server = policies(ct.render({"networkPolicy": {"enabled": True}}))[ct.RELEASE]

    assert server["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert server["spec"]["ingress"] == [{"ports": [{"port": "http", "protocol": "TCP"}]}]
    assert server["spec"]["egress"] == []


def test_network_policy_peers_keep_the_release_clients() -> None:
    docs = ct.render(ct.values_file(ct.CHART_DIR / "ci" / "networkpolicy-values.yaml"))
    server = policies(docs)[ct.RELEASE]
    peers = server["spec"]["ingress"][0]["from"]

    assert server["spec"]["podSelector"] == ct.one(docs, "Deployment")["spec"]["selector"]
    assert peers[0] == {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress"}}
    }
    clients = peers[1]["podSelector"]
    assert clients["matchLabels"] == {"app.kubernetes.io/instance": ct.RELEASE}
    assert clients["matchExpressions"][0]["values"] == ["loadtest", "test"]


def test_client_pods_reach_only_the_service_and_dns(everything: list[dict[str, Any]]) -> None:
    policy = policies(everything)[f"{ct.RELEASE}-clients"]
    selector = policy["spec"]["podSelector"]
    server_labels = ct.one(everything, "Deployment")["spec"]["template"]["metadata"]["labels"]

    def selects(labels: dict[str, str]) -> bool:
        expression = selector["matchExpressions"][0]
        return selector["matchLabels"].items() <= labels.items() and (
            labels.get(expression["key"]) in expression["values"]
        )

    assert [selects(p["metadata"]["labels"]) for p in ct.kinds(everything, "Pod")] == [True, True]
    assert not selects(server_labels)
    assert policy["spec"]["ingress"] == []
    to_server, api_server, dns = policy["spec"]["egress"]
    # The probe's EndpointSlice reads (the ClusterIP port, and the server's after DNAT).
    assert {p["port"] for p in api_server["ports"]} == {443, 6443}
    assert to_server["to"] == [
        {"podSelector": ct.one(everything, "Deployment")["spec"]["selector"]}
    ]
    assert to_server["ports"] == [{"port": 8000, "protocol": "TCP"}]
    assert {p["port"] for p in dns["ports"]} == {53}


@pytest.mark.parametrize(
    ("values", "api_versions", "rendered"),
    [
        ({}, (), False),
        # Review #12: detected by default it rendered without the labels Prometheus selects.
        ({}, (ct.SERVICE_MONITOR_API,), False),
        ({"serviceMonitor": {"autoDetect": True}}, (ct.SERVICE_MONITOR_API,), True),
        ({"serviceMonitor": {"enabled": True}}, (), True),
        ({"serviceMonitor": {"autoDetect": False}}, (ct.SERVICE_MONITOR_API,), False),
    ],
    ids=["no-api", "api-default-off", "api-detected", "forced", "detection-off"],
)
def test_service_monitor_when_its_api_exists_or_forced(
    values: dict[str, Any], api_versions: tuple[str, ...], rendered: bool
) -> None:
    docs = ct.render(values, api_versions=api_versions)

    assert bool(ct.kinds(docs, "ServiceMonitor")) is rendered


def test_service_monitor_structure() -> None:
    """A CRD kind: no OpenAPI schema to validate against, so its shape is checked here."""
    docs = ct.render(ct.values_file(ct.CHART_DIR / "ci" / "servicemonitor-values.yaml"))
    monitor = ct.one(docs, "ServiceMonitor")
    service = ct.one(docs, "Service")

    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert set(monitor) == {"apiVersion", "kind", "metadata", "spec"}
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    assert monitor["spec"]["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "15s"}]
    assert monitor["spec"]["endpoints"][0]["port"] in {p["name"] for p in service["spec"]["ports"]}


@pytest.mark.parametrize(
    ("monitor", "scrapers"),
    [({"enabled": True}, True), ({"enabled": False}, False)],
)
def test_prometheus_may_scrape_when_the_monitor_renders(
    monitor: dict[str, Any], scrapers: bool
) -> None:
    """Review #12: with ingressFrom set, Prometheus was denied and the target showed DOWN."""
    values = ct.values_file(ct.CHART_DIR / "ci" / "networkpolicy-values.yaml")
    docs = ct.render({**values, "serviceMonitor": monitor})
    peers = policies(docs)[ct.RELEASE]["spec"]["ingress"][0]["from"]
    monitoring = ct.default_values()["networkPolicy"]["monitoringFrom"]

    assert all(peer in peers for peer in monitoring) is scrapers
    assert monitoring == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    ]


def test_service_monitor_carries_the_label_kube_prometheus_stack_selects() -> None:
    """Review #12: kube-prometheus-stack selects ServiceMonitors by `release: <its name>`."""
    docs = ct.render({"serviceMonitor": {"enabled": True}})

    assert ct.one(docs, "ServiceMonitor")["metadata"]["labels"]["release"] == "prometheus"
