"""python -m scripts.localcluster {up,down,status,build}: a local Kubernetes for the suite."""

from __future__ import annotations

import argparse
import os
import sys

from . import app_release, build, components, down, plan, procs, progress, registry, up
from .layout import Layout
from .modules import VERSIONS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.localcluster", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser(
        "up",
        help="build what is missing, start the cluster and its registry (or restart what a "
        "rebuild replaced), push the project's release to that registry",
    )
    start.add_argument(
        "--no-release", action="store_true", help="skip building and pushing the project's release"
    )
    sub.add_parser("down", help="stop everything `up` started and remove what it made")
    sub.add_parser("status", help="which of the cluster's processes run, on current binaries")
    sub.add_parser("build", help="build (or reuse) the binaries only; no root needed")
    args = parser.parse_args(argv)
    layout = Layout.default()
    if args.command == "build":
        build.ensure(layout)
        print(layout.bin)
        return 0
    if args.command == "status":
        for component in components.ORDER:
            print(f"{component.name:24} {_describe(layout, component)}")
        print(f"KUBECONFIG={layout.kubeconfig}  (Kubernetes {VERSIONS['kubernetes']})")
        print(f"registry https://{registry.HOST}/{app_release.NAMESPACE}  user "
              f"{registry.USERNAME}, password in {layout.registry / 'password'}, CA "
              f"{layout.pki / 'ca.crt'}")  # fmt: skip
        print(f"storage  StorageClass local-path (the default, local-path-provisioner "
              f"{VERSIONS['local-path-provisioner']}), volumes under {layout.volumes}")  # fmt: skip
        return 0
    if os.geteuid() != 0:
        print("the local cluster needs root (containerd, iptables, mounts)", file=sys.stderr)
        return 2
    if args.command == "down":
        with progress.step("down"):
            down.down(layout)
        return 0
    up.up(layout, release=not args.no_release)
    return 0


def _describe(layout: Layout, component: components.Component) -> str:
    try:
        state = plan.state(layout, component)
    except PermissionError:
        return "running (root can tell whether on the current binary)"
    pid = procs.running(layout, component.name)
    if state == "stopped" or pid is None:
        return "not running"
    if state == "current":
        return f"running, pid {pid}"
    return f"running, pid {pid}, on a replaced binary, command line or config (`up` restarts it)"


if __name__ == "__main__":
    sys.exit(main())
