"""The wrk scripts' bodies: what the service decodes from each kind is the row that was sent."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from scripts.bench.requests import KINDS, body, write_lua
from service.inference.model import load_artifact
from service.protocol import oip_binary, oip_tensors
from service.protocol import rows as codec
from service.protocol.rows import decode_predict
from service.settings import DEFAULT_MODEL_DIR


def test_every_kind_carries_the_row() -> None:
    model = load_artifact(DEFAULT_MODEL_DIR)
    row = np.linspace(-2, 2, model.rows_width(), dtype=np.float32)
    for kind in KINDS:
        path, payload, headers = body(kind, row, model.name)
        if kind == "v1":
            rows = decode_predict(codec.parse_json(payload), model.rows_width(), 1, False)
        else:
            assert path == f"/v2/models/{model.name}/infer"
            parts = oip_binary.split(payload, headers.get("Inference-Header-Content-Length"))
            decoded = oip_tensors.decode(
                codec.parse_json(parts.header), parts.tail, parts.binary, model, 1, False
            )
            rows = decoded.rows
        assert np.array_equal(rows, row[None, :]), kind


def test_lua_strings_hold_the_exact_bytes(tmp_path: Path) -> None:
    rows = np.array([[0.0, 1.5, -3.25, 7.0]], np.float32)
    script = write_lua(tmp_path, "oip-binary", rows, "m").read_text()
    literal = re.search(r'local bodies = \{"((?:\\\d+)*)"\}', script)
    assert literal is not None
    sent = bytes(int(b) for b in literal.group(1).split("\\")[1:])
    assert sent == body("oip-binary", rows[0], "m")[1]
    assert '["Inference-Header-Content-Length"]' in script
