"""Figures from Prometheus' text exposition (what `/metrics` answers), read with
prometheus_client's own parser: samples by their exact name, summed over workers and labels."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def metric_sum(text: str, sample: str, **labels: str) -> float:
    """The sum of every sample named `sample` (e.g. `http_requests_total`, `x_bucket`) whose
    labels include `labels`; 0.0 when none is exposed yet."""
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items())
    )
