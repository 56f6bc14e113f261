"""python -m scripts.convert: each library's models round-trip through model.onnx, the check
fails loudly, bad files get clear errors, and the converters stay out of the image."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import joblib
import numpy as np
import onnxruntime
import pytest
from paths import REPO
from threadpoolctl import threadpool_limits

from scripts.convert.cli import DEFAULT_TOLERANCE, main

Reference = Callable[[np.ndarray], list[np.ndarray]]
Maker = Callable[[Path], tuple[Path, np.ndarray, Reference]]


@pytest.fixture(autouse=True)
def one_blas_thread() -> Iterator[None]:
    # Tiny fits and predictions: extra BLAS threads only contend on a shared machine.
    with threadpool_limits(1):
        yield


def iris() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_iris

    return load_iris(return_X_y=True)


def classifier_reference(model: object) -> Reference:
    return lambda rows: [model.predict(rows), model.predict_proba(rows)]  # type: ignore[attr-defined]


def sklearn_pipeline(tmp: Path) -> tuple[Path, np.ndarray, Reference]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = iris()
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300)).fit(x, y)
    joblib.dump(model, tmp / "model.joblib")
    return tmp / "model.joblib", x, classifier_reference(model)


def sklearn_regressor(tmp: Path) -> tuple[Path, np.ndarray, Reference]:
    from sklearn.datasets import load_diabetes
    from sklearn.ensemble import GradientBoostingRegressor

    x, y = load_diabetes(return_X_y=True)
    model = GradientBoostingRegressor(n_estimators=20, random_state=0).fit(x, y)
    joblib.dump(model, tmp / "model.pkl")
    return tmp / "model.pkl", x, lambda rows: [model.predict(rows)]


def xgboost_pipeline(tmp: Path) -> tuple[Path, np.ndarray, Reference]:
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from xgboost import XGBClassifier

    x, y = iris()
    model = make_pipeline(StandardScaler(), XGBClassifier(n_estimators=8, max_depth=3))
    joblib.dump(model.fit(x, y), tmp / "model.joblib")
    return tmp / "model.joblib", x, classifier_reference(model)


def xgboost_native_file(tmp: Path) -> tuple[Path, np.ndarray, Reference]:
    import xgboost
    from sklearn.datasets import load_breast_cancer

    x, y = load_breast_cancer(return_X_y=True)
    booster = xgboost.train({"objective": "binary:logistic"}, xgboost.DMatrix(x, label=y), 8)
    booster.save_model(tmp / "model.json")

    def reference(rows: np.ndarray) -> list[np.ndarray]:
        p = booster.predict(xgboost.DMatrix(rows))
        return [(p > 0.5).astype(np.int64), np.column_stack([1 - p, p])]

    return tmp / "model.json", x, reference


def lightgbm_pipeline(tmp: Path) -> tuple[Path, np.ndarray, Reference]:
    from lightgbm import LGBMRegressor
    from sklearn.datasets import load_diabetes
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = load_diabetes(return_X_y=True)
    model = make_pipeline(StandardScaler(), LGBMRegressor(n_estimators=10, verbose=-1))
    joblib.dump(model.fit(x, y), tmp / "model.joblib")
    return tmp / "model.joblib", x, lambda rows: [model.predict(rows)]


def lightgbm_native_file(tmp: Path) -> tuple[Path, np.ndarray, Reference]:
    import lightgbm

    x, y = iris()
    params = {"objective": "multiclass", "num_class": 3, "verbose": -1}
    booster = lightgbm.train(params, lightgbm.Dataset(x, label=y), 8)
    booster.save_model(tmp / "model.txt")

    def reference(rows: np.ndarray) -> list[np.ndarray]:
        p = booster.predict(rows)
        return [np.argmax(p, axis=1), p]

    return tmp / "model.txt", x, reference


def pickled_booster(maker: Maker) -> Maker:
    """The same Booster, pickled rather than in its library's own file."""

    def make(tmp: Path) -> tuple[Path, np.ndarray, Reference]:
        path, x, reference = maker(tmp)
        if path.suffix == ".txt":
            import lightgbm

            booster: object = lightgbm.Booster(model_file=str(path))
        else:
            import xgboost

            booster = xgboost.Booster(model_file=str(path))
        joblib.dump(booster, tmp / "booster.pkl")
        return tmp / "booster.pkl", x, reference

    return make


MAKERS: dict[str, Maker] = {
    "sklearn-pipeline": sklearn_pipeline,
    "sklearn-regressor": sklearn_regressor,
    "xgboost-pipeline": xgboost_pipeline,
    "xgboost-native": xgboost_native_file,
    "lightgbm-pipeline": lightgbm_pipeline,
    "lightgbm-native": lightgbm_native_file,
    "xgboost-booster-pickle": pickled_booster(xgboost_native_file),
    "lightgbm-booster-pickle": pickled_booster(lightgbm_native_file),
}


def rows_file(tmp: Path, rows: np.ndarray, suffix: str = ".npy") -> Path:
    path = tmp / f"rows{suffix}"
    if suffix == ".npy":
        np.save(path, rows)
    else:
        np.savetxt(path, rows, delimiter=",", header="c" * rows.shape[1], comments="")
    return path


@pytest.mark.parametrize("maker", sorted(MAKERS))
def test_each_library_round_trips_within_tolerance(
    maker: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model, x, reference = MAKERS[maker](tmp_path)
    rows = x[::7]

    code = main(
        [str(model), "--out", str(tmp_path / "out"), "--rows", str(rows_file(tmp_path, rows))]
    )

    assert code == 0, capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["model.onnx"]
    session = onnxruntime.InferenceSession(str(tmp_path / "out" / "model.onnx"))
    # Plain tensors (no ZipMap), a row per input row along a dynamic first axis.
    assert all(o.type.startswith("tensor(") for o in session.get_outputs())
    assert all(not isinstance(o.shape[0], int) for o in session.get_outputs())
    got = session.run(None, {"input": rows.astype(np.float32)})
    want = reference(rows.astype(np.float32))
    assert len(got) == len(want)
    for values, expected in zip(got, want, strict=True):
        np.testing.assert_allclose(values.reshape(expected.shape), expected, rtol=1e-4, atol=1e-5)
    assert "max abs diff" in capsys.readouterr().out


def test_the_check_fails_naming_the_output_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model, x, _ = sklearn_pipeline(tmp_path)
    args = [str(model), "--out", str(tmp_path / "out"), "--rows", str(rows_file(tmp_path, x))]

    code = main([*args, "--tolerance", "0"])  # float32 probabilities never equal float64's

    err = capsys.readouterr().err
    assert code == 1
    assert re.search(
        r"output 'probabilities' differs from predict_proba by up to \d\.\d+e-0\d", err
    )
    assert not (tmp_path / "out" / "model.onnx").exists()


def test_name_and_version_go_to_model_json_beside_the_graph(tmp_path: Path) -> None:
    model, _, _ = sklearn_pipeline(tmp_path)
    out = tmp_path / "out"

    code = main([str(model), "--out", str(out), "--draw", "5", "--name", "iris", "--version", "3"])

    assert code == 0
    assert json.loads((out / "model.json").read_text()) == {"name": "iris", "version": "3"}


def test_columns_split_into_named_inputs_of_their_types(tmp_path: Path) -> None:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    x, y = iris()
    x = np.hstack([x, (np.arange(len(y)) % 3)[:, None]])
    columns = ColumnTransformer(
        [("num", "passthrough", [0, 1, 2, 3]), ("cat", OneHotEncoder(), [4])]
    )
    joblib.dump(make_pipeline(columns, Ridge()).fit(x, y), tmp_path / "m.pkl")
    specs = ["--input", "size:float32:4", "--input", "site:int64:1"]

    code = main([str(tmp_path / "m.pkl"), "--out", str(tmp_path / "out"), *specs,
                 "--rows", str(rows_file(tmp_path, x, ".csv"))])  # fmt: skip

    assert code == 0
    graph = onnxruntime.InferenceSession(str(tmp_path / "out" / "model.onnx")).get_inputs()
    assert [(i.name, i.type, i.shape[1]) for i in graph] == [
        ("size", "tensor(float)", 4),
        ("site", "tensor(int64)", 1),
    ]


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("corrupt rows", r"rows\.npy: not a numeric \.npy array"),
        ("narrow rows", r"the rows have 3 columns; the inputs take 4 \(input:4\)"),
        ("fractional codes", r"input 'input' is int64 but its columns hold fractions"),
        ("garbage model", r"m\.pkl: not a pickle or joblib file of a model"),
        ("not a lightgbm file", r"m\.txt: not a LightGBM model file"),
        ("missing rows", r"nope\.csv: no such file"),
        ("occupied out", r"model\.onnx exists: --force replaces it"),
    ],
)
def test_bad_input_files_get_a_clear_error(
    case: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model, x, _ = sklearn_pipeline(tmp_path)
    rows = ["--rows", str(rows_file(tmp_path, x))]
    extra: list[str] = []
    if case == "corrupt rows":
        (tmp_path / "rows.npy").write_bytes(b"\x93NUMPY garbage")
    elif case == "narrow rows":
        rows = ["--rows", str(rows_file(tmp_path, x[:, :3]))]
    elif case == "fractional codes":
        extra = ["--input", "input:int64:4"]
    elif case in ("garbage model", "not a lightgbm file"):
        model = tmp_path / ("m.pkl" if case == "garbage model" else "m.txt")
        model.write_bytes(b"not a model at all\n")
    elif case == "missing rows":
        rows = ["--rows", str(tmp_path / "nope.csv")]
    elif case == "occupied out":
        (tmp_path / "out").mkdir()
        (tmp_path / "out" / "model.onnx").write_bytes(b"")

    code = main([str(model), "--out", str(tmp_path / "out"), *rows, *extra])

    assert code == 2
    assert re.search(message, capsys.readouterr().err)


def test_converters_stay_out_of_the_service_image_and_ci_skips_nccl() -> None:
    def names(lock: str) -> set[str]:
        text = (REPO / "requirements" / lock).read_text()
        return set(re.findall(r"^([a-z0-9][a-z0-9._-]*)==", text, re.MULTILINE))

    converters = {"scikit-learn", "skl2onnx", "onnxmltools", "xgboost", "xgboost-cpu", "lightgbm"}
    assert not converters & names("runtime.txt")
    assert converters <= names("dev.txt")
    assert not {n for n in names("dev.txt") if n.startswith("nvidia-")}


def test_the_room_runs_as_a_module_and_documents_itself() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "scripts.convert", "--help"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "usage: python -m scripts.convert" in done.stdout and "--tolerance" in done.stdout


def test_readme_quotes_the_command_and_the_default_tolerance() -> None:
    readme = (REPO / "README.md").read_text()
    assert "python -m scripts.convert model.pkl --out models/mine --rows rows.npy" in readme
    quoted = re.search(r"`--tolerance` \(([0-9.e-]+), relative above 1\)", readme)
    assert quoted and float(quoted[1]) == DEFAULT_TOLERANCE
