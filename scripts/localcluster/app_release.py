"""The project's release pushed to the cluster's own registry, as users publish to theirs.

`python -m scripts.release` with the registry's credentials and CA; the local Debian base
image stands in for the Dockerfile's default, which this machine cannot pull.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from . import progress, registry
from .layout import Layout

REPO = Path(__file__).resolve().parents[2]
NAMESPACE = "corebound"  # <host>/corebound/{corebound,corebound-loadtest,corebound-redis,charts}


def output(layout: Layout) -> Path:
    return layout.state / "release.json"


def release(layout: Layout, *extra: str) -> dict[str, Any]:
    """Runs the release (extra: more of its flags, e.g. --revision); returns its JSON. Only the
    plain release is `output`, the one the tests install: another build writes beside it."""
    creds = registry.credentials(layout)
    result = output(layout) if not extra else layout.state / "release-extra.json"
    argv = [
        sys.executable, "-m", "scripts.release", "--registry", f"{creds.host}/{NAMESPACE}",
        "--base-image", "local", "--username", creds.username, "--ca-file", str(creds.ca_file),
        "--output", str(result), *extra,
    ]  # fmt: skip
    with progress.step(f"release to the cluster's registry {creds.host}/{NAMESPACE}"):
        done = subprocess.run(
            argv, cwd=REPO, env={**os.environ, "REGISTRY_PASSWORD": creds.password},
            capture_output=True, text=True,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"the release failed:\n{done.stderr[-4000:]}")
        progress.say(done.stdout.strip())
    return dict(json.loads(result.read_text()))
