"""The Dockerfile's `redis` target: Debian's redis-server, pinned, non-root, no password."""

from __future__ import annotations

import json
import re

import pytest
from test_dockerfile import DOCKERFILE, USER, last, stages

START_COMMAND = ["redis-server", "--dir", "/data", "--appendonly", "yes"]


@pytest.fixture(scope="module")
def redis() -> list[tuple[str, str]]:
    return stages(DOCKERFILE.read_text())["redis"]


def _install(stage: list[tuple[str, str]]) -> str:
    runs = [args for kw, args in stage if kw == "RUN" and "apt-get install" in args]
    assert len(runs) == 1, "one RUN installs the package"
    return runs[0]


def test_redis_shares_the_base_stage_and_copies_nothing(redis: list[tuple[str, str]]) -> None:
    """FROM `base` (user 10001 and the BASE_IMAGE of the other targets); no project code."""
    assert re.fullmatch(r"base\s+AS\s+redis", redis[0][1], re.IGNORECASE)
    assert not [args for kw, args in redis if kw in ("COPY", "ADD")]


def test_debian_redis_server_is_pinned_and_lists_are_cleaned(
    redis: list[tuple[str, str]],
) -> None:
    run = _install(redis)
    assert re.search(r"\bredis-server=5:7\.0\.\d+-\d+~deb12u\d+(\s|$)", run), run
    assert "--no-install-recommends" in run
    assert "rm -rf /var/lib/apt/lists/*" in run
    # The debootstrap base (`--base-image local`) lists `bookworm main` only; the pinned
    # build comes from the security suite, added when no source names it.
    assert "bookworm-security" in run


def test_redis_runs_as_the_numeric_non_root_user_on_data(redis: list[tuple[str, str]]) -> None:
    order = [kw for kw, _ in redis]
    assert last(redis, "USER") == USER
    assert max(i for i, kw in enumerate(order) if kw == "RUN") < order.index("USER")
    assert last(redis, "WORKDIR") == "/data"
    assert last(redis, "VOLUME") == "/data"
    # /data is made for the user before VOLUME (later changes to a volume path are lost).
    assert "install -d -m 0700 -o 10001 -g 10001 /data" in _install(redis)
    assert order.index("RUN") < order.index("VOLUME")
    assert (last(redis, "EXPOSE") or "").split() == ["6379"]


def test_redis_starts_in_exec_form_with_no_password(redis: list[tuple[str, str]]) -> None:
    assert json.loads(last(redis, "CMD") or "null") == START_COMMAND
    assert last(redis, "ENTRYPOINT") is None
    baked = " ".join(args for _, args in redis).lower()
    assert "requirepass" not in baked and "masterauth" not in baked
    assert "redis-cli" in (last(redis, "HEALTHCHECK") or "")
