"""KServe's InferenceRESTClient (kserve 0.21, its own venv) against the real service under
gunicorn: health, JSON and binary infer parsed by KServe's InferResponse, and refusals."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
import numpy as np
import pytest
from paths import REPO
from serving import holdout, run_service

KSERVE_PYTHON = REPO / ".tools" / "kserve" / "bin" / "python"


def test_kserve_rest_client_speaks_to_the_service(tmp_path: Path) -> None:
    if not KSERVE_PYTHON.exists():
        pytest.fail("KServe's venv is missing: run `scripts/setup --dev`")
    rows = holdout()[0][:6]
    (tmp_path / "rows.json").write_text(json.dumps(rows))
    with run_service() as svc:
        v1 = httpx.post(svc.url + "/v1/predict", json={"inputs": rows}).json()
        run = subprocess.run(
            [str(KSERVE_PYTHON), str(REPO / "tests" / "kserve_client.py"), svc.url,
             str(tmp_path / "rows.json")],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    seen = json.loads(run.stdout.splitlines()[-1])
    assert seen["live"] is True and seen["ready"] is True
    assert seen["model_ready"] is True and seen["other_ready"] is False
    expected = np.array(v1["outputs"], dtype=np.float32)
    for form in ("json", "binary"):
        answer = seen[form]
        assert answer["type"] == "InferResponse" and answer["id"] == "kserve-1"
        assert answer["model_name"] == "digits-mlp"
        assert answer["labels"] == v1["labels"]
        assert np.array_equal(np.array(answer["probabilities"], dtype=np.float32), expected)
    assert seen["json"]["binary_header"] is None
    assert int(seen["binary"]["binary_header"]) > 0
    status, message = seen["unknown_input"]
    assert status == 400 and "unknown input 'pixels'" in message
    status, message = seen["unknown_model"]
    assert status == 404 and "unknown model 'other'" in message
