"""The shape LOAD_SHAPE names: step (default), spike or constant, each with its own settings.

One set of image arguments serves every run: a Job's environment picks the shape, so another
run with another shape is `kubectl set env`, not another command line.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

from locust import LoadTestShape

from loadtests import profiles
from loadtests.settings import Constant, Spike, Step

SHAPES: dict[str, tuple[Callable[[], Any], Callable[[float, Any], profiles.Tick]]] = {
    "step": (Step.from_env, profiles.step),
    "spike": (Spike.from_env, profiles.spike),
    "constant": (Constant.from_env, profiles.constant),
}


def chosen(name: str) -> tuple[Any, Callable[[float, Any], profiles.Tick]]:
    """The named shape's settings (from the environment) and its profile."""
    if name not in SHAPES:
        raise ValueError(f"LOAD_SHAPE={name!r} must be one of {', '.join(SHAPES)}")
    read, profile = SHAPES[name]
    return read(), profile


try:
    SETTINGS, PROFILE = chosen(os.environ.get("LOAD_SHAPE", "").strip() or "step")
except ValueError as error:
    sys.exit(f"loadtest: {error}")  # one line in the Job's log, before any load


class SelectedShape(LoadTestShape):
    def tick(self) -> profiles.Tick:
        return PROFILE(self.get_run_time(), SETTINGS)
