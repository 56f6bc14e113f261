"""The shape LOAD_SHAPE names: step (default), spike or constant, each with its own settings.

One set of image arguments serves every run: a Job's environment picks the shape, so another
run with another shape is `kubectl set env`, not another command line.
"""

from __future__ import annotations

import os
import sys

from locust import LoadTestShape

from loadtests import profiles

try:
    SETTINGS, PROFILE = profiles.chosen(os.environ.get("LOAD_SHAPE", "").strip() or "step")
except ValueError as error:
    sys.exit(f"loadtest: {error}")  # one line in the Job's log, before any load


class SelectedShape(LoadTestShape):
    def tick(self) -> profiles.Tick:
        return PROFILE(self.get_run_time(), SETTINGS)
