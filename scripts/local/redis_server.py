"""A throw-away Redis on loopback for the job API: Debian's redis-server, a fresh password, AOF
in a temp dir that goes when it stops.

    with run_redis() as redis:
        env["REDIS_URL"] = redis.url
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import redis

from scripts.local.net import free_port
from scripts.local.service import logged_process

CONFIG = """\
bind 127.0.0.1
port {port}
protected-mode yes
requirepass {password}
dir {dir}
appendonly yes
appendfsync everysec
save ""
daemonize no
logfile ""
"""


@dataclass
class RedisServer:
    url: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    config: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextlib.contextmanager
def run_redis(*, ready_timeout_s: float = 30) -> Iterator[RedisServer]:
    """redis-server on a free loopback port until the block ends; SIGTERM is Redis's own
    SHUTDOWN (the AOF is flushed), then the data directory is removed."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("no redis-server on PATH (scripts/setup --system installs Debian's)")
    port = free_port()
    password = secrets.token_urlsafe(24)  # URL-safe: goes into REDIS_URL as it is
    with tempfile.TemporaryDirectory(prefix="corebound-redis-") as data:
        # The password goes in a file only we can read, not on the command line (ps shows it).
        config = Path(data) / "redis.conf"
        config.touch(mode=0o600)
        config.write_text(CONFIG.format(port=port, password=password, dir=data))
        with logged_process([binary, str(config)], None, None, "corebound-redis-") as (
            process,
            log_path,
        ):
            server = RedisServer(
                f"redis://:{password}@127.0.0.1:{port}/0", port, process, log_path, config
            )
            wait_redis(server, ready_timeout_s)
            yield server


def wait_redis(server: RedisServer, timeout_s: float) -> None:
    """Until PING with the password answers; RuntimeError if redis-server exits first."""
    client = redis.Redis.from_url(server.url, socket_timeout=1, socket_connect_timeout=1)
    began = time.monotonic()
    try:
        while time.monotonic() - began < timeout_s:
            if server.process.poll() is not None:
                raise RuntimeError(
                    f"redis-server exited {server.process.returncode}:\n{server.log()[-2000:]}"
                )
            with contextlib.suppress(redis.ConnectionError, redis.TimeoutError):
                if client.ping():
                    return
            time.sleep(0.05)
    finally:
        client.close()
    raise TimeoutError(f"redis-server not ready in {timeout_s:g} s:\n{server.log()[-2000:]}")
