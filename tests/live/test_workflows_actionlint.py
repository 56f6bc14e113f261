"""The GitHub Actions workflows pass actionlint, built from its pinned Go module, with shellcheck
over their `run:` scripts; and the same check does fail a workflow that is wrong.

A slow-lane test: the first build takes seconds (cached after, beside the cluster's binaries).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from paths import REPO

from scripts.localcluster import build
from scripts.localcluster.layout import Layout
from scripts.localcluster.modules import VERSIONS

WORKFLOWS = REPO / ".github" / "workflows"
# Two mistakes actionlint must catch: an expression inlined into a script (its injection
# rule) and an unquoted expansion (shellcheck's SC2086, only seen when shellcheck runs).
BROKEN = """\
on: push
jobs:
  x:
    runs-on: ubuntu-24.04
    steps:
      - run: echo "${{ github.event.head_commit.message }}"
      - run: cp $1 /tmp
"""


@pytest.fixture(scope="module")
def actionlint() -> str:
    assert shutil.which("go"), "go builds actionlint (scripts/localcluster/go/actionlint)"
    layout = Layout.default()
    build.ensure(layout, only=("actionlint",))
    return str(layout.tool("actionlint"))


@pytest.fixture(scope="module")
def shellcheck() -> str:
    # Passed explicitly: actionlint silently skips shell checks when it finds none on PATH.
    found = shutil.which("shellcheck")
    assert found, "shellcheck is not installed (scripts/setup --system)"
    return found


def lint(actionlint: str, shellcheck: str, files: list[Path], cwd: Path) -> list[dict[str, Any]]:
    done = subprocess.run(
        [actionlint, "-shellcheck", shellcheck, "-format", "{{json .}}", *map(str, files)],
        cwd=cwd, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    # 0 clean, 1 findings; anything else is actionlint itself failing.
    assert done.returncode in (0, 1), done.stderr
    findings: list[dict[str, Any]] = json.loads(done.stdout or "[]")
    assert (done.returncode == 1) == bool(findings), done.stdout
    return findings


def test_every_workflow_passes_actionlint(actionlint: str, shellcheck: str) -> None:
    files = sorted(WORKFLOWS.glob("*.y*ml"))
    assert files, f"no workflows under {WORKFLOWS}"
    findings = lint(actionlint, shellcheck, files, REPO)
    assert findings == [], "\n".join(
        f"{f['filepath']}:{f['line']}: {f['message']}" for f in findings
    )


def test_actionlint_fails_a_broken_workflow(
    actionlint: str, shellcheck: str, tmp_path: Path
) -> None:
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(BROKEN)
    findings = lint(actionlint, shellcheck, [bad], tmp_path)
    assert {(f["line"], f["kind"]) for f in findings} == {(6, "expression"), (7, "shellcheck")}


def test_actionlint_is_the_pinned_version(actionlint: str) -> None:
    done = subprocess.run([actionlint, "-version"], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[0] == VERSIONS["actionlint"].removeprefix("v")


def test_the_release_installs_the_helm_the_cluster_builds() -> None:
    workflow = yaml.safe_load((WORKFLOWS / "release.yml").read_text())
    steps = workflow["jobs"]["release"]["steps"]
    [helm] = [s for s in steps if s.get("uses", "").startswith("azure/setup-helm@")]
    assert helm["with"]["version"] == VERSIONS["helm"]
