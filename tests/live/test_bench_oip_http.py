"""scripts.bench.oip over HTTP against the real service; its numbers are printed only."""

from __future__ import annotations

from serving import run_service

from scripts.bench.oip import http_cost, table
from service.inference.model import load_model
from service.settings import DEFAULT_MODEL_DIR


def test_http_cost_runs_against_the_real_service() -> None:
    model = load_model(DEFAULT_MODEL_DIR, None, True)
    with run_service() as svc:
        results = http_cost(svc.url, model, (1, 8), requests=3)
    print(table("http", results))
    assert {r["form"] for r in results} == {"json", "binary"} and len(results) == 4
