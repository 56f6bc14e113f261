"""The real job worker inside real cgroups: its Celery pool and each pool process's BLAS
threads follow the CFS quota and the memory limit, as gunicorn's workers do
(test_gunicorn_cgroup.py).

The jobs run tests/threadpool_model.py, which answers, from the pool process that ran it, its
pid, its OMP_NUM_THREADS and the BLAS thread counts threadpoolctl finds loaded there. The
worker sets the variables in its own os.environ and Celery forks without exec, so
/proc/<child>/environ (the environment at exec) would not show them: the child reports them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from redis_server import run_redis
from serving import Cgroup, Service, run_service, start_expecting_failure

from scripts.local.job_worker import JobWorker, run_job_worker, worker_command
from scripts.local.service import clean_env

MODEL = {"MODEL_CLASS": "tests.threadpool_model:load"}
Report = tuple[int, int, int]  # OMP_NUM_THREADS, fewest and most BLAS threads


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with run_redis() as server:
        yield server.url


@pytest.fixture(scope="module")
def api(redis_url: str) -> Iterator[Service]:
    """The API outside any cgroup: it only takes the jobs and answers their results."""
    with run_service({**MODEL, "JOBS_ENABLED": "true", "REDIS_URL": redis_url}) as svc:
        yield svc


def worker_env(redis_url: str, **env: str) -> dict[str, str]:
    return {**MODEL, "REDIS_URL": redis_url, **env}


def run_jobs(api: Service, count: int, sleep_s: float) -> list[list[float]]:
    """`count` jobs submitted at once, each sleeping `sleep_s` in the model; their outputs."""
    with httpx.Client(base_url=api.url, timeout=10) as client:
        locations = []
        for _ in range(count):
            submitted = client.post("/v1/jobs", json={"inputs": [[sleep_s]]})
            assert submitted.status_code == 202, submitted.text
            locations.append(submitted.headers["location"])
        outputs = []
        for location in locations:
            deadline = time.monotonic() + 60
            while (job := client.get(location).json())["status"] not in ("succeeded", "failed"):
                assert time.monotonic() < deadline, job
                time.sleep(0.05)
            assert job["status"] == "succeeded", job
            outputs.append(job["result"]["outputs"][0])
        return outputs


def reports(api: Service, worker: JobWorker) -> dict[int, Report]:
    """What every pool process reports; jobs go out twice as many as processes at a time
    (one each at most: prefetch 1, -O fair) until each process ran one."""
    children = worker.child_pids()
    seen: dict[int, Report] = {}
    for _ in range(5):
        for pid, omp, fewest, most in run_jobs(api, 2 * len(children), sleep_s=0.3):
            seen[int(pid)] = (int(omp), int(fewest), int(most))
        if set(seen) >= set(children):
            break
    assert set(seen) == set(children), f"jobs ran in {sorted(seen)}, the pool is {children}"
    return seen


@pytest.mark.parametrize(
    ("quota", "env", "processes", "threads"),
    [
        (1.0, {}, 1, 1),
        (1.5, {}, 1, 1),  # half a core buys no second process
        (2.0, {}, 2, 1),
        (2.0, {"CONCURRENCY_MODE": "latency"}, 1, 2),  # one process with every core
        (1.0, {"WEB_CONCURRENCY": "2"}, 2, 1),  # the explicit count wins, as in gunicorn
    ],
)
def test_pool_and_blas_threads_follow_the_cfs_quota(
    api: Service, redis_url: str, quota: float, env: dict[str, str], processes: int, threads: int
) -> None:
    with run_job_worker(worker_env(redis_url, **env), cpu_quota=quota) as worker:
        plan = worker.plan()
        assert plan is not None
        assert (plan["event"], plan["role"], plan["cpu_limit"]) == ("plan", "jobs", quota)
        assert (plan["workers"], plan["threads"]) == (processes, threads)
        children = worker.child_pids()
        assert len(children) == processes
        assert reports(api, worker) == dict.fromkeys(children, (threads, threads, threads))


def test_tight_memory_limit_starts_fewer_processes_and_says_so(
    api: Service, redis_url: str
) -> None:
    # A job body of JOB_MAX_ROWS=4096 rows x 64 values is 6.5 MiB, planned at 25x (one parse
    # slot): 163 MiB per process. 2 processes need 18.5 + 2 x (96 + 163) + 128 = 665 MiB;
    # 500 MiB holds one (406 MiB), which then gets both cores' BLAS threads.
    with run_job_worker(worker_env(redis_url), cpu_quota=2.0, memory_mib=500) as worker:
        plan = worker.plan()
        assert plan is not None
        assert (plan["workers"], plan["threads"], plan["memory_limit_mib"]) == (1, 2, 500)
        assert (plan["memory_mib"], plan["max_body_bytes"]) == (406, 6_836_224)
        assert "starting 1 workers" in worker.log()
        children = worker.child_pids()
        assert len(children) == 1
        assert reports(api, worker) == {children[0]: (2, 2, 2)}


def test_memory_limit_too_small_for_one_process_refuses_with_the_numbers(redis_url: str) -> None:
    cgroup = Cgroup(cpu_quota=1.0, memory_mib=300).create()
    try:
        result = start_expecting_failure(clean_env(worker_env(redis_url)), cgroup, worker_command())
    finally:
        cgroup.remove()
    assert result.returncode != 0
    output = result.stderr + result.stdout
    assert "memory limit 300 MiB cannot hold one worker" in output
    assert "405 MiB needed" in output
