"""The image, built and run with podman under CPU and memory limits (python -m scripts.e2e).

Minutes, not seconds: builds both targets on a local Debian base, and the image of
examples/custom-image/ on the service image, and runs them with real load. Skips with the
reason when podman cannot run containers on this machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.e2e.podman import unusable_reason

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> dict:
    reason = unusable_reason()
    if reason:
        pytest.skip(f"podman is not usable here: {reason}")
    out = tmp_path_factory.mktemp("container-e2e")
    done = subprocess.run(
        [sys.executable, "-m", "scripts.e2e",
         "--cpus", "1,2", "--synthetic-mib", "500", "--out", str(out)],
        capture_output=True, text=True, timeout=40 * 60, cwd=REPO,
    )  # fmt: skip
    report = out / "container-e2e.json"
    assert report.exists(), f"exit {done.returncode}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    data = json.loads(report.read_text())
    data["_exit_code"], data["_table"] = done.returncode, (out / "container-e2e.md").read_text()
    return data


def test_every_check_passes(result: dict) -> None:
    failed = [c for c in result["checks"] if not c["ok"]]
    assert not failed and result["ok"] and result["_exit_code"] == 0, result["_table"]


def test_plan_matches_the_limits_for_two_cpu_limits(result: dict) -> None:
    runs = result["runs"]
    assert sorted(r["cpus"] for r in runs) == [1.0, 2.0]
    for run in runs:
        expected, got = run["expected"], run["info_plan"]
        assert (got["workers"], got["threads"]) == (expected["workers"], expected["threads"])
        assert got["cpu_limit"] == run["cpus"]
        assert got["memory_limit_mib"] == run["memory_limit_mib"] == expected["memory_mib"]
    assert {r["info_plan"]["workers"] for r in runs} == {1, 2}


def test_predictions_are_right_over_http(result: dict) -> None:
    for run in result["runs"]:
        assert run["accuracy"] >= 0.9, run["accuracy"]
        assert run["accuracy_rows"] >= 300


def test_loadtest_entrypoint_exit_code_follows_the_slo(result: dict) -> None:
    assert all(run["loadtest"]["exit_code"] == 0 for run in result["runs"])
    assert all(run["loadtest"]["requests"] > 0 for run in result["runs"])
    tight = [run["loadtest_tight_slo"] for run in result["runs"] if "loadtest_tight_slo" in run]
    assert tight and all(t["exit_code"] != 0 for t in tight)


def test_no_oom_and_no_restart(result: dict) -> None:
    for run in [*result["runs"], result["synthetic"]]:
        state = run["state"]
        assert not state["oom_killed"] and state["cgroup_oom_kills"] == 0
        assert state["restart_count"] == 0 and state["running"]
        assert state["worker_boots"] == state["expected_worker_boots"]


def test_cpu_figures_were_read_during_the_load(result: dict) -> None:
    sanity = result["throttle_sanity"]  # the reader sees throttling when there is some
    assert sanity["throttled_periods"] > 0 and sanity["cpu_used_cores"] <= 0.6
    for run in result["runs"]:
        cgroup = run["cgroup"]
        assert cgroup["cpu_periods"] > 0
        assert 0 <= cgroup["throttled_periods"] <= cgroup["cpu_periods"]
        assert cgroup["cpu_used_cores"] <= run["cpus"] * 1.05  # the quota holds


def test_two_workers_hold_one_copy_of_a_500_mib_model(result: dict) -> None:
    synthetic = result["synthetic"]
    memory = synthetic["memory"]
    assert synthetic["info_plan"]["workers"] == 2
    assert 450 <= synthetic["model_mib"] <= 550
    assert memory["peak_mib"] <= memory["limit_mib"] == synthetic["expected"]["memory_mib"]
    assert memory["peak_mib"] < memory["two_copies_estimate_mib"] - synthetic["model_mib"] / 2
    # Every weight page is resident (the warm-up ran the model), mapped once, not twice. The
    # baseline's workers also hold ONNX Runtime and its packed copy, which the numpy run does
    # not: the measured copies read low, never high.
    assert memory["mapped_file_mib"] >= 0.95 * synthetic["model_mib"]
    assert memory["copies_measured"] is not None and 0.4 <= memory["copies_measured"] <= 1.3


def test_a_derived_image_serves_a_python_model_as_the_example_does(result: dict) -> None:
    custom = result["custom"]
    model, got, expected = custom["info_model"], custom["info_plan"], custom["expected"]
    assert (model["name"], model["input_dim"]) == ("nearest-centroid", 64)
    assert (got["workers"], got["threads"]) == (expected["workers"], expected["threads"])
    assert got["memory_limit_mib"] == custom["memory_limit_mib"] == expected["memory_mib"]
    answers = custom["answers"]  # /v1 and v2 against examples.nearest_centroid in-process
    assert answers["labels_equal"] and answers["rows"] >= 300
    assert max(answers["v1_max_abs_diff"], answers["v2_max_abs_diff"]) <= 1e-6
    assert custom["uids"] == [10001] and custom["image"]["user"] == "10001:10001"
    image = custom["image"]  # only its own layers, and no pip left from the install
    assert image["added_mib"] < 5 and not any(image["left_behind"].values())
    state = custom["state"]
    assert state["running"] and not state["oom_killed"] and state["cgroup_oom_kills"] == 0
    assert custom["stop"]["exit_code"] == 0
