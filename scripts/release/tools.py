"""The podman and helm the release runs, failing loudly with their own words."""

from __future__ import annotations

import os
import shutil
import subprocess

from scripts.e2e.podman import GLOBAL_FLAGS
from scripts.localcluster.layout import Layout


def helm_binary() -> str:
    """$HELM, else helm on PATH, else the one the local cluster built from its pinned module."""
    found = os.environ.get("HELM") or shutil.which("helm")
    if found:
        return found
    built = Layout.default().tool("helm")
    if built.exists():
        return str(built)
    raise SystemExit("no helm: install it, set $HELM, or `python -m scripts.localcluster build`")


def podman(*args: str, input: str | None = None) -> str:
    return _run(["podman", *GLOBAL_FLAGS, *args], input)


def helm(*args: str, input: str | None = None) -> str:
    return _run([helm_binary(), *args], input)


def _run(argv: list[str], input: str | None) -> str:
    done = subprocess.run(argv, input=input, capture_output=True, text=True)
    if done.returncode != 0:
        shown = " ".join(argv[:8])
        raise RuntimeError(f"{shown} ... exited {done.returncode}:\n{done.stderr[-3000:]}")
    # helm prints its results on stderr, podman on stdout: both are the answer.
    return done.stdout + done.stderr
