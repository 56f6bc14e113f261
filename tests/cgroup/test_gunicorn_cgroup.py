"""Real gunicorn inside a real cgroup: workers follow the CFS quota, memory limits are respected."""

from __future__ import annotations

import httpx
import pytest
from serving import Cgroup, run_service, start_expecting_failure


@pytest.mark.parametrize(("quota", "workers"), [(1.0, 1), (1.5, 1), (2.0, 2)])
def test_workers_and_threads_follow_the_cfs_quota(quota: float, workers: int) -> None:
    with run_service(cpu_quota=quota, wait_workers=workers) as svc:
        plan = httpx.get(svc.url + "/info").json()["plan"]
        assert plan["cpu_limit"] == quota
        assert (plan["workers"], plan["threads"]) == (workers, 1)
        assert len(svc.worker_pids()) == workers
        assert set(httpx.get(svc.url + "/info").json()["blas_threads"].values()) == {1}
        assert f'"workers": {workers}' in svc.log()  # the plan is logged as one JSON line


def test_latency_mode_gives_one_worker_with_every_core() -> None:
    with run_service({"CONCURRENCY_MODE": "latency"}, cpu_quota=2.0) as svc:
        info = httpx.get(svc.url + "/info").json()
        assert (info["plan"]["workers"], info["plan"]["threads"]) == (1, 2)
        assert set(info["blas_threads"].values()) == {2}  # what BLAS itself reports in the worker


def test_web_concurrency_wins_over_the_quota() -> None:
    with run_service({"WEB_CONCURRENCY": "2"}, cpu_quota=1.0, wait_workers=2) as svc:
        assert httpx.get(svc.url + "/info").json()["plan"]["workers"] == 2


def test_tight_memory_limit_starts_fewer_workers_and_says_so() -> None:
    # Private and packed copies: 2 workers would need 2 x (2 x 18.5 + 96 + 10.7 requests)
    # + 128 = 416 MiB; 300 MiB holds one (272 MiB).
    env = {"MODEL_MMAP": "false", "WEB_CONCURRENCY": "2", "MODEL_PACKING": "packed"}
    with run_service(env, cpu_quota=2.0, memory_mib=300) as svc:
        plan = httpx.get(svc.url + "/info").json()["plan"]
        assert plan["workers"] == 1 and plan["memory_limit_mib"] == 300
        assert (plan["model_copies"], plan["model_packed"]) == (2, True)
        assert "starting 1 workers" in svc.log()


def test_auto_packing_gives_way_before_workers_do() -> None:
    # Packed, 2 workers need 3 x 18.5 + 2 x (96 + 10.7) + 128 = 397 MiB; shared, 2 x (96 + 10.7)
    # + 18.5 + 128 = 360 MiB: under a 380 MiB limit auto keeps both workers, unpacked.
    with run_service({"WEB_CONCURRENCY": "2"}, cpu_quota=2.0, memory_mib=380) as svc:
        info = httpx.get(svc.url + "/info").json()
        assert (info["plan"]["workers"], info["plan"]["model_packed"]) == (2, False)
        assert info["plan"]["model_copies"] == 1 and info["model"]["weights"] == "shared"
        assert info["plan"]["note"] == ""


def test_memory_limit_too_small_for_one_worker_refuses_with_the_numbers() -> None:
    cgroup = Cgroup(cpu_quota=1.0, memory_mib=100).create()
    try:
        result = start_expecting_failure(cgroup=cgroup)
    finally:
        cgroup.remove()
    assert result.returncode != 0
    assert "memory limit 100 MiB cannot hold one worker" in result.stderr + result.stdout


def test_bad_setting_is_refused_at_start_naming_the_variable() -> None:
    env = {"PATH": "/usr/bin:/bin", "MAX_BATCH_SIZE": "0", "CONCURRENCY_MODE": "fast"}
    result = start_expecting_failure(env)
    assert result.returncode != 0
    output = result.stderr + result.stdout
    assert "MAX_BATCH_SIZE=" in output and "CONCURRENCY_MODE=" in output
