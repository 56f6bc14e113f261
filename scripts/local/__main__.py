"""python -m scripts.local serve|jobs|loadgen ... (see each command's --help)."""

from __future__ import annotations

import sys

from scripts.local import jobs, loadgen, serve


def main(argv: list[str]) -> int:
    commands = {"serve": serve.main, "jobs": jobs.main, "loadgen": loadgen.main}
    if not argv or argv[0] not in commands:
        print("usage: python -m scripts.local {serve,jobs,loadgen} ...", file=sys.stderr)
        return 2
    return commands[argv[0]](argv[1:]) or 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
