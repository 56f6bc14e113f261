"""Spike: SPIKE_BASE_USERS, a jump to SPIKE_PEAK_USERS at SPIKE_AT_SECONDS for SPIKE_SECONDS."""

from __future__ import annotations

from locust import LoadTestShape

from loadtests import profiles
from loadtests.settings import Spike


class SpikeShape(LoadTestShape):
    settings = Spike.from_env()

    def tick(self) -> profiles.Tick:
        return profiles.spike(self.get_run_time(), self.settings)
