"""Served req/s and p99 from the service's own /metrics text, as the runner scrapes it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from scripts.cluster_loadtest.traffic import Snapshot, Traffic, quantile, snapshot
from service.app import create_app
from service.settings import Settings

ROW = [3.0] * 64


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(create_app(Settings())) as c:
        yield c


def scrape(client: TestClient) -> Snapshot:
    return snapshot(client.get("/metrics").text)


def test_snapshot_counts_only_inference_requests(client: TestClient) -> None:
    before = scrape(client)
    for _ in range(5):
        assert client.post("/v1/predict", json={"inputs": [ROW]}).status_code == 200
    for _ in range(3):
        assert client.get("/healthz").status_code == 200  # probes are not load
    after = scrape(client)
    assert after.requests - before.requests == 5
    assert after.buckets[float("inf")] - before.buckets.get(float("inf"), 0) == 5


def test_rate_and_p99_between_two_polls_of_the_same_pods() -> None:
    traffic = Traffic()
    slow = {0.01: 0.0, 0.1: 90.0, 1.0: 100.0, float("inf"): 100.0}
    assert traffic.observe(0, {"a": Snapshot(0, dict.fromkeys(slow, 0.0))}) == (None, None)
    rps, p99 = traffic.observe(10, {"a": Snapshot(100, slow), "new": Snapshot(7, slow)})
    # 100 requests in 10 s from the pod seen twice; the new pod counts from its next poll.
    assert rps == 10
    assert p99 == 1.0
    # A restarted pod (its counter went down) is skipped, not counted negative.
    assert traffic.observe(20, {"a": Snapshot(3, slow)}) == (None, None)


def test_quantile_is_the_bucket_bound() -> None:
    buckets = {0.005: 50.0, 0.01: 98.0, 0.025: 100.0, float("inf"): 100.0}
    assert quantile(buckets, 0.5) == 0.005
    assert quantile(buckets, 0.99) == 0.025
    assert quantile({float("inf"): 0.0}, 0.99) is None


def test_snapshot_survives_a_json_round_trip() -> None:
    snap = Snapshot(12, {0.1: 3.0, float("inf"): 12.0})
    assert Snapshot.from_json(snap.as_json()) == snap
