"""All configuration, from the environment, checked once at start-up."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "models" / "default"
DEFAULT_CACHE_DIR = Path(tempfile.gettempdir()) / "corebound-models"
# tmpfs: survives a read-only root filesystem and never blocks on disk (gunicorn's heartbeats too).
_SHM = Path("/dev/shm")
DEFAULT_HEARTBEAT_FILE = (_SHM if _SHM.is_dir() else Path(tempfile.gettempdir())) / (
    "corebound-jobs-heartbeat"
)
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
SECRET_ENV = ("REDIS_URL",)  # never echoed in an error: the URL holds a password


class Settings(BaseSettings):
    # Env names are the field names upper-cased (docs/CONTRACT.md); no prefix.
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    model_dir: Path = Field(DEFAULT_MODEL_DIR, description="Model artifact directory.")
    model_class: str | None = Field(
        None, description="`module:factory` returning an object with predict(batch) -> batch."
    )
    model_mmap: bool = Field(True, description="Memory-map weights so workers share one copy.")
    model_runtime: Literal["onnxruntime", "numpy"] = Field(
        "onnxruntime",
        description="Runs the built-in MLP: onnxruntime (packed or shared: MODEL_PACKING);"
        " numpy shares the mapped copy only.",
    )
    model_packing: Literal["auto", "packed", "shared"] = Field(
        "auto",
        description="ONNX Runtime sessions: packed keeps a packed copy of the weights per"
        " worker (faster batches); shared runs every worker on the one mapped copy; auto packs"
        " when the packed copies add at most MODEL_PACK_MAX_MIB and fit the memory limit.",
    )
    model_pack_max_mib: int = Field(
        1024, ge=0, description="auto packing's budget: workers x model MiB at most."
    )
    model_cache_dir: Path = Field(
        DEFAULT_CACHE_DIR,
        description="Where a model.onnx is prepared once for all workers (its weights in one"
        " mapped file); it needs room for the model, twice when packed.",
    )
    model_name: str | None = Field(
        None, description="An ONNX model's name when its directory has no model.json."
    )
    model_version: str | None = Field(None, description="Its version likewise (default 1).")
    model_input_dim: int | None = Field(
        None,
        ge=1,
        description="Values per row the deployment planned for (the chart's model.inputDim);"
        " start-up fails when the model's rows differ.",
    )
    web_concurrency: int | None = Field(None, ge=1, le=256)
    omp_num_threads: int | None = Field(None, ge=1, le=256)
    concurrency_mode: Literal["throughput", "latency"] = "throughput"
    max_batch_size: int = Field(64, ge=1, le=4096, description="Rows per model call at most.")
    max_wait_ms: float = Field(0.0, ge=0, le=1000, description="Wait this long to fill a batch.")
    max_queue_rows: int = Field(256, ge=1, le=1_000_000, description="Queued rows before 503.")
    inline_max_ms: float = Field(
        0.5,
        ge=0,
        le=100,
        description="A request that finds its worker idle runs on the event loop when its"
        " measured model time is under this (no thread hand-offs); 0: always the thread. The"
        " built-in MLP only: a model.onnx or MODEL_CLASS call may be long on some inputs.",
    )
    fastapi_telemetry: bool = Field(
        False,
        description="FastAPI's native OpenTelemetry (a span, metrics and logs for every"
        " request, hot routes included) once a provider is configured; off: its per-request"
        " check for a provider costs about as much as the request metrics.",
    )
    max_rows_per_request: int = Field(256, ge=1, le=100_000)
    max_body_bytes: int | None = Field(
        None, ge=1024, description="Body limit; unset: derived from rows x input width (limits)."
    )
    parse_concurrency: int = Field(2, ge=1, le=64, description="Bodies read+parsed at once.")
    # The worker's HTTP parser limits (gunicorn's names; uvicorn ignores gunicorn's own).
    limit_request_line: int = Field(4094, ge=256, le=1_048_576)
    limit_request_fields: int = Field(100, ge=8, le=32_768)
    limit_request_field_size: int = Field(8190, ge=256, le=1_048_576)
    limit_request_header_bytes: int = Field(32768, ge=1024, le=16_777_216)
    header_timeout_s: float = Field(10.0, gt=0, le=600, description="Headers complete by then.")
    min_body_bytes_per_s: int = Field(
        8192, ge=0, description="Slower uploads are closed (0: off); checked per timeout window."
    )
    max_requests_per_connection: int = Field(
        100,
        ge=0,
        le=1_000_000,
        description="Close a kept-alive connection after this many requests (0: never), so"
        " clients reconnect to the least busy worker or a new pod.",
    )
    max_connections_per_worker: int = Field(
        1000,
        ge=1,
        le=1_000_000,
        description="gunicorn's worker_connections: connections one worker holds. At the cap"
        " the longest idle one is closed for a new one; with none idle the new one gets 503"
        " + Retry-After. Lowered to the open-file limit less 128.",
    )
    linger_time_s: float = Field(
        30.0,
        gt=0,
        le=600,
        description="After an answer that closes a connection whose request was still"
        " arriving (413, 431, 408), the rest is read and discarded this long at most, so the"
        " client reads the answer, not a reset (nginx's lingering_time).",
    )
    linger_timeout_s: float = Field(
        5.0, gt=0, le=600, description="Lingering ends after this long without a byte."
    )
    linger_max_bytes: int = Field(
        64 << 20, ge=0, description="Lingering ends once the client sent this many more bytes."
    )
    request_timeout_s: float = Field(10.0, gt=0, le=3600)
    heartbeat_timeout_s: float = Field(
        30.0, gt=0, description="Liveness fails when the idle inference thread is silent this long."
    )
    max_call_s: float = Field(
        30.0,
        gt=0,
        le=86400,
        description="Liveness fails when one model call runs longer: a longer call is hung,"
        " a shorter one busy. Raise it (and REQUEST_TIMEOUT_S) for models with long calls.",
    )
    worker_overhead_mib: int = Field(96, ge=1)
    # Charged once per pod: the master (~25 MiB) and shared library and weight pages the
    # cgroup counts once (~80 MiB measured in the container end-to-end run).
    memory_headroom_mib: int = Field(128, ge=0)
    prometheus_multiproc_dir: Path | None = None
    graceful_timeout: int = Field(30, ge=0, le=3600, description="gunicorn's drain seconds.")
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"
    # The job API (docs/CONTRACT.md "Jobs"): Celery on Redis, served by the same app.
    jobs_enabled: bool = Field(False, description="Serve the job routes (/v1/jobs ...).")
    # Secret: the URL holds Redis's password, and settings get printed.
    redis_url: SecretStr | None = Field(
        None,
        description="redis://[:password@]host:port/db, the jobs' broker and result store;"
        " required when JOBS_ENABLED and by the job worker.",
    )
    job_queue: str = Field("corebound-jobs", min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$")
    job_max_rows: int = Field(4096, ge=1, le=1_000_000, description="Rows per job at most.")
    job_max_body_bytes: int | None = Field(
        None, ge=1024, description="Job body limit; unset: rows x input width (JOB_MAX_ROWS)."
    )
    job_max_queued: int = Field(
        1000, ge=1, description="Queued jobs at which a submission gets 503 + Retry-After."
    )
    job_retry_after_s: int = Field(5, ge=1, le=3600, description="Retry-After of those 503s.")
    job_result_ttl_s: int = Field(
        86400, ge=1, description="A finished job's result and record are kept this long."
    )
    job_time_limit_s: int = Field(
        600, ge=1, description="One run of a job at most (Celery's hard time limit)."
    )
    job_visibility_timeout_s: int | None = Field(
        None,
        ge=2,
        description="A job taken by a worker that died is delivered again after this;"
        " unset: 2 x JOB_TIME_LIMIT_S. Must exceed JOB_TIME_LIMIT_S.",
    )
    job_max_runs: int = Field(
        3, ge=1, le=100, description="A job whose worker died this many times running it fails."
    )
    job_heartbeat_file: Path = Field(
        DEFAULT_HEARTBEAT_FILE, description="The job worker's liveness file (its probe reads it)."
    )

    @property
    def job_visibility_s(self) -> int:
        """JOB_VISIBILITY_TIMEOUT_S, else twice the time limit."""
        return self.job_visibility_timeout_s or 2 * self.job_time_limit_s

    def redis_url_text(self) -> str:
        if self.redis_url is None:
            raise ValueError("REDIS_URL is not set")
        return self.redis_url.get_secret_value()

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower_log_level(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

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

    @field_validator("redis_url")
    @classmethod
    def _redis_url_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if not value.get_secret_value().startswith(REDIS_SCHEMES):
            # Not the value: it may hold a password.
            raise ValueError(f"REDIS_URL must start with one of {', '.join(REDIS_SCHEMES)}")
        return value

    @model_validator(mode="after")
    def _jobs_consistent(self) -> Settings:
        if self.jobs_enabled and self.redis_url is None:
            raise ValueError(
                "JOBS_ENABLED=true needs REDIS_URL (redis://[:password@]host:port/db):"
                " the job queue and results live there"
            )
        if self.job_visibility_s <= self.job_time_limit_s:
            raise ValueError(
                f"JOB_VISIBILITY_TIMEOUT_S ({self.job_visibility_s}) must exceed"
                f" JOB_TIME_LIMIT_S ({self.job_time_limit_s}): a job still running would be"
                " delivered to a second worker"
            )
        return self

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
            name = "_".join(str(part) for part in error["loc"]).upper()
            # A rule across variables has no single name: its message names them itself.
            shown = "<hidden>" if name in SECRET_ENV else repr(error.get("input"))
            prefix = f"{name}={shown}: " if name else ""
            lines.append(f"  {prefix}{error['msg']}")
        raise SystemExit("corebound: invalid configuration\n" + "\n".join(lines)) from None
