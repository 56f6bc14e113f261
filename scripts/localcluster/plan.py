"""What `up` starts: nothing, what a rebuild (or a changed flag or config) left stale, or all.

A process is current when it runs the file now at its binary's path, with the command line
and config files `up` gives it now (procs.current, configs.written). A stale one is
restarted alone: each of its peers reconnects to a restarted server (the kubelet to
containerd, the API server to etcd, every client to the API server), and the Kubernetes
commands share one binary, so a new Kubernetes makes all five stale together. A process
that is not running at all, or a node that is not Ready, means a half-made cluster:
everything is removed and started from nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from . import components, configs, procs
from .layout import Layout

State = Literal["stopped", "stale", "current"]


@dataclass(frozen=True)
class Plan:
    clean: bool  # remove what an earlier run left, then start every process
    start: tuple[str, ...]  # what to (re)start, in start order; stopped in reverse first


def decide(
    order: Sequence[str], states: Mapping[str, State], node_ready: Callable[[], bool]
) -> Plan:
    """node_ready is asked only when every process runs (it needs the API server)."""
    if any(states[name] == "stopped" for name in order) or not node_ready():
        return Plan(clean=True, start=tuple(order))
    return Plan(clean=False, start=tuple(name for name in order if states[name] == "stale"))


def state(layout: Layout, component: components.Component) -> State:
    pid = procs.running(layout, component.name)
    if pid is None:
        return "stopped"
    if procs.current(pid, component.argv(layout)) and configs.written(component.files(layout)):
        return "current"
    return "stale"


def survey(layout: Layout) -> dict[str, State]:
    return {component.name: state(layout, component) for component in components.ORDER}
