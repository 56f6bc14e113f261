"""python -m scripts.release --help"""

from __future__ import annotations

import sys

from scripts.release.cli import main

if __name__ == "__main__":
    sys.exit(main())
