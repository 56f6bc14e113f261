"""reports/faults.json and reports/faults.md: each fault's figures, written as its test ends.

One entry per fault, replaced when that fault runs again, so a partial run (one test file)
updates its own rows and keeps the others' last figures with their dates.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from ..kube import REPO

JSON = REPO / "reports" / "faults.json"
MARKDOWN = REPO / "reports" / "faults.md"


@dataclass
class Fault:
    key: str  # its place in the report: "1-kubelet", "4-cpu-static", ...
    title: str
    command: str  # what made the fault, as one could type it
    goal: str
    requests: int = 0
    failed: int = 0
    p99_ms: float = 0.0
    restarts: int = 0  # corebound containers restarted during the fault
    reached: bool = False
    figures: dict[str, Any] = field(default_factory=dict)  # the fault's own (baseline, ...)
    seconds: float = 0.0  # the test's wall time
    date: str = ""


def record(fault: Fault) -> None:
    """Prints the fault's figures and writes both reports."""
    fault.date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    entry = asdict(fault)
    print(json.dumps(entry))
    faults = json.loads(JSON.read_text()) if JSON.exists() else {}
    faults[fault.key] = entry
    faults = dict(sorted(faults.items()))
    JSON.write_text(json.dumps(faults, indent=2) + "\n")
    MARKDOWN.write_text(markdown(faults))


def markdown(faults: dict[str, dict[str, Any]]) -> str:
    lines = [
        "# Faults on a live cluster under load",
        "",
        "Written by the fault lane (`tests/cluster/faults`, run by `scripts/test`). Each fault",
        "is applied while a Locust pod sends `/v1/predict` through the Service; its requests,",
        "failures and p99 are that run's, which spans the fault from a few seconds before to",
        "the recovery. Restarts count corebound containers restarted meanwhile.",
        "",
        "| fault | requests | failed | p99 ms | restarts | goal | reached | test s |",
        "| --- | ---: | ---: | ---: | ---: | --- | --- | ---: |",
    ]
    for entry in faults.values():
        lines.append(
            f"| {entry['title']} | {entry['requests']} | {entry['failed']} | "
            f"{entry['p99_ms']:.0f} | {entry['restarts']} | {entry['goal']} | "
            f"{'yes' if entry['reached'] else '**no**'} | {entry['seconds']:.0f} |"
        )
    lines += ["", "## How each was made, and its own figures", ""]
    for entry in faults.values():
        lines += [f"### {entry['title']}", "", f"`{entry['command']}` ({entry['date']})", ""]
        for name, value in entry["figures"].items():
            lines.append(f"- {name}: {json.dumps(value) if not isinstance(value, str) else value}")
        lines.append("")
    return "\n".join(lines)
