"""The chart's load-test Job on a cluster: python -m scripts.cluster_loadtest --help."""

from __future__ import annotations

import sys

from scripts.cluster_loadtest.cli import main

if __name__ == "__main__":
    sys.exit(main())
