"""The chart renders for every ci/*-values.yaml, passes strict Kubernetes schemas and lint,
and refuses bad values at render time with a message that names the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import chart_tools as ct
import helm_python
import pytest

from service import __version__

CI_IDS = [p.name.removesuffix("-values.yaml") for p in ct.CI_VALUES]


def test_ci_matrix_covers_the_issue() -> None:
    wanted = {
        "default", "cpu-1", "cpu-2-string", "cpu-4", "cpu-1500m", "model-small", "model-2gib",
        "hpa-off", "loadtest", "networkpolicy", "servicemonitor", "ingress", "httproute",
        "internal-lb", "digests",
    }  # fmt: skip
    assert wanted <= set(CI_IDS)


@pytest.mark.parametrize("values_path", ct.CI_VALUES, ids=CI_IDS)
@pytest.mark.parametrize("kube_version", ct.KUBE_VERSIONS)
def test_renders_and_validates_strictly(values_path: Path, kube_version: str) -> None:
    docs = ct.render(ct.values_file(values_path), kube_version=kube_version)

    assert {"Deployment", "Service", "ConfigMap", "ServiceAccount"} <= {d["kind"] for d in docs}
    assert ct.validate_strict(docs, kube_version) == []


@pytest.mark.parametrize("kube_version", ct.KUBE_VERSIONS)
def test_strict_validation_catches_what_it_should(kube_version: str) -> None:
    """The validator itself: an unknown field and a wrong type are errors on every version."""
    docs = ct.render()
    ct.one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]["cpus"] = 2
    ct.one(docs, "Service")["spec"]["ports"][0]["port"] = "eighty"

    errors = ct.validate_strict(docs, kube_version)

    assert len(errors) == 2
    assert "'cpus' was unexpected" in errors[0] or "'cpus' was unexpected" in errors[1]


@pytest.mark.parametrize("values_path", ct.CI_VALUES, ids=CI_IDS)
def test_lint_has_no_errors_or_warnings(values_path: Path) -> None:
    report = ct.lint(ct.values_file(values_path), kube_version=ct.KUBE_VERSIONS[0])

    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


def test_chart_metadata() -> None:
    with helm_python.Chart.load(ct.CHART_DIR) as chart:
        meta = chart.metadata
    assert meta["apiVersion"] == "v2"
    assert meta["kubeVersion"].startswith(">=1.29")
    assert meta["appVersion"] == __version__  # tests/repo/test_version.py's one version


def test_every_value_is_documented_by_a_comment_naming_it() -> None:
    """values.yaml style: each key has a comment line starting with its dotted name."""
    defaults = ct.default_values()
    text = (ct.CHART_DIR / "values.yaml").read_text()
    structural = {
        "image", "resources", "model", "concurrency", "batching", "shutdown", "probes",
        "probes.startup", "probes.readiness", "probes.liveness", "rollingUpdate",
        "topologySpread", "service", "serviceAccount", "autoscaling", "autoscaling.scaleUp",
        "autoscaling.scaleDown", "podDisruptionBudget", "networkPolicy", "serviceMonitor",
        "loadtest", "loadtest.image", "loadtest.slo", "loadtest.plan", "loadtest.master", "probe",
        "test", "ingress", "httpRoute", "jobs", "jobs.worker", "jobs.worker.resources",
        "jobs.worker.autoscaling", "jobs.redis", "jobs.redis.image", "jobs.redis.persistence",
        "jobs.redis.resources", "jobs.externalRedis",
    }  # fmt: skip
    # Documented as one block.
    whole_blocks = {"podSecurityContext", "securityContext", "serviceMonitor.labels"}

    def keys(tree: dict[str, Any], prefix: str = "") -> list[str]:
        out = []
        for key, value in tree.items():
            name = f"{prefix}{key}"
            out.append(name)
            if isinstance(value, dict) and name not in whole_blocks:
                out += keys(value, f"{name}.")
        return out

    undocumented = [k for k in keys(defaults) if k not in structural and f"# {k} -- " not in text]
    assert undocumented == []


BAD_VALUES = [
    ({"resources": {"cpu": "abc"}}, 'resources.cpu: not a CPU quantity: "abc"'),
    ({"resources": {"cpu": "-1"}}, 'resources.cpu: not a CPU quantity: "-1"'),
    ({"resources": {"cpu": 0}}, "resources.cpu: CPU quantity must be positive"),
    ({"resources": {"cpu": "0m"}}, "resources.cpu: CPU quantity must be positive"),
    ({"model": {"sizeMiB": 0}}, "model.sizeMiB must be the model's weight size in MiB"),
    ({"model": {"sizeMiB": -5}}, "model.sizeMiB must be the model's weight size in MiB"),
    (
        {"autoscaling": {"minReplicas": 5, "maxReplicas": 3}},
        "autoscaling.maxReplicas (3) must be >= autoscaling.minReplicas (5)",
    ),
    (
        {"loadtest": {"slo": {"p95Ms": 900}}},
        "loadtest.slo.p95Ms (900) must be <= loadtest.slo.p99Ms",
    ),
    ({"loadtest": {"cpu": "lots"}}, 'loadtest.cpu: not a CPU quantity: "lots"'),
    (
        {"batching": {"maxQueueRows": 100, "maxRowsPerRequest": 200}},
        "batching.maxRowsPerRequest (200) must be <= batching.maxQueueRows (100)",
    ),
    (
        {"batching": {"maxQueueRows": 8}, "loadtest": {"rowsPerRequest": 16}},
        "loadtest.rowsPerRequest (16) must be <= batching.maxRowsPerRequest (8)",
    ),
    (
        {"model": {"dir": "models/x"}},
        'model.dir must be an absolute path in the container (got "models/x")',
    ),
    ({"listenAddress": "::"}, "/listenAddress"),
    ({"rollingUpdate": {"maxSurge": "lots"}}, "/rollingUpdate/maxSurge"),
    ({"replicas": 3}, "additional properties 'replicas' not allowed"),
    ({"resources": {"cpus": 2}}, "additional properties 'cpus' not allowed"),
    ({"concurrency": {"mode": "fast"}}, "/concurrency/mode"),
    ({"concurrency": {"workers": 0}}, "/concurrency/workers"),
]


@pytest.mark.parametrize(("values", "message"), BAD_VALUES, ids=[m for _, m in BAD_VALUES])
def test_bad_values_are_refused_with_a_clear_message(values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm_python.HelmError) as refused:
        ct.render(values)

    assert message in str(refused.value)


def test_the_error_for_a_bad_cpu_says_what_is_accepted() -> None:
    with pytest.raises(helm_python.HelmError, match=r"cores like 2 or 0\.5, or millicores like"):
        ct.render({"resources": {"cpu": "two"}})
