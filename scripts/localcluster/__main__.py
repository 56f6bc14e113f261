"""python -m scripts.localcluster {up,down,status,build}: a local Kubernetes for the suite."""

from __future__ import annotations

import argparse
import os
import sys

from . import app_release, build, components, down, node, plan, procs, progress, registry, up
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
    for verb in ("stop", "start", "restart"):
        some = sub.add_parser(verb, help=f"{verb} some of the cluster's processes, in order")
        some.add_argument(
            "names",
            nargs="+",
            choices=components.names(),
            metavar="NAME",
            help=f"one of: {', '.join(components.names())}",
        )
    dropin = sub.add_parser(
        "kubelet-dropin",
        help="restart the kubelet with a config drop-in "
        "(a KubeletConfiguration's fields), or without it",
    )
    dropin.add_argument("name", help="the drop-in's name (its file: NAME.conf)")
    which = dropin.add_mutually_exclusive_group(required=True)
    which.add_argument("--file", type=argparse.FileType("r"), help="YAML; - for stdin")
    which.add_argument("--remove", action="store_true", help="restart without the drop-in")
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
    if args.command in ("stop", "start", "restart"):
        with progress.step(f"{args.command} {', '.join(args.names)}"):
            getattr(node, args.command)(layout, *args.names)
        return 0
    if args.command == "kubelet-dropin":
        with progress.step(f"kubelet with{'out' if args.remove else ''} drop-in {args.name}"):
            node.set_kubelet_dropin(layout, args.name, None if args.remove else args.file.read())
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
