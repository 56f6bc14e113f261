"""Serving patterns side by side: python -m scripts.bench --help."""

from __future__ import annotations

import sys

from scripts.bench.cli import main

if __name__ == "__main__":
    sys.exit(main())
