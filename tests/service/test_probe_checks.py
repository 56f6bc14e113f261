"""service/probe.py's checks in process, against a local HTTP server thread standing in for
the service and the API server: retries, the reasons logged, the answers judged.

(tests/live/test_probe.py runs `python -m service.probe` against the real service.)"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import certifi
import pytest

from scripts.local.net import free_port
from service import probe


@dataclass
class Server:
    """Answers each path with its answers in turn (the last one repeats); records requests."""

    url: str
    answers: dict[str, list[tuple[int, bytes]]] = field(default_factory=dict)
    seen: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)

    def answer(self, path: str, *answers: tuple[int, object]) -> str:
        self.answers[path] = [
            (status, body if isinstance(body, bytes) else json.dumps(body).encode())
            for status, body in answers
        ]
        return self.url + path


@pytest.fixture
def server() -> Iterator[Server]:
    served = Server("")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            size = int(self.headers.get("Content-Length") or 0)
            served.seen.append((self.command, self.path, dict(self.headers), self.rfile.read(size)))
            queue = served.answers.get(self.path) or [(404, b"")]
            status, body = queue.pop(0) if len(queue) > 1 else queue[0]
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    served.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield served
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(10)


def logged(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def reasons(*answers: str | None) -> Callable[[], str | None]:
    pending = list(answers)
    return lambda: pending.pop(0)


class FakeTime:
    """probe's clock: sleeping moves it, nothing else does."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_until_reports_a_satisfied_check_at_once(capsys: pytest.CaptureFixture[str]) -> None:
    assert probe.until(reasons(None), 0, "url x") is True

    assert logged(capsys) == [{"check": "url x", "ok": True}]


def test_until_retries_every_retry_seconds_naming_why_it_waits(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clock = FakeTime()
    monkeypatch.setattr(probe, "time", clock)

    assert probe.until(reasons("HTTP 503", "refused", None), 300, "url x") is True

    assert logged(capsys) == [
        {"check": "url x", "waiting": "HTTP 503"},
        {"check": "url x", "waiting": "refused"},
        {"check": "url x", "ok": True},
    ]
    assert clock.now == 2 * probe.RETRY_SECONDS


def test_until_gives_up_at_the_timeout_with_the_last_reason(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(probe, "time", FakeTime())

    assert probe.until(reasons("a", "b", "c", "d", "e"), 5, "url x") is False

    lines = logged(capsys)
    assert [line.get("waiting") for line in lines[:-1]] == ["a", "b", "c"]  # at 0, 2 and 4 s
    assert lines[-1] == {"check": "url x", "ok": False, "reason": "d", "timeout_s": 5}


@pytest.mark.parametrize(
    ("status", "reason"), [(200, None), (503, "HTTP 503"), (404, "HTTP 404"), (204, "HTTP 204")]
)
def test_only_a_200_is_ready(server: Server, status: int, reason: str | None) -> None:
    url = server.answer("/readyz", (status, b"" if status == 204 else b"{}"))

    assert probe.url_ready(url) == reason


def test_url_check_waits_through_a_503_until_ready(
    server: Server, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(probe, "RETRY_SECONDS", 0)
    url = server.answer("/readyz", (503, {"ready": False}), (200, {"ready": True}))

    assert probe.main(["url", url, "--timeout", "300"]) == 0

    assert logged(capsys) == [
        {"check": f"url {url}", "waiting": "HTTP 503"},
        {"check": f"url {url}", "ok": True},
    ]


def test_ready_endpoints_are_told_apart_by_uid_then_name_then_address() -> None:
    slices = {"items": [{"endpoints": [
        {"targetRef": {"uid": "u1", "name": "pod-a"}, "addresses": ["10.0.0.1"]},
        {"targetRef": {"uid": "u2", "name": "pod-a"}, "addresses": ["10.0.0.2"]},  # a new pod
        {"targetRef": {"name": "pod-b"}, "addresses": ["10.0.0.3"]},
        {"targetRef": {"name": "pod-b"}, "addresses": ["fd00::3"]},
        {"addresses": ["10.0.0.4"], "conditions": None},
        {"addresses": [], "targetRef": None},  # nothing to count it by
        {"addresses": ["10.0.0.5"], "conditions": {"ready": False}},
    ]}, {"endpoints": None}, {}]}  # fmt: skip

    assert probe.ready_endpoints(slices) == 4
    assert probe.ready_endpoints({"items": None}) == 0


def api(server: Server, token: Path) -> probe.ApiServer:
    return probe.ApiServer(server.url, token, None)


SLICES = "/apis/discovery.k8s.io/v1/namespaces/ml/endpointslices?labelSelector="


def test_endpoints_check_names_how_many_are_ready_of_how_many(
    server: Server, tmp_path: Path
) -> None:
    token = tmp_path / "token"
    token.write_text("t1\n")
    ready = {"items": [{"endpoints": [{"addresses": ["10.0.0.1"]}]}]}
    server.answer(SLICES + "kubernetes.io%2Fservice-name%3Dcorebound", (200, ready))

    assert probe.endpoints_ready(api(server, token), "ml", "corebound", 2) == "1/2 ready endpoints"
    assert probe.endpoints_ready(api(server, token), "ml", "corebound", 1) is None


def test_the_token_is_read_again_for_every_request(server: Server, tmp_path: Path) -> None:
    token = tmp_path / "token"
    client = api(server, token)
    server.answer("/anything", (200, {}))
    for value in ("first", "rotated"):
        token.write_text(value + "\n")
        client.get("/anything")

    assert [headers["Authorization"] for _, _, headers, _ in server.seen] == [
        "Bearer first",
        "Bearer rotated",
    ]


def test_an_unreachable_api_server_is_a_reason_to_wait(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("t")
    client = probe.ApiServer(f"http://127.0.0.1:{free_port()}", token, None)  # nothing listens

    reason = probe.endpoints_ready(client, "ml", "corebound", 1)

    assert reason is not None and "refused" in reason.lower()


@pytest.fixture
def service_account(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The kubelet's mount: token, CA and namespace."""
    shutil.copy(certifi.where(), tmp_path / "ca.crt")
    (tmp_path / "token").write_text("pod-token\n")
    (tmp_path / "namespace").write_text("ml-team\n")
    monkeypatch.setattr(probe, "SERVICE_ACCOUNT", tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    ("host", "port", "base"),
    [("10.96.0.1", None, "https://10.96.0.1:443"), ("fd00::1", "6443", "https://[fd00::1]:6443")],
)
def test_in_a_pod_the_api_server_is_the_service_hosts_with_the_pods_token(
    service_account: Path,
    monkeypatch: pytest.MonkeyPatch,
    host: str,
    port: str | None,
    base: str,
) -> None:
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", host)
    if port is None:
        monkeypatch.delenv("KUBERNETES_SERVICE_PORT", raising=False)
    else:
        monkeypatch.setenv("KUBERNETES_SERVICE_PORT", port)

    client = probe.ApiServer.in_cluster()

    assert (client.base, client.token_file) == (base, service_account / "token")
    assert client.context is not None  # verified against the service account's CA


def test_endpoints_default_to_the_pods_own_namespace(
    server: Server, service_account: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = (
        "/apis/discovery.k8s.io/v1/namespaces/ml-team/endpointslices"
        "?labelSelector=kubernetes.io%2Fservice-name%3Dcorebound"
    )
    server.answer(path, (200, {"items": [{"endpoints": [{"addresses": ["10.0.0.1"]}]}]}))

    token = str(service_account / "token")

    code = probe.main(["endpoints", "--service", "corebound", "--timeout", "0",
                       "--api-server", server.url, "--token-file", token])  # fmt: skip

    assert code == 0 and server.seen[0][1] == path
