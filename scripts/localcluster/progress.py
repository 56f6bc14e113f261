"""Progress lines with the time each step took, so a slow `up` says where the time went."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

_started = time.monotonic()


def say(message: str) -> None:
    print(f"[{time.monotonic() - _started:7.1f}s] {message}", file=sys.stderr, flush=True)


@contextmanager
def step(name: str) -> Iterator[None]:
    """Prints the step's start and, on success, its duration; a failure names the step."""
    say(f"{name} ...")
    began = time.monotonic()
    try:
        yield
    except BaseException:
        say(f"{name}: FAILED after {time.monotonic() - began:.1f}s")
        raise
    say(f"{name}: done in {time.monotonic() - began:.1f}s")
