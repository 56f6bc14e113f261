"""`helm test`'s check of the served model, whichever it is: `python -m loadtests.modelcheck URL`.

It learns the model as the load test does (GET /info, GET /v2/models/{name}), infers one row
through `/v2/models/{name}/infer` and checks every output's datatype and shape. The row is:

- `--inputs` (one row of the model's one input; with `--expect`, the label it must get) when
  `--for-model` is empty or names the served model (the chart's test.inputs, test.model);
- else the first row of `--samples` (and its label, when the file has labels);
- else zeros (false, "" for BOOL and BYTES inputs): outputs checked, no label.

    python -m loadtests.modelcheck http://corebound.ml.svc:80 --for-model digits-mlp \\
        --inputs '[0, 0, 5, 13, ...]' --expect 0

One JSON line per step; exit 0 when the answer passed, 1 when not. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from loadtests import samples, wire
from loadtests.answers import Checker
from loadtests.model import Model, Server, StartError, learn


def log(**fields: Any) -> None:
    print(json.dumps(fields, sort_keys=True), flush=True)


def choose(model: Model, args: argparse.Namespace) -> tuple[samples.Samples, str | None]:
    """The row to infer, and a note when --inputs was left out because it is another model's."""
    if args.inputs is not None and args.for_model in ("", model.name):
        try:
            row = json.loads(args.inputs)
        except ValueError as error:
            raise StartError(f"--inputs is not JSON: {error}") from None
        if len(model.inputs) != 1:
            names = [t.name for t in model.inputs]
            raise StartError(
                f"--inputs is one row of one input; model {model.name!r} has {names}:"
                " give a samples file instead"
            )
        doc: dict[str, Any] = {"inputs": {model.inputs[0].name: [row]}}
        if args.expect:
            doc["labels"] = [args.expect]
        return samples.from_document(doc, model, "--inputs"), None
    note = None
    if args.inputs is not None:
        note = f"--inputs is for model {args.for_model!r}, not {model.name!r}: not sent"
    if args.samples:
        return samples.load(args.samples, model), note
    return samples.zeros(model), note


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m loadtests.modelcheck",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("url", help="the service's base URL")
    parser.add_argument("--model-name", default="", help="default: the one GET /info names")
    parser.add_argument("--inputs", help="JSON: one row of the model's one input")
    parser.add_argument("--expect", default="", help="the label --inputs must get")
    parser.add_argument("--for-model", default="", help="apply --inputs only to this model")
    parser.add_argument("--samples", type=Path, help="a samples file (loadtests/SAMPLES.md)")
    parser.add_argument("--timeout", type=float, default=30, help="seconds per request")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        server = Server(args.url, timeout_s=args.timeout)
    except StartError as error:
        log(check="model", ok=False, reason=str(error))
        return 1
    try:
        model = learn(server, args.model_name)
        log(
            check="model",
            ok=True,
            model=model.name,
            inputs=[t.describe() for t in model.inputs],
            outputs=[t.describe() for t in model.outputs],
        )
        chosen, note = choose(model, args)
        batch = chosen.batch(0, 1)
        status, body = server.request("POST", wire.v2_path(model), wire.v2_body(model, batch))
    except (StartError, OSError) as error:
        log(check="model", ok=False, reason=str(error))
        return 1
    finally:
        server.close()
    checker = Checker(model, chosen.label_output or samples.default_label_output(model))
    outcome = checker.v2(status, body, batch)
    fields: dict[str, Any] = {"check": "infer", "ok": outcome.error is None, "rows": chosen.origin}
    if note:
        fields["note"] = note
    if outcome.error:
        fields.update(reason=outcome.error, status=status, body=body)
    else:
        fields["outputs"] = {o["name"]: o["shape"] for o in body["outputs"]}
    if batch.labels is not None:
        got = checker.labels(body)
        fields.update(label=got[0] if got else None, expected=batch.labels[0])
        fields["ok"] = fields["ok"] and outcome.wrong == 0
    log(**fields)
    return 0 if fields["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
