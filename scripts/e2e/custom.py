"""A user's Python model in an image built on the service image (examples/custom-image/).

Built after the service image, so only its own layers are new (seconds plus pip), then run
like the default model under the rig's limits, and checked against the example run in this
process: /v1/predict and the v2 infer answer what examples.nearest_centroid answers for the
held-out digits, /info names the model and its input_dim and plans for the limits, the
processes run as the image's user, and no pip is left behind.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

from examples.nearest_centroid import load as load_example
from scripts.e2e.checks import check_plan, check_state, check_stop
from scripts.e2e.containers import (
    PREFIX,
    REPO,
    SERVICE_IMAGE,
    USER,
    http_json,
    remove,
    start_service,
    state_after,
    uids,
)
from scripts.e2e.podman import ULIMITS, build, podman
from scripts.e2e.report import Report, log
from scripts.local.net import free_port
from service import __version__
from service.sizing.cgroups import MIB, CgroupStats
from service.sizing.formula import model_mib, plan

CONTEXT = REPO / "examples" / "custom-image"
CUSTOM_IMAGE = f"localhost/corebound-nearest-centroid:{__version__}"
MODEL_NAME = "nearest-centroid"
# The derived layers hold the code, 2.6 KiB of weights and the packages listed: far less.
MAX_ADDED_MIB = 5
BATCH = 64


def build_custom(report: Report, *, no_cache: bool, logs: Path) -> None:
    """The derived image on the service image just built (BASE_IMAGE set as a user would)."""
    log(f"podman build {CONTEXT.relative_to(REPO)} -> {CUSTOM_IMAGE}")
    seconds = build(
        CONTEXT, None, CUSTOM_IMAGE, build_args={"BASE_IMAGE": SERVICE_IMAGE},
        no_cache=no_cache, log_path=logs / "build-custom.log",
    )  # fmt: skip
    report.data.setdefault("build_seconds", {})["custom"] = seconds
    log(f"built {CUSTOM_IMAGE} in {seconds} s")


def check_custom_image(report: Report) -> dict[str, Any]:
    """Its user, its size over the base, and the throwaway pip gone with its RUN."""
    sizes = {}
    for tag in (SERVICE_IMAGE, CUSTOM_IMAGE):
        img = json.loads(podman("image", "inspect", tag).stdout)[0]
        sizes[tag] = img["Size"]
    user = img["Config"].get("User")
    report.check(f"image-user[{CUSTOM_IMAGE}]", user == USER, f"USER {user}")
    added = (sizes[CUSTOM_IMAGE] - sizes[SERVICE_IMAGE]) / MIB
    # /tmp as the image holds it (no tmpfs over it here): the build's scratch must be gone.
    probe = (
        "import importlib.util as u, json, os;"
        " print(json.dumps({'pip': u.find_spec('pip') is not None, 'tmp': os.listdir('/tmp')}))"
    )
    out = podman(
        "run", "--rm", "--network", "none", "--read-only", *ULIMITS, CUSTOM_IMAGE,
        "python", "-c", probe,
    ).stdout  # fmt: skip
    left = json.loads(out.strip().splitlines()[-1])
    report.check(
        "custom-image-lean",
        added <= MAX_ADDED_MIB and not any(left.values()),
        f"{added:.2f} MiB over the service image; left behind: {left}",
    )
    return {"added_mib": round(added, 2), "left_behind": left, "user": user}


def v2_body(rows: list[list[float]]) -> dict[str, Any]:
    """An Open Inference Protocol request: the rows as one FP32 tensor, flattened."""
    flat = [x for row in rows for x in row]
    shape = [len(rows), len(rows[0])]
    return {"inputs": [{"name": "input-0", "shape": shape, "datatype": "FP32", "data": flat}]}


def answers(base: str, rows: list[list[float]]) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Probabilities and labels from /v1/predict, probabilities from the v2 infer."""
    v1_out, labels, v2_out = [], [], []
    for start in range(0, len(rows), BATCH):
        batch = rows[start : start + BATCH]
        status, body = http_json(f"{base}/v1/predict", {"inputs": batch})
        if status != 200:
            raise RuntimeError(f"/v1/predict answered {status}: {body}")
        v1_out += body["outputs"]
        labels += body["labels"]
        status, body = http_json(f"{base}/v2/models/{MODEL_NAME}/infer", v2_body(batch))
        if status != 200:
            raise RuntimeError(f"v2 infer answered {status}: {body}")
        probs = next(o for o in body["outputs"] if o["name"] == "probabilities")
        v2_out.append(np.asarray(probs["data"], np.float32).reshape(probs["shape"]))
    return np.asarray(v1_out, np.float32), labels, np.concatenate(v2_out)


def check_answers(
    report: Report, base: str, holdout: dict[str, list], reference: Any
) -> dict[str, Any]:
    """The container's answers against the example's, run here on the image's weights."""
    rows = holdout["inputs"]
    want = reference.predict(np.asarray(rows, np.float32))
    want_labels = [reference.labels[i] for i in want.argmax(axis=1)]
    v1_out, labels, v2_out = answers(base, rows)
    figures = {
        "rows": len(rows),
        "v1_max_abs_diff": float(np.abs(v1_out - want).max()),
        "v2_max_abs_diff": float(np.abs(v2_out - want).max()),
        "labels_equal": labels == want_labels,
        "accuracy": round(sum(a == b for a, b in zip(labels, holdout["labels"], strict=True))
                          / len(rows), 4),
    }  # fmt: skip
    close = figures["v1_max_abs_diff"] <= 1e-6 and figures["v2_max_abs_diff"] <= 1e-6
    report.check(
        "custom-answers",
        close and figures["labels_equal"],
        f"{len(rows)} held-out rows: /v1 and v2 infer within"
        f" {max(figures['v1_max_abs_diff'], figures['v2_max_abs_diff']):.1e} of the example"
        f" in-process, labels equal {figures['labels_equal']}, accuracy {figures['accuracy']}",
    )
    return figures


def custom_run(
    report: Report, holdout: dict[str, list], cpus: float, *, no_cache: bool, logs: Path
) -> dict[str, Any]:
    """Build, then one run under --cpus/--memory from the formula, as the chart would size it."""
    name, port, tag = f"{PREFIX}-custom", free_port(), f"custom-cpus={cpus:g}"
    reference = load_example(CONTEXT / "model")  # the same weights the Dockerfile copies
    # A MODEL_CLASS model is never packed: one mapped copy of its .npy weights, shared.
    expected = plan(cpus, model_mib(CONTEXT / "model"), packed=False)
    memory = expected.memory_mib
    run: dict[str, Any] = {
        "label": f"{MODEL_NAME} (examples/custom-image)",
        "cpus": cpus,
        "memory_limit_mib": memory,
        "expected": expected.as_dict(),
    }
    try:
        build_custom(report, no_cache=no_cache, logs=logs)
        run["image"] = check_custom_image(report)
        log(f"{tag}: --cpus {cpus:g} --memory {memory}m, {CUSTOM_IMAGE}")
        started = start_service(name, port, cpus, memory, image=CUSTOM_IMAGE)
        base, cg = started["base"], CgroupStats.of_pid(started["pid"])
        run["ready_s"] = round(started["ready_s"], 1)
        info = http_json(f"{base}/info")[1]
        run["info_plan"], run["info_model"] = info["plan"], info["model"]
        check_plan(report, tag, run["info_plan"], expected, cpus)
        got = (info["model"]["name"], info["model"]["input_dim"])
        report.check(
            f"custom-model[{tag}]",
            got == (MODEL_NAME, reference.input_dim),
            f"/info model name, input_dim = {got}",
        )
        ids = uids(cg)
        run["uids"] = sorted(ids)
        report.check(f"non-root[{tag}]", ids == {10001}, f"process uids {sorted(ids)}")
        run["answers"] = check_answers(report, base, holdout, reference)
        run["accuracy"] = run["answers"]["accuracy"]
        run["state"] = state_after(name, cg, expected.workers)
        check_state(report, tag, run["state"], cg.memory()["peak_mib"], memory)
        run["stop"] = check_stop(report, tag, name)
    except (RuntimeError, subprocess.SubprocessError, OSError, KeyError, TypeError) as exc:
        report.check(f"run[{tag}]", False, f"{type(exc).__name__}: {exc}")
    finally:
        remove(name)
    return run
