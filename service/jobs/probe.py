"""The job worker's exec probe: exit 0 while its heartbeat file is fresher than 60 s.

    python -m service.jobs.probe

Reads JOB_HEARTBEAT_FILE as the worker does (no other setting: a probe must not fail over
an unrelated variable); prints one JSON line. No Celery here: it runs every few seconds.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from service.settings import DEFAULT_HEARTBEAT_FILE

MAX_AGE_S = 60.0


def age_s(path: Path) -> float | None:
    """Seconds since the worker's last beat; None when there is no file."""
    try:
        return time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return None


def check(path: Path, max_age_s: float = MAX_AGE_S) -> tuple[bool, dict[str, object]]:
    age = age_s(path)
    fresh = age is not None and age < max_age_s
    line: dict[str, object] = {"check": "jobs-heartbeat", "ok": fresh, "file": str(path)}
    if age is None:
        line["reason"] = "no heartbeat file: the job worker has not started its loop"
    else:
        line["age_s"] = round(age, 1)
        if not fresh:
            line["reason"] = f"heartbeat {age:.0f} s old (limit {max_age_s:g} s)"
    return fresh, line


def main() -> int:
    path = Path(os.environ.get("JOB_HEARTBEAT_FILE") or DEFAULT_HEARTBEAT_FILE)
    ok, line = check(path)
    print(json.dumps(line, sort_keys=True), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
