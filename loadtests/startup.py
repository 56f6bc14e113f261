"""What a run sends and checks, decided once at start from the served model and the settings.

Rows come from the samples file when one is given, else the held-out digits when the served
model is the embedded one, else rows generated from the metadata. `/v1/predict` runs only
for a model with one rank-2 input (its body is rows of that input).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from loadtests import holdout, samples
from loadtests.answers import Checker
from loadtests.model import Model, Server, StartError, learn
from loadtests.settings import Target, Traffic

__all__ = ["EMBEDDED_MODEL", "Plan", "StartError", "make", "start"]

# The model the service image embeds; its held-out rows ship in the loadtest image.
EMBEDDED_MODEL = "digits-mlp"


@dataclass(frozen=True)
class Plan:
    model: Model
    samples: samples.Samples
    checker: Checker
    weights: dict[str, int]  # task ("v1", "v2", "v2_binary") -> Locust weight
    notes: tuple[str, ...] = ()

    @property
    def line(self) -> str:
        """The start-up log line: what this run loads the service with."""
        inputs = ", ".join(f"{t.name} {t.datatype} {list(t.shape)}" for t in self.model.inputs)
        labels = f", labels checked on {self.checker.label_output!r}" if self.samples.labels else ""
        weights = " ".join(f"{k}={v}" for k, v in self.weights.items())
        notes = "".join(f"; {n}" for n in self.notes)
        return (
            f"loadtest: model {self.model.name!r} ({inputs}); rows: {self.samples.origin}"
            f" ({len(self.samples)}){labels}; task weights {weights}{notes}"
        )


def rows(
    model: Model, target: Target, holdout_path: Path = holdout.DEFAULT_PATH
) -> samples.Samples:
    if target.samples_file:
        return samples.load(Path(target.samples_file), model)
    if model.name == EMBEDDED_MODEL and _holdout_shaped(model):
        try:
            digits = holdout.load(holdout_path)
        except (OSError, ValueError) as error:
            raise StartError(str(error)) from None
        (only,) = model.inputs
        if only.shape[1] in (-1, len(digits.inputs[0])):
            doc = {"inputs": {only.name: digits.inputs}, "labels": digits.labels}
            return samples.from_document(doc, model, "the embedded model's held-out digits")
    return samples.generated(model)


def _holdout_shaped(model: Model) -> bool:
    (only, *rest) = model.inputs
    return not rest and only.datatype in ("FP32", "FP64") and len(only.shape) == 2


def make(
    model: Model, traffic: Traffic, target: Target, holdout_path: Path = holdout.DEFAULT_PATH
) -> Plan:
    for tensor in model.inputs:
        if tensor.shape[0] not in (-1, traffic.rows):
            raise StartError(
                f"input {tensor.name!r} takes batches of exactly {tensor.shape[0]} rows:"
                f" set ROWS_PER_REQUEST={tensor.shape[0]}"
            )
    chosen = rows(model, target, holdout_path)
    notes = []
    v1 = traffic.weight_v1
    if v1 and not model.takes_v1:
        v1 = 0
        notes.append("/v1/predict off: it takes one input of rank 2")
    weights = {"v1": v1, "v2": traffic.weight_v2, "v2_binary": traffic.weight_v2_binary}
    if not any(weights.values()):
        raise StartError(
            f"no task left: model {model.name!r} has no /v1/predict (not one rank-2 input)"
            " and WEIGHT_V2_INFER and WEIGHT_V2_BINARY are 0"
        )
    # Without labels to compare, the label output still tells v1 answers' labels from scores.
    label_output = chosen.label_output or samples.default_label_output(model)
    return Plan(model, chosen, Checker(model, label_output), weights, tuple(notes))


def start(host: str | None, traffic: Traffic, target: Target) -> Plan:
    """Learn the served model from `host` and plan the run against it."""
    if not host:
        raise StartError("no service to load: set LOCUST_HOST (or --host)")
    server = Server(host)
    try:
        model = learn(server, target.model_name)
    finally:
        server.close()
    return make(model, traffic, target)
