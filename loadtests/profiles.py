"""What each load shape asks for at a given second: `(users, spawn_rate)`, or None to stop.

Pure functions of the run time so they are tested without Locust; the shape classes in
`shapes/` only call them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from loadtests.settings import Constant, Spike, Step

Tick = tuple[int, float] | None


def step(run_time: float, s: Step) -> Tick:
    """`users` more every `seconds`, `count` steps, then stop (the HPA sees a staircase)."""
    if run_time >= s.seconds * s.count:
        return None
    level = math.floor(run_time / s.seconds) + 1
    return level * s.users, s.spawn_rate


def spike(run_time: float, s: Spike) -> Tick:
    """Base load, a sudden jump to the peak for `seconds`, back to base, stop at the total."""
    if run_time >= s.total_seconds:
        return None
    in_spike = s.at_seconds <= run_time < s.at_seconds + s.seconds
    # From the spike on, change users within a second: a spike that ramps is a step.
    rate = max(s.spawn_rate, float(s.peak_users)) if run_time >= s.at_seconds else s.spawn_rate
    return (s.peak_users if in_spike else s.base_users), rate


def constant(run_time: float, s: Constant) -> Tick:
    if run_time >= s.seconds:
        return None
    return s.users, s.spawn_rate


SHAPES: dict[str, tuple[Callable[[], Any], Callable[[float, Any], Tick]]] = {
    "step": (Step.from_env, step),
    "spike": (Spike.from_env, spike),
    "constant": (Constant.from_env, constant),
}


def chosen(name: str) -> tuple[Any, Callable[[float, Any], Tick]]:
    """LOAD_SHAPE's shape: its settings (from the environment) and its profile."""
    if name not in SHAPES:
        raise ValueError(f"LOAD_SHAPE={name!r} must be one of {', '.join(SHAPES)}")
    read, profile = SHAPES[name]
    return read(), profile
