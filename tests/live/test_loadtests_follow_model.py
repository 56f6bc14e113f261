"""The load test follows the served model: real Locust against the real gunicorn serving the
embedded digits model, a MODEL_CLASS model of another width, and a two-input model.onnx."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx_models
import pytest
from serving import run_service

REPO = Path(__file__).resolve().parents[2]
LOCUST = str(Path(sys.executable).with_name("locust"))
SHORT = {"CONSTANT_USERS": "2", "CONSTANT_SECONDS": "3", "SPAWN_RATE": "10",
         "SLO_MAX_FAILURE_RATIO": "0", "SLO_P95_MS": "5000", "SLO_P99_MS": "10000"}  # fmt: skip


@dataclass(frozen=True)
class Run:
    exit_code: int
    log: str
    stats: dict[str, dict[str, str]]  # Name -> the row of locust_stats.csv

    @property
    def summary(self) -> dict[str, Any]:
        summary: dict[str, Any] = json.loads(self.log.strip().splitlines()[-1])
        return summary

    def requests(self, name: str) -> int:
        return int(self.stats[name]["Request Count"]) if name in self.stats else 0


def locust(url: str, out: Path, **env: str) -> Run:
    """The loadtest image's command with the constant shape, from the repository root."""
    cmd = [LOCUST, "-f", "loadtests/locustfile.py,loadtests/shapes/constant.py", "--headless",
           "--csv", str(out / "locust")]  # fmt: skip
    run = subprocess.run(
        cmd, cwd=REPO, env={**os.environ, "LOCUST_HOST": url, **SHORT, **env},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120,
    )  # fmt: skip
    stats = out / "locust_stats.csv"
    rows = list(csv.DictReader(stats.read_text().splitlines())) if stats.exists() else []
    return Run(run.returncode, run.stdout, {row["Name"]: row for row in rows})


def samples_file(out: Path, doc: dict[str, Any]) -> str:
    (out / "samples.json").write_text(json.dumps(doc))
    return str(out / "samples.json")


@pytest.fixture(scope="module")
def digits_url() -> Iterator[str]:
    with run_service() as service:
        yield service.url


@pytest.fixture(scope="module")
def centroid_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    model_dir = tmp_path_factory.mktemp("centroids")
    np.save(model_dir / "centroids.npy", np.stack([np.full(8, i, np.float32) for i in range(3)]))
    env = {"MODEL_CLASS": "examples.nearest_centroid:load", "MODEL_DIR": str(model_dir)}
    with run_service(env) as service:
        yield service.url


def test_the_embedded_model_runs_its_held_out_digits(digits_url: str, tmp_path: Path) -> None:
    run = locust(digits_url, tmp_path)

    assert run.exit_code == 0, run.log
    assert "rows: the embedded model's held-out digits" in run.log
    for name in ("/v1/predict", "/v2/models/digits-mlp/infer",
                 "/v2/models/digits-mlp/infer (binary)"):  # fmt: skip
        assert run.requests(name) > 0, name
    assert run.summary["rows"] == run.summary["requests"] > 0  # every row's label compared


def test_another_width_gets_rows_from_its_metadata(centroid_url: str, tmp_path: Path) -> None:
    run = locust(centroid_url, tmp_path)

    assert run.exit_code == 0, run.log
    assert "model 'nearest-centroid' (input-0 FP32 [-1, 8]); rows: generated" in run.log
    assert run.requests("/v1/predict") > 0 and run.requests("Aggregated") > 0
    assert "label accuracy=n/a" in run.log and run.summary["rows"] == 0


def test_labelled_samples_count_wrong_labels_as_accuracy(centroid_url: str, tmp_path: Path) -> None:
    # Row [2.1] x 8 is centroid 2's; the second row's label is wrong on purpose.
    doc = {"inputs": {"input-0": [[2.1] * 8, [0.1] * 8]}, "labels": ["2", "1"]}

    run = locust(centroid_url, tmp_path, SAMPLES_FILE=samples_file(tmp_path, doc),
                 ROWS_PER_REQUEST="2")  # fmt: skip

    assert run.exit_code == 0, run.log  # a model's mistake is no failure
    assert run.summary["failures"] == 0
    assert run.summary["rows"] == 2 * run.summary["requests"]
    assert run.summary["wrong_labels"] == run.summary["requests"]  # one per request
    assert "label accuracy=50.00%" in run.log


def test_a_run_that_cannot_start_says_why(centroid_url: str, tmp_path: Path) -> None:
    wrong_width = samples_file(tmp_path, {"inputs": {"input-0": [[0.0] * 64]}})

    for env, line in [
        ({"SAMPLES_FILE": wrong_width}, f"loadtest: samples file {wrong_width}: a row of input"
                                        " 'input-0' must have shape [8]"),
        ({"MODEL_NAME": "nope"}, "loadtest: GET /v2/models/nope: HTTP 404"),
    ]:  # fmt: skip
        run = locust(centroid_url, tmp_path, **env)
        assert run.exit_code == 1, run.log
        assert line in run.log and "Traceback" not in run.log, run.log


def test_a_two_input_onnx_model(tmp_path: Path) -> None:
    """A user's model.onnx (FP32 and INT64 inputs, an INT64 label): no /v1/predict, its own
    rows from a samples file, labels compared with onnxruntime's own answers."""
    model = onnx_models.two_input_pipeline(tmp_path / "model")
    doc = {
        "inputs": {name: rows.tolist() for name, rows in model.inputs.items()},
        "labels": model.outputs["label"].tolist(),
    }
    with run_service({"MODEL_DIR": str(model.directory)}) as service:
        run = locust(service.url, tmp_path, SAMPLES_FILE=samples_file(tmp_path, doc),
                     ROWS_PER_REQUEST="3")  # fmt: skip

    assert run.exit_code == 0, run.log
    assert "(measurements FP32 [-1, 4], codes INT64 [-1, 2])" in run.log
    assert "/v1/predict off" in run.log and run.requests("/v1/predict") == 0
    assert run.requests("/v2/models/model/infer") > 0
    assert run.requests("/v2/models/model/infer (binary)") > 0
    assert run.summary["wrong_labels"] == 0 and run.summary["rows"] > 0
