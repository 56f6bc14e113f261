"""`down`: stop every process `up` started (by PID) and remove everything it made.

Also the clean-up `up` runs first, so it must work from any half-state a killed run left.
"""

from __future__ import annotations

import shutil
import subprocess

from . import components, host, procs, progress
from .layout import Layout


def down(layout: Layout) -> None:
    # Clients before servers (the start order reversed): nothing restarts what was stopped.
    for component in components.stop_order():
        if component.name == components.CONTAINERD:
            _kill_pods(layout)  # the containers it started outlive it
        if procs.stop(layout, component.name):
            progress.say(f"stopped {component.name}")
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


def _kill_pods(layout: Layout) -> None:
    killed = host.kill_pods()
    shims = host.kill_shims(layout)
    if killed or shims:
        progress.say(f"killed {killed} pod processes and {shims} containerd shims")
