"""Write k8s/base and k8s/components/{loadtest,jobs} from the Helm chart, or check for drift.

python -m scripts.manifests          # regenerate them
python -m scripts.manifests --check  # exit 1 when either differs from the chart
"""

from __future__ import annotations

import argparse
import sys

from scripts.manifests.render import REPO, TARGETS, drift, write


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.manifests", description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail when k8s/base has drifted")
    args = parser.parse_args(argv)
    if args.check:
        problems = [
            f"{target.directory.relative_to(REPO)}/{problem}"
            for target in TARGETS
            for problem in drift(target)
        ]
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print("run: python -m scripts.manifests", file=sys.stderr)
        return 1 if problems else 0
    for target in TARGETS:
        write(target)
        print(f"wrote {target.directory.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
