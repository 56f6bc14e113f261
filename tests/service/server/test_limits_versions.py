"""The guard on the uvicorn and httptools that service/server/limits.py and connections.py
were checked against."""

from __future__ import annotations

import importlib.metadata
import inspect
import re
from collections.abc import Callable

import httptools
import pytest
from fake_protocol import POST_HEAD, Connection
from uvicorn.protocols.http import httptools_impl
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from service.server.connections import CappedHttpToolsProtocol
from service.server.limits import CHECKED_AGAINST, LimitedHttpToolsProtocol

# What limits.py and connections.py call, extend or read of uvicorn's HttpToolsProtocol and
# its request cycle.
UVICORN_METHODS = (
    "connection_made",
    "connection_lost",
    "_unset_keepalive_if_required",
    "_should_upgrade",
    "handle_websocket_upgrade",
    "_unsupported_upgrade_warning",
    "send_400_response",
    "on_message_begin",
    "on_url",
    "on_header",
    "on_headers_complete",
    "on_body",
    "on_message_complete",
    "on_response_complete",
    "shutdown",
)
UVICORN_ATTRIBUTES = (
    *("parser", "transport", "loop", "logger", "flow", "cycle", "url", "headers", "scope"),
    "pipeline",
)
UVICORN_CYCLE_ATTRIBUTES = (
    "response_complete",
    "response_started",
    "keep_alive",
    "more_body",
    "disconnected",
    "message_event",
)
# The methods limits.py and connections.py replace on purpose.
OVERRIDES = {"connection_made", "connection_lost", "data_received", "send_400_response"} | {
    name
    for name in UVICORN_METHODS
    if name.startswith("on_") or name in ("shutdown", "handle_websocket_upgrade")
}


def test_installed_uvicorn_and_httptools_are_the_versions_limits_py_was_checked_against() -> None:
    installed = {name: importlib.metadata.version(name) for name in CHECKED_AGAINST}

    assert installed == CHECKED_AGAINST, (
        f"installed {installed}, but service/server/limits.py was checked against"
        f" {CHECKED_AGAINST}. Re-read LimitedHttpToolsProtocol against the new uvicorn"
        " (protocols/http/httptools_impl.py: its data_received is a copy of uvicorn's, and it"
        " uses uvicorn's private names) and httptools sources, then update CHECKED_AGAINST."
    )


def test_uvicorn_names_limits_py_uses_still_exist(connect: Callable[..., Connection]) -> None:
    conn = connect()
    conn.send(POST_HEAD)  # a request under way: its cycle exists
    protocol, cycle = conn.protocol, conn.protocol.cycle

    missing = [n for n in UVICORN_METHODS if not callable(getattr(HttpToolsProtocol, n, None))]
    missing += [n for n in UVICORN_ATTRIBUTES if n not in vars(protocol)]
    missing += [f"cycle.{n}" for n in UVICORN_CYCLE_ATTRIBUTES if n not in vars(cycle)]
    missing += [f"flow.{n}" for n in ("read_paused",) if not hasattr(protocol.flow, n)]
    missing += [n for n in ("STATUS_LINE",) if not hasattr(httptools_impl, n)]
    missing += [n for n in ("HttpParserError", "HttpParserUpgrade") if not hasattr(httptools, n)]

    assert missing == [], f"gone from the installed uvicorn/httptools, used by limits.py: {missing}"


@pytest.mark.parametrize("ours", [LimitedHttpToolsProtocol, CappedHttpToolsProtocol])
def test_names_our_protocols_add_are_not_uvicorns(
    connect: Callable[..., Connection], ours: type[HttpToolsProtocol]
) -> None:
    source = inspect.getsource(ours)
    own_state = set(re.findall(r"self\.(\w+)\s*(?::[^=\n]+)?=(?!=)", source)) - {
        "cycle", "scope", "headers"  # uvicorn's, dropped while idle (connections.py)
    }  # fmt: skip
    own_methods = {n for n in vars(ours) if not n.startswith("__")} - OVERRIDES
    plain = connect(HttpToolsProtocol)
    plain.send(POST_HEAD)

    clashes = (own_state | own_methods) & (set(dir(HttpToolsProtocol)) | set(vars(plain.protocol)))

    assert clashes == set(), (
        f"{ours.__name__}'s names are uvicorn's too now: {sorted(clashes)} (rename them; an"
        " override made on purpose goes in OVERRIDES)"
    )
