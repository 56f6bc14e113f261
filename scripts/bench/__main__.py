"""python -m scripts.bench [...] compares serving patterns; `... bench oip` the OIP's two forms."""

from __future__ import annotations

import sys

from scripts.bench import cli, oip


def main(argv: list[str]) -> int:
    if argv[:1] == ["oip"]:
        return oip.main(argv[1:])
    return cli.main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
