"""A MODEL_CLASS model that answers where it ran: every output row is [pid, OMP_NUM_THREADS,
fewest and most BLAS threads] of the process that called it, as threadpoolctl sees them
there. Row 0's first value is slept first (seconds), so jobs submitted together spread over a
pool's processes."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info


class ThreadpoolReport:
    name = "threadpool-report"
    input_dim = 1

    def predict(self, batch: np.ndarray) -> np.ndarray:
        time.sleep(float(batch[0, 0]))
        blas = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
        omp = int(os.environ.get("OMP_NUM_THREADS", "0"))
        row = [os.getpid(), omp, min(blas), max(blas)]  # float32 holds any pid (< 2**22) exactly
        return np.tile(np.asarray(row, dtype=np.float32), (len(batch), 1))


def load(model_dir: Path) -> ThreadpoolReport:
    return ThreadpoolReport()
