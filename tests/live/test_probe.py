"""service/probe.py: the checks the chart's hook pods run, against the real service under
gunicorn; the endpoints check against a local stand-in for the API server (none runs here)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from serving import free_port, run_service

from service import probe

REPO = Path(__file__).resolve().parents[2]


def run_probe(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """As the pods run it: `python -m service.probe ...` in its own process."""
    return subprocess.run(
        [sys.executable, "-m", "service.probe", *args],
        capture_output=True, text=True, timeout=timeout, cwd=REPO,
    )  # fmt: skip


@pytest.fixture(scope="module")
def service_url() -> Iterator[str]:
    with run_service() as service:
        yield service.url


def test_url_waits_for_ready(service_url: str) -> None:
    run = run_probe("url", f"{service_url}/readyz", "--timeout", "30")

    assert run.returncode == 0, run.stdout + run.stderr
    assert json.loads(run.stdout.splitlines()[-1]) == {
        "check": f"url {service_url}/readyz",
        "ok": True,
    }


def test_url_gives_up_after_the_timeout_naming_why() -> None:
    url = f"http://127.0.0.1:{free_port()}/readyz"  # nothing listens
    run = run_probe("url", url, "--timeout", "0")

    assert run.returncode == 1
    last = json.loads(run.stdout.splitlines()[-1])
    assert last["ok"] is False and "refused" in last["reason"].lower()


def slice_list(*ready: bool | None) -> dict[str, Any]:
    endpoints = []
    for index, state in enumerate(ready):
        conditions = {} if state is None else {"ready": state}
        endpoints.append({"addresses": [f"10.0.0.{index}"], "conditions": conditions})
    return {"kind": "EndpointSliceList", "items": [{"endpoints": endpoints}, {"endpoints": None}]}


def test_ready_endpoints_counts_ready_addresses() -> None:
    # A missing `ready` means ready (the EndpointSlice API's rule for unknown state).
    assert probe.ready_endpoints(slice_list(True, False, None)) == 2
    assert probe.ready_endpoints({"items": []}) == 0


def test_ready_endpoints_counts_a_dual_stack_pod_once() -> None:
    pod = {"kind": "Pod", "name": "corebound-abc", "uid": "u1"}
    v4 = {"addressType": "IPv4", "endpoints": [{"addresses": ["10.0.0.1"], "targetRef": pod}]}
    v6 = {"addressType": "IPv6", "endpoints": [{"addresses": ["fd00::1"], "targetRef": pod}]}

    assert probe.ready_endpoints({"items": [v4, v6]}) == 1


class _ApiServer(BaseHTTPRequestHandler):
    """Answers the one request the probe makes, as the API server would."""

    answers: ClassVar[list[dict[str, Any]]] = []
    seen: ClassVar[list[tuple[str, str]]] = []

    def do_GET(self) -> None:
        self.seen.append((self.path, self.headers.get("Authorization", "")))
        if self.headers.get("Authorization") != "Bearer t0ken":
            self.send_response(403)
            self.end_headers()
            return
        body = json.dumps(self.answers.pop(0) if len(self.answers) > 1 else self.answers[0])
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def api_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ApiServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    token = tmp_path / "token"
    token.write_text("t0ken\n")
    _ApiServer.seen.clear()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", token
    finally:
        server.shutdown()
        server.server_close()


def test_endpoints_waits_until_enough_are_ready(
    api_server: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, token = api_server
    _ApiServer.answers = [slice_list(True, False), slice_list(True, True)]
    monkeypatch.setattr(probe, "RETRY_SECONDS", 0.01)

    code = probe.main(
        ["endpoints", "--service", "corebound", "--namespace", "ml", "--count", "2",
         "--timeout", "30", "--api-server", url, "--token-file", str(token)]
    )  # fmt: skip

    assert code == 0
    path, auth = _ApiServer.seen[0]
    assert path == (
        "/apis/discovery.k8s.io/v1/namespaces/ml/endpointslices"
        "?labelSelector=kubernetes.io%2Fservice-name%3Dcorebound"
    )
    assert auth == "Bearer t0ken"
    assert len(_ApiServer.seen) == 2


def test_endpoints_names_a_forbidden_answer(
    api_server: tuple[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    url, token = api_server
    token.write_text("wrong")
    _ApiServer.answers = [slice_list(True)]

    code = probe.main(
        ["endpoints", "--service", "corebound", "--namespace", "ml", "--timeout", "0",
         "--api-server", url, "--token-file", str(token)]
    )  # fmt: skip

    assert code == 1
    last = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert last["ok"] is False and last["reason"].startswith("API HTTP 403")


def test_endpoints_outside_a_pod_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)

    with pytest.raises(SystemExit, match="KUBERNETES_SERVICE_HOST is not set"):
        probe.main(["endpoints", "--service", "corebound", "--namespace", "ml"])


def test_probe_uses_only_the_standard_library() -> None:
    """It runs in the loadtest image too, which has no service dependencies."""
    imported = {
        line.split()[1].split(".")[0]
        for line in (REPO / "service" / "probe.py").read_text().splitlines()
        if line.startswith(("import ", "from "))
    }

    assert imported <= set(sys.stdlib_module_names) | {"__future__"}
