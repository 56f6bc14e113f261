"""The checks for one CPU limit, and those of the images themselves."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

from scripts.e2e.containers import (
    LOADTEST_IMAGE,
    PREFIX,
    REPO,
    SERVICE_IMAGE,
    USER,
    http_json,
    inspect,
    remove,
    run_loadtest,
    sampling,
    start_service,
    state_after,
    stop,
    uids,
)
from scripts.e2e.podman import ULIMITS, build, ensure_base, podman
from scripts.e2e.report import Report, log
from scripts.local.net import free_port
from service import __version__
from service.sizing.cgroups import MIB, CgroupStats
from service.sizing.formula import plan

# Short step load: 3 steps of 10 s, 6 more users each (each user waits 50-150 ms between
# requests of 4 rows): well under a core of work.
STEP_LOAD = {
    "STEP_USERS": "6", "STEP_SECONDS": "10", "STEP_COUNT": "3", "SPAWN_RATE": "6",
    "ROWS_PER_REQUEST": "4",
}  # fmt: skip

# What is proven is the entrypoint's exit code, not this machine's capacity: an SLO that a
# working service meets even when other work shares the cores (quiet runs here measure
# p95 ~80 ms, p99 ~120 ms; a busy neighbour has pushed p99 past the default 500 ms), and
# one that no HTTP answer can meet.
HOLDING_SLO = {"SLO_P95_MS": "1000", "SLO_P99_MS": "2000", "SLO_MAX_FAILURE_RATIO": "0.01"}

TIGHT_SLO = {"SLO_P95_MS": "0.01", "SLO_P99_MS": "0.01"}

MIN_ACCURACY = 0.9
THROTTLE_CPUS = 0.2


def build_images(report: Report, *, no_cache: bool, refresh_base: bool, logs: Path) -> None:
    base = ensure_base(refresh=refresh_base, log=log)
    report.data["base"] = base
    log(f"base {base['tag']} from {base['source']} in {base['seconds']} s")
    build_args = {"BASE_IMAGE": str(base["tag"]), "VERSION": __version__}
    builds = {}
    for target, tag in (("service", SERVICE_IMAGE), ("loadtest", LOADTEST_IMAGE)):
        log(f"podman build --target {target} -> {tag}")
        seconds = build(
            REPO, target, tag, build_args=build_args, no_cache=no_cache,
            log_path=logs / f"build-{target}.log",
        )  # fmt: skip
        builds[target] = seconds
        log(f"built {tag} in {seconds} s")
    report.data["build_seconds"] = builds


def check_images(report: Report) -> dict[str, Any]:
    """Image metadata against docs/CONTRACT.md, and what the service image holds."""
    meta = {}
    for tag in (SERVICE_IMAGE, LOADTEST_IMAGE):
        img = json.loads(podman("image", "inspect", tag).stdout)[0]
        cfg = img["Config"]
        meta[tag] = {
            "size_mib": round(img["Size"] / MIB),
            "user": cfg.get("User"),
            "workdir": cfg.get("WorkingDir"),
            "entrypoint": cfg.get("Entrypoint"),
            "cmd": cfg.get("Cmd"),
            "labels": {
                k: v
                for k, v in (cfg.get("Labels") or {}).items()
                if k.startswith("org.opencontainers")
            },
        }
        report.check(f"image-user[{tag}]", cfg.get("User") == USER, f"USER {cfg.get('User')}")
    # One throwaway container of the service image answers what is inside it.
    probe = (
        "import importlib.util as u, json, sys; from pathlib import Path;"
        " from service.sizing.formula import model_mib;"
        " d = Path('/app/models/default'); m = json.loads((d / 'model.json').read_text());"
        " print(json.dumps({'model_mib': model_mib(d), 'name': m['name'],"
        " 'trained_accuracy': m.get('training', {}).get('holdout_accuracy'),"
        " 'python': sys.version.split()[0], 'sklearn': u.find_spec('sklearn') is not None,"
        " 'pip': u.find_spec('pip') is not None}))"
    )
    out = podman(
        "run", "--rm", "--network", "none", "--read-only", *ULIMITS,
        SERVICE_IMAGE, "python", "-c", probe,
    ).stdout  # fmt: skip
    inside = json.loads(out.strip().splitlines()[-1])
    meta["service_contents"] = inside
    report.check(
        "runtime-image-lean",
        not inside["sklearn"] and not inside["pip"],
        f"scikit-learn present: {inside['sklearn']}, pip present: {inside['pip']}",
    )
    report.data["images"] = meta
    return inside


def check_throttle_reader(report: Report) -> dict[str, Any]:
    """The throttling figures are real: 2 busy processes under --cpus 0.2 must be throttled.

    0.2, not more: on a shared build machine two spinning processes may not get even half a
    core, and a quota they never reach is never enforced (seen: 0.39 cores under 0.5).

    (The step loads below rarely are: a worker's event loop and single inference thread
    seldom outrun a whole-core quota, and the load client shares this machine's cores.)
    """
    name = f"{PREFIX}-throttle"
    remove(name)
    spin = "import os\nos.fork()\nwhile True:\n    pass\n"  # two processes, both busy
    podman(
        "run", "--detach", "--name", name, "--cpus", f"{THROTTLE_CPUS:g}", "--network", "none",
        "--read-only", *ULIMITS, SERVICE_IMAGE, "python", "-c", spin,
    )  # fmt: skip
    try:
        cg = CgroupStats.of_pid(inspect(name)["State"]["Pid"])
        before = cg.cpu()
        time.sleep(3)
        after = cg.cpu()
    finally:
        remove(name, grace_s=0)  # PID 1 without a SIGTERM handler: straight to SIGKILL
    figures = {
        "cpus": THROTTLE_CPUS,
        "cpu_periods": after["periods"] - before["periods"],
        "throttled_periods": after["throttled_periods"] - before["throttled_periods"],
        "cpu_used_cores": round((after["usage_s"] - before["usage_s"]) / 3, 2),
    }
    report.check(
        "cgroup-figures-see-throttling",
        figures["throttled_periods"] > 0 and figures["cpu_used_cores"] <= THROTTLE_CPUS + 0.05,
        f"2 busy processes under --cpus {THROTTLE_CPUS:g}: {figures['throttled_periods']} of"
        f" {figures['cpu_periods']} periods throttled, {figures['cpu_used_cores']} cores used",
    )
    return figures


def holdout_from_image() -> dict[str, list]:
    """The held-out digits in the loadtest image: those of the model the service image holds."""
    read = "import sys; sys.stdout.write(open('loadtests/data/digits_holdout.json').read())"
    out = podman(
        "run", "--rm", "--network", "none", "--read-only", "--entrypoint", "python", *ULIMITS,
        LOADTEST_IMAGE, "-c", read,
    ).stdout  # fmt: skip
    return json.loads(out)


def accuracy(base: str, holdout: dict[str, list], batch: int = 64) -> tuple[float, int]:
    inputs, labels = holdout["inputs"], holdout["labels"]
    right = 0
    for start in range(0, len(inputs), batch):
        status, body = http_json(f"{base}/v1/predict", {"inputs": inputs[start : start + batch]})
        if status != 200:
            raise RuntimeError(f"/v1/predict answered {status}: {body}")
        right += sum(
            p == t for p, t in zip(body["labels"], labels[start : start + batch], strict=True)
        )
    return right / len(inputs), len(inputs)


def measured_load(cg: CgroupStats, port: int, env: dict[str, str]) -> tuple[dict, dict]:
    """The loadtest image against the service, with the service's cgroup figures around it."""
    cpu0 = cg.cpu()
    with sampling(cg) as seen:
        load = run_loadtest(f"{PREFIX}-locust", port, env, timeout_s=300)
    cpu1, mem = cg.cpu(), cg.memory()
    periods = cpu1["periods"] - cpu0["periods"]
    throttled = cpu1["throttled_periods"] - cpu0["throttled_periods"]
    figures = {
        "cpu_periods": periods,
        "throttled_periods": throttled,
        "throttled_ratio": round(throttled / periods, 3) if periods else 0.0,
        "throttled_s": round(cpu1["throttled_s"] - cpu0["throttled_s"], 2),
        "cpu_used_cores": round((cpu1["usage_s"] - cpu0["usage_s"]) / (load["seconds"] or 1), 2),
        "peak_mib": round(mem["peak_mib"], 1),
        "sampled_max_mib": round(seen["max_usage_mib"], 1),
        "anon_mib": round(mem["anon_mib"], 1),
        "file_mib": round(mem["file_mib"], 1),
        "mapped_file_mib": round(mem["mapped_file_mib"], 1),
        "limit_hits": mem["limit_hits"],
    }
    return load, figures


def load_detail(load: dict) -> str:
    summary = (
        f"exit {load['exit_code']}, {load.get('requests')} requests, p95 {load.get('p95_ms')} ms"
    )
    return f"{summary}; {load['verdict'] or 'no SLO line'}"


def check_plan(report: Report, tag: str, got: dict, expected: Any, cpus: float) -> None:
    wanted = (cpus, expected.workers, expected.threads, expected.memory_mib)
    seen = (got["cpu_limit"], got["workers"], got["threads"], got["memory_limit_mib"])
    report.check(
        f"plan[{tag}]",
        seen == wanted,
        "/info (cpu_limit, workers, threads, memory_limit_mib) = {} for limits {}".format(
            "/".join(map(str, seen)), "/".join(map(str, wanted))
        ),
    )


def cpu_run(
    report: Report, cpus: float, model_mib: float, holdout: dict, *, tight: bool, first: bool
) -> dict:
    """One CPU limit: plan, user, accuracy, step load (and the tight-SLO run), state after."""
    expected = plan(cpus, model_mib)
    memory = expected.memory_mib
    name, port, tag = f"{PREFIX}-cpu{cpus:g}", free_port(), f"cpus={cpus:g}"
    log(f"{tag}: --cpus {cpus:g} --memory {memory}m, plan {expected.workers} x {expected.threads}")
    run: dict[str, Any] = {"cpus": cpus, "memory_limit_mib": memory, "expected": expected.as_dict()}
    try:
        started = start_service(name, port, cpus, memory)
        base, cg = started["base"], CgroupStats.of_pid(started["pid"])
        run["ready_s"] = round(started["ready_s"], 1)
        run["info_plan"] = http_json(f"{base}/info")[1]["plan"]
        check_plan(report, tag, run["info_plan"], expected, cpus)
        ids = uids(cg)
        run["uids"] = sorted(ids)
        report.check(f"non-root[{tag}]", ids == {10001}, f"process uids {sorted(ids)}")
        if first:  # podman has no systemd timer here to run it, so run it once by hand
            health = podman("healthcheck", "run", name, check=False).returncode
            report.check("healthcheck", health == 0, f"the image's HEALTHCHECK exits {health}")
        acc, rows = accuracy(base, holdout)
        run["accuracy"], run["accuracy_rows"] = round(acc, 4), rows
        report.check(f"accuracy[{tag}]", acc >= MIN_ACCURACY, f"{acc:.4f} on {rows} held-out rows")
        run["loadtest"], run["cgroup"] = measured_load(cg, port, {**STEP_LOAD, **HOLDING_SLO})
        report.check(
            f"loadtest-slo-holds[{tag}]",
            run["loadtest"]["exit_code"] == 0,
            load_detail(run["loadtest"]),
        )
        if tight:
            strict = run_loadtest(
                f"{PREFIX}-locust", port, {**STEP_LOAD, **TIGHT_SLO, "STEP_COUNT": "1"}, 300
            )
            run["loadtest_tight_slo"] = strict
            report.check(
                f"loadtest-slo-fails[{tag}]", strict["exit_code"] != 0, load_detail(strict)
            )
        run["state"] = state_after(name, cg, expected.workers)
        check_state(report, tag, run["state"], run["cgroup"]["peak_mib"], memory)
        run["stop"] = check_stop(report, tag, name)
    except (RuntimeError, subprocess.SubprocessError, OSError, KeyError, TypeError) as exc:
        report.check(f"run[{tag}]", False, f"{type(exc).__name__}: {exc}")
    finally:
        remove(name)
    return run


def check_state(report: Report, tag: str, after: dict, peak_mib: float, limit_mib: int) -> None:
    report.check(
        f"no-oom[{tag}]",
        not after["oom_killed"] and after["cgroup_oom_kills"] == 0 and peak_mib <= limit_mib,
        f"OOMKilled {after['oom_killed']}, cgroup oom_kill {after['cgroup_oom_kills']},"
        f" peak {peak_mib:.0f} of {limit_mib} MiB",
    )
    boots_ok = after["worker_boots"] == after["expected_worker_boots"]
    report.check(
        f"no-restart[{tag}]",
        after["running"]
        and after["restart_count"] == 0
        and boots_ok
        and not after["worker_errors"],
        f"running {after['running']}, RestartCount {after['restart_count']}, worker boots"
        f" {after['worker_boots']} for {after['expected_worker_boots']} workers",
    )


def check_stop(report: Report, tag: str, name: str) -> dict[str, Any]:
    """SIGTERM the container; it must drain and exit 0."""
    stopped = stop(name)
    code, seconds = stopped["exit_code"], stopped["stop_s"]
    report.check(f"graceful-stop[{tag}]", code == 0, f"exit {code} {seconds} s after SIGTERM")
    return stopped
