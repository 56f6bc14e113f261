"""Constant load: CONSTANT_USERS for CONSTANT_SECONDS (what the capacity planner steps)."""

from __future__ import annotations

from locust import LoadTestShape

from loadtests import profiles
from loadtests.settings import Constant


class ConstantShape(LoadTestShape):
    settings = Constant.from_env()

    def tick(self) -> profiles.Tick:
        return profiles.constant(self.get_run_time(), self.settings)
