"""python -m scripts.modelgen train|synthetic ... (see each command's --help)."""

from __future__ import annotations

import sys

from scripts.modelgen import synthetic, train


def main(argv: list[str]) -> int:
    commands = {"train": train.main, "synthetic": synthetic.main}
    if not argv or argv[0] not in commands:
        print("usage: python -m scripts.modelgen {train,synthetic} ...", file=sys.stderr)
        return 2
    return commands[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
