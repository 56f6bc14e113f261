"""The chart, packaged as it is in the tree and pushed as an OCI artifact (`helm push`)."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from . import tools
from .auth import Session
from .names import CHART, Release


def package_and_push(release: Release, session: Session) -> str:
    """Returns the chart's digest as the registry reports it."""
    with tempfile.TemporaryDirectory() as tmp:
        out = tools.helm("package", str(CHART), "--destination", tmp)
        archive = next(Path(tmp).glob("*.tgz"), None)
        if archive is None:
            raise RuntimeError(f"helm package made no archive:\n{out}")
        out = tools.helm("push", str(archive), release.chart_repository(), *session.helm_flags())
    found = re.search(r"^Digest:\s*(sha256:[0-9a-f]{64})", out, re.MULTILINE)
    if found is None:
        raise RuntimeError(f"helm push printed no digest:\n{out}")
    return found.group(1)
