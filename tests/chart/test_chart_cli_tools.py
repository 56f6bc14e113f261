"""The real chart tools over every ci/*-values.yaml: `helm lint --strict` (the helm CLI),
kubeconform in strict mode for the oldest and newest Kubernetes the chart claims, chart-testing's
`ct lint` checks, and the README helm-docs generates."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import chart_tools as ct
import cli_tools
import pytest
import yaml

HELM = cli_tools.find("helm", "HELM")
KUBECONFORM = cli_tools.find("kubeconform", "KUBECONFORM")
HELM_DOCS = cli_tools.find("helm-docs", "HELM_DOCS")
# A missing tool fails its tests (never a skip): `scripts/setup --dev` builds all three.
needs = {
    tool: pytest.mark.usefixtures(f"{tool.replace('-', '_')}_built")
    for tool in ("helm", "kubeconform", "helm-docs")
}


@pytest.fixture
def helm_built() -> None:
    assert HELM, "helm is not built: run scripts/setup --dev (python -m scripts.localcluster build)"


@pytest.fixture
def kubeconform_built() -> None:
    assert KUBECONFORM, "kubeconform is not built: run scripts/setup --dev"


@pytest.fixture
def helm_docs_built() -> None:
    assert HELM_DOCS, "helm-docs is not built: run scripts/setup --dev"


CHART = yaml.safe_load((ct.CHART_DIR / "Chart.yaml").read_text())
OLDEST = CHART["kubeVersion"].removeprefix(">=").removesuffix("-0")
# The chart claims every version from OLDEST on; the newest with schemas is the other bound.
CLAIMED = (OLDEST, cli_tools.shipped_versions()[-1])


@pytest.fixture(scope="module")
def schema_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("kubeconform")
    for version in CLAIMED:
        cli_tools.standalone_schemas(version, root)
    return root


def kubeconform(
    files: list[Path], version: str, schema_root: Path
) -> subprocess.CompletedProcess[str]:
    assert KUBECONFORM
    return subprocess.run(
        [KUBECONFORM, "-strict", "-summary", "-output", "json", "-kubernetes-version", version,
         "-skip", ",".join(ct.CRD_KINDS),
         "-schema-location", f"{schema_root}/{cli_tools.SCHEMA_TEMPLATE}",
         "-schema-location", f"{ct.CRD_SCHEMA_DIR}/{cli_tools.CRD_SCHEMA_TEMPLATE}",
         *map(str, files)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip


@needs["kubeconform"]
@pytest.mark.parametrize("version", CLAIMED)
def test_kubeconform_strict_over_every_ci_values(
    version: str, schema_root: Path, tmp_path: Path
) -> None:
    files = []
    for values_path in ct.CI_VALUES:
        docs = ct.render(ct.values_file(values_path), kube_version=version)
        files.append(tmp_path / values_path.name)
        files[-1].write_text(ct.dump(docs))

    run = kubeconform(files, version, schema_root)

    summary = json.loads(run.stdout)["summary"]
    assert run.returncode == 0, run.stdout
    assert summary["invalid"] == summary["errors"] == 0
    assert summary["valid"] >= 6 * len(files)  # every object checked, not skipped


@needs["kubeconform"]
def test_kubeconform_refuses_an_unknown_field(schema_root: Path, tmp_path: Path) -> None:
    docs = ct.render()
    ct.one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]["cpus"] = 2
    (tmp_path / "bad.yaml").write_text(ct.dump(docs))

    run = kubeconform([tmp_path / "bad.yaml"], OLDEST, schema_root)

    assert run.returncode == 1
    assert "cpus" in run.stdout


@needs["kubeconform"]
def test_kubeconform_checks_the_httproute_against_the_gateway_api_schema(
    schema_root: Path, tmp_path: Path
) -> None:
    docs = ct.render(ct.values_file(ct.CHART_DIR / "ci" / "httproute-values.yaml"))
    ct.one(docs, "HTTPRoute")["spec"]["rules"][0]["backendRefs"][0]["port"] = "http"
    (tmp_path / "bad.yaml").write_text(ct.dump(docs))

    run = kubeconform([tmp_path / "bad.yaml"], OLDEST, schema_root)

    (invalid,) = json.loads(run.stdout)["resources"]
    assert run.returncode == 1
    assert (invalid["kind"], invalid["status"]) == ("HTTPRoute", "statusInvalid")
    assert "/spec/rules/0/backendRefs/0/port" in invalid["msg"]


@needs["helm"]
@pytest.mark.parametrize("values_path", ct.CI_VALUES, ids=lambda p: p.name)
def test_helm_lint_strict(values_path: Path) -> None:
    assert HELM
    for version in CLAIMED:
        # Explicit: a helm built without the release ldflags defaults to Kubernetes 1.20.
        run = subprocess.run(
            [HELM, "lint", "--strict", str(ct.CHART_DIR), "--values", str(values_path),
             "--kube-version", version],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip

        assert run.returncode == 0, run.stdout + run.stderr
        assert "1 chart(s) linted, 0 chart(s) failed" in run.stdout


@needs["helm"]
def test_helm_template_fails_a_cross_key_rule_naming_the_values() -> None:
    """`helm install` renders as `helm template` does. (`helm lint` runs templates in lint
    mode, where Helm turns `fail` into an [INFO] line and exits 0, so lint cannot catch these.)"""
    assert HELM
    run = subprocess.run(
        [HELM, "template", "corebound", str(ct.CHART_DIR), "--kube-version", OLDEST,
         "--set", "batching.maxRowsPerRequest=500"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip

    assert run.returncode != 0
    assert "batching.maxRowsPerRequest (500) must be <= batching.maxQueueRows (256)" in run.stderr


@needs["helm-docs"]
def test_readme_is_generated_from_values() -> None:
    assert HELM_DOCS
    run = subprocess.run(
        [HELM_DOCS, "--chart-search-root", str(ct.CHART_DIR), "--skip-version-footer",
         "--sort-values-order", "file", "--dry-run", "--log-level", "error"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip

    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == (ct.CHART_DIR / "README.md").read_text().strip(), (
        "helm/corebound/README.md is stale: run helm-docs (see its first lines)"
    )


# --- chart-testing's `ct lint` checks (its Go module is not served here, so they run in Python) ---


def test_chart_yaml_passes_ct_chart_schema() -> None:
    """ct's etc/chart_schema.yaml: the keys it requires and the forms it accepts."""
    assert CHART["apiVersion"] == "v2"
    assert re.fullmatch(r"[a-z0-9-]+", CHART["name"]) and CHART["name"] == ct.CHART_DIR.name
    assert re.fullmatch(r"\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?", CHART["version"])
    assert CHART["description"] and CHART["type"] in {"application", "library"}
    allowed = {
        "apiVersion", "name", "version", "kubeVersion", "description", "type", "keywords",
        "home", "sources", "dependencies", "maintainers", "icon", "appVersion", "deprecated",
        "annotations",
    }  # fmt: skip
    assert set(CHART) <= allowed


def test_chart_version_bumped_when_the_chart_changed() -> None:
    """ct's version-increment rule: no chart change lands after the commit that set the version.

    (ct compares with the target branch; on main itself that is always equal, so the rule is
    kept against the history instead: the commit that last wrote `version:` in Chart.yaml.)
    """
    version = str(CHART["version"])
    found = subprocess.run(
        ["git", "log", "-1", "--format=%H", "-G", f"^version: {re.escape(version)}$",
         "--", "helm/corebound/Chart.yaml"],
        capture_output=True, text=True, cwd=ct.REPO, check=True,
    ).stdout.strip()  # fmt: skip
    assert found, f"no commit sets Chart.yaml version {version}: is this a full clone?"
    changed = subprocess.run(
        ["git", "diff", "--name-only", f"{found}~1", "--", "helm/corebound"],
        capture_output=True, text=True, cwd=ct.REPO, check=True,
    ).stdout.split()  # fmt: skip
    later = subprocess.run(
        ["git", "log", "--format=%H", f"{found}..HEAD", "--", "helm/corebound"],
        capture_output=True, text=True, cwd=ct.REPO, check=True,
    ).stdout.split()  # fmt: skip
    assert changed, "the version commit changed nothing under helm/corebound"
    assert not later, f"the chart changed after version {version} was set: bump Chart.yaml"


@pytest.mark.parametrize("name", ["Chart.yaml", "values.yaml", *(p.name for p in ct.CI_VALUES)])
def test_yaml_lints_like_ct(name: str) -> None:
    """ct runs yamllint on Chart.yaml and the values: no tabs, no trailing spaces, no
    duplicate keys, a final newline."""
    path = ct.CHART_DIR / name if (ct.CHART_DIR / name).exists() else ct.CHART_DIR / "ci" / name
    text = path.read_text()

    assert text.endswith("\n") and "\t" not in text
    assert not [n for n, line in enumerate(text.splitlines(), 1) if line != line.rstrip()]

    class Unique(yaml.SafeLoader):
        pass

    def no_duplicates(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[object, object]:
        keys = [loader.construct_object(k) for k, _ in node.value]
        assert len(keys) == len(set(keys)), f"duplicate keys in {name}: {keys}"
        return loader.construct_mapping(node)

    Unique.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, no_duplicates)
    yaml.load(text, Loader=Unique)
