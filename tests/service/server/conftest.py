"""Fixtures for the protocol-limit tests: a fake connection to LimitedHttpToolsProtocol."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import cast

import pytest
from fake_protocol import LIMITS, App, Connection, FakeLoop, FakeTransport, hello
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from service.server.limits import HttpLimits, LimitedHttpToolsProtocol


@pytest.fixture(autouse=True)
def limits(monkeypatch: pytest.MonkeyPatch) -> HttpLimits:
    # A ClassVar (the worker sets it once): monkeypatch puts it back afterwards.
    monkeypatch.setattr(LimitedHttpToolsProtocol, "limits", LIMITS)
    return LIMITS


@pytest.fixture
def connect() -> Iterator[Callable[..., Connection]]:
    loops: list[FakeLoop] = []

    def make(
        protocol_class: type[HttpToolsProtocol] = LimitedHttpToolsProtocol,
        app: App = hello,
        loop: FakeLoop | None = None,  # connections of one worker share its loop
    ) -> Connection:
        config = Config(app=app, http=protocol_class, ws="none", log_config=None)
        config.load()
        loop = loop or FakeLoop()
        if loop not in loops:
            loops.append(loop)
        transport = FakeTransport()
        protocol = protocol_class(
            config=config,
            server_state=ServerState(),
            app_state={},
            _loop=cast(asyncio.AbstractEventLoop, loop),
        )
        protocol.connection_made(cast(asyncio.Transport, transport))
        return Connection(protocol, transport, loop)

    yield make
    for loop in loops:
        loop.close()


@pytest.fixture
def conn(connect: Callable[..., Connection]) -> Connection:
    return connect()
