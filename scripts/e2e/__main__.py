"""python -m scripts.e2e [--cpus 1,2 ...] runs the rig; `... e2e base` builds its base image."""

from __future__ import annotations

import sys

from scripts.e2e import podman, run


def main(argv: list[str]) -> int:
    if argv[:1] == ["base"]:
        return podman.main(argv[1:])
    return run.main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
