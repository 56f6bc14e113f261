"""Podman on a bare build machine: the flags it needs, and a local Debian base image.

Everything this kind of machine needs from podman lives here, with the reason, so the
end-to-end rig reads as the test it is. Imported by scripts.e2e.run; also

    python -m scripts.e2e base          # build (or reuse) localhost/corebound-base:bookworm
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

# No daemon and no systemd here: run containers with runc (the runtime Debian's podman is
# tested with on cgroup v1; crun may be absent) and let podman write cgroups itself.
GLOBAL_FLAGS = ("--runtime", "runc", "--cgroup-manager", "cgroupfs")
# Podman asks for RLIMIT_NOFILE 1048576 and NPROC 32768 by default; an unprivileged-
# looking session's hard limits are lower, and runc then fails with "error setting rlimit
# type 7: operation not permitted". Ask for less than the hard limits instead.
ULIMITS = ("--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096")
# `podman build` RUN steps reach PyPI through the host's network namespace (no bridge
# setup needed), and trust what the host trusts: outbound TLS may be re-signed by a local
# CA that only the host's bundle carries. Read-only, and never part of a layer.
BUILD_NETWORK = ("--network=host", "--volume", "/etc/ssl/certs:/etc/ssl/certs:ro")

BASE_TAG = "localhost/corebound-base:bookworm"
RELEASE = "bookworm"  # the Debian release of the official python:3.11-slim-bookworm
# python3-venv brings ensurepip (the Dockerfile creates venvs); ca-certificates lets pip
# verify PyPI. minbase keeps the rest to what dpkg and apt need.
PACKAGES = ("python3", "python3-venv", "ca-certificates")
VARIANT = "minbase"
# Trimmed after debootstrap: package caches and lists (images never run apt at run time)
# and documentation.
TRIM = (
    "var/cache/apt/archives",
    "var/cache/apt/pkgcache.bin",
    "var/cache/apt/srcpkgcache.bin",
    "var/lib/apt/lists",
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "var/log",
)


def podman(
    *args: str, check: bool = True, timeout: float | None = None, capture: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run `podman <global flags> args`; stdout/stderr captured as text unless capture=False."""
    return subprocess.run(
        ["podman", *GLOBAL_FLAGS, *args],
        check=check,
        timeout=timeout,
        text=True,
        stdout=subprocess.PIPE if capture else None,
        stderr=subprocess.PIPE if capture else None,
    )


def unusable_reason() -> str | None:
    """Why podman cannot build and run containers here, or None when it can."""
    for tool in ("podman", "runc"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install podman runc)"
    if os.geteuid() != 0:
        return "needs root (debootstrap, and cgroup figures of the container)"
    try:
        info = podman("info", "--format", "json", timeout=60)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        return f"`podman info` failed: {getattr(exc, 'stderr', '') or exc}"
    if json.loads(info.stdout)["host"].get("cgroupVersion") not in ("v1", "v2"):
        return "no cgroup v1 or v2 hierarchy for --cpus/--memory"
    return None


def cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "corebound"


def recipe() -> dict[str, object]:
    return {"release": RELEASE, "variant": VARIANT, "packages": list(PACKAGES), "trim": list(TRIM)}


def recipe_id() -> str:
    return hashlib.sha256(json.dumps(recipe(), sort_keys=True).encode()).hexdigest()[:12]


def _image_recipe(tag: str) -> str | None:
    found = podman("image", "inspect", "--format", "{{json .Labels}}", tag, check=False)
    if found.returncode != 0:
        return None
    labels = json.loads(found.stdout.strip() or "null") or {}
    return labels.get("io.corebound.base.recipe")


def _debootstrap(tarball: Path, log: Callable[[str], None]) -> None:
    """debootstrap a root filesystem and pack it, numeric owners, without /proc /sys /dev."""
    if shutil.which("debootstrap") is None:
        raise RuntimeError("debootstrap is not installed (apt-get install debootstrap)")
    tarball.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=tarball.parent, prefix="rootfs-") as tmp:
        root = Path(tmp) / "rootfs"
        # No mirror argument: debootstrap's own default Debian archive.
        cmd = ["debootstrap", f"--variant={VARIANT}", f"--include={','.join(PACKAGES)}"]
        log(f"debootstrap {RELEASE} ({', '.join(PACKAGES)}) ...")
        try:
            subprocess.run([*cmd, RELEASE, str(root)], check=True, stdout=subprocess.DEVNULL)
        finally:
            _unmount_below(root)  # an interrupted debootstrap may leave /proc mounted there
        for rel in TRIM:
            path = root / rel
            if path.is_dir():
                shutil.rmtree(path)
                path.mkdir()
            elif path.exists():
                path.unlink()
        partial = tarball.with_suffix(".partial")
        subprocess.run(
            ["tar", "--numeric-owner", "--xattrs", "-C", str(root), "-cf", str(partial),
             "--exclude=./proc/*", "--exclude=./sys/*", "--exclude=./dev/*", "."],
            check=True,
        )  # fmt: skip
        partial.replace(tarball)  # atomic: an interrupted run never leaves a half tarball


def _unmount_below(root: Path) -> None:
    """Lazily unmounts whatever is still mounted under root, deepest first."""
    prefix = str(root.resolve()) + "/"
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    for point in sorted((m for m in mounts if m.startswith(prefix)), reverse=True):
        subprocess.run(["umount", "--lazy", point], check=False)


def ensure_base(
    tag: str = BASE_TAG, *, refresh: bool = False, log: Callable[[str], None] = print
) -> dict[str, object]:
    """The local base image: reuse it, else import the cached tarball, else debootstrap.

    The tarball under ${XDG_CACHE_HOME:-~/.cache}/corebound/ survives a reset image store;
    its name and the image's label carry the recipe, so a changed recipe rebuilds.
    """
    started = time.monotonic()
    rid = recipe_id()
    tarball = cache_dir() / f"debian-{RELEASE}-{VARIANT}-{rid}.tar"
    source = "image"
    if refresh or _image_recipe(tag) != rid:
        source = "tarball"
        if refresh or not tarball.exists():
            source = "debootstrap"
            _debootstrap(tarball, log)
        log(f"podman import {tarball.name} -> {tag}")
        podman(
            "import",
            "--change", "ENV=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "--change", "ENV=LANG=C.UTF-8",
            "--change", f"LABEL=io.corebound.base.recipe={rid}",
            "--change", 'CMD=["python3"]',
            "--message", f"debootstrap {VARIANT} {RELEASE} + {' '.join(PACKAGES)}",
            str(tarball), tag,
        )  # fmt: skip
    return {
        "tag": tag,
        "source": source,
        "recipe": rid,
        "seconds": round(time.monotonic() - started, 1),
    }


def build(
    context: Path,
    target: str | None,
    tag: str,
    *,
    build_args: dict[str, str],
    log_path: Path,
    no_cache: bool = False,
    timeout: float = 1800,
) -> float:
    """`podman build [--target]`, docker format (keeps HEALTHCHECK, like `docker build`).

    target None builds the last stage (a single-stage Dockerfile has no name to give).
    Returns the seconds it took; the full build log goes to log_path.
    """
    args: list[str] = ["build", "--format", "docker", *BUILD_NETWORK, *ULIMITS]
    if no_cache:
        args.append("--no-cache")
    for key, value in build_args.items():
        args += ["--build-arg", f"{key}={value}"]
    if target:
        args += ["--target", target]
    args += ["--tag", tag, str(context)]
    started = time.monotonic()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as out:
        done = subprocess.run(
            ["podman", *GLOBAL_FLAGS, *args], stdout=out, stderr=subprocess.STDOUT,
            text=True, timeout=timeout, check=False,
        )  # fmt: skip
    if done.returncode != 0:
        tail = "".join(log_path.read_text().splitlines(keepends=True)[-30:])
        raise RuntimeError(f"podman build of {tag} failed ({log_path}):\n{tail}")
    return round(time.monotonic() - started, 1)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.e2e base", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--tag", default=BASE_TAG)
    parser.add_argument("--refresh", action="store_true", help="debootstrap again")
    args = parser.parse_args(argv)
    reason = unusable_reason()
    if reason:
        print(f"podman is not usable here: {reason}", file=sys.stderr)
        return 2
    print(json.dumps(ensure_base(args.tag, refresh=args.refresh)))
    return 0
