"""A large synthetic model with 2 workers: its mapped weights are held once, not per worker.

It runs with MODEL_RUNTIME=numpy: the point is the mapping, and ONNX Runtime's packed copy
per worker (planned, and measured on the default model's runs) would fill the limit with
reclaimable page cache, which hides how many copies are really held.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from scripts.e2e.checks import check_plan, check_state, load_detail, measured_load
from scripts.e2e.containers import (
    PREFIX,
    REPO,
    evict_fadvise,
    http_json,
    remove,
    start_service,
    state_after,
)
from scripts.e2e.report import Report, log
from scripts.local.net import free_port
from service.sizing.cgroups import CgroupStats
from service.sizing.formula import model_mib as weights_mib
from service.sizing.formula import plan

# The 500 MiB model multiplies 500 MiB of weights per batch: light load, memory is the point.
# /v1 only: the load test's /v2 path names the default model, and labels are random here.
SYNTHETIC_LOAD = {
    "STEP_USERS": "2", "STEP_SECONDS": "10", "STEP_COUNT": "2", "SPAWN_RATE": "2",
    "WEIGHT_V2_INFER": "0", "WEIGHT_V2_BINARY": "0",
}  # fmt: skip

LOOSE_SLO = {"SLO_P95_MS": "20000", "SLO_P99_MS": "30000", "SLO_MAX_FAILURE_RATIO": "0.05"}


def synthetic_model(size_mib: float, parent: Path) -> Path:
    """The lead's generator writes it; its pages leave the page cache before the run."""
    model_dir = parent / "model"
    subprocess.run(
        [sys.executable, "-m", "scripts.modelgen", "synthetic",
         "--size-mib", f"{size_mib:g}", "--out", str(model_dir)],
        cwd=REPO, check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    os.chmod(parent, 0o755)  # readable by the image's user through the read-only mount
    os.chmod(model_dir, 0o755)
    for f in model_dir.iterdir():
        os.chmod(f, 0o644)
        # Written here, the pages sit in the page cache charged to this process's cgroup;
        # dropped, the container's first read charges them to the container, as in a pod.
        evict_fadvise(f)
    return model_dir


def synthetic_run(report: Report, size_mib: float, baseline: dict | None) -> dict:
    """2 workers on a memory-mapped synthetic model: one copy in memory, not two."""
    cpus, name, port, tag = 2.0, f"{PREFIX}-synthetic", free_port(), f"synthetic-{size_mib:g}MiB"
    run: dict[str, Any] = {"cpus": cpus}
    with tempfile.TemporaryDirectory(prefix=f"{PREFIX}-model-", dir="/var/tmp") as tmp:
        model_dir = synthetic_model(size_mib, Path(tmp))
        mib = weights_mib(model_dir)
        expected = plan(cpus, mib, packed=False)
        memory = expected.memory_mib
        run.update(model_mib=round(mib, 1), memory_limit_mib=memory, expected=expected.as_dict())
        log(f"{tag}: {mib:.0f} MiB of weights, --cpus 2 --memory {memory}m")
        try:
            started = start_service(
                name, port, cpus, memory,
                env={"MODEL_DIR": "/models/synthetic", "MODEL_RUNTIME": "numpy"},
                volumes=(f"{model_dir}:/models/synthetic:ro",),
            )  # fmt: skip
            cg = CgroupStats.of_pid(started["pid"])
            run["info_plan"] = http_json(f"{started['base']}/info")[1]["plan"]
            check_plan(report, tag, run["info_plan"], expected, cpus)
            run["loadtest"], run["cgroup"] = measured_load(
                cg, port, {**SYNTHETIC_LOAD, **LOOSE_SLO}
            )
            load = run["loadtest"]
            ran = (load.get("requests") or 0) > 0 and load["exit_code"] == 0
            report.check(f"loadtest-ran[{tag}]", ran, load_detail(load))
            run["memory"] = memory_figures(run["cgroup"], mib, expected, baseline)
            m = run["memory"]
            report.check(
                f"one-model-copy[{tag}]",
                m["peak_mib"] <= memory and m["copies_measured"] is not None
                and m["copies_measured"] < 1.5,
                f"peak {m['peak_mib']:.0f} MiB (limit {memory}); {mib:.0f} MiB of weights,"
                f" {m['mapped_file_mib']:.0f} MiB mapped; copies held {m['copies_measured']}",
            )  # fmt: skip
            run["state"] = state_after(name, cg, expected.workers)
            check_state(report, tag, run["state"], m["peak_mib"], memory)
        except (RuntimeError, subprocess.SubprocessError, OSError, KeyError, TypeError) as exc:
            report.check(f"run[{tag}]", False, f"{type(exc).__name__}: {exc}")
        finally:
            remove(name)
    return run


def memory_figures(cgroup: dict, mib: float, expected: Any, baseline: dict | None) -> dict:
    """Peak against one and two copies; copies held = what the model added over baseline.

    The baseline is the default-model run with the same 2 workers: the synthetic run's
    peak minus that peak, in units of the synthetic weights, is how many copies are held.
    """
    base_peak = baseline["cgroup"]["peak_mib"] if baseline and "cgroup" in baseline else None
    copies = (cgroup["peak_mib"] - base_peak) / mib if base_peak is not None else None
    one_copy = mib + expected.workers * expected.worker_overhead_mib + expected.headroom_mib
    return {
        "peak_mib": cgroup["peak_mib"],
        "sampled_max_mib": cgroup["sampled_max_mib"],
        "limit_mib": expected.memory_mib,
        "one_copy_estimate_mib": round(one_copy, 1),
        "two_copies_estimate_mib": round(one_copy + mib, 1),
        "baseline_peak_mib": base_peak,
        "copies_measured": round(copies, 2) if copies is not None else None,
        "anon_mib": cgroup["anon_mib"],
        "file_mib": cgroup["file_mib"],
        "mapped_file_mib": cgroup["mapped_file_mib"],
    }
