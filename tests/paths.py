"""Where the tests find the repository (a module, not conftest: tests/chart and tests/cluster
have conftest.py files of their own, and `import conftest` would get whichever came first)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TESTS = REPO / "tests"
DEFAULT_MODEL = REPO / "models" / "default"
