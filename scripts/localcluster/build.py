"""Builds the cluster's binaries from the pinned Go modules under go/, once per source change.

Each binary's stamp is a hash of its module files, build flags and Go version: an unchanged
stamp means the cached binary is used as is, so a second `up` on the same machine builds
nothing. The Go module and build caches (GOMODCACHE, GOCACHE) make a changed stamp cheap.
A rebuilt binary replaces the file (a new inode), which is how `up` tells that a running
process still runs the one before (procs.current).
"""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import dataclass
from pathlib import Path

from . import progress
from .layout import Layout
from .modules import GO_MODULES, VERSIONS, go_env, minor

# The names the multi-call kubernetes binary answers to (go/kubernetes/main.go).
KUBERNETES_COMMANDS = (
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubelet",
    "kube-proxy",
    "kubectl",
)


def _version_flags() -> list[str]:
    # What upstream's hack/lib/version.sh stamps: without it the API server reports v0.0.0
    # and Helm's kubeVersion checks and .Capabilities see a wrong version.
    version = VERSIONS["kubernetes"]
    flags = []
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [
            f"-X {pkg}.gitVersion={version}",
            f"-X {pkg}.gitMajor=1",
            f"-X {pkg}.gitMinor={minor(version)}",
            f"-X {pkg}.gitTreeState=clean",
        ]
    return flags


@dataclass(frozen=True)
class Component:
    name: str  # the binary's name under bin/
    module: str  # folder under go/
    package: str  # what `go build` builds, relative to the module
    ldflags: tuple[str, ...] = ()
    tags: str = ""
    links: tuple[str, ...] = ()  # extra names (symlinks) for a multi-call binary


COMPONENTS = (
    Component(
        "kubernetes",
        "kubernetes",
        ".",
        tuple(_version_flags()),
        # The tag Canonical's k8s-snap builds with: no in-tree cloud providers.
        tags="providerless",
        links=KUBERNETES_COMMANDS,
    ),
    Component("etcd", "etcd", "go.etcd.io/etcd/server/v3"),
    Component("coredns", "coredns", "."),
    Component("metrics-server", "metrics-server", "sigs.k8s.io/metrics-server/cmd/metrics-server"),
    Component(
        "local-path-provisioner",
        "local-path-provisioner",
        "github.com/rancher/local-path-provisioner",
        # What upstream's scripts/build stamps; unset, `--version` says 0.0.1.
        (f"-X main.VERSION={VERSIONS['local-path-provisioner']}",),
    ),
    Component(
        "helm",
        "helm",
        "helm.sh/helm/v3/cmd/helm",
        (f"-X helm.sh/helm/v3/internal/version.version={VERSIONS['helm']}",),
    ),
    Component(
        "registry",
        "registry",
        "github.com/distribution/distribution/v3/cmd/registry",
        (f"-X github.com/distribution/distribution/v3/version.version={VERSIONS['registry']}",),
    ),
    Component(
        "actionlint",
        "actionlint",
        "github.com/rhysd/actionlint/cmd/actionlint",
        # What its GoReleaser config stamps (no leading v); unset, -version says "(devel)".
        (f"-X github.com/rhysd/actionlint.version={VERSIONS['actionlint'].lstrip('v')}",),
    ),
)


def _stamp(component: Component) -> str:
    digest = hashlib.sha256()
    module = GO_MODULES / component.module
    for path in sorted(module.iterdir()):
        if path.is_file():
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    go_version = subprocess.run(
        ["go", "env", "GOVERSION"], capture_output=True, text=True, check=True, env=go_env()
    ).stdout.strip()
    digest.update(repr((component, go_version)).encode())
    return digest.hexdigest()


def ensure(layout: Layout, only: tuple[str, ...] = ()) -> None:
    """Builds every binary (or only those named) whose stamp differs from the cached one."""
    unknown = set(only) - {component.name for component in COMPONENTS}
    if unknown:
        raise ValueError(f"no such component: {sorted(unknown)}")
    layout.bin.mkdir(parents=True, exist_ok=True)
    for component in COMPONENTS:
        if only and component.name not in only:
            continue
        stamp_file = layout.bin / f".{component.name}.stamp"
        stamp = _stamp(component)
        binary = layout.bin / component.name
        if binary.exists() and stamp_file.exists() and stamp_file.read_text() == stamp:
            progress.say(f"build {component.name}: cached")
        else:
            with progress.step(f"build {component.name} (go build)"):
                _go_build(component, binary)
            stamp_file.write_text(stamp)
        for link in component.links:
            target = layout.bin / link
            if not target.is_symlink():
                target.unlink(missing_ok=True)
                target.symlink_to(component.name)


def _go_build(component: Component, binary: Path) -> None:
    partial = binary.with_name(binary.name + ".partial")
    cmd = ["go", "build", "-trimpath", "-o", str(partial)]
    if component.tags:
        cmd += ["-tags", component.tags]
    cmd += ["-ldflags", " ".join(("-s", "-w", *component.ldflags)), component.package]
    done = subprocess.run(
        cmd, cwd=GO_MODULES / component.module, env=go_env(), capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"go build of {component.name} failed:\n{done.stderr[-4000:]}")
    partial.replace(binary)  # atomic, and a new file: running processes keep the old one
