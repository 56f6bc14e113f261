"""Operations on the running node: stop, start or restart its processes, and kubelet drop-ins.

What an operator does with `systemctl restart kubelet` or a file in `/etc/kubernetes/
kubelet.conf.d`, for the fault lane (tests/cluster/faults) and by hand:

    python -m scripts.localcluster restart kubelet containerd
    python -m scripts.localcluster stop kube-apiserver etcd
    python -m scripts.localcluster kubelet-dropin cpu-manager --file static.yaml
"""

from __future__ import annotations

from . import components, configs, health, procs
from .layout import Layout


def stop(layout: Layout, *names: str) -> None:
    """Stops the named processes, clients before the servers they talk to."""
    _known(names)
    for component in components.stop_order():
        if component.name in names:
            procs.stop(layout, component.name)


def start(layout: Layout, *names: str) -> None:
    """Starts the named processes in the cluster's order, each awaited until ready."""
    _known(names)
    for component in components.ORDER:
        if component.name not in names:
            continue
        configs.write(component.files(layout))
        procs.start(layout, component.name, component.argv(layout), dict(component.env))
        if component.ready is not None:
            health.wait_for(
                component.name,
                lambda c=component: c.ready(layout),  # type: ignore[misc]
                component.ready_s,
                lambda c=component: procs.log_tail(layout, c.name),  # type: ignore[misc]
            )


def restart(layout: Layout, *names: str) -> None:
    stop(layout, *names)
    start(layout, *names)


def set_kubelet_dropin(layout: Layout, name: str, text: str | None) -> None:
    """Restarts the kubelet with `text` as its drop-in `name` (None: without it).

    The CPU manager's checkpoint goes too: the kubelet refuses to start on one written under
    another policy, and the pods then running keep their cpusets until they are replaced.
    """
    path = layout.kubelet_dropins / f"{name}.conf"
    stop(layout, "kubelet")
    if text is None:
        path.unlink(missing_ok=True)
    else:
        path.write_text(text)
    (layout.kubelet_root / "cpu_manager_state").unlink(missing_ok=True)
    start(layout, "kubelet")


def _known(names: tuple[str, ...]) -> None:
    unknown = set(names) - set(components.names())
    if unknown:
        raise ValueError(f"no such process: {', '.join(sorted(unknown))}")
