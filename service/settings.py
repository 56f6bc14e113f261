"""All configuration, from the environment, checked once at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "models" / "default"


class Settings(BaseSettings):
    # Env names are the field names upper-cased (docs/CONTRACT.md); no prefix.
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    model_dir: Path = Field(DEFAULT_MODEL_DIR, description="Model artifact directory.")
    model_class: str | None = Field(
        None, description="`module:factory` returning an object with predict(batch) -> batch."
    )
    model_mmap: bool = Field(True, description="Memory-map weights so workers share one copy.")
    web_concurrency: int | None = Field(None, ge=1, le=256)
    omp_num_threads: int | None = Field(None, ge=1, le=256)
    concurrency_mode: Literal["throughput", "latency"] = "throughput"
    max_batch_size: int = Field(64, ge=1, le=4096, description="Rows per model call at most.")
    max_wait_ms: float = Field(0.0, ge=0, le=1000, description="Wait this long to fill a batch.")
    max_queue_rows: int = Field(256, ge=1, le=1_000_000, description="Queued rows before 503.")
    max_rows_per_request: int = Field(256, ge=1, le=100_000)
    max_body_bytes: int = Field(4 * 1024 * 1024, ge=1024)
    request_timeout_s: float = Field(10.0, gt=0, le=600)
    heartbeat_timeout_s: float = Field(30.0, gt=0, description="Liveness fails past this.")
    worker_overhead_mib: int = Field(96, ge=1)
    # Charged once per pod: the master (~25 MiB) and shared library and weight pages the
    # cgroup counts once (~80 MiB measured in the container end-to-end run).
    memory_headroom_mib: int = Field(128, ge=0)
    prometheus_multiproc_dir: Path | None = None

    @field_validator("model_dir")
    @classmethod
    def _model_dir_exists(cls, value: Path) -> Path:
        if not value.is_dir():
            raise ValueError(
                f"MODEL_DIR {str(value)!r} is not a directory"
                " (make the default one with `python -m scripts.modelgen train`)"
            )
        return value

    @field_validator("model_class")
    @classmethod
    def _model_class_shape(cls, value: str | None) -> str | None:
        if value is not None and ":" not in value:
            raise ValueError(f"MODEL_CLASS must look like 'package.module:factory', got {value!r}")
        return value or None

    @model_validator(mode="after")
    def _request_fits_queue(self) -> Settings:
        if self.max_rows_per_request > self.max_queue_rows:
            raise ValueError(
                f"MAX_ROWS_PER_REQUEST ({self.max_rows_per_request}) must not exceed"
                f" MAX_QUEUE_ROWS ({self.max_queue_rows}): such a request could never be queued"
            )
        return self


def load_settings() -> Settings:
    """Settings from the environment, or exit with one line per bad variable, named as set."""
    try:
        return Settings()
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            name = "_".join(str(part) for part in error["loc"]).upper() or "settings"
            lines.append(f"  {name}={error.get('input')!r}: {error['msg']}")
        raise SystemExit("corebound: invalid configuration\n" + "\n".join(lines)) from None
