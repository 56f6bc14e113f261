"""checkov finds nothing in the rendered chart and the kustomize overlays.

Skips are few and each says why: repository-wide ones in helm/corebound/.checkov.yaml,
per-object ones as checkov.io/skipN annotations on the objects they concern.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import chart_tools as ct
import pytest
import yaml

CONFIG = ct.CHART_DIR / ".checkov.yaml"
ALLOWED_GLOBAL_SKIPS = {"CKV_K8S_43", "CKV_K8S_15"}


def test_skip_list_is_short_and_explained() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    lines = CONFIG.read_text().splitlines()

    assert set(config["skip-check"]) == ALLOWED_GLOBAL_SKIPS
    for check in config["skip-check"]:
        index = lines.index(f"  - {check}")
        assert lines[index - 1].lstrip().startswith("#"), f"{check} has no reason above it"


def test_per_object_skips_carry_a_reason() -> None:
    docs = ct.render(ct.values_file(ct.CHART_DIR / "ci" / "everything-values.yaml"))
    skips = [
        value
        for doc in docs
        for key, value in doc["metadata"].get("annotations", {}).items()
        if key.startswith("checkov.io/skip")
    ]

    assert skips, "expected the client pods' scoped skips"
    for value in skips:
        check, _, reason = value.partition("=")
        assert check.startswith(("CKV_K8S_", "CKV2_K8S_")) and len(reason) > 20, value


def test_checkov_passes_on_rendered_manifests(tmp_path: Path) -> None:
    binary = ct.checkov()
    if binary is None:
        pytest.fail(
            "checkov is missing: install it into .tools/checkov (see pyproject's dev notes)"
        )
    renders = {
        "default": ct.render(),
        "everything": ct.render(ct.values_file(ct.CHART_DIR / "ci" / "everything-values.yaml")),
        "hpa-off": ct.render(ct.values_file(ct.CHART_DIR / "ci" / "hpa-off-values.yaml")),
    }
    for name in ("small", "large"):
        built = subprocess.run(
            [ct.kubectl(), "kustomize", str(ct.K8S_DIR / "overlays" / name)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        renders[f"overlay-{name}"] = [d for d in yaml.safe_load_all(built.stdout) if d]
    for name, docs in renders.items():
        (tmp_path / f"{name}.yaml").write_text(ct.dump(docs))

    scan = subprocess.run(
        [binary, "--config-file", str(CONFIG), "--directory", str(tmp_path), "--output", "json"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip

    reports = json.loads(scan.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    summary = {r["check_type"]: r["summary"] for r in reports}
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']})"
        for r in reports
        for c in r["results"]["failed_checks"]
    ]
    assert failed == [], scan.stderr[-2000:]
    assert summary["kubernetes"]["parsing_errors"] == 0
    assert summary["kubernetes"]["passed"] > 100
    assert summary["kubernetes"]["resource_count"] >= 30
    assert scan.returncode == 0
