"""End-to-end proof of the image: podman, real CPU and memory limits, real load.

Builds a local Debian base (debootstrap, cached; no registry needed), both Dockerfile
targets on it, then runs the `service` image read-only, as its own user, under `--cpus`
and `--memory` (the memory from the sizing formula the chart uses, service.resources.plan)
and checks, for each CPU limit: /info's plan, accuracy on held-out digits over HTTP, the
`loadtest` image's own entrypoint (exit 0 when the SLO holds, non-zero when it is set
impossibly tight), the container's cgroup figures during the load, no OOM kill and no
restart. A synthetic model (500 MiB by default) with 2 workers shows the weights are held
once, not once per worker. Writes <out>/container-e2e.json and a summary table in
<out>/container-e2e.md.

    python scripts/container_e2e.py [--cpus 1,2] [--synthetic-mib 500] [--out reports]

Exit 0 when every check holds, 1 when one fails, 2 when podman is not usable here.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import podman_base
from podman_base import ULIMITS, podman

REPO = Path(__file__).resolve().parent.parent
VERSION = "0.1.0"
SERVICE_IMAGE = f"localhost/corebound:{VERSION}"
LOADTEST_IMAGE = f"localhost/corebound-loadtest:{VERSION}"
USER = "10001:10001"
PREFIX = "corebound-e2e"  # every container this script starts is named so; it removes only those
MIB = 1024 * 1024

# The emptyDirs the chart mounts over a read-only root: /tmp and the metrics directory.
# runc gives each tmpfs the mode of the image's directory (1777 for both), so the image's
# user writes there without owning them, as in an emptyDir.
SERVICE_TMPFS = (
    "--tmpfs", "/tmp:rw,nosuid,nodev,size=64m",
    "--tmpfs", "/run/prometheus:rw,nosuid,nodev,size=16m",
)  # fmt: skip
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
# The 500 MiB model multiplies 500 MiB of weights per batch: light load, memory is the point.
# /v1 only: the load test's /v2 path names the default model, and labels are random here.
SYNTHETIC_LOAD = {
    "STEP_USERS": "2", "STEP_SECONDS": "10", "STEP_COUNT": "2", "SPAWN_RATE": "2",
    "WEIGHT_V2_INFER": "0",
}  # fmt: skip
LOOSE_SLO = {"SLO_P95_MS": "20000", "SLO_P99_MS": "30000", "SLO_MAX_FAILURE_RATIO": "0.05"}
MIN_ACCURACY = 0.9
READY_TIMEOUT_S = 120


def log(msg: str) -> None:
    print(f"[e2e {time.strftime('%H:%M:%S')}] {msg}", flush=True)


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def check(self, name: str, ok: bool, detail: str) -> bool:
        self.checks.append(Check(name, bool(ok), detail))
        log(f"{'PASS' if ok else 'FAIL'} {name}: {detail}")
        return bool(ok)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)


# --- HTTP (the standard library's client: nothing to install for the checks) ------------


def http_json(url: str, body: object | None = None, timeout: float = 30) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- cgroup figures of a running container -------------------------------------------------


class Cgroup:
    """CPU and memory figures of a container, found from its PID 1's /proc/<pid>/cgroup."""

    ROOT = Path("/sys/fs/cgroup")

    def __init__(self, pid: int) -> None:
        paths: dict[str, str] = {}
        for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for name in controllers.split(",") if controllers else [""]:
                paths[name] = path.lstrip("/")
        self.v2 = (self.ROOT / "cgroup.controllers").exists()
        if self.v2:
            self.cpu_dir = self.mem_dir = self.acct_dir = self.ROOT / paths[""]
        else:
            self.cpu_dir = self._v1("cpu", paths)
            self.acct_dir = self._v1("cpuacct", paths)
            self.mem_dir = self._v1("memory", paths)

    def _v1(self, controller: str, paths: dict[str, str]) -> Path:
        for mount in (controller, "cpu,cpuacct", "cpuacct,cpu"):
            if (self.ROOT / mount).is_dir() and controller in mount.split(","):
                return self.ROOT / mount / paths[controller]
        raise FileNotFoundError(f"no cgroup v1 mount for {controller}")

    @staticmethod
    def _kv(path: Path) -> dict[str, int]:
        pairs = (line.split() for line in path.read_text().splitlines() if line.strip())
        return {k: int(v) for k, v in pairs}

    def _int(self, path: Path) -> int:
        return int(path.read_text().split()[0])

    def cpu(self) -> dict[str, float]:
        stat = self._kv(self.cpu_dir / "cpu.stat")
        if self.v2:
            throttled_s, usage_s = stat["throttled_usec"] / 1e6, stat["usage_usec"] / 1e6
        else:
            throttled_s = stat["throttled_time"] / 1e9
            usage_s = self._int(self.acct_dir / "cpuacct.usage") / 1e9
        return {"periods": stat["nr_periods"], "throttled_periods": stat["nr_throttled"],
                "throttled_s": throttled_s, "usage_s": usage_s}  # fmt: skip

    def memory(self) -> dict[str, float]:
        d = self.mem_dir
        if self.v2:
            stat, events = self._kv(d / "memory.stat"), self._kv(d / "memory.events")
            peak = d / "memory.peak"
            current = self._int(d / "memory.current")
            return {
                "usage_mib": current / MIB,
                "peak_mib": (self._int(peak) if peak.exists() else current) / MIB,
                "oom_kills": events.get("oom_kill", 0),
                "limit_hits": events.get("max", 0),
                "anon_mib": stat.get("anon", 0) / MIB,
                "file_mib": stat.get("file", 0) / MIB,
                "mapped_file_mib": stat.get("file_mapped", 0) / MIB,
            }
        stat, oom = self._kv(d / "memory.stat"), self._kv(d / "memory.oom_control")
        return {
            "usage_mib": self._int(d / "memory.usage_in_bytes") / MIB,
            "peak_mib": self._int(d / "memory.max_usage_in_bytes") / MIB,
            "oom_kills": oom.get("oom_kill", 0),
            "limit_hits": self._int(d / "memory.failcnt"),
            "anon_mib": stat.get("rss", 0) / MIB,
            "file_mib": stat.get("cache", 0) / MIB,
            "mapped_file_mib": stat.get("mapped_file", 0) / MIB,
        }

    def pids(self) -> list[int]:
        procs = self.mem_dir / "cgroup.procs"
        return [int(p) for p in procs.read_text().split()]


@contextmanager
def sampling(cg: Cgroup, every_s: float = 0.5) -> Iterator[dict[str, float]]:
    """Samples memory while the body runs; yields a dict filled with the highest usage seen."""
    seen = {"max_usage_mib": 0.0}
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                usage = cg.memory()["usage_mib"]
            except OSError:  # the container is gone
                return
            seen["max_usage_mib"] = max(seen["max_usage_mib"], usage)
            stop.wait(every_s)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join()


# --- containers ----------------------------------------------------------------------------


def inspect(name: str) -> dict[str, Any]:
    return json.loads(podman("inspect", "--type", "container", name).stdout)[0]


def remove(name: str, grace_s: int = 5) -> None:
    podman("rm", "--force", "--time", str(grace_s), name, check=False)


def evict_fadvise(path: Path) -> None:
    """Drops a file's clean pages from the page cache (fsync first: dirty pages stay)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def evict_page_cache(image: str) -> None:
    """Evicts the image's files from the page cache before a run.

    A page is charged to the cgroup that first reads it: files read by the build or by an
    earlier container would be free for the next one. Evicted, the container pays for its
    shared libraries and weights as a pod on a fresh node does.
    """
    root = Path(podman("image", "mount", image).stdout.strip())
    try:
        for top in ("opt/venv", "app"):
            for path in (root / top).rglob("*"):
                if path.is_file() and not path.is_symlink():
                    evict_fadvise(path)
    finally:
        podman("image", "unmount", image, check=False)


def start_service(
    name: str, port: int, cpus: float, memory_mib: int, *, env: dict[str, str] | None = None,
    volumes: tuple[str, ...] = (),
) -> dict[str, Any]:  # fmt: skip
    """Runs the service image with the image's own user and command, read-only, limited."""
    remove(name)
    evict_page_cache(SERVICE_IMAGE)
    args = [
        "run", "--detach", "--name", name,
        "--cpus", f"{cpus:g}",
        # swap equal to memory: no swap, as in a pod; the limit is the limit.
        "--memory", f"{memory_mib}m", "--memory-swap", f"{memory_mib}m",
        # Read-only root; podman's own tmpfs set is off so only the chart's mounts exist.
        "--read-only", "--read-only-tmpfs=false", *SERVICE_TMPFS,
        # Published on loopback only: nothing outside this machine can reach it.
        "--publish", f"127.0.0.1:{port}:8000",
        *ULIMITS,
    ]  # fmt: skip
    for key, value in (env or {}).items():
        args += ["--env", f"{key}={value}"]
    for volume in volumes:
        args += ["--volume", volume]
    podman(*args, SERVICE_IMAGE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        state = inspect(name)["State"]
        if not state["Running"]:
            logs = podman("logs", "--tail", "40", name, check=False)
            raise RuntimeError(f"{name} exited ({state['ExitCode']}):\n{logs.stdout}{logs.stderr}")
        try:
            status, _ = http_json(f"{base}/readyz", timeout=2)
            if status == 200:
                return {
                    "base": base,
                    "pid": state["Pid"],
                    "ready_s": READY_TIMEOUT_S - (deadline - time.monotonic()),
                }
        except (OSError, ValueError):
            pass
        time.sleep(0.5)
    logs = podman("logs", "--tail", "40", name, check=False)
    raise RuntimeError(f"{name} not ready in {READY_TIMEOUT_S} s:\n{logs.stdout}{logs.stderr}")


def run_loadtest(name: str, port: int, env: dict[str, str], timeout_s: float) -> dict[str, Any]:
    """The loadtest image with its own ENTRYPOINT and CMD, as the chart's Job runs it.

    Host network to reach the service's loopback port; a host directory stands in for the
    Job's /tmp emptyDir so the CSV survives the container.
    """
    remove(name)
    with tempfile.TemporaryDirectory(prefix=f"{PREFIX}-locust-") as tmp:
        os.chmod(tmp, 0o1777)  # the image's user writes there, like an emptyDir
        args = [
            "run", "--rm", "--name", name, "--network", "host",
            "--read-only", "--read-only-tmpfs=false", "--volume", f"{tmp}:/tmp:rw",
            "--env", f"LOCUST_HOST=http://127.0.0.1:{port}", *ULIMITS,
        ]  # fmt: skip
        for key, value in env.items():
            args += ["--env", f"{key}={value}"]
        started = time.monotonic()
        done = podman(*args, LOADTEST_IMAGE, check=False, timeout=timeout_s)
        seconds = time.monotonic() - started
        output = done.stdout + done.stderr
        verdict = next(
            (
                ln.strip()
                for ln in reversed(output.splitlines())
                if "SLO PASS" in ln or "SLO FAIL" in ln
            ),
            "",
        )
        result: dict[str, Any] = {
            "exit_code": done.returncode,
            "seconds": round(seconds, 1),
            "verdict": verdict[verdict.find("SLO") :] if verdict else "",
            "output_tail": output.splitlines()[-15:],
        }
        stats = Path(tmp) / "locust_stats.csv"
        if stats.exists():
            with stats.open() as f:
                rows = [r for r in csv.DictReader(f) if r.get("Name") == "Aggregated"]
            if rows:
                row = rows[0]
                result.update(
                    requests=int(row["Request Count"]),
                    failures=int(row["Failure Count"]),
                    rps=round(float(row["Requests/s"]), 1),
                    p50_ms=_num(row.get("50%")),
                    p95_ms=_num(row.get("95%")),
                    p99_ms=_num(row.get("99%")),
                )
        result["html_report"] = (Path(tmp) / "locust.html").exists()
    return result


def _num(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "", "N/A") else None
    except ValueError:
        return None


def state_after(name: str, cg: Cgroup, workers: int) -> dict[str, Any]:
    """Still running, not OOM-killed, not restarted, and each worker booted only once."""
    info = inspect(name)
    logs = podman("logs", name, check=False)
    text = logs.stdout + logs.stderr
    memory = cg.memory()
    return {
        "running": info["State"]["Running"],
        "oom_killed": info["State"]["OOMKilled"],
        "restart_count": info.get("RestartCount", 0),
        "cgroup_oom_kills": memory["oom_kills"],
        "worker_boots": text.count("Booting worker"),
        "expected_worker_boots": workers,
        "worker_errors": [
            ln for ln in text.splitlines() if "WORKER TIMEOUT" in ln or "was sent SIG" in ln
        ],
    }


def uids(cg: Cgroup) -> set[int]:
    found: set[int] = set()
    for pid in cg.pids():
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        uid_line = next(ln for ln in status.splitlines() if ln.startswith("Uid:"))
        found.update(int(x) for x in uid_line.split()[1:])
    return found


def stop(name: str) -> dict[str, Any]:
    """SIGTERM and wait: gunicorn drains and exits 0 well within the grace period."""
    started = time.monotonic()
    podman("stop", "--time", "40", name, check=False, timeout=90)
    state = inspect(name)["State"]
    return {"exit_code": state["ExitCode"], "stop_s": round(time.monotonic() - started, 1)}


# --- the steps -----------------------------------------------------------------------------


def build_images(report: Report, *, no_cache: bool, refresh_base: bool, logs: Path) -> None:
    base = podman_base.ensure_base(refresh=refresh_base, log=log)
    report.data["base"] = base
    log(f"base {base['tag']} from {base['source']} in {base['seconds']} s")
    build_args = {"BASE_IMAGE": str(base["tag"]), "VERSION": VERSION}
    builds = {}
    for target, tag in (("service", SERVICE_IMAGE), ("loadtest", LOADTEST_IMAGE)):
        log(f"podman build --target {target} -> {tag}")
        seconds = podman_base.build(
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
        " from service.resources import model_mib;"
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
    """The throttling figures are real: 2 busy processes under --cpus 0.5 must be throttled.

    (The step loads below rarely are: a worker's event loop and single inference thread
    seldom outrun a whole-core quota, and the load client shares this machine's cores.)
    """
    name = f"{PREFIX}-throttle"
    remove(name)
    spin = "import os\nos.fork()\nwhile True:\n    pass\n"  # two processes, both busy
    podman(
        "run", "--detach", "--name", name, "--cpus", "0.5", "--network", "none", "--read-only",
        *ULIMITS, SERVICE_IMAGE, "python", "-c", spin,
    )  # fmt: skip
    try:
        cg = Cgroup(inspect(name)["State"]["Pid"])
        before = cg.cpu()
        time.sleep(3)
        after = cg.cpu()
    finally:
        remove(name, grace_s=0)  # PID 1 without a SIGTERM handler: straight to SIGKILL
    figures = {
        "cpu_periods": after["periods"] - before["periods"],
        "throttled_periods": after["throttled_periods"] - before["throttled_periods"],
        "cpu_used_cores": round((after["usage_s"] - before["usage_s"]) / 3, 2),
    }
    report.check(
        "cgroup-figures-see-throttling",
        figures["throttled_periods"] > 0 and figures["cpu_used_cores"] <= 0.6,
        f"2 busy processes under --cpus 0.5: {figures['throttled_periods']} of"
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


def measured_load(cg: Cgroup, port: int, env: dict[str, str]) -> tuple[dict, dict]:
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
    from service.resources import plan

    expected = plan(cpus, model_mib)
    memory = expected.memory_mib
    name, port, tag = f"{PREFIX}-cpu{cpus:g}", free_port(), f"cpus={cpus:g}"
    log(f"{tag}: --cpus {cpus:g} --memory {memory}m, plan {expected.workers} x {expected.threads}")
    run: dict[str, Any] = {"cpus": cpus, "memory_limit_mib": memory, "expected": expected.as_dict()}
    try:
        started = start_service(name, port, cpus, memory)
        base, cg = started["base"], Cgroup(started["pid"])
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
        run["stop"] = stop(name)
        code, seconds = run["stop"]["exit_code"], run["stop"]["stop_s"]
        report.check(f"graceful-stop[{tag}]", code == 0, f"exit {code} {seconds} s after SIGTERM")
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


def synthetic_model(size_mib: float, parent: Path) -> Path:
    """The lead's generator writes it; its pages leave the page cache before the run."""
    model_dir = parent / "model"
    subprocess.run(
        [sys.executable, str(REPO / "scripts" / "make_synthetic_model.py"),
         "--size-mib", f"{size_mib:g}", "--out", str(model_dir)],
        check=True, stdout=subprocess.DEVNULL,
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
    from service.resources import model_mib as weights_mib
    from service.resources import plan

    cpus, name, port, tag = 2.0, f"{PREFIX}-synthetic", free_port(), f"synthetic-{size_mib:g}MiB"
    run: dict[str, Any] = {"cpus": cpus}
    with tempfile.TemporaryDirectory(prefix=f"{PREFIX}-model-", dir="/var/tmp") as tmp:
        model_dir = synthetic_model(size_mib, Path(tmp))
        mib = weights_mib(model_dir)
        expected = plan(cpus, mib)
        memory = expected.memory_mib
        run.update(model_mib=round(mib, 1), memory_limit_mib=memory, expected=expected.as_dict())
        log(f"{tag}: {mib:.0f} MiB of weights, --cpus 2 --memory {memory}m")
        try:
            started = start_service(
                name, port, cpus, memory, env={"MODEL_DIR": "/models/synthetic"},
                volumes=(f"{model_dir}:/models/synthetic:ro",),
            )  # fmt: skip
            cg = Cgroup(started["pid"])
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


# --- report --------------------------------------------------------------------------------

COLUMNS = (
    "run", "limits", "plan W x T", "/info W x T", "accuracy", "loadtest exit (tight SLO)",
    "requests / p95 ms", "throttled periods", "throttled s", "CPU used (cores)",
    "peak / limit MiB", "OOM", "restarts",
)  # fmt: skip


def row(run: dict) -> list[str]:
    exp, got = run.get("expected", {}), run.get("info_plan", {})
    load, cg, st = run.get("loadtest", {}), run.get("cgroup", {}), run.get("state", {})
    label = f"{run['model_mib']:.0f} MiB synthetic" if "memory" in run else "default model"
    exits = str(load.get("exit_code", "-"))
    if "loadtest_tight_slo" in run:
        exits += f" ({run['loadtest_tight_slo']['exit_code']})"
    oom = st.get("oom_killed") or st.get("cgroup_oom_kills")
    return [
        label,
        f"{run['cpus']:g} CPU, {run['memory_limit_mib']} MiB",
        f"{exp.get('workers')} x {exp.get('threads')}",
        f"{got.get('workers')} x {got.get('threads')}",
        str(run.get("accuracy", "-")),
        exits,
        f"{load.get('requests', '-')} / {load.get('p95_ms', '-')}",
        f"{cg.get('throttled_periods', '-')} of {cg.get('cpu_periods', '-')}",
        str(cg.get("throttled_s", "-")),
        str(cg.get("cpu_used_cores", "-")),
        f"{cg.get('peak_mib', '-')} / {run['memory_limit_mib']}",
        "-" if not st else ("yes" if oom else "no"),
        str(st.get("restart_count", "-")),
    ]


def markdown(report: Report) -> str:
    d = report.data
    base, builds = d.get("base", {}), d.get("build_seconds", {})
    built = ", ".join(f"{k} {v} s" for k, v in builds.items())
    lines = [
        "# Container end-to-end (podman)",
        "",
        f"Base `{base.get('tag')}` from {base.get('source')} in {base.get('seconds')} s;"
        f" builds: {built}; whole run {d.get('total_s')} s."
        f" Result: **{'PASS' if report.ok else 'FAIL'}**.",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + " --- |" * len(COLUMNS),
    ]
    runs = [*d.get("runs", []), *([d["synthetic"]] if d.get("synthetic") else [])]
    lines += ["| " + " | ".join(row(r)) + " |" for r in runs]
    syn = d.get("synthetic", {}).get("memory")
    if syn:
        lines += [
            "",
            f"Synthetic model with 2 workers: peak {syn['peak_mib']} MiB under a"
            f" {syn['limit_mib']} MiB limit. One copy + 2 x worker overhead + headroom ="
            f" {syn['one_copy_estimate_mib']} MiB; two copies would need"
            f" {syn['two_copies_estimate_mib']} MiB. Copies held, measured:"
            f" {syn['copies_measured']} (peak minus the default-model 2-worker peak of"
            f" {syn['baseline_peak_mib']} MiB, over the weights). Mapped file"
            f" {syn['mapped_file_mib']} MiB, anonymous {syn['anon_mib']} MiB.",
        ]
    thr = d.get("throttle_sanity")
    if thr:
        lines += [
            "",
            f"Throttling figures, sanity check: 2 busy processes under `--cpus 0.5` were"
            f" throttled in {thr['throttled_periods']} of {thr['cpu_periods']} CFS periods"
            f" ({thr['cpu_used_cores']} cores used).",
        ]
    lines += ["", "| check | result | detail |", "| --- | --- | --- |"]
    lines += [f"| {c.name} | {'PASS' if c.ok else 'FAIL'} | {c.detail} |" for c in report.checks]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpus", default="1,2", help="CPU limits to run, comma-separated")
    parser.add_argument(
        "--synthetic-mib", type=float, default=500, help="0 skips the synthetic run"
    )
    parser.add_argument("--out", type=Path, default=REPO / "reports")
    parser.add_argument(
        "--no-cache", action="store_true", help="build without podman's layer cache"
    )
    parser.add_argument("--refresh-base", action="store_true", help="debootstrap the base again")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))  # service.resources: the one sizing formula

    reason = podman_base.unusable_reason()
    if reason:
        print(f"podman is not usable here: {reason}", file=sys.stderr)
        return 2
    cpus = [float(c) for c in args.cpus.split(",") if c.strip()]
    args.out.mkdir(parents=True, exist_ok=True)
    report = Report()
    started = time.monotonic()
    try:
        build_images(report, no_cache=args.no_cache, refresh_base=args.refresh_base,
                     logs=args.out / "tmp" / "container-e2e")  # fmt: skip
        inside = check_images(report)
        report.data["throttle_sanity"] = check_throttle_reader(report)
        holdout = holdout_from_image()
        runs = []
        for i, c in enumerate(cpus):
            run = cpu_run(
                report, c, inside["model_mib"], holdout, tight=i == len(cpus) - 1, first=i == 0
            )
            run["model_mib"] = round(inside["model_mib"], 1)
            runs.append(run)
        report.data["runs"] = runs
        report.data["trained_accuracy"] = inside.get("trained_accuracy")
        if args.synthetic_mib > 0:
            two = next(
                (r for r in runs if r.get("expected", {}).get("workers") == 2 and "cgroup" in r),
                None,
            )
            report.data["synthetic"] = synthetic_run(report, args.synthetic_mib, two)
    except (RuntimeError, subprocess.SubprocessError, OSError) as exc:
        report.check("e2e", False, f"{type(exc).__name__}: {exc}")
    report.data["total_s"] = round(time.monotonic() - started, 1)
    result = {"ok": report.ok, "checks": [asdict(c) for c in report.checks], **report.data}
    (args.out / "container-e2e.json").write_text(json.dumps(result, indent=2) + "\n")
    table = markdown(report)
    (args.out / "container-e2e.md").write_text(table)
    print(table)
    return 0 if report.ok else 1

