"""How to tell each of the cluster's processes is up, and the wait for it."""

from __future__ import annotations

import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable

from .layout import API_PORT, NODE_NAME, Layout

Check = Callable[[Layout], bool]


def wait_for(
    what: str, ready: Callable[[], bool], timeout_s: float, why: Callable[[], str]
) -> None:
    """Polls ready() until it holds; on timeout raises with why() (e.g. the log's tail)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.5)
    raise RuntimeError(f"{what} not ready after {timeout_s:.0f}s:\n{why()}")


def http_ok(url: str, context: ssl.SSLContext | None = None) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3, context=context) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def socket_ready(path: str) -> bool:
    with socket.socket(socket.AF_UNIX) as sock:
        try:
            sock.connect(path)
        except OSError:
            return False
    return True


def containerd_ready(layout: Layout) -> bool:
    return socket_ready(str(layout.containerd_socket))


def etcd_ready(layout: Layout) -> bool:
    return http_ok("http://127.0.0.1:2381/health")  # its --listen-metrics-urls


def apiserver_ready(layout: Layout) -> bool:
    context = ssl.create_default_context(cafile=str(layout.pki / "ca.crt"))
    context.load_cert_chain(layout.pki / "admin.crt", layout.pki / "admin.key")
    return http_ok(f"https://127.0.0.1:{API_PORT}/readyz", context)


def node_ready(layout: Layout) -> bool:
    done = subprocess.run(
        [*layout.kubectl(), "get", "node", NODE_NAME, "-o",
         "jsonpath={.status.conditions[?(@.type=='Ready')].status}"],
        capture_output=True, text=True,
    )  # fmt: skip
    return done.stdout.strip() == "True"


def kubelet_ready(layout: Layout) -> bool:
    """Its own health endpoint (the node's Ready stays True a while after a kubelet stops),
    then the node Ready."""
    return http_ok("http://127.0.0.1:10248/healthz") and node_ready(layout)
