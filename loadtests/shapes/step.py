"""Step load that drives an HPA: STEP_USERS more every STEP_SECONDS, STEP_COUNT steps."""

from __future__ import annotations

from locust import LoadTestShape

from loadtests import profiles
from loadtests.settings import Step


class StepShape(LoadTestShape):
    settings = Step.from_env()

    def tick(self) -> profiles.Tick:
        return profiles.step(self.get_run_time(), self.settings)
