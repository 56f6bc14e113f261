"""The chart sizes pods with the same formula as service/sizing/formula.py (the parity test) and
renders CPU request = limit = the value given, memory request = limit from the formula."""

from __future__ import annotations

import itertools
from math import ceil
from typing import Any

import chart_tools as ct
import pytest

from service.sizing.formula import (
    Plan,
    fit_to_memory,
    job_body_bytes,
    largest_body_bytes,
    model_mib,
    packed_plan,
    parse_cpu_quantity,
    plan,
)

# Request bodies per worker at the defaults: 431,104-byte limit x (2 parse slots + 24) in MiB.
REQ = 431_104 * 26 / 2**20
CPUS: list[int | float | str] = [1, 2, 4, "1500m", "500m", 0.5, "2.5"]
MODEL_MIB = [17, 500, 2048]
RUNTIMES = ["onnxruntime", "numpy"]
CASES: list[dict[str, Any]] = [
    {"cpu": cpu, "model_mib": size, "mmap": mmap, "runtime": runtime}
    for cpu, size, mmap, runtime in itertools.product(CPUS, MODEL_MIB, [True, False], RUNTIMES)
]
CASES += [
    {"cpu": cpu, "model_mib": 500, "mmap": mmap, "mode": "latency"}
    for cpu, mmap in itertools.product(CPUS, [True, False])
]
# MODEL_PACKING: auto packs while workers x model <= packMaxMiB and the plan fits memoryMiB.
CASES += [
    {"cpu": cpu, "model_mib": size, "mmap": True, "packing": packing}
    for cpu, size, packing in itertools.product([1, 2, 4], [17, 300, 2000], ["packed", "shared"])
]
CASES += [
    {"cpu": 2, "model_mib": 600, "mmap": True, "pack_max": 1200},
    {"cpu": 2, "model_mib": 600, "mmap": True, "pack_max": 1199},
    {"cpu": 2, "model_mib": 100, "mmap": True, "packing": "packed", "class": "m.x:load"},
    {"cpu": 2, "model_mib": 100, "mmap": False, "class": "m.x:load"},
    {"cpu": 4, "model_mib": 500, "mmap": False, "workers": 2},
    {"cpu": "1500m", "model_mib": 17, "mmap": True, "workers": 3},
    {"cpu": 2, "model_mib": 2048, "mmap": True, "workers": 1, "threads": 4},
    {"cpu": 8, "model_mib": 17.5, "mmap": False, "threads": 2},
    {"cpu": "2.5", "model_mib": 333.3, "mmap": False, "overhead": 200, "headroom": 0},
    {"cpu": 16, "model_mib": 100, "mmap": False, "mode": "latency", "workers": 4},
]


def chart_values(case: dict[str, Any]) -> dict[str, Any]:
    concurrency: dict[str, Any] = {"mode": case.get("mode", "throughput")}
    for key, value in (
        ("workers", case.get("workers")),
        ("threads", case.get("threads")),
        ("workerOverheadMiB", case.get("overhead")),
        ("headroomMiB", case.get("headroom")),
    ):
        if value is not None:
            concurrency[key] = value
    return {
        "resources": {"cpu": case["cpu"], "memoryMiB": case.get("memory")},
        "model": {
            "sizeMiB": case["model_mib"],
            "mmap": case["mmap"],
            "runtime": case.get("runtime", "onnxruntime"),
            "packing": case.get("packing", "auto"),
            "packMaxMiB": case.get("pack_max", 1024),
            "class": case.get("class", ""),
        },
        "concurrency": concurrency,
    }


def case_id(case: dict[str, Any]) -> str:
    return "-".join(f"{k}={v}" for k, v in case.items())


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_chart_sizing_matches_service_resources_plan(case: dict[str, Any]) -> None:
    expected = packed_plan(
        parse_cpu_quantity(case["cpu"]),
        case["model_mib"],
        packing=case.get("packing", "auto"),
        on_onnxruntime=case.get("runtime", "onnxruntime") == "onnxruntime" and "class" not in case,
        pack_max_mib=case.get("pack_max", 1024),
        memory_limit_mib=case.get("memory"),
        mode=case.get("mode", "throughput"),
        web_concurrency=case.get("workers"),
        threads=case.get("threads"),
        mmap=case["mmap"],
        worker_overhead_mib=case.get("overhead", 96),
        headroom_mib=case.get("headroom", 128),
    )
    memory_mib = case.get("memory") or expected.memory_mib

    docs = ct.render(chart_values(case))
    container = ct.server_container(docs)
    env = ct.container_env(docs, container)
    limits, requests = container["resources"]["limits"], container["resources"]["requests"]

    assert parse_cpu_quantity(limits["cpu"]) == expected.cpu_limit
    assert int(env["WEB_CONCURRENCY"]) == expected.workers
    assert int(env["OMP_NUM_THREADS"]) == expected.threads
    assert ct.mib(limits["memory"]) == memory_mib
    assert requests == limits
    assert env["CONCURRENCY_MODE"] == expected.mode
    assert env["MODEL_MMAP"] == str(case["mmap"]).lower()
    assert env["MODEL_RUNTIME"] == case.get("runtime", "onnxruntime")
    assert env["MODEL_PACKING"] == case.get("packing", "auto")
    assert int(env["MODEL_PACK_MAX_MIB"]) == case.get("pack_max", 1024)
    assert env.get("MODEL_CLASS") == case.get("class")
    assert int(env["WORKER_OVERHEAD_MIB"]) == expected.worker_overhead_mib
    assert int(env["MEMORY_HEADROOM_MIB"]) == expected.headroom_mib


@pytest.mark.parametrize("cpu", [2, "2", "1500m", 0.5, "2.5", "250m"], ids=str)
def test_cpu_request_equals_limit_equals_the_value_given(cpu: int | float | str) -> None:
    container = ct.server_container(ct.render({"resources": {"cpu": cpu}}))

    resources = container["resources"]
    assert resources["requests"]["cpu"] == resources["limits"]["cpu"] == str(cpu)
    assert resources["requests"]["memory"] == resources["limits"]["memory"]  # Guaranteed QoS


@pytest.mark.parametrize(
    ("values", "workers", "threads", "memory_mib"),
    [
        # the defaults: 2 CPUs, 19 MiB mapped once and packed per worker (onnxruntime)
        ({}, 2, 1, ceil(3 * 19 + 2 * (96 + REQ) + 128)),
        ({"resources": {"cpu": 1}}, 1, 1, ceil(2 * 19 + 96 + REQ + 128)),
        ({"resources": {"cpu": 4}}, 4, 1, ceil(5 * 19 + 4 * (96 + REQ) + 128)),
        ({"resources": {"cpu": "1500m"}}, 1, 1, ceil(2 * 19 + 96 + REQ + 128)),
        # 4 private copies; auto does not pack 4 x 2048 MiB (> packMaxMiB 1024)
        ({"resources": {"cpu": 4}, "model": {"sizeMiB": 2048, "mmap": False}},
         4, 1, ceil(4 * 2048 + 4 * (96 + REQ) + 128)),
        # the case: 2,000 MiB on 2 CPUs is one shared copy plus the workers
        ({"model": {"sizeMiB": 2000}}, 2, 1, ceil(2000 + 2 * (96 + REQ) + 128)),
        ({"model": {"sizeMiB": 2000, "packing": "packed"}}, 2, 1,
         ceil(3 * 2000 + 2 * (96 + REQ) + 128)),
        ({"model": {"class": "m.x:load"}}, 2, 1, ceil(19 + 2 * (96 + REQ) + 128)),
        ({"resources": {"cpu": 4}, "concurrency": {"mode": "latency"}}, 1, 4,
         ceil(2 * 19 + 96 + REQ + 128)),
        ({"model": {"runtime": "numpy"}}, 2, 1, ceil(19 + 2 * (96 + REQ) + 128)),
    ],
    ids=[
        "defaults", "cpu-1", "cpu-4", "cpu-1500m", "2GiB-private", "2000MiB-shared",
        "2000MiB-packed", "class", "latency", "numpy",
    ],
)  # fmt: skip
def test_known_answers(values: dict[str, Any], workers: int, threads: int, memory_mib: int) -> None:
    docs = ct.render(values)
    container = ct.server_container(docs)
    env = ct.container_env(docs, container)

    assert (int(env["WEB_CONCURRENCY"]), int(env["OMP_NUM_THREADS"])) == (workers, threads)
    assert container["resources"]["limits"]["memory"] == f"{memory_mib}Mi"


def test_explicit_overrides_win_over_the_formula() -> None:
    values = {
        "resources": {"cpu": 2, "memoryMiB": 1024},
        "concurrency": {"workers": 3, "threads": 2},
    }
    docs = ct.render(values)
    container = ct.server_container(docs)
    env = ct.container_env(docs, container)

    assert (env["WEB_CONCURRENCY"], env["OMP_NUM_THREADS"]) == ("3", "2")
    assert container["resources"]["requests"]["memory"] == "1024Mi"
    assert container["resources"]["limits"]["memory"] == "1024Mi"


def test_default_memory_holds_the_embedded_model() -> None:
    """The default limit fits the service's own plan for the real default model.

    The service plans from the weight files it finds and, under a smaller cgroup limit,
    starts fewer workers than WEB_CONCURRENCY: the chart's default model.sizeMiB must not
    under-count models/default.
    """
    actual_mib = model_mib(ct.REPO / "models" / "default")
    docs = ct.render()
    container = ct.server_container(docs)
    env = ct.container_env(docs, container)
    limit_mib = ct.mib(container["resources"]["limits"]["memory"])

    wanted = plan(parse_cpu_quantity(container["resources"]["limits"]["cpu"]), actual_mib)
    started = fit_to_memory(wanted, limit_mib)

    assert 0 < actual_mib <= ct.default_values()["model"]["sizeMiB"]
    assert started.workers == wanted.workers == int(env["WEB_CONCURRENCY"])
    assert started.note == ""


# --- the job API: the API pods read one job body per worker, a job worker one job per process ---

# Job bodies per API worker at the defaults: B = 6,836,224 bytes (4096 rows x 64) x (1 + 24).
JOB_REQ = 6_836_224 * 25 / 2**20
JOB_CASES = [
    *CASES,
    {"cpu": 2, "model_mib": 19, "mmap": True, "job_rows": 100, "input_dim": 10},
    {"cpu": 4, "model_mib": 300, "mmap": False, "job_rows": 100_000, "worker_cpu": "1500m"},
    {"cpu": 1, "model_mib": 600, "mmap": True, "pack_max": 1200, "worker_cpu": 2},
    {"cpu": 2, "model_mib": 50, "mmap": True, "workers": 3, "threads": 2, "worker_cpu": 4},
]


def python_plan(case: dict[str, Any], cpu: float | str, **options: Any) -> Plan:
    """packed_plan() with the case's model and concurrency settings (as the parity test)."""
    return packed_plan(
        parse_cpu_quantity(cpu),
        case["model_mib"],
        packing=case.get("packing", "auto"),
        on_onnxruntime=case.get("runtime", "onnxruntime") == "onnxruntime" and "class" not in case,
        pack_max_mib=case.get("pack_max", 1024),
        mode=case.get("mode", "throughput"),
        mmap=case["mmap"],
        worker_overhead_mib=case.get("overhead", 96),
        headroom_mib=case.get("headroom", 128),
        **options,
    )


@pytest.mark.parametrize("case", JOB_CASES, ids=[case_id(c) for c in JOB_CASES])
def test_chart_sizes_the_api_and_the_job_workers_as_the_service_plans(case: dict[str, Any]) -> None:
    """The API with JOBS_ENABLED: plan(job_body_bytes=B). A job worker: plan(max_body_bytes=B,
    parse_concurrency=1) for its own CPU, without the service's WEB_CONCURRENCY/threads."""
    width = case.get("input_dim", 64)
    worker_cpu = case.get("worker_cpu", case["cpu"])
    values = chart_values(case)
    values["model"]["inputDim"] = width
    values["jobs"] = {
        "enabled": True,
        "maxRows": case.get("job_rows", 4096),
        "worker": {"resources": {"cpu": worker_cpu}},
    }
    body = job_body_bytes(case.get("job_rows", 4096), width)
    api = python_plan(
        case, case["cpu"], web_concurrency=case.get("workers"), threads=case.get("threads"),
        max_body_bytes=largest_body_bytes(256, width), job_body_bytes=body,
    )  # fmt: skip
    worker = python_plan(case, worker_cpu, max_body_bytes=body, parse_concurrency=1)

    docs = ct.render(values)
    (jobs,) = [d for d in ct.kinds(docs, "Deployment") if d["metadata"]["name"].endswith("-jobs")]
    for container, expected in (
        (ct.server_container(docs), api),
        (jobs["spec"]["template"]["spec"]["containers"][0], worker),
    ):
        env = ct.container_env(docs, container)
        limits = container["resources"]["limits"]
        assert parse_cpu_quantity(limits["cpu"]) == expected.cpu_limit, container["name"]
        assert int(env["WEB_CONCURRENCY"]) == expected.workers, container["name"]
        assert int(env["OMP_NUM_THREADS"]) == expected.threads, container["name"]
        assert ct.mib(limits["memory"]) == expected.memory_mib, container["name"]
        assert container["resources"]["requests"] == limits
        assert int(env["JOB_MAX_BODY_BYTES"]) == body


@pytest.mark.parametrize(
    ("worker_cpu", "api_mib", "worker"),
    [
        # the defaults: 2 API workers each with one job body; 1 job process on 1 CPU
        (1, ceil(3 * 19 + 2 * (96 + REQ + JOB_REQ) + 128),
         (1, 1, ceil(2 * 19 + 96 + JOB_REQ + 128))),
        # 4 worker CPUs: 4 processes, each its packed copy and one job body
        (4, None, (4, 1, ceil(5 * 19 + 4 * (96 + JOB_REQ) + 128))),
    ],
    ids=["defaults", "worker-cpu-4"],
)  # fmt: skip
def test_job_known_answers(worker_cpu: int, api_mib: int | None, worker: tuple[int, ...]) -> None:
    docs = ct.render({"jobs": {"enabled": True, "worker": {"resources": {"cpu": worker_cpu}}}})
    (jobs,) = [d for d in ct.kinds(docs, "Deployment") if d["metadata"]["name"].endswith("-jobs")]
    container = jobs["spec"]["template"]["spec"]["containers"][0]
    env = ct.container_env(docs, container)

    assert (int(env["WEB_CONCURRENCY"]), int(env["OMP_NUM_THREADS"])) == worker[:2]
    assert container["resources"]["limits"]["memory"] == f"{worker[2]}Mi"
    if api_mib:
        assert ct.server_container(docs)["resources"]["limits"]["memory"] == f"{api_mib}Mi"
