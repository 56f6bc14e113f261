"""Checks the chart's hook and test pods run: `python -m service.probe <check> ...`.

Standard library only, so it runs in both images (service and loadtest), as podinfo's
`podcli check http` does; the YAML calls it instead of carrying inline programs. The load
test's master keeps its results through the same ApiServer (loadtests/publish.py).

    python -m service.probe url http://svc/readyz --timeout 300
    python -m service.probe endpoints --service corebound --count 2 --timeout 300
    python -m service.probe resolve corebound-loadtest-master --timeout 300

Each prints one JSON line per attempt and exits 0 on success, 1 on failure. The model check
(`python -m loadtests.modelcheck`) runs in the loadtest image: it follows the served model.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import ssl
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

# Where the kubelet mounts a pod's service account token, CA and namespace.
SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
RETRY_SECONDS = 2.0


def log(**fields: Any) -> None:
    print(json.dumps(fields, sort_keys=True), flush=True)


def until(check: Callable[[], str | None], timeout: float, what: str) -> bool:
    """Call `check` (None when satisfied, else why not) every RETRY_SECONDS until `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        reason = check()
        if reason is None:
            log(check=what, ok=True)
            return True
        if time.monotonic() >= deadline:
            log(check=what, ok=False, reason=reason, timeout_s=timeout)
            return False
        log(check=what, waiting=reason)
        time.sleep(RETRY_SECONDS)


def url_ready(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return None if response.status == 200 else f"HTTP {response.status}"
    except urllib.error.HTTPError as error:
        return f"HTTP {error.code}"
    except OSError as error:  # refused, DNS not yet there, timeout
        return str(error)


def resolves(host: str) -> str | None:
    try:
        socket.getaddrinfo(host, None)
    except OSError as error:  # not yet in the cluster DNS
        return str(error)
    return None


def ready_endpoints(slices: dict[str, Any]) -> int:
    """Ready pods behind a Service, from its EndpointSliceList.

    A missing `ready` counts as ready (the API's rule). A dual-stack Service lists each pod in
    an IPv4 and an IPv6 slice, so pods are counted once, by their targetRef.
    """
    ready: set[str] = set()
    for item in slices.get("items") or []:
        for endpoint in item.get("endpoints") or []:
            if (endpoint.get("conditions") or {}).get("ready", True):
                target = endpoint.get("targetRef") or {}
                addresses = endpoint.get("addresses") or []
                key = target.get("uid") or target.get("name") or (addresses[0] if addresses else "")
                if key:
                    ready.add(key)
    return len(ready)


class ApiServer:
    """The in-cluster API server, reached with the pod's own service account token."""

    def __init__(self, base: str, token_file: Path, ca_file: Path | None) -> None:
        self.base = base.rstrip("/")
        self.token_file = token_file
        self.context = ssl.create_default_context(cafile=str(ca_file)) if ca_file else None

    @classmethod
    def in_cluster(cls) -> ApiServer:
        host = os.environ.get("KUBERNETES_SERVICE_HOST")
        port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
        if not host:
            raise SystemExit("probe: KUBERNETES_SERVICE_HOST is not set (not in a pod?)")
        host = f"[{host}]" if ":" in host else host  # an IPv6 cluster
        return cls(f"https://{host}:{port}", SERVICE_ACCOUNT / "token", SERVICE_ACCOUNT / "ca.crt")

    def get(self, path: str) -> dict[str, Any]:
        return self.send("GET", path)

    def send(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        # Re-read each time: the kubelet rotates projected tokens.
        token = self.token_file.read_text().strip()
        headers = {"Authorization": f"Bearer {token}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.base + path, data, headers, method=method)
        with urllib.request.urlopen(request, timeout=10, context=self.context) as response:
            answer: dict[str, Any] = json.load(response)
            return answer


def endpoints_ready(api: ApiServer, namespace: str, service: str, count: int) -> str | None:
    path = (
        f"/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices"
        f"?labelSelector=kubernetes.io%2Fservice-name%3D{service}"
    )
    try:
        ready = ready_endpoints(api.get(path))
    except urllib.error.HTTPError as error:
        # 403: the Role is missing; say so rather than wait out the timeout silently.
        return f"API HTTP {error.code} for {path}"
    except OSError as error:
        return str(error)
    return None if ready >= count else f"{ready}/{count} ready endpoints"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m service.probe", description=__doc__)
    checks = parser.add_subparsers(dest="check", required=True)
    url = checks.add_parser("url", help="wait until GET <url> answers 200")
    url.add_argument("url")
    url.add_argument("--timeout", type=float, default=300)
    name = checks.add_parser("resolve", help="wait until a host name resolves")
    name.add_argument("host")
    name.add_argument("--timeout", type=float, default=300)
    eps = checks.add_parser("endpoints", help="wait until a Service has N ready endpoints")
    eps.add_argument("--service", required=True)
    eps.add_argument("--namespace", help="default: the pod's own namespace")
    eps.add_argument("--count", type=int, default=1)
    eps.add_argument("--timeout", type=float, default=300)
    eps.add_argument("--api-server", help="default: the in-cluster API server")
    eps.add_argument("--token-file", type=Path, default=SERVICE_ACCOUNT / "token")
    eps.add_argument("--ca-file", type=Path, help="default: the service account's CA")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.check == "url":
        ok = until(lambda: url_ready(args.url), args.timeout, f"url {args.url}")
    elif args.check == "resolve":
        ok = until(lambda: resolves(args.host), args.timeout, f"resolve {args.host}")
    else:
        api = (
            ApiServer(args.api_server, args.token_file, args.ca_file)
            if args.api_server
            else ApiServer.in_cluster()
        )
        namespace = args.namespace or (SERVICE_ACCOUNT / "namespace").read_text().strip()
        what = f"endpoints {namespace}/{args.service} >= {args.count}"
        ok = until(
            lambda: endpoints_ready(api, namespace, args.service, args.count), args.timeout, what
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
