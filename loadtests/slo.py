"""The end-of-run SLO verdict: failure ratio, p95 and p99 against the configured limits."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from loadtests.settings import Slo


@dataclass(frozen=True)
class Totals:
    requests: int
    failures: int
    p95_ms: float
    p99_ms: float
    rps: float = 0.0
    wrong_labels: int = 0
    rows: int = 0


@dataclass(frozen=True)
class Verdict:
    passed: bool
    line: str

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1


def evaluate(t: Totals, slo: Slo) -> Verdict:
    """One line a Job log shows: PASS/FAIL, each number against its limit, what missed."""
    ratio = t.failures / t.requests if t.requests else 0.0
    missed = []
    if t.requests == 0:
        missed.append("no requests were made")
    if ratio > slo.max_failure_ratio:
        missed.append("failure ratio")
    if t.p95_ms > slo.p95_ms:
        missed.append("p95")
    if t.p99_ms > slo.p99_ms:
        missed.append("p99")
    accuracy = f"{1 - t.wrong_labels / t.rows:.2%}" if t.rows else "n/a"
    numbers = (
        f"requests={t.requests} rps={t.rps:.1f}"
        f" failures={t.failures} ratio={ratio:.4f} (max {slo.max_failure_ratio:g})"
        f" p95={t.p95_ms:.0f}ms (max {slo.p95_ms:g})"
        f" p99={t.p99_ms:.0f}ms (max {slo.p99_ms:g})"
        f" label accuracy={accuracy} ({t.wrong_labels} wrong of {t.rows} rows)"
    )
    if missed:
        return Verdict(False, f"SLO FAIL: {numbers}; missed: {', '.join(missed)}")
    return Verdict(True, f"SLO PASS: {numbers}")


def summary_in(log: str) -> dict[str, Any] | None:
    """The JSON summary a Locust run printed last, found in its log (None: there is none).

    Searched rather than taken as the last line: a pod's log interleaves its stdout and stderr
    pipes in the order the container runtime read them, not the order they were written.
    """
    for line in reversed(log.splitlines()):
        line = line.strip()
        if line.startswith("{") and '"slo"' in line:
            try:
                found: dict[str, Any] = json.loads(line)
            except ValueError:
                continue
            return found
    return None
