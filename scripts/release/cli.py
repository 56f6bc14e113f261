"""python -m scripts.release: build, tag, push every image and the chart; print the digests."""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from scripts.e2e import podman as podman_base
from scripts.localcluster.layout import cache_root

from . import auth, chart, images, names
from .names import Release


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.release",
        description="Build every image (service, loadtest, redis) with podman, tag them "
        "<version> and <version>-<revision>, push them and the chart (oci://<registry>/charts), "
        "print the digests.",
    )
    parser.add_argument(
        "--registry",
        required=True,
        help="host[:port][/path] the repositories go under, e.g. ghcr.io/corebound",
    )
    parser.add_argument(
        "--platform",
        action="append",
        dest="platforms",
        help=f"repeatable; default this machine's (linux/{_arch()})",
    )
    parser.add_argument(
        "--base-image",
        help="the Dockerfile's BASE_IMAGE (default its own); `local` is the "
        "debootstrap image for machines without a registry to pull it from",
    )
    parser.add_argument(
        "--username",
        help=f"log in as this user, the password from "
        f"${auth.PASSWORD_ENV}; without it, podman's and helm's own logins",
    )
    parser.add_argument("--ca-file", type=Path, help="the CA of a registry with a private one")
    parser.add_argument(
        "--expect-version", help="refuse unless the version is this (a release tag's, v stripped)"
    )
    parser.add_argument(
        "--revision",
        help="the immutable tag's suffix (default the commit, -dirty-<time> for "
        "uncommitted changes)",
    )
    parser.add_argument("--skip-chart", action="store_true", help="images only")
    parser.add_argument("--output", type=Path, help="write the references and digests as JSON")
    return parser


def _arch() -> str:
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    release = Release(args.registry, revision=args.revision or names.revision())
    if args.expect_version and args.expect_version != release.version:
        print(f"the tag says {args.expect_version}, the source says {release.version} "
              "(service/__init__.py): refusing to publish", file=sys.stderr)  # fmt: skip
        return 2
    platforms = args.platforms or [f"linux/{_arch()}"]
    base = args.base_image
    if base == "local":
        base = str(podman_base.ensure_base(log=_say)["tag"])
    started = time.monotonic()
    built = {}
    for target in names.IMAGES:
        _say(f"build {target} for {', '.join(platforms)}")
        log = cache_root() / "release-logs" / f"build-{target}.log"
        built[target] = images.build(release, target, platforms, base, log)
    pushed: dict[str, dict[str, str]] = {}
    with auth.session(release.host, args.username, args.ca_file) as session:
        for target, name in built.items():
            _say(f"push {name}")
            digest = images.push(release, target, name, session)
            pushed[target] = {"repository": release.repository(target), "digest": digest}
        if not args.skip_chart:
            _say(f"push the chart to {release.chart_repository()}")
            pushed["chart"] = {
                "repository": f"{release.chart_repository()}/corebound",
                "version": names.chart_version(),
                "digest": chart.package_and_push(release, session),
            }
    for target, found in pushed.items():
        tags = [found["version"]] if target == "chart" else release.tags()
        print(f"{target:9} {found['repository']}:{{{','.join(tags)}}}  {found['digest']}")
    if args.output:
        result = {"version": release.version, "revision": release.revision, "tags": release.tags(),
                  "platforms": platforms, "seconds": round(time.monotonic() - started, 1),
                  **pushed}  # fmt: skip
        args.output.write_text(json.dumps(result, indent=2) + "\n")
    return 0


def _say(text: str) -> None:
    print(f"release: {text}", file=sys.stderr, flush=True)
