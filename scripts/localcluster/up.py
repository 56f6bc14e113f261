"""`up`: from nothing (or from whatever a killed run left) to a Ready node with add-ons.

On a cluster that already runs, only what a rebuild replaced is restarted (plan.py), and the
add-on images and manifests are applied again so a new CoreDNS or metrics-server rolls out.
"""

from __future__ import annotations

import subprocess

from . import (
    addons,
    app_release,
    build,
    components,
    configs,
    down,
    health,
    host,
    images,
    pki,
    plan,
    procs,
    progress,
    registry,
)
from .layout import Layout


def up(layout: Layout, release: bool = True) -> None:
    with progress.step("build binaries"):
        build.ensure(layout)
    chosen = plan.decide(components.names(), plan.survey(layout), lambda: health.node_ready(layout))
    if chosen.clean:
        with progress.step("clean what an earlier run left"):
            down.down(layout)
    elif chosen.start:
        with progress.step(
            f"stop what is stale (a replaced binary, flag or config): {', '.join(chosen.start)}"
        ):
            _stop(layout, chosen.start)
    else:
        progress.say("cluster already up on the current binaries, node Ready: nothing to start")
    if chosen.start:
        _start(layout, chosen.start)
    # Every time: an image's tag carries its version, so a new one must be there to roll out.
    with progress.step("images: pause, CoreDNS, metrics-server, local-path provisioner"):
        images.import_images(layout, images.build_addon_images(layout))
    with progress.step("add-ons: CoreDNS, metrics-server, local-path provisioner"):
        _addons(layout)
    if release:
        app_release.release(layout)
    progress.say(f"ready: export KUBECONFIG={layout.kubeconfig}")


def _stop(layout: Layout, names: tuple[str, ...]) -> None:
    for component in components.stop_order():
        if component.name in names and procs.stop(layout, component.name):
            progress.say(f"stopped {component.name}")


def _start(layout: Layout, names: tuple[str, ...]) -> None:
    """Starts the named processes in order; every readiness check is awaited in turn, also
    of a process left running (a restarted server's clients must have reconnected)."""
    with progress.step("host: node address, sysctls"):
        host.prepare()
    with progress.step("certificates, kubeconfigs, registry credentials"):
        pki.ensure(layout)
        registry.ensure_credentials(layout)
    for component in components.ORDER:
        starts = component.name in names
        if not starts and component.ready is None:
            continue
        with progress.step(f"{'start' if starts else 'wait for'} {component.name}"):
            if starts:
                configs.write(component.files(layout))
                procs.start(layout, component.name, component.argv(layout), dict(component.env))
            if component.ready is not None:
                _await(layout, component.name, component.ready, component.ready_s)


def _await(layout: Layout, name: str, ready: health.Check, timeout_s: float) -> None:
    health.wait_for(name, lambda: ready(layout), timeout_s, lambda: procs.log_tail(layout, name))


def _addons(layout: Layout) -> None:
    """Applied on every `up` (idempotent), so a half-started earlier run is completed."""
    addons.install(layout.kubectl(), layout.volumes)
    _wait_rollout(layout, "coredns")
    _wait_rollout(layout, "metrics-server")
    _wait_rollout(layout, "local-path-provisioner", "local-path-storage")
    subprocess.run(
        [*layout.kubectl(), "wait", "--for=condition=Available", "--timeout=180s",
         "apiservice/v1beta1.metrics.k8s.io"],
        check=True, capture_output=True,
    )  # fmt: skip


def _wait_rollout(layout: Layout, name: str, namespace: str = "kube-system") -> None:
    done = subprocess.run(
        [*layout.kubectl(), "-n", namespace, "rollout", "status", f"deployment/{name}",
         "--timeout=180s"],
        capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0:
        pods = subprocess.run(
            [*layout.kubectl(), "-n", namespace, "describe", "pods"],
            capture_output=True, text=True,
        ).stdout  # fmt: skip
        raise RuntimeError(f"{name} did not roll out: {done.stderr}\n{pods[-4000:]}")
