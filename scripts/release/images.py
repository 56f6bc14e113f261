"""Each image, built for every platform into one manifest list each, pushed under both tags.

A manifest list even for one platform: the same command serves amd64 here and amd64+arm64 in
the project's CI, and a node pulls the entry for its own architecture.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from scripts.e2e.podman import BUILD_NETWORK, ULIMITS

from . import tools
from .auth import Session
from .names import REPO, Release


def build(release: Release, target: str, platforms: Sequence[str], base_image: str | None,
          log: Path) -> str:  # fmt: skip
    """Builds target into a fresh manifest list named by its immutable tag; returns that name."""
    name = f"{release.repository(target)}:{release.tags()[1]}"
    if _exists(name):  # --manifest adds to an existing list: start from an empty one
        tools.podman("manifest", "rm", name)
    args = {"VERSION": release.version}
    if base_image:
        args["BASE_IMAGE"] = base_image
    log.parent.mkdir(parents=True, exist_ok=True)
    out = tools.podman(
        "build", "--format", "docker", *BUILD_NETWORK, *ULIMITS,
        "--platform", ",".join(platforms), "--manifest", name, "--target", target,
        # On the command line, not a Dockerfile ARG: buildah's layer cache ignores an ARG's
        # value in a LABEL and would hand back the previous build under the new revision.
        "--label", f"org.opencontainers.image.revision={release.revision}",
        *[flag for key, value in args.items() for flag in ("--build-arg", f"{key}={value}")],
        str(REPO),
    )  # fmt: skip
    log.write_text(out)
    return name


def _exists(name: str) -> bool:
    try:
        tools.podman("manifest", "exists", name)
    except RuntimeError:
        return False
    return True


def push(release: Release, target: str, name: str, session: Session) -> str:
    """Pushes the list under both tags; returns its digest (one list, so one digest)."""
    digests = set()
    with tempfile.TemporaryDirectory() as tmp:
        for tag in release.tags():
            digestfile = Path(tmp) / f"{tag}.digest"
            tools.podman(
                "manifest", "push", "--all", "--format", "v2s2", "--digestfile", str(digestfile),
                *session.podman_flags(), name, f"docker://{release.repository(target)}:{tag}",
            )  # fmt: skip
            digests.add(digestfile.read_text().strip())
    if len(digests) != 1:
        raise RuntimeError(f"{name} was pushed with different digests: {sorted(digests)}")
    return digests.pop()
