"""python -m scripts.convert MODEL --out DIR (--rows FILE | --draw N); see --help."""

from __future__ import annotations

import sys

from scripts.convert.cli import main

if __name__ == "__main__":
    sys.exit(main())
