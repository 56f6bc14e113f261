"""Capacity planner: python -m scripts.capacity --help."""

from __future__ import annotations

import sys

from scripts.capacity.cli import main

if __name__ == "__main__":
    sys.exit(main())
