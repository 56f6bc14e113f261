"""What a worker holds while it serves: settings, plan, model, engine, readiness."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from service.inference.engine import InferenceEngine
from service.inference.loaded import LoadedModel
from service.settings import Settings
from service.sizing.formula import Plan


@dataclass
class Runtime:
    settings: Settings
    plan: Plan
    model: LoadedModel | None = None
    engine: InferenceEngine | None = None
    ready: bool = False

    @property
    def serving(self) -> tuple[LoadedModel, InferenceEngine]:
        # Requests reach routes only after the lifespan loaded both.
        assert self.model is not None and self.engine is not None
        return self.model, self.engine


def runtime_of(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt
