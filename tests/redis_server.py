"""A real Redis for the tests: Debian's redis-server on a free loopback port, with a
password, in a temp directory; stopped (and restartable, same port and data) by the test.

    with run_redis(tmp_path) as server:
        env = {"REDIS_URL": server.url}
        server.call("LLEN", "corebound-jobs")

Or the `redis_server` fixture (import it into a test module). No persistence unless
`aof=True` (append-only file, fsync always: what the chart's Redis keeps across restarts).
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis

from scripts.local.net import free_port

REDIS_SERVER = Path("/usr/bin/redis-server")


@dataclass
class RedisServer:
    directory: Path
    aof: bool = False
    port: int = field(default_factory=free_port)
    password: str = field(default_factory=lambda: secrets.token_hex(12))
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    @property
    def log_path(self) -> Path:
        return self.directory / "redis.log"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def command(self) -> list[str]:
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if self.aof else []
        return [
            str(REDIS_SERVER),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.directory),
            "--requirepass", self.password,
            "--save", "",
            "--appendonly", "no",
            *persistence,  # a later --appendonly wins
            "--logfile", str(self.log_path),
            "--daemonize", "no",
        ]  # fmt: skip

    def client(self, **options: object) -> redis.Redis:
        options = {"host": "127.0.0.1", "port": self.port, "password": self.password, **options}
        return redis.Redis(**options)  # type: ignore[arg-type]

    def call(self, *command: str) -> Any:
        """One command on a connection of its own, closed after (`call("LLEN", "q")`)."""
        with self.client(decode_responses=True) as c:
            return c.execute_command(*command)

    def start(self, timeout_s: float = 10) -> RedisServer:
        if not REDIS_SERVER.exists():
            pytest.fail(f"{REDIS_SERVER} missing: scripts/setup --system installs redis-server")
        self.process = subprocess.Popen(
            self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with self.client(socket_timeout=1) as c:
                    c.ping()
                return self
            except redis.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start:\n{self.log()}") from None
                time.sleep(0.05)

    def stop(self, timeout_s: float = 10) -> None:
        """SIGTERM: with AOF, everything acknowledged is on disk when it exits."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def restart(self) -> RedisServer:
        self.stop()
        return self.start()


@contextlib.contextmanager
def run_redis(directory: Path | None = None, *, aof: bool = False) -> Iterator[RedisServer]:
    """A started redis-server; `directory` holds its data and log (default: a temp dir)."""
    own = directory is None
    where = Path(tempfile.mkdtemp(prefix="corebound-redis-")) if own else directory
    assert where is not None
    where.mkdir(parents=True, exist_ok=True)
    server = RedisServer(where, aof=aof)
    try:
        yield server.start()
    finally:
        server.stop()
        if own:
            shutil.rmtree(where, ignore_errors=True)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    with run_redis(tmp_path / "redis") as server:
        yield server
