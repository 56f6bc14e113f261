"""The profile summary: each event-loop sample goes to the innermost layer on its stack."""

from __future__ import annotations

from pathlib import Path

from scripts.bench.hotpath import LOOP_OTHER, as_dict, from_dict, summarize, table

RAW = """\
thread (1): MainThread;run (uvloop/__init__.py:92);__call__ (service/web/pipeline.py:90);to_rows (service/protocol/rows.py:200) 6
thread (1): MainThread;run (uvloop/__init__.py:92);__call__ (starlette/middleware/errors.py:1) 3
thread (1): MainThread;run (asyncio/runners.py:118) 5
thread (2): inference;_run (service/inference/engine.py:150);predict (service/inference/mlp.py:50) 4
thread (2): inference;_run (service/inference/engine.py:150);wait (threading.py:320) 2
"""  # noqa: E501


def test_samples_go_to_the_innermost_layer(tmp_path: Path) -> None:
    raw = tmp_path / "p.raw"
    raw.write_text(RAW)
    profile = summarize(raw)
    assert profile.samples == 20 and profile.inference == 6 and profile.model == 4
    assert profile.loop["decode, validate, encode"] == 6
    assert profile.loop["middleware"] == 3
    assert profile.loop[LOOP_OTHER] == 5
    again, cpu = from_dict(as_dict(profile, 400.0, 1000.0))
    assert again == profile and cpu == 400.0
    text = table({"now": (profile, 400.0)})
    assert "| loop: middleware | 15.0% | 60 |" in text
    assert "| inference thread: model | 20.0% | 80 |" in text
