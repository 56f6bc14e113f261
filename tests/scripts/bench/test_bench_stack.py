"""The stack benchmark's side-by-side mode reads the other checkout's printed lines."""

from __future__ import annotations

from scripts.bench.stack import LINE


def test_a_printed_stack_line_parses_back_to_its_case_and_cost() -> None:
    label, concurrency, us = "POST /v1/predict", 32, 55.64
    printed = f"{label:18} c={concurrency:<3} {us:7.1f} us/request"  # as main() prints it

    m = LINE.match(printed)

    assert m is not None
    assert (m["label"], int(m["c"]), float(m["us"])) == (label, concurrency, 55.6)
