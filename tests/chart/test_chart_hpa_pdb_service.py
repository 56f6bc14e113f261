"""The Service, the HPA and the PDB."""

from __future__ import annotations

from typing import Any

import chart_tools as ct
import pytest


def test_service_routes_port_80_to_http(default: list[dict[str, Any]]) -> None:
    service = ct.one(default, "Service")
    deployment = ct.one(default, "Deployment")

    assert service["spec"]["ports"] == [
        {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}
    ]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


def test_client_pods_are_never_behind_the_service(everything: list[dict[str, Any]]) -> None:
    (service,) = [s for s in ct.kinds(everything, "Service") if s["metadata"]["name"] == ct.RELEASE]
    selector = service["spec"]["selector"].items()
    behind = [
        name
        for name, template in ct.pod_templates(everything)
        if selector <= template["metadata"]["labels"].items()
    ]

    # The helm test Pod, the load test's master and workers, the job workers and Redis are not
    # among them.
    assert behind == [f"Deployment/{ct.RELEASE}"]
    assert len(ct.pod_templates(everything)) == 6


def test_hpa_targets_the_deployment_on_cpu(default: list[dict[str, Any]]) -> None:
    hpa = ct.one(default, "HorizontalPodAutoscaler")
    deployment = ct.one(default, "Deployment")

    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": deployment["metadata"]["name"],
    }
    assert hpa["spec"]["metrics"] == [
        {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 50},
            },
        }
    ]
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 10)
    assert "replicas" not in deployment["spec"]  # the HPA owns the count


def test_hpa_scales_up_fast_and_down_slowly(default: list[dict[str, Any]]) -> None:
    behavior = ct.one(default, "HorizontalPodAutoscaler")["spec"]["behavior"]

    assert behavior["scaleUp"]["stabilizationWindowSeconds"] == 0
    assert behavior["scaleUp"]["selectPolicy"] == "Max"
    assert {
        (p["type"], p["value"], p["periodSeconds"]) for p in behavior["scaleUp"]["policies"]
    } == {
        ("Percent", 100, 15),
        ("Pods", 4, 15),
    }
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] == 300


def test_hpa_behavior_is_tunable() -> None:
    values = {
        "autoscaling": {
            "targetCPUUtilizationPercentage": 55,
            "scaleUp": {
                "stabilizationWindowSeconds": 5,
                "percent": 200,
                "pods": 8,
                "periodSeconds": 30,
            },
            "scaleDown": {"stabilizationWindowSeconds": 600, "percent": 10, "periodSeconds": 120},
        }
    }
    spec = ct.one(ct.render(values), "HorizontalPodAutoscaler")["spec"]

    assert spec["metrics"][0]["resource"]["target"]["averageUtilization"] == 55
    assert spec["behavior"]["scaleUp"]["stabilizationWindowSeconds"] == 5
    assert {p["value"] for p in spec["behavior"]["scaleUp"]["policies"]} == {200, 8}
    assert spec["behavior"]["scaleDown"]["policies"] == [
        {"type": "Percent", "value": 10, "periodSeconds": 120}
    ]


def test_without_hpa_the_deployment_has_replicas() -> None:
    docs = ct.render({"autoscaling": {"enabled": False}, "replicaCount": 3})

    assert ct.kinds(docs, "HorizontalPodAutoscaler") == []
    assert ct.one(docs, "Deployment")["spec"]["replicas"] == 3


@pytest.mark.parametrize(
    ("values", "has_pdb"),
    [
        ({}, True),
        ({"autoscaling": {"minReplicas": 1, "maxReplicas": 2}}, True),
        ({"autoscaling": {"minReplicas": 1, "maxReplicas": 1}}, False),
        ({"autoscaling": {"enabled": False}, "replicaCount": 2}, True),
        ({"autoscaling": {"enabled": False}, "replicaCount": 1}, False),
        ({"podDisruptionBudget": {"enabled": False}}, False),
    ],
    ids=["hpa-2-10", "hpa-1-2", "hpa-1-1", "fixed-2", "fixed-1", "disabled"],
)
def test_pdb_only_when_more_than_one_replica_can_exist(
    values: dict[str, Any], has_pdb: bool
) -> None:
    docs = ct.render(values)
    pdbs = ct.kinds(docs, "PodDisruptionBudget")

    assert bool(pdbs) is has_pdb
    if pdbs:
        assert pdbs[0]["spec"]["maxUnavailable"] == 1
        assert pdbs[0]["spec"]["selector"] == ct.one(docs, "Deployment")["spec"]["selector"]


def test_pdb_lets_a_drain_evict_pods_that_never_became_ready(default: list[dict[str, Any]]) -> None:
    """A pod whose model never loads would otherwise block every node drain."""
    pdb = ct.one(default, "PodDisruptionBudget")

    assert pdb["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
