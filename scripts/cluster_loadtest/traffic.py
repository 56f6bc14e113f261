"""Served requests per second and p99 latency over time, from the pods' own /metrics.

Every poll the runner reads each service pod's Prometheus text (through the API server's pod
proxy); two successive snapshots of the same pod give its requests and latency histogram in
between. Pods that appear or vanish between polls count from their next pair of snapshots.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

REQUESTS = "http_requests"  # the family name prometheus_client gives http_requests_total
LATENCY = "http_request_duration_seconds"
# Only the inference paths: probes and scrapes are not load.
SERVED = ("/v1/predict", "/v2/models/")


@dataclass(frozen=True)
class Snapshot:
    requests: float
    buckets: dict[float, float]  # upper bound (s) -> cumulative count

    def as_json(self) -> dict[str, object]:
        return {"requests": self.requests, "buckets": {str(k): v for k, v in self.buckets.items()}}

    @classmethod
    def from_json(cls, obj: dict[str, object]) -> Snapshot:
        buckets = obj["buckets"]
        assert isinstance(buckets, dict)
        return cls(float(str(obj["requests"])), {float(k): float(v) for k, v in buckets.items()})


def snapshot(text: str) -> Snapshot:
    requests = 0.0
    buckets: dict[float, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            handler = str(sample.labels.get("handler", ""))
            if not handler.startswith(SERVED):
                continue
            if family.name == REQUESTS and sample.name.endswith("_total"):
                requests += sample.value
            elif family.name == LATENCY and sample.name.endswith("_bucket"):
                bound = float(sample.labels["le"])
                buckets[bound] = buckets.get(bound, 0.0) + sample.value
    return Snapshot(requests, buckets)


def quantile(buckets: dict[float, float], q: float) -> float | None:
    """The histogram's q-quantile upper bound in seconds (Prometheus' bucket resolution)."""
    total = buckets.get(float("inf"), 0.0)
    if total <= 0:
        return None
    for bound in sorted(buckets):
        if buckets[bound] >= q * total:
            return bound
    return None


@dataclass
class Traffic:
    """Per-pod snapshots; each observe gives (req/s, p99 s) since the previous poll."""

    last: dict[str, tuple[float, Snapshot]] = field(default_factory=dict)

    def observe(self, t: float, snaps: dict[str, Snapshot]) -> tuple[float | None, float | None]:
        requests = 0.0
        seconds = 0.0
        buckets: dict[float, float] = {}
        pairs = 0
        current = {pod: (t, snap) for pod, snap in snaps.items()}
        for pod, (now, snap) in current.items():
            if pod not in self.last:
                continue
            then, before = self.last[pod]
            if now <= then or snap.requests < before.requests:  # a restarted pod starts again
                continue
            pairs += 1
            requests += snap.requests - before.requests
            seconds = max(seconds, now - then)
            for bound, count in snap.buckets.items():
                buckets[bound] = buckets.get(bound, 0.0) + count - before.buckets.get(bound, 0.0)
        self.last = current
        if not pairs or seconds <= 0:
            return None, None
        return requests / seconds, quantile(buckets, 0.99)
