"""Each component's version is the one its go.mod under go/ requires, and flows from there."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from scripts.localcluster import build, images, modules

BLOCK = """module corebound.local/x

go 1.24.0

tool example.com/up/cmd/up

require (
\texample.com/up/v2 v2.0.1 // indirect
\texample.com/up v1.2.3 // indirect
)

replace example.com/up => example.com/up v9.9.9
"""


def test_required_reads_a_require_block() -> None:
    assert modules.required(BLOCK, "example.com/up") == "v1.2.3"
    assert modules.required(BLOCK, "example.com/up/v2") == "v2.0.1"


def test_required_reads_a_single_line_require() -> None:
    assert modules.required("module m\n\nrequire example.com/up v1.0.0\n", "example.com/up") == (
        "v1.0.0"
    )


def test_required_fails_on_a_module_not_required() -> None:
    with pytest.raises(ValueError, match=r"example\.com/down"):
        modules.required(BLOCK, "example.com/down")


def test_every_module_folder_is_pinned_and_built() -> None:
    folders = {path.parent.name for path in modules.GO_MODULES.glob("*/go.mod")}
    assert set(modules.UPSTREAM) == folders
    assert {component.module for component in build.COMPONENTS} == folders


@pytest.mark.skipif(shutil.which("go") is None, reason="go is not installed")
@pytest.mark.parametrize("folder", sorted(modules.UPSTREAM))
def test_versions_agree_with_go_s_own_reading_of_go_mod(folder: str) -> None:
    # `go mod edit -json` parses go.mod alone: no network, no module cache.
    done = subprocess.run(
        ["go", "mod", "edit", "-json"],
        cwd=modules.GO_MODULES / folder,
        capture_output=True,
        text=True,
        check=True,
        env=modules.go_env(),
    )
    parsed = json.loads(done.stdout)
    required = {r["Path"]: r["Version"] for r in parsed["Require"]}
    assert modules.VERSIONS[folder] == required[modules.UPSTREAM[folder]]
    replaced = {r["Old"]["Path"] for r in parsed.get("Replace") or []}
    assert modules.UPSTREAM[folder] not in replaced


def test_versions_flow_into_stamps_and_image_tags() -> None:
    kubernetes = modules.VERSIONS["kubernetes"]
    assert re.fullmatch(r"v1\.\d+\.\d+", kubernetes)
    flags = " ".join(build.COMPONENTS[0].ldflags)
    assert f"gitVersion={kubernetes}" in flags
    assert f"gitMinor={modules.minor(kubernetes)}" in flags
    assert images.COREDNS_IMAGE.endswith(":" + modules.VERSIONS["coredns"])
    assert images.METRICS_SERVER_IMAGE.endswith(":" + modules.VERSIONS["metrics-server"])
    assert images.LOCAL_PATH_IMAGE.endswith(":" + modules.VERSIONS["local-path-provisioner"])
    assert f"main.VERSION={modules.VERSIONS['local-path-provisioner']}" in " ".join(
        next(c for c in build.COMPONENTS if c.name == "local-path-provisioner").ldflags
    )
