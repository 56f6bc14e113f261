"""`down`: stop every process `up` started (by PID) and remove everything it made.

Also the clean-up `up` runs first, so it must work from any half-state a killed run left.
"""

from __future__ import annotations

import shutil
import subprocess

from . import host, procs, progress
from .layout import Layout

# Clients before servers: nothing restarts what was just stopped.
ORDER = ("kube-proxy", "kubelet", "kube-scheduler", "kube-controller-manager",
         "kube-apiserver", "etcd")  # fmt: skip


def down(layout: Layout) -> None:
    for name in ORDER:
        if procs.stop(layout, name):
            progress.say(f"stopped {name}")
    killed = host.kill_pods()
    shims = host.kill_shims(layout)
    if killed or shims:
        progress.say(f"killed {killed} pod processes and {shims} containerd shims")
    if procs.stop(layout, "containerd"):
        progress.say("stopped containerd")
    proxy = layout.tool("kube-proxy")
    if proxy.exists():
        # kube-proxy's own clean-up of its iptables and nftables state.
        subprocess.run([str(proxy), "--cleanup"], capture_output=True, check=False)
    host.remove_iptables()
    host.unmount_below(layout.state, layout.run)
    left = host.remove_cgroups()
    if left:
        raise RuntimeError(f"cgroups still busy after clean-up: {left[:5]}")
    host.remove_links()
    for path in (layout.state, layout.run):
        shutil.rmtree(path, ignore_errors=True)
    still = host.mounts_below(layout.state, layout.run)
    if still:
        raise RuntimeError(f"still mounted after clean-up: {still[:5]}")
