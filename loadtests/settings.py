"""Load-test settings from the environment (names in docs/CONTRACT.md, all optional)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


def env_number(env: Mapping[str, str], name: str, default: float, *, minimum: float = 0) -> float:
    """A number from `env`, with an error that names the variable (a Job log is all we get)."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number") from None
    if value < minimum:
        raise ValueError(f"{name}={raw!r} must be >= {minimum:g}")
    return value


def env_int(env: Mapping[str, str], name: str, default: int, *, minimum: int = 0) -> int:
    value = env_number(env, name, default, minimum=minimum)
    if value != int(value):
        raise ValueError(f"{name}={value:g} must be a whole number")
    return int(value)


@dataclass(frozen=True)
class Step:
    users: int = 10
    seconds: float = 30
    count: int = 5
    spawn_rate: float = 10

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Step:
        return cls(
            users=env_int(env, "STEP_USERS", cls.users, minimum=1),
            seconds=env_number(env, "STEP_SECONDS", cls.seconds, minimum=1),
            count=env_int(env, "STEP_COUNT", cls.count, minimum=1),
            spawn_rate=env_number(env, "SPAWN_RATE", cls.spawn_rate, minimum=0.1),
        )


@dataclass(frozen=True)
class Spike:
    base_users: int = 10
    peak_users: int = 50
    at_seconds: float = 30
    seconds: float = 30
    total_seconds: float = 120
    spawn_rate: float = 10

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Spike:
        spike = cls(
            base_users=env_int(env, "SPIKE_BASE_USERS", cls.base_users, minimum=1),
            peak_users=env_int(env, "SPIKE_PEAK_USERS", cls.peak_users, minimum=1),
            at_seconds=env_number(env, "SPIKE_AT_SECONDS", cls.at_seconds),
            seconds=env_number(env, "SPIKE_SECONDS", cls.seconds, minimum=1),
            total_seconds=env_number(env, "SPIKE_TOTAL_SECONDS", cls.total_seconds, minimum=1),
            spawn_rate=env_number(env, "SPAWN_RATE", cls.spawn_rate, minimum=0.1),
        )
        if spike.at_seconds + spike.seconds > spike.total_seconds:
            raise ValueError(
                f"SPIKE_AT_SECONDS + SPIKE_SECONDS ({spike.at_seconds + spike.seconds:g})"
                f" must not exceed SPIKE_TOTAL_SECONDS ({spike.total_seconds:g})"
            )
        return spike


@dataclass(frozen=True)
class Constant:
    users: int = 10
    seconds: float = 60
    spawn_rate: float = 10

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Constant:
        return cls(
            users=env_int(env, "CONSTANT_USERS", cls.users, minimum=1),
            seconds=env_number(env, "CONSTANT_SECONDS", cls.seconds, minimum=1),
            spawn_rate=env_number(env, "SPAWN_RATE", cls.spawn_rate, minimum=0.1),
        )


@dataclass(frozen=True)
class Slo:
    max_failure_ratio: float = 0.01
    p95_ms: float = 250
    p99_ms: float = 500

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Slo:
        return cls(
            max_failure_ratio=env_number(env, "SLO_MAX_FAILURE_RATIO", cls.max_failure_ratio),
            p95_ms=env_number(env, "SLO_P95_MS", cls.p95_ms),
            p99_ms=env_number(env, "SLO_P99_MS", cls.p99_ms),
        )


CLIENTS = ("fast", "http")


@dataclass(frozen=True)
class Traffic:
    weight_v1: int = 3
    weight_v2: int = 1
    weight_v2_binary: int = 1
    rows: int = 1
    # Close the connection after this many requests (0: keep it): Kubernetes Services balance
    # per connection, so users that never reconnect never reach pods the HPA adds.
    recycle_every: int = 0
    # Locust's client: "fast" (FastHttpUser, geventhttpclient) or "http" (HttpUser, requests),
    # kept to measure one against the other (python -m scripts.bench locust-clients).
    client: str = "fast"

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Traffic:
        client = env.get("LOADTEST_CLIENT", "").strip() or cls.client
        if client not in CLIENTS:
            raise ValueError(f"LOADTEST_CLIENT={client!r} must be one of {', '.join(CLIENTS)}")
        traffic = cls(
            weight_v1=env_int(env, "WEIGHT_V1_PREDICT", cls.weight_v1),
            weight_v2=env_int(env, "WEIGHT_V2_INFER", cls.weight_v2),
            weight_v2_binary=env_int(env, "WEIGHT_V2_BINARY", cls.weight_v2_binary),
            rows=env_int(env, "ROWS_PER_REQUEST", cls.rows, minimum=1),
            recycle_every=env_int(env, "RECYCLE_EVERY", cls.recycle_every),
            client=client,
        )
        if traffic.weight_v1 + traffic.weight_v2 + traffic.weight_v2_binary == 0:
            raise ValueError(
                "WEIGHT_V1_PREDICT, WEIGHT_V2_INFER and WEIGHT_V2_BINARY cannot all be 0"
            )
        return traffic


@dataclass(frozen=True)
class Target:
    # Empty: the model GET /info names (MODEL_NAME picks one on a server without /info).
    model_name: str = ""
    # Empty: the embedded model's held-out digits, else rows generated from the metadata.
    samples_file: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Target:
        return cls(
            model_name=env.get("MODEL_NAME", "").strip(),
            samples_file=env.get("SAMPLES_FILE", "").strip(),
        )
