"""The pinned Go modules under go/ and the version each runs, read from its own go.mod.

go.mod (with go.sum) is the one pin: bumping a component is `go get` in its folder, and the
image tags, version stamps and add-on manifests follow without a second table to edit.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

GO_MODULES = Path(__file__).resolve().parent / "go"

# Folder under go/ -> the upstream module it pins; that module's version is the component's.
UPSTREAM = {
    "kubernetes": "k8s.io/kubernetes",
    "etcd": "go.etcd.io/etcd/server/v3",
    "coredns": "github.com/coredns/coredns",
    "metrics-server": "sigs.k8s.io/metrics-server",
    "local-path-provisioner": "github.com/rancher/local-path-provisioner",
    "helm": "helm.sh/helm/v3",
    "registry": "github.com/distribution/distribution/v3",
    "actionlint": "github.com/rhysd/actionlint",  # lints .github/workflows, not a cluster part
}


def required(go_mod: str, module: str) -> str:
    """The version go.mod requires of module, from a `require (...)` block or a single line.

    `replace` lines start with their keyword and never match: none of ours replaces the
    upstream module itself, and a pin that did would need reading here first.
    """
    found = re.search(rf"^\s*(?:require\s+)?{re.escape(module)}\s+(v\S+)", go_mod, re.MULTILINE)
    if found is None:
        raise ValueError(f"go.mod requires no {module}")
    return found.group(1)


def version(folder: str, root: Path = GO_MODULES) -> str:
    return required((root / folder / "go.mod").read_text(), UPSTREAM[folder])


def minor(version: str) -> int:
    """1.34 for v1.34.4: what the API server reports as gitMinor."""
    return int(version.lstrip("v").split(".")[1])


VERSIONS = {folder: version(folder) for folder in UPSTREAM}


def go_env() -> dict[str, str]:
    return {
        **os.environ,
        "GOTOOLCHAIN": "local",  # the machine's Go; never download another toolchain
        "CGO_ENABLED": "0",  # static binaries: the add-on images are FROM scratch
        "GOFLAGS": "-buildvcs=false -mod=readonly",  # go.sum in the repo is the pin
    }


def source_dir(folder: str) -> Path:
    """The upstream module's files in the Go module cache (the build already downloaded them)."""
    done = subprocess.run(
        ["go", "mod", "download", "-json", f"{UPSTREAM[folder]}@{VERSIONS[folder]}"],
        cwd=GO_MODULES / folder,
        capture_output=True,
        text=True,
        check=True,
        env={**go_env(), "GOFLAGS": "-mod=mod"},
    )
    return Path(json.loads(done.stdout)["Dir"])
