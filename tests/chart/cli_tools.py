"""The chart's command-line tools (helm, kubeconform, helm-docs) and kubeconform's schemas.

Each tool is found one way: its env var (HELM, KUBECONFORM, HELM_DOCS), else the caches
`scripts/setup --dev` builds into (helm with the local cluster's binaries), else PATH.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import kubernetes_validate

from scripts.localcluster.layout import Layout, cache_root

CACHE_BINS = (cache_root() / "bin", Layout.default().bin)
SCHEMAS = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
# kubeconform's template for the schemas written by `standalone_schemas`.
SCHEMA_TEMPLATE = (
    "{{ .NormalizedKubernetesVersion }}-local{{ .StrictSuffix }}"
    "/{{ .ResourceKind }}{{ .KindSuffix }}.json"
)
# kubeconform's template for the CRD schemas kept in tests/chart/schemas.
CRD_SCHEMA_TEMPLATE = "{{ .ResourceKind }}-{{ .Group }}-{{ .ResourceAPIVersion }}.json"


def find(name: str, env_var: str) -> str | None:
    """The tool's path, or None when it is not installed (`scripts/setup --dev` builds it)."""
    if os.environ.get(env_var):
        return os.environ[env_var]
    for cache in CACHE_BINS:
        if (cache / name).exists():
            return str(cache / name)
    return shutil.which(name)


def standalone_schemas(kube_version: str, into: Path) -> Path:
    """kubernetes-validate's bundled strict schemas of one version, made loadable offline.

    Each file carries `$id: https://kubernetes.io/api/...` and refs `/api/_definitions.json`,
    so kubeconform would fetch the definitions from the web; without the `$id` and with a
    relative ref they resolve to the copy beside them. Returns the schema root for
    kubeconform's `-schema-location <root>/SCHEMA_TEMPLATE`.
    """
    name = f"v{kube_version}-local-strict"
    target = into / name
    if not target.is_dir():
        target.mkdir(parents=True)
        for source in (SCHEMAS / name).glob("*.json"):
            text = source.read_text().replace('"/api/_definitions.json#', '"_definitions.json#')
            schema = json.loads(text)
            schema.pop("$id", None)
            (target / source.name).write_text(json.dumps(schema))
    return into


def shipped_versions() -> list[str]:
    """Kubernetes versions whose schemas kubernetes-validate ships, oldest first."""
    versions = [p.name[1:].removesuffix("-local-strict") for p in SCHEMAS.glob("v*-local-strict")]
    return sorted(versions, key=lambda v: tuple(int(n) for n in v.split(".")))
