"""The events a live run observed, trimmed to what the timeline reads, kept as JSON.

A recorded run replays through `timeline.replay` exactly as it was seen, which is how the
tests check the timeline and the report against a real cluster's answers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scripts.cluster_loadtest.timeline import Timeline


def trim(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    """Only the fields the timeline reads (a recorded run stays small and readable)."""
    meta = obj.get("metadata") or {}
    kept_meta = {k: meta[k] for k in ("name", "deletionTimestamp") if k in meta}
    status = obj.get("status") or {}
    if kind == "hpa":
        keys = ("currentReplicas", "desiredReplicas", "currentMetrics")
        return {"metadata": kept_meta, "status": {k: status[k] for k in keys if k in status}}
    if kind == "pod":
        return {"metadata": kept_meta, "status": {"conditions": [
            {"type": c.get("type"), "status": c.get("status")}
            for c in status.get("conditions") or []
        ]}}  # fmt: skip
    if kind == "loadtest":  # the master Job
        kept = {k: status[k] for k in ("active", "succeeded", "failed") if k in status}
        conditions = status.get("conditions") or []
        keys = ("type", "status", "reason")
        kept["conditions"] = [{k: c.get(k) for k in keys} for c in conditions]
        return {"metadata": kept_meta, "status": kept}
    return obj


@dataclass
class Recorder:
    events: list[dict[str, Any]] = field(default_factory=list)

    def observe(self, timeline: Timeline, t: float, kind: str, obj: dict[str, Any]) -> None:
        timeline.observe(t, kind, obj)
        self.events.append({"t": t, "kind": kind, "object": trim(kind, obj)})

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = {"description": "Recorded from a live cluster by python -m scripts.cluster_loadtest"
               " --record", "events": self.events}  # fmt: skip
        path.write_text(json.dumps(doc, indent=1) + "\n")
