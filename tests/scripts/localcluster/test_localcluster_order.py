"""The one ordered list of the cluster's processes, and everything that derives from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.localcluster import __main__ as cli
from scripts.localcluster import build, components
from scripts.localcluster.layout import Layout


def layout_in(root: Path) -> Layout:
    return Layout(state=root / "state", run=root / "run", bin=root / "bin")


def test_servers_start_before_their_clients() -> None:
    assert components.names() == (
        "registry",
        "containerd",
        "etcd",
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "kubelet",
        "kube-proxy",
    )


def test_stop_order_is_the_start_order_reversed() -> None:
    stopped = [component.name for component in components.stop_order()]
    assert stopped == list(reversed(components.names()))
    # Its pods are killed just before it stops; the registry they pull from goes last.
    assert stopped[-2:] == [components.CONTAINERD, "registry"]


def test_every_process_but_containerd_runs_a_binary_the_build_makes(tmp_path: Path) -> None:
    layout = layout_in(tmp_path)
    built = {c.name for c in build.COMPONENTS} | {
        link for c in build.COMPONENTS for link in c.links
    }
    for component in components.ORDER:
        argv = component.argv(layout)
        if component.name == components.CONTAINERD:
            assert argv[0] == "containerd"  # the machine's, found on PATH
            continue
        assert argv[0] == str(layout.tool(component.name))
        assert component.name in built


def test_the_servers_everything_waits_on_have_a_readiness_check() -> None:
    checked = {component.name for component in components.ORDER if component.ready}
    assert {"registry", "containerd", "etcd", "kube-apiserver", "kubelet"} <= checked


def test_each_config_file_belongs_to_one_process(tmp_path: Path) -> None:
    layout = layout_in(tmp_path)
    owners = {
        path.name: component.name
        for component in components.ORDER
        for path in component.files(layout)
    }
    assert owners == {
        "containerd.toml": "containerd",
        "10-corebound.conflist": "containerd",
        "hosts.toml": "containerd",
        "registry.yaml": "registry",
        "kubelet.yaml": "kubelet",
        "README": "kubelet",  # in its drop-in directory, which it needs to exist
        "kube-proxy.yaml": "kube-proxy",
    }


def test_status_lists_the_same_processes_in_start_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COREBOUND_CLUSTER_DIR", str(tmp_path))
    assert cli.main(["status"]) == 0
    lines = capsys.readouterr().out.splitlines()
    processes = len(components.names())
    assert [line.split()[0] for line in lines[:processes]] == list(components.names())
    assert all(line.endswith("not running") for line in lines[:processes])
    # Then the cluster's addresses: the API, the registry, the default StorageClass.
    assert [line.split()[0].split("=")[0] for line in lines[processes:]] == [
        "KUBECONFIG", "registry", "storage"
    ]  # fmt: skip
