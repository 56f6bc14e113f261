"""`up`: from nothing (or from whatever a killed run left) to a Ready node with add-ons."""

from __future__ import annotations

import subprocess

from . import addons, build, components, configs, down, host, images, pki, procs, progress
from .layout import NODE_NAME, Layout


def kubectl(layout: Layout) -> list[str]:
    return [str(layout.tool("kubectl")), f"--kubeconfig={layout.kubeconfig}"]


def _healthy(layout: Layout) -> bool:
    """True when every process runs and the node is Ready: `up` then has nothing to do."""
    names = ("containerd", "etcd", "kube-apiserver", "kube-controller-manager",
             "kube-scheduler", "kubelet", "kube-proxy")  # fmt: skip
    if any(procs.running(layout, name) is None for name in names):
        return False
    done = subprocess.run(
        [*kubectl(layout), "get", "node", NODE_NAME, "-o",
         "jsonpath={.status.conditions[?(@.type=='Ready')].status}"],
        capture_output=True, text=True,
    )  # fmt: skip
    return done.stdout.strip() == "True"


def _start(layout: Layout, process: components.Process) -> None:
    procs.start(layout, process.name, process.argv)


def _write_configs(layout: Layout) -> None:
    for path, text in (
        (layout.config / "containerd.toml", configs.containerd(layout)),
        (layout.cni_conf_dir / "10-corebound.conflist", configs.cni_conflist(layout)),
        (layout.config / "kubelet.yaml", configs.kubelet(layout)),
        (layout.config / "kube-proxy.yaml", configs.kube_proxy(layout)),
    ):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def up(layout: Layout, app_images: list[str]) -> None:
    with progress.step("build binaries"):
        build.ensure(layout)
    if _healthy(layout):
        progress.say("cluster already up and the node Ready: nothing to start")
    else:
        with progress.step("clean what an earlier run left"):
            down.down(layout)
        _start_cluster(layout)
    with progress.step("add-ons: CoreDNS, metrics-server"):
        _addons(layout)
    with progress.step("images: import the project's images"):
        images.import_images(layout, app_images)
    progress.say(f"ready: export KUBECONFIG={layout.kubeconfig}")


def _start_cluster(layout: Layout) -> None:
    with progress.step("host: node address, sysctls"):
        host.prepare()
    with progress.step("certificates and kubeconfigs"):
        pki.ensure(layout)
        _write_configs(layout)
    with progress.step("containerd"):
        _start(layout, components.containerd(layout))
        components.wait_for(
            "containerd", lambda: components.socket_ready(str(layout.containerd_socket)), 30,
            lambda: procs.log_tail(layout, "containerd"),
        )  # fmt: skip
    with progress.step("images: pause, CoreDNS, metrics-server"):
        images.import_images(layout, images.build_addon_images(layout))
    with progress.step("etcd and kube-apiserver"):
        _start(layout, components.etcd(layout))
        _start(layout, components.apiserver(layout))
        components.wait_for(
            "kube-apiserver", lambda: components.apiserver_ready(layout), 120,
            lambda: procs.log_tail(layout, "kube-apiserver") + procs.log_tail(layout, "etcd"),
        )  # fmt: skip
    with progress.step("controller-manager, scheduler, kubelet, kube-proxy"):
        for process in (
            components.controller_manager(layout),
            components.scheduler(layout),
            components.kubelet(layout),
            components.kube_proxy(layout),
        ):
            _start(layout, process)
        components.wait_for(
            "node", lambda: _node_ready(layout), 120,
            lambda: procs.log_tail(layout, "kubelet"),
        )  # fmt: skip


def _addons(layout: Layout) -> None:
    """Applied on every `up` (idempotent), so a half-started earlier run is completed."""
    addons.install(layout, kubectl(layout))
    _wait_rollout(layout, "coredns")
    _wait_rollout(layout, "metrics-server")
    subprocess.run(
        [*kubectl(layout), "wait", "--for=condition=Available", "--timeout=180s",
         "apiservice/v1beta1.metrics.k8s.io"],
        check=True, capture_output=True,
    )  # fmt: skip


def _node_ready(layout: Layout) -> bool:
    done = subprocess.run(
        [*kubectl(layout), "get", "node", NODE_NAME, "-o",
         "jsonpath={.status.conditions[?(@.type=='Ready')].status}"],
        capture_output=True, text=True,
    )  # fmt: skip
    return done.stdout.strip() == "True"


def _wait_rollout(layout: Layout, name: str) -> None:
    done = subprocess.run(
        [*kubectl(layout), "-n", "kube-system", "rollout", "status", f"deployment/{name}",
         "--timeout=180s"],
        capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0:
        pods = subprocess.run(
            [*kubectl(layout), "-n", "kube-system", "describe", "pods"],
            capture_output=True, text=True,
        ).stdout  # fmt: skip
        raise RuntimeError(f"{name} did not roll out: {done.stderr}\n{pods[-4000:]}")
