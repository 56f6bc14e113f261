"""Serve corebound on loopback inside a throw-away cgroup until Ctrl-C, as a pod would run.

python -m scripts.local serve --cpus 1.5 --memory-mib 600 [--env MAX_WAIT_MS=1 ...]
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import threading

from scripts.local.cgroup import Cgroup
from scripts.local.service import run_service


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.local serve", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--cpus", type=float, help="CFS quota in cores (needs root)")
    parser.add_argument("--memory-mib", type=int, help="cgroup memory limit (needs root)")
    parser.add_argument("--env", action="append", default=[], metavar="VAR=VALUE")
    args = parser.parse_args(argv)
    if (args.cpus or args.memory_mib) and (reason := Cgroup.unavailable_reason()):
        parser.error(f"--cpus/--memory-mib need a cgroup: {reason}")
    env = dict(item.split("=", 1) for item in args.env)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    with run_service(env, args.cpus, args.memory_mib) as svc:
        print(f"serving on {svc.url} (log {svc.log_path}); Ctrl-C stops it", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            done.wait()
    return 0
