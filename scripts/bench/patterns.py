"""The serving patterns compared, and starting one under real gunicorn."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from scripts.local.net import free_port, wait_ready
from scripts.local.service import BLAS_VARS, REPO, clean_env, run_service, stop


@dataclass(frozen=True)
class Pattern:
    name: str
    label: str
    app: str | None  # scripts.bench.apps factory; None = corebound itself
    workers: int
    blas_one: bool = True  # BLAS env vars = 1 per worker; False = left unset (BLAS default)
    env: dict[str, str] = field(default_factory=dict)
    kind: str = "v1"  # the requests it gets: scripts.bench.requests.KINDS


def patterns(cores: int) -> dict[str, Pattern]:
    return {
        p.name: p
        for p in (
            Pattern("corebound", "corebound (defaults)", None, cores),
            Pattern(
                "threadpool",
                f"`def` in threadpool, {cores} workers, BLAS 1",
                "threadpool_app",
                cores,
            ),
            Pattern(
                "threadpool-blas-default",
                f"`def` in threadpool, {cores} workers, BLAS default",
                "threadpool_app",
                cores,
                blas_one=False,
            ),
            Pattern("loop", f"`async def` on the loop, {cores} workers, BLAS 1", "loop_app", cores),
            Pattern(
                "process-pool",
                f"ProcessPoolExecutor({cores}) made at start, 1 worker",
                "process_pool_app",
                1,
                env={"BENCH_POOL_PROCESSES": str(cores)},
            ),
            Pattern("control", f"no-model control, {cores} workers", "control_app", cores),
            Pattern(
                "corebound-floor",
                "corebound on the floor model (no model compute)",
                None,
                cores,
                env={"MODEL_CLASS": "scripts.bench.floor:load"},
            ),
            Pattern("corebound-oip-json", "corebound, OIP JSON", None, cores, kind="oip-json"),
            Pattern(
                "corebound-oip-binary",
                "corebound, OIP binary tensors",
                None,
                cores,
                kind="oip-binary",
            ),
        )
    }


def corebound_variant(spec: str, cores: int) -> Pattern:
    """`MAX_WAIT_MS=1,MAX_BATCH_SIZE=32` -> an extra, labelled corebound row."""
    env = dict(item.split("=", 1) for item in spec.split(",") if item)
    workers = int(
        env.get("WEB_CONCURRENCY", 1 if env.get("CONCURRENCY_MODE") == "latency" else cores)
    )
    return Pattern(
        "corebound " + ",".join(f"{k}={v}" for k, v in env.items()),
        "corebound, " + ", ".join(f"{k}={v}" for k, v in env.items()),
        None,
        workers,
        env=env,
    )


def base_env(pattern: Pattern, model_dir: Path | None = None) -> dict[str, str]:
    env = clean_env()
    if model_dir is not None:
        env["MODEL_DIR"] = str(model_dir)
    if pattern.blas_one and pattern.app is not None:
        # corebound sets these itself in gunicorn_conf.py from its plan.
        env.update(dict.fromkeys(BLAS_VARS, "1"))
    env.update(pattern.env)
    return env


@dataclass
class Server:
    url: str
    pgid: int


@contextlib.contextmanager
def serve(pattern: Pattern, model_dir: Path | None = None) -> Iterator[Server]:
    env = base_env(pattern, model_dir)
    if pattern.app is None:
        with run_service(env, wait_workers=pattern.workers) as svc:
            yield Server(svc.url, svc.process.pid)
        return
    port = free_port()
    cmd = [
        sys.executable, "-m", "gunicorn", "-k", "uvicorn_worker.UvicornWorker",
        "-w", str(pattern.workers), "--bind", f"127.0.0.1:{port}",
        "--keep-alive", "5",  # corebound's gunicorn_conf value
        f"scripts.bench.apps:{pattern.app}()",  # gunicorn puts its cwd, the repo, on sys.path
    ]  # fmt: skip
    with tempfile.NamedTemporaryFile(prefix="bench-gunicorn-", suffix=".log") as log:
        process = subprocess.Popen(
            cmd,
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            # The comparison apps have no /readyz: their liveness answer is the signal.
            wait_ready(process, Path(log.name), url, workers=pattern.workers, path="/healthz")
            yield Server(url, process.pid)
        finally:
            stop(process)  # and the pool processes left behind
