"""The project's own `service` and `loadtest` images, built with the e2e rig's podman path."""

from __future__ import annotations

import tomllib
from pathlib import Path

from scripts.e2e import podman as podman_base

from . import progress

REPO = Path(__file__).resolve().parents[2]


def version() -> str:
    with (REPO / "pyproject.toml").open("rb") as f:
        return str(tomllib.load(f)["project"]["version"])


def tags() -> dict[str, str]:
    """Dockerfile target -> image name; `localhost/` is what podman names local builds."""
    return {
        "service": f"localhost/corebound:{version()}",
        "loadtest": f"localhost/corebound-loadtest:{version()}",
    }


def build(logs: Path) -> list[str]:
    with progress.step("images: Debian base (debootstrap, cached)"):
        base = podman_base.ensure_base(log=progress.say)
    built = []
    for target, tag in tags().items():
        with progress.step(f"images: podman build --target {target}"):
            podman_base.build(
                REPO, target, tag,
                build_args={"BASE_IMAGE": str(base["tag"]), "VERSION": version()},
                log_path=logs / f"build-{target}.log",
            )  # fmt: skip
        built.append(tag)
    return built
