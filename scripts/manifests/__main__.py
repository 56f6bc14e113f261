"""Write k8s/base from the Helm chart's default render, or check that it has not drifted.

python -m scripts.manifests          # regenerate k8s/base
python -m scripts.manifests --check  # exit 1 when k8s/base differs from the chart
"""

from __future__ import annotations

import argparse
import sys

from scripts.manifests.render import BASE_DIR, REPO, drift, write


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.manifests", description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail when k8s/base has drifted")
    args = parser.parse_args(argv)
    if args.check:
        problems = drift()
        for problem in problems:
            print(f"k8s/base/{problem}", file=sys.stderr)
        if problems:
            print("run: python -m scripts.manifests", file=sys.stderr)
        return 1 if problems else 0
    write()
    print(f"wrote {BASE_DIR.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
