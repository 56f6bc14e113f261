"""The cluster's own images, built locally with podman and imported into its containerd.

The pause, CoreDNS, metrics-server and local-path provisioner images are FROM scratch around
binaries built here and are never pulled, nor is the provisioner's helper; the project's
images are not here: they are released to the cluster's registry and pulled by the kubelet
(app_release.py).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from scripts.e2e import podman as podman_base

from . import progress
from .layout import IMAGE_PREFIX, PAUSE_IMAGE, Layout
from .modules import VERSIONS

PAUSE_SOURCE = Path(__file__).resolve().parent / "pause.c"

COREDNS_IMAGE = f"{IMAGE_PREFIX}/coredns:{VERSIONS['coredns']}"
METRICS_SERVER_IMAGE = f"{IMAGE_PREFIX}/metrics-server:{VERSIONS['metrics-server']}"
LOCAL_PATH_IMAGE = f"{IMAGE_PREFIX}/local-path-provisioner:{VERSIONS['local-path-provisioner']}"
LOCAL_PATH_HELPER_IMAGE = f"{IMAGE_PREFIX}/local-path-helper:{podman_base.RELEASE}"
# The provisioner's helper pod runs its setup and teardown scripts (`mkdir -m 0777 -p`,
# `rm -rf`) with /bin/sh. Upstream's busybox comes from Docker Hub, out of reach here; the
# debootstrap base the release builds from is on this machine anyway, so the helper is its
# dash, mkdir and rm with the libraries ldd names, FROM scratch: 3 MB, not the base's 167 MB
# imported whole. Root, as upstream's busybox: the volumes' parent directory is root's.
HELPER_CONTAINERFILE = """\
FROM {base} AS tools
RUN set -eu; mkdir /out; for tool in /bin/sh /bin/mkdir /bin/rm; do \\
        cp -L --parents "$tool" $(ldd "$tool" | grep -o '/[^ ]*') /out/; done
FROM scratch
COPY --from=tools /out/ /
ENV PATH=/bin
"""


def podman(*args: str) -> subprocess.CompletedProcess[str]:
    """The e2e rig's podman (its flags for a machine without systemd), failing with stderr."""
    done = podman_base.podman(*args, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"podman {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done


def _scratch_image(tag: str, binary: Path, entrypoint: list[str], user: str = "65534") -> None:
    """FROM scratch + one static binary, run as a numeric non-root user unless told."""
    with tempfile.TemporaryDirectory(prefix="cb-image-") as tmp:
        shutil.copy2(binary, Path(tmp) / binary.name)
        quoted = ", ".join(f'"{arg}"' for arg in entrypoint)
        (Path(tmp) / "Containerfile").write_text(
            f"FROM scratch\nCOPY {binary.name} /{binary.name}\nUSER {user}\nENTRYPOINT [{quoted}]\n"
        )
        podman("build", "--format", "docker", "--tag", tag, tmp)


def _helper_image(tag: str) -> None:
    """From the release's debootstrap base (made here if missing, as the release would)."""
    base = str(podman_base.ensure_base(log=progress.say)["tag"])
    with tempfile.TemporaryDirectory(prefix="cb-image-") as tmp:
        (Path(tmp) / "Containerfile").write_text(HELPER_CONTAINERFILE.format(base=base))
        podman("build", "--format", "docker", "--network=none", *podman_base.ULIMITS,
               "--tag", tag, tmp)  # fmt: skip


def _pause_binary(layout: Layout) -> Path:
    binary = layout.bin / "pause"
    if not binary.exists() or binary.stat().st_mtime < PAUSE_SOURCE.stat().st_mtime:
        subprocess.run(
            ["gcc", "-static", "-O2", "-s", "-o", str(binary), str(PAUSE_SOURCE)], check=True
        )
    return binary


def build_addon_images(layout: Layout) -> list[str]:
    _scratch_image(PAUSE_IMAGE, _pause_binary(layout), ["/pause"])
    # Root with only NET_BIND_SERVICE (upstream's manifest drops every other capability):
    # CoreDNS binds port 53, and a FROM scratch image has no file capabilities to give.
    _scratch_image(COREDNS_IMAGE, layout.tool("coredns"), ["/coredns"], user="0")
    _scratch_image(METRICS_SERVER_IMAGE, layout.tool("metrics-server"), ["/metrics-server"])
    _scratch_image(LOCAL_PATH_IMAGE, layout.tool("local-path-provisioner"),
                   ["/local-path-provisioner"])  # fmt: skip
    _helper_image(LOCAL_PATH_HELPER_IMAGE)
    return [PAUSE_IMAGE, COREDNS_IMAGE, METRICS_SERVER_IMAGE, LOCAL_PATH_IMAGE,
            LOCAL_PATH_HELPER_IMAGE]  # fmt: skip


def import_images(layout: Layout, tags: list[str]) -> None:
    """podman save | ctr import, as kind loads images; names are kept exactly as tagged."""
    for tag in tags:
        with progress.step(f"import {tag}"), tempfile.TemporaryDirectory() as tmp:
            archive = Path(tmp) / "image.tar"
            podman("save", "--format", "docker-archive", "--output", str(archive), tag)
            done = subprocess.run(
                ["ctr", "--address", str(layout.containerd_socket), "--namespace", "k8s.io",
                 "images", "import", "--all-platforms", str(archive)],
                capture_output=True, text=True,
            )  # fmt: skip
            if done.returncode != 0:
                raise RuntimeError(f"ctr images import {tag} failed:\n{done.stderr}")
