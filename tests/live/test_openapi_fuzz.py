"""schemathesis against the real service's own OpenAPI schema: no 5xx, responses as documented."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from serving import run_service

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
# Both infer paths, unversioned and versioned (a regular expression for schemathesis).
INFER = r"^/v2/models/\{model_name\}(/versions/\{model_version\})?/infer$"


def schemathesis(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        str(SCHEMATHESIS),
        "--config-file",
        str(Path(__file__).with_name("schemathesis.toml")),
        "run",
        url + "/openapi.json",
        "--mode",
        "all",
        "--max-examples",
        "30",
        "--seed",
        "1",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=400)


def test_schemathesis_finds_no_server_error_and_no_schema_violation() -> None:
    with run_service({"MAX_ROWS_PER_REQUEST": "16"}) as svc:
        everything_else = schemathesis(svc.url, "--checks", "all", "--exclude-path-regex", INFER)
        # An OIP tensor's data must fill its shape: JSON Schema cannot say so, so a
        # schema-valid body may rightly get 400; every other check still runs on infer.
        infer = schemathesis(
            svc.url,
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
            "--include-path-regex",
            INFER,
        )
        health = subprocess.run(
            ["curl", "-sf", svc.url + "/healthz"], capture_output=True, timeout=10
        )
    for run in (everything_else, infer):
        summary = run.stdout[-2000:]
        print(summary)
        assert run.returncode == 0, summary
        assert "generated" in summary and "failure" not in summary
    assert health.returncode == 0  # still healthy after the fuzzing
