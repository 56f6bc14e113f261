"""A py-spy profile of one worker under load, summarised by layer of the request path.

    python -m scripts.bench hotpath --out profile.json [--tree CHECKOUT] [--concurrency 32]

py-spy samples the worker's Python stacks (`--nonblocking`: the worker is never paused).
Each sample of the event-loop thread goes to the innermost layer its stack crosses, so the
table reads as "where the loop's time goes"; the inference thread is reported apart.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Where the model runs: the numpy MLP, or the session of the ONNX Runtime one.
MODEL_FILES = (
    "service/inference/mlp.py",
    "service/inference/packed_mlp.py",
    "service/inference/onnx_model.py",
)
# Innermost first wins: a sample inside the decoding called from a route counts as decoding.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("model", MODEL_FILES),
    ("decode, validate, encode", ("service/protocol/", "service/web/routes/",
                                  "service/web/body.py", "numpy/", "orjson")),
    ("engine hand-off", ("service/inference/engine.py", "service/inference/handoff.py",
                         "threading.py")),
    ("metrics", ("prometheus_client/", "prometheus_fastapi_instrumentator/",
                 "service/web/request_metrics.py", "service/metrics.py")),
    ("middleware", ("starlette/middleware/", "fastapi/middleware/", "fastapi/telemetry/",
                    "uvicorn/middleware/", "fastapi/_body_limit.py", "contextlib.py",
                    "opentelemetry/")),
    ("routing, Request/Response", ("starlette/", "fastapi/", "service/web/pipeline.py",
                                   "service/web/runtime.py")),
    ("HTTP protocol", ("uvicorn/protocols/", "service/server/limits.py")),
]  # fmt: skip
LOOP_OTHER = "event loop, sockets (uvloop, native)"


@dataclass
class Profile:
    samples: int
    loop: Counter[str]  # event-loop thread samples per layer
    inference: int  # inference thread samples
    model: int  # of which inside the model
    other: int  # any other thread (executor)

    def share(self, layer: str) -> float:
        return self.loop[layer] / self.samples if self.samples else 0.0


def py_spy() -> str | None:
    found = shutil.which("py-spy")
    beside = Path(sys.executable).parent / "py-spy"
    return found or (str(beside) if beside.exists() else None)


def start(pid: int, seconds: float, raw: Path) -> subprocess.Popen[bytes] | None:
    """Starts sampling `pid` for `seconds`; None when py-spy is not installed."""
    exe = py_spy()
    if exe is None:
        return None
    cmd = [exe, "record", "--pid", str(pid), "--duration", str(max(1, int(seconds))),
           "--rate", "200", "--format", "raw", "--threads", "--nonblocking",
           "--output", str(raw)]  # fmt: skip
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _layer(frames: list[str]) -> str:
    for frame in reversed(frames):
        for name, keys in LAYERS:
            if any(key in frame for key in keys):
                return name
    return LOOP_OTHER


def summarize(raw: Path) -> Profile:
    loop: Counter[str] = Counter()
    inference = model = other = total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        if "MainThread" in frames[0]:
            loop[_layer(frames[1:])] += count
        elif "inference" in frames[0]:
            inference += count
            model += count if any(m in f for f in frames for m in MODEL_FILES) else 0
        else:
            other += count
    return Profile(total, loop, inference, model, other)


def table(profiles: dict[str, tuple[Profile, float]]) -> str:
    """Markdown: each profile's share of the worker's samples per layer, and the CPU
    per request it stands for (share x the server's CPU per request; py-spy samples
    running threads, so this is an estimate)."""
    names = list(profiles)
    head = "| layer | " + " | ".join(f"{n}: share | {n}: ~us/req" for n in names) + " |"
    out = [head, "| --- |" + " ---: | ---: |" * len(names)]
    layers = [name for name, _ in LAYERS if name != "model"] + [LOOP_OTHER]
    for layer in layers:
        cells = []
        for profile, us in profiles.values():
            cells += [f"{profile.share(layer):.1%}", f"{profile.share(layer) * us:.0f}"]
        out.append(f"| loop: {layer} | " + " | ".join(cells) + " |")
    for label, part in (
        ("inference thread: model", lambda p: p.model),
        ("inference thread: batching, hand-back, waits", lambda p: p.inference - p.model),
    ):
        cells = []
        for profile, us in profiles.values():
            share = part(profile) / profile.samples if profile.samples else 0.0
            cells += [f"{share:.1%}", f"{share * us:.0f}"]
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def children(pid: int) -> list[int]:
    """gunicorn's workers: the master's child processes."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def as_dict(profile: Profile, cpu_us: float, rps: float) -> dict[str, Any]:
    return {"samples": profile.samples, "loop": dict(profile.loop),
            "inference": profile.inference, "model": profile.model, "other": profile.other,
            "cpu_us_per_request": cpu_us, "rps": rps}  # fmt: skip


def from_dict(data: dict[str, Any]) -> tuple[Profile, float]:
    loop: Counter[str] = Counter(data["loop"])
    profile = Profile(data["samples"], loop, data["inference"], data["model"], data["other"])
    return profile, float(data["cpu_us_per_request"])


def profile_tree(tree: Path, seconds: int, concurrency: int) -> dict[str, Any]:
    """Starts `tree`'s service (its gunicorn_conf, 2 workers, the default model), loads it
    with wrk at `concurrency` and profiles one worker. `tree` may be an older checkout."""
    from scripts.bench.load import holdout_rows
    from scripts.bench.requests import write_lua
    from scripts.local.net import free_port, wait_ready
    from scripts.local.proc import group_cpu_seconds
    from scripts.local.service import REPO, clean_env, stop

    env = clean_env({"WEB_CONCURRENCY": "2", "MODEL_DIR": str(REPO / "models" / "default")})
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="bench-hotpath-") as tmp:
        lua = write_lua(Path(tmp), "v1", holdout_rows()[:64], "unused")
        log = Path(tmp) / "gunicorn.log"
        with log.open("wb") as out:
            cmd = [sys.executable, "-m", "gunicorn", "--config", "service/gunicorn_conf.py",
                   "--bind", f"127.0.0.1:{port}"]  # fmt: skip
            process = subprocess.Popen(
                cmd, cwd=tree, env=env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        try:
            wait_ready(process, log, url, workers=2)
            wrk = ["wrk", "-t1", "-s", str(lua), url, "--latency"]
            subprocess.run([*wrk, "-c8", "-d2s"], capture_output=True, check=True)  # warm-up
            raw = Path(tmp) / "profile.raw"
            cpu0, wall0 = group_cpu_seconds(process.pid), time.monotonic()
            spy = start(children(process.pid)[0], seconds - 1, raw)
            done = subprocess.run([*wrk, f"-c{concurrency}", f"-d{seconds}s"],
                                  capture_output=True, text=True, check=True)  # fmt: skip
            cpu, wall = group_cpu_seconds(process.pid) - cpu0, time.monotonic() - wall0
            if spy is None:
                raise RuntimeError("py-spy is not installed (pip install '.[dev]')")
            spy.wait()
        finally:
            stop(process)
        summary = json.loads(done.stdout.split("BENCH ", 1)[1].splitlines()[0])
        rps = summary["requests"] / (summary["duration_us"] / 1e6)
        result = as_dict(summarize(raw), cpu / summary["requests"] * 1e6, rps)
        return {**result, "server_cores": cpu / wall}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.bench hotpath", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--tree", type=Path, default=None, help="a checkout (default: this)")
    parser.add_argument("--seconds", type=int, default=12)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--out", type=Path, required=True, help="JSON summary")
    args = parser.parse_args(argv)
    from scripts.local.service import REPO

    result = profile_tree(args.tree or REPO, args.seconds, args.concurrency)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(table({"profile": from_dict(result)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
