"""Turn a trained model into a directory the service serves with no code: DIR/model.onnx.

    python -m scripts.convert model.pkl --out models/mine --rows rows.npy [--name N --version V]

MODEL is a pickle or joblib file of a scikit-learn estimator or pipeline (XGBoost and
LightGBM scikit-learn classes included, alone or as a pipeline's step), of an XGBoost or
LightGBM Booster, or XGBoost's own .json/.ubj or LightGBM's own .txt model file. Unpickling
runs code from the file: convert only files you trust.

scikit-learn models convert through skl2onnx, XGBoost and LightGBM through onnxmltools;
classifiers give two plain tensors, the label and the probabilities (no ZipMap), regressors
one. Before anything is written, the graph runs on the sample rows in onnxruntime and each
output is compared with the original model's predict / predict_proba on the same rows: the
largest difference per output is printed, and beyond --tolerance nothing is written.

By default the graph takes one float32 input, `input`, as wide as the model's features;
--input NAME:TYPE:WIDTH (repeated) splits the sample rows' columns into several inputs in
order (TYPE float32, float64 or int64), e.g. for a ColumnTransformer over numeric and code
columns. --name/--version write DIR/model.json with just those keys, which the service reads
(without it, the service's MODEL_NAME and MODEL_VERSION settings name the model).

Exit status: 0 written, 1 the conversion or the check failed, 2 bad arguments or input files.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from scripts.convert import check, export, load

DEFAULT_TOLERANCE = 1e-4  # float32 arithmetic against float64, with room for summing trees


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m scripts.convert",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", type=Path, help="the trained model file (see above)")
    p.add_argument("--out", type=Path, required=True, help="directory to write model.onnx into")
    rows = p.add_mutually_exclusive_group(required=True)
    rows.add_argument(
        "--rows", type=Path, help="sample rows to check on: .npy (2-D) or .csv (header optional)"
    )
    rows.add_argument(
        "--draw", type=int, metavar="N", help="check on N standard-normal rows (no real rows)"
    )
    p.add_argument(
        "--input",
        dest="inputs",
        action="append",
        metavar="NAME:TYPE:WIDTH",
        help="a graph input over the next WIDTH columns (repeat, in order; "
        "default: input:float32:<the model's features>)",
    )
    p.add_argument(
        "--tolerance",
        type=float,
        default=DEFAULT_TOLERANCE,
        help="largest difference allowed: absolute up to 1, relative above (default %(default)g)",
    )
    p.add_argument("--name", help="model name for model.json")
    p.add_argument("--version", help="model version for model.json")
    p.add_argument(
        "--force", action="store_true", help="replace DIR/model.onnx (and DIR/model.json)"
    )
    args = p.parse_args(argv)
    if args.tolerance < 0:
        p.error("--tolerance must be 0 or more")
    if args.draw is not None and args.draw < 1:
        p.error("--draw needs at least 1 row")
    try:
        args.inputs = [export.InputSpec.parse(text) for text in args.inputs or []]
    except ValueError as exc:
        p.error(f"--input {exc}")
    if len({spec.name for spec in args.inputs}) != len(args.inputs):
        p.error("--input names must differ")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if (args.out / "model.onnx").exists() and not args.force:
            raise load.InputFileError(f"{args.out / 'model.onnx'} exists: --force replaces it")
        model = load.load_model(args.model)
        rows = load.load_rows(args.rows) if args.rows else None
        inputs = args.inputs or export.single_input(_width(model, rows))
        if rows is None:
            rows = load.draw_rows(args.draw, sum(spec.width for spec in inputs))
        feeds = check.feeds_for(rows, inputs)
    except (load.InputFileError, check.CheckError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        graph = export.to_onnx(model, inputs)
        differences = check.compare(
            check.run_onnx(graph.SerializeToString(), feeds),
            check.reference_outputs(model, check.model_rows(feeds)),
            args.tolerance,
        )
    except (export.ConversionError, check.CheckError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    source = args.rows or "drawn at random (standard normal)"
    print(f"{args.model} ({type(model).__name__}) checked on {len(rows)} rows, {source}:")
    print(_table(differences, args.tolerance))
    failed = [d for d in differences if not d.ok]
    for d in failed:
        print(
            f"error: output {d.output!r} differs from {d.method} by up to {d.max_abs:.3g} "
            f"({d.beyond} of {d.count} values beyond --tolerance {args.tolerance:g})",
            file=sys.stderr,
        )
    if failed:
        print(f"nothing written to {args.out}", file=sys.stderr)
        return 1
    stale = args.out / "model.json"
    if args.force and stale.exists() and not (args.name or args.version):
        stale.unlink()  # it named the model this one replaces (--force)
    path = export.write_model_dir(graph, args.out, name=args.name, version=args.version)
    written = [path] + ([args.out / "model.json"] if args.name or args.version else [])
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


def _width(model: Any, rows: np.ndarray | None) -> int:
    width = getattr(model, "n_features_in_", None)
    if isinstance(width, int | np.integer):
        return int(width)
    if rows is not None:
        return int(rows.shape[1])
    raise load.InputFileError(
        f"cannot tell how many features a {type(model).__name__} takes: give --rows or --input"
    )


def _table(differences: list[check.Difference], tolerance: float) -> str:
    width = max(len(d.output) for d in differences)
    return "\n".join(
        f"  {d.output:<{width}}  max abs diff {d.max_abs:<10.3g} vs {d.method:<17} "
        + ("ok" if d.ok else f"FAILED ({d.beyond} of {d.count} beyond {tolerance:g})")
        for d in differences
    )
