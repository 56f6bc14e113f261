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


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A label selector (matchLabels and `In` expressions) against a pod's labels."""
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In", expression
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return bool(selector.get("matchLabels", {}).items() <= labels.items())


def selected(selector: dict[str, Any], docs: list[dict[str, Any]]) -> list[str]:
    """The pods (templates) of the render a selector picks, as `Kind/name`."""
    return [n for n, t in ct.pod_templates(docs) if selects(selector, t["metadata"]["labels"])]


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
    assert selected(clients, docs) == [f"Pod/{ct.RELEASE}-test-predict"]


def test_network_policy_peers_keep_the_load_test() -> None:
    values = ct.values_file(ct.CHART_DIR / "ci" / "networkpolicy-values.yaml")
    docs = ct.render({**values, "loadtest": {"enabled": True}})
    clients = policies(docs)[ct.RELEASE]["spec"]["ingress"][0]["from"][1]["podSelector"]

    assert selected(clients, docs) == [
        f"Pod/{ct.RELEASE}-test-predict",
        f"CronJob/{ct.RELEASE}-loadtest",
        f"CronJob/{ct.RELEASE}-loadtest-workers",
    ]


def test_client_pods_reach_only_the_service_and_dns(everything: list[dict[str, Any]]) -> None:
    """The `helm test` Pod: nothing reaches it, it reaches the service pods, the API, DNS."""
    policy = policies(everything)[f"{ct.RELEASE}-clients"]

    assert selected(policy["spec"]["podSelector"], everything) == [f"Pod/{ct.RELEASE}-test-predict"]
    assert policy["spec"]["ingress"] == []
    to_server, api_server, dns = policy["spec"]["egress"]
    # The probe's EndpointSlice reads (the ClusterIP port, and the server's after DNAT).
    assert {p["port"] for p in api_server["ports"]} == {443, 6443}
    assert to_server["to"] == [
        {"podSelector": ct.service_deployment(everything)["spec"]["selector"]}
    ]
    assert to_server["ports"] == [{"port": 8000, "protocol": "TCP"}]
    assert {p["port"] for p in dns["ports"]} == {53}


def test_load_test_pods_reach_the_service_and_only_workers_reach_the_master(
    everything: list[dict[str, Any]],
) -> None:
    policy = policies(everything)[f"{ct.RELEASE}-loadtest"]["spec"]
    master, workers = f"CronJob/{ct.RELEASE}-loadtest", f"CronJob/{ct.RELEASE}-loadtest-workers"
    master_port = {"port": 5557, "protocol": "TCP"}

    assert selected(policy["podSelector"], everything) == [master, workers]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    (ingress,) = policy["ingress"]
    assert [selected(peer["podSelector"], everything) for peer in ingress["from"]] == [[workers]]
    assert ingress["ports"] == [master_port]
    to_server, to_master, api_server, dns = policy["egress"]
    assert to_server == {
        "to": [{"podSelector": ct.service_deployment(everything)["spec"]["selector"]}],
        "ports": [{"port": 8000, "protocol": "TCP"}],
    }
    assert [selected(peer["podSelector"], everything) for peer in to_master["to"]] == [[master]]
    assert to_master["ports"] == [master_port]
    assert "to" not in api_server and {p["port"] for p in api_server["ports"]} == {443, 6443}
    assert "to" not in dns and {p["port"] for p in dns["ports"]} == {53}
    # The master Service's port is the one the policy opens.
    (service,) = [
        s for s in ct.kinds(everything, "Service") if s["metadata"]["name"].endswith("-master")
    ]
    assert service["spec"]["ports"][0]["port"] == master_port["port"]


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
