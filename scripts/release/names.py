"""What a release is called: the version, the build's revision, and every reference it pushes."""

from __future__ import annotations

import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from service import __version__

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "corebound"
# Dockerfile target -> repository name under the registry.
IMAGES = {"service": "corebound", "loadtest": "corebound-loadtest", "redis": "corebound-redis"}
CHARTS_PATH = "charts"  # oci://<registry>/charts/corebound: apart from the images' names
TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")  # the OCI distribution spec's tag


def revision() -> str:
    """The commit; a tree with uncommitted changes gets `-dirty-<UTC time>`, so no two builds
    of different sources ever share the tag that is meant to be immutable."""
    sha = _git("rev-parse", "--short=12", "HEAD")
    if _git("status", "--porcelain", "--untracked-files=no"):
        return f"{sha}-dirty-{time.strftime('%Y%m%d%H%M%S', time.gmtime())}"
    return sha


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.strip()


def chart_version() -> str:
    """Chart.yaml's top-level `version:` (a regex: the release needs nothing beyond the
    standard library, so a bare runner can run it)."""
    found = re.search(r"^version:\s*[\"']?([^\s\"']+)", (CHART / "Chart.yaml").read_text(), re.M)
    if found is None:
        raise ValueError("Chart.yaml has no version")
    return found.group(1)


@dataclass(frozen=True)
class Release:
    registry: str  # host[:port][/path], where the repositories go
    version: str = __version__
    revision: str = ""

    def __post_init__(self) -> None:
        for tag in self.tags():
            if not TAG.fullmatch(tag):
                raise ValueError(f"{tag!r} is not a valid image tag (revision {self.revision!r})")
        if "://" in self.registry or self.registry.endswith("/"):
            raise ValueError(f"--registry is host[:port][/path], not {self.registry!r}")

    @property
    def host(self) -> str:
        return self.registry.split("/", 1)[0]

    def tags(self) -> tuple[str, str]:
        """The version (moves to each new build of it) and the build's own, immutable tag."""
        return self.version, f"{self.version}-{self.revision}"

    def repository(self, target: str) -> str:
        return f"{self.registry}/{IMAGES[target]}"

    def chart_repository(self) -> str:
        return f"oci://{self.registry}/{CHARTS_PATH}"
