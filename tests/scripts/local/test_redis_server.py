"""scripts.local.redis_server: a real redis-server, password-protected, AOF on, gone after."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from scripts.local.proc import session_pids
from scripts.local.redis_server import run_redis


def test_redis_takes_its_password_only_keeps_an_aof_and_leaves_nothing() -> None:
    with run_redis() as server:
        with redis.Redis.from_url(server.url) as client:
            client.set("k", "v")
            assert client.config_get("appendonly") == {"appendonly": "yes"}
            assert client.config_get("bind") == {"bind": "127.0.0.1"}
        with redis.Redis(port=server.port) as anonymous, pytest.raises(redis.AuthenticationError):
            anonymous.ping()
        assert server.config.stat().st_mode & 0o077 == 0  # the password's file is ours alone
        password = server.url.split("@")[0].rsplit(":", 1)[1]
        assert password not in Path(f"/proc/{server.process.pid}/cmdline").read_text()  # ps
        data = server.config.parent
        assert (data / "appendonlydir").is_dir()
    assert "Redis is now ready to exit" in server.log()  # SIGTERM: its own clean shutdown
    assert session_pids(server.process.pid) == [] and not data.exists()
