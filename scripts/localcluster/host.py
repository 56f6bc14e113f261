"""What `up` changes on the host (links, sysctls) and how `down` takes back all of it.

Cleaning works from the host's own state, not from memory of what ran: a session killed
mid-run leaves mounts, links, iptables rules and cgroups, and the next `up` must cope.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import time
from pathlib import Path

from .layout import BRIDGE, CNI_NETWORK, NODE_IP, NODE_LINK, Layout

CGROUP_ROOT = Path("/sys/fs/cgroup")
# Written by `up`; the kernel has no record of the previous values after a reboot anyway.
SYSCTLS = {"net/ipv4/ip_forward": "1", "net/bridge/bridge-nf-call-iptables": "1"}


def run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, check=check, capture_output=True, text=True)


def prepare() -> None:
    """The node's address on a link of its own, and forwarding for pod traffic.

    A port-less bridge, not a dummy link: this kernel is built without the dummy driver, and
    the kernel delivers to a local address whatever the link's carrier.
    """
    for key, value in SYSCTLS.items():
        Path("/proc/sys", key).write_text(value)
    if run("ip", "link", "show", NODE_LINK, check=False).returncode != 0:
        run("ip", "link", "add", NODE_LINK, "type", "bridge")
    run("ip", "addr", "replace", f"{NODE_IP}/32", "dev", NODE_LINK)
    run("ip", "link", "set", NODE_LINK, "up")


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return raw.decode(errors="replace").split("\0")


def kill_shims(layout: Layout) -> int:
    """SIGKILLs containerd's shims for this cluster (they outlive a killed containerd)."""
    address = str(layout.containerd_socket)
    killed = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        argv = _cmdline(int(entry.name))
        if argv and argv[0].endswith("containerd-shim-runc-v2") and address in argv:
            os.kill(int(entry.name), signal.SIGKILL)
            killed += 1
    return killed


def _pod_cgroups() -> list[Path]:
    """Every cgroup under kubepods in each v1 hierarchy, deepest first."""
    found: list[Path] = []
    for hierarchy in CGROUP_ROOT.iterdir():
        top = hierarchy / "kubepods"
        if top.is_dir() and not top.is_symlink():
            found += [Path(root) for root, _, _ in os.walk(top)]
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def kill_pods() -> int:
    """SIGKILLs every process in the pods' cgroups (containers and pause)."""
    pids: set[int] = set()
    for group in _pod_cgroups():
        try:
            pids.update(int(p) for p in (group / "cgroup.procs").read_text().split())
        except OSError:
            continue
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return len(pids)


def remove_cgroups(attempts: int = 20) -> list[Path]:
    """rmdir the kubepods trees depth-first; returns what could not be removed."""
    for _ in range(attempts):
        left = []
        for group in _pod_cgroups():
            try:
                group.rmdir()
            except OSError:
                left.append(group)
        if not left:
            return []
        time.sleep(0.25)  # killed processes leave their cgroup a moment after SIGKILL
    return left


def mounts_below(*roots: Path) -> list[str]:
    prefixes = tuple(str(r) + "/" for r in roots) + tuple(str(r) for r in roots)
    points = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        point = line.split()[1].replace("\\040", " ")
        if point.startswith(prefixes):
            points.append(point)
    return sorted(points, key=len, reverse=True)


def unmount_below(*roots: Path) -> None:
    for point in mounts_below(*roots):
        run("umount", "--lazy", point, check=False)


def remove_iptables() -> None:
    """Deletes kube-proxy's and the kubelet's KUBE-* chains and this network's CNI rules.

    Podman's own CNI rules (other network names) and every other chain are left alone.
    """
    ours_comment = f'name: "{CNI_NETWORK}"'
    for table in ("nat", "filter", "mangle"):
        lines = run("iptables-save", "-t", table).stdout.splitlines()
        chains = {line[1:].split()[0] for line in lines if line.startswith(":KUBE-")}
        rules = [shlex.split(line) for line in lines if line.startswith("-A ")]
        for rule in rules:
            jump = rule[rule.index("-j") + 1] if "-j" in rule else ""
            if jump.startswith("CNI-") and ours_comment in " ".join(rule):
                chains.add(jump)
        for rule in rules:
            jump = rule[rule.index("-j") + 1] if "-j" in rule else ""
            if rule[1] not in chains and jump in chains:
                run("iptables", "-t", table, "-D", *rule[1:], check=False)
        for action in ("-F", "-X"):  # empty every chain first: they may jump to each other
            for chain in sorted(chains):
                run("iptables", "-t", table, action, chain, check=False)


def remove_links() -> None:
    for link in (BRIDGE, NODE_LINK):
        if run("ip", "link", "show", link, check=False).returncode == 0:
            run("ip", "link", "del", link, check=False)
