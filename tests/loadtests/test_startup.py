"""What a run sends, decided at start (loadtests/startup.py), and what `helm test` infers
(loadtests/modelcheck.py), from the model's metadata and the settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_model_samples import DIGITS, MIXED, NUMERIC, metadata

from loadtests import modelcheck, startup
from loadtests.model import Server, StartError, parse_metadata
from loadtests.settings import Target, Traffic

TRAFFIC = Traffic()
NO_TARGET = Target()
CENTROIDS = parse_metadata(
    metadata(
        [("input-0", "FP32", [-1, 8])],
        [("probabilities", "FP32", [-1, 3]), ("label", "BYTES", [-1])],
        name="nearest-centroid",
    )
)


def write_samples(tmp_path: Path, doc: object) -> Target:
    path = tmp_path / "samples.json"
    path.write_text(json.dumps(doc))
    return Target(samples_file=str(path))


def test_the_embedded_model_gets_its_held_out_digits() -> None:
    plan = startup.make(DIGITS, TRAFFIC, NO_TARGET)

    assert plan.samples.origin == "the embedded model's held-out digits"
    assert plan.samples.labels and plan.checker.label_output == "label"
    assert plan.weights == {"v1": 3, "v2": 1, "v2_binary": 1}
    assert plan.line.startswith("loadtest: model 'digits-mlp' (input-0 FP32 [-1, 64]); rows:")


def test_a_samples_file_wins_over_the_held_out_digits(tmp_path: Path) -> None:
    target = write_samples(tmp_path, {"inputs": {"input-0": [[1.0] * 64]}})

    plan = startup.make(DIGITS, TRAFFIC, target)

    assert plan.samples.origin.startswith("samples file") and plan.samples.labels is None
    assert plan.checker.label_output == "label"  # v1 labels are still told from scores


def test_another_model_gets_rows_from_its_metadata() -> None:
    plan = startup.make(CENTROIDS, TRAFFIC, NO_TARGET)

    assert plan.samples.origin == "generated from the metadata"
    assert len(plan.samples.inputs["input-0"][0]) == 8 and plan.samples.labels is None
    # A model named as the embedded one but shaped otherwise: its own rows, not the digits.
    renamed = parse_metadata({**metadata([("x", "FP32", [-1, 8])], [("y", "FP32", [-1])]),
                              "name": startup.EMBEDDED_MODEL})  # fmt: skip
    assert startup.make(renamed, TRAFFIC, NO_TARGET).samples.origin.startswith("generated")


def test_v1_runs_only_for_one_input_of_rank_two() -> None:
    plan = startup.make(NUMERIC, TRAFFIC, NO_TARGET)

    assert plan.weights == {"v1": 0, "v2": 1, "v2_binary": 1}
    assert "/v1/predict off" in plan.line
    only_v1 = Traffic(weight_v1=1, weight_v2=0, weight_v2_binary=0)
    with pytest.raises(StartError, match="no task left"):
        startup.make(NUMERIC, only_v1, NO_TARGET)


def test_a_fixed_batch_must_match_the_rows_per_request() -> None:
    fixed = parse_metadata(metadata([("x", "FP32", [1, 4])], [("y", "FP32", [1, 2])]))

    assert startup.make(fixed, TRAFFIC, NO_TARGET).weights["v1"] == 3
    with pytest.raises(StartError, match="set ROWS_PER_REQUEST=1"):
        startup.make(fixed, Traffic(rows=4), NO_TARGET)


def test_what_cannot_start_says_why(tmp_path: Path) -> None:
    with pytest.raises(StartError, match="BYTES input"):
        startup.make(MIXED, TRAFFIC, NO_TARGET)
    with pytest.raises(StartError, match="set LOCUST_HOST"):
        startup.start(None, TRAFFIC, NO_TARGET)
    with pytest.raises(StartError, match="not an http"):
        Server("localhost:8000")
    with pytest.raises(StartError, match=r"scripts\.modelgen train"):
        startup.rows(DIGITS, NO_TARGET, tmp_path / "missing.json")


def choose(model: object, *argv: str) -> tuple[str, list[str] | None, str | None]:
    args = modelcheck.parse_args(["http://svc", *argv])
    rows, note = modelcheck.choose(model, args)  # type: ignore[arg-type]
    first = rows.batch(0, 1)
    return rows.origin, first.labels, note


DIGIT = json.dumps([0.0] * 64)


def test_helm_test_sends_test_inputs_only_to_their_model(tmp_path: Path) -> None:
    for_digits = ("--for-model", "digits-mlp", "--inputs", DIGIT, "--expect", "0")

    assert choose(DIGITS, *for_digits) == ("--inputs", ["0"], None)
    assert choose(DIGITS, "--inputs", DIGIT) == ("--inputs", None, None)  # any model, no label
    origin, labels, note = choose(CENTROIDS, *for_digits)
    assert (origin, labels) == ("zeros", None)
    assert note == "--inputs is for model 'digits-mlp', not 'nearest-centroid': not sent"
    target = write_samples(tmp_path, {"inputs": {"input-0": [[2.0] * 8]}, "labels": ["2"]})
    origin, labels, _ = choose(CENTROIDS, *for_digits, "--samples", target.samples_file)
    assert origin.startswith("samples file") and labels == ["2"]


def test_helm_test_inputs_are_one_row_of_one_input() -> None:
    with pytest.raises(StartError, match="give a samples file instead"):
        choose(NUMERIC, "--inputs", DIGIT)
    with pytest.raises(StartError, match=r"must have shape \[8\]"):
        choose(CENTROIDS, "--inputs", DIGIT)
    with pytest.raises(StartError, match="--inputs is not JSON"):
        choose(DIGITS, "--inputs", "[0,")
