"""scripts.bench.oip: both forms decode to the same rows; its numbers are printed only."""

from __future__ import annotations

from scripts.bench.oip import decode_cost, table
from service.inference.model import load_model
from service.settings import DEFAULT_MODEL_DIR


def test_decode_cost_covers_both_forms() -> None:
    model = load_model(DEFAULT_MODEL_DIR, None, True)
    results = decode_cost(model, (1, 64), min_seconds=0.05)
    print(table("decode", results))
    assert [(r["rows"], r["form"]) for r in results] == [
        (1, "json"), (1, "binary"), (64, "json"), (64, "binary"),
    ]  # fmt: skip
    sizes = {(r["rows"], r["form"]): r["bytes"] for r in results}
    assert sizes[(64, "binary")] < sizes[(64, "json")]  # 4 bytes a value against its digits
    assert all(r["us_per_row"] > 0 for r in results)
