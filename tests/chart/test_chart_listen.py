"""The chart's listenAddress reaches real gunicorn: GUNICORN_CMD_ARGS, as the ConfigMap sets
it, replaces the config file's IPv4 bind (review #16: probes failed on IPv6-only clusters)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

import chart_tools as ct
import pytest

from scripts.local.net import free_port

pytestmark = pytest.mark.slow


def test_ipv6_bind_from_the_chart_serves_on_ipv6() -> None:
    docs = ct.render(ct.values_file(ct.CHART_DIR / "ci" / "ipv6-values.yaml"))
    args = ct.container_env(docs, ct.server_container(docs))["GUNICORN_CMD_ARGS"]
    port = free_port()
    env = {
        **os.environ,
        "WEB_CONCURRENCY": "1",
        "GUNICORN_CMD_ARGS": args.replace("8000", str(port)),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", "service/gunicorn_conf.py"],
        cwd=ct.REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"http://[::1]:{port}/readyz", timeout=2) as answer:
                    assert answer.status == 200
                    break
            except OSError:
                assert process.poll() is None, process.communicate()[1][-2000:]
                assert time.monotonic() < deadline, "not ready on [::1]"
                time.sleep(0.2)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.communicate(timeout=60)
