"""What `up` restarts: the decision, and the stale-binary check on real processes (no root)."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.localcluster import configs, plan, procs
from scripts.localcluster.components import Component
from scripts.localcluster.layout import Layout

ORDER = ("containerd", "etcd", "kube-apiserver", "kubelet", "kube-proxy")


def never_asked() -> bool:
    raise AssertionError("node readiness needs every process running")


def test_a_current_ready_cluster_starts_nothing() -> None:
    states: dict[str, plan.State] = dict.fromkeys(ORDER, "current")
    assert plan.decide(ORDER, states, lambda: True) == plan.Plan(clean=False, start=())


def test_a_stopped_process_means_a_clean_start_of_all() -> None:
    states: dict[str, plan.State] = {**dict.fromkeys(ORDER, "current"), "kubelet": "stopped"}
    assert plan.decide(ORDER, states, never_asked) == plan.Plan(clean=True, start=ORDER)


def test_a_node_not_ready_means_a_clean_start_of_all() -> None:
    states: dict[str, plan.State] = dict.fromkeys(ORDER, "current")
    assert plan.decide(ORDER, states, lambda: False) == plan.Plan(clean=True, start=ORDER)


def test_exactly_the_stale_ones_restart_in_start_order() -> None:
    # Listed out of order on purpose: the order is the list's, not the survey's.
    states: dict[str, plan.State] = {
        "kube-proxy": "stale",
        "kubelet": "current",
        "kube-apiserver": "current",
        "etcd": "stale",
        "containerd": "current",
    }
    chosen = plan.decide(ORDER, states, lambda: True)
    assert chosen == plan.Plan(clean=False, start=("etcd", "kube-proxy"))


def rebuild(binary: Path) -> None:
    """What build._go_build does: a new file renamed over the old one."""
    partial = binary.with_name(binary.name + ".partial")
    shutil.copy2("/bin/sleep", partial)
    partial.replace(binary)


def settled(pid: int) -> None:
    """Waits out the moment after exec when the kernel shows no command line yet."""
    deadline = time.monotonic() + 5
    while not Path(f"/proc/{pid}/cmdline").read_bytes() and time.monotonic() < deadline:
        time.sleep(0.01)


@pytest.fixture
def tools(tmp_path: Path) -> Path:
    """A multi-call binary and a link to it, as bin/kubernetes and bin/kubelet."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shutil.copy2("/bin/sleep", bin_dir / "multi")
    (bin_dir / "linked").symlink_to("multi")
    return bin_dir


@pytest.fixture
def sleeper(tools: Path) -> Iterator[tuple[subprocess.Popen[bytes], list[str]]]:
    argv = [str(tools / "linked"), "60"]
    child = subprocess.Popen(argv)
    settled(child.pid)
    try:
        yield child, argv
    finally:
        child.kill()
        child.wait()


def test_a_process_on_the_file_now_at_its_path_is_current(
    sleeper: tuple[subprocess.Popen[bytes], list[str]],
) -> None:
    child, argv = sleeper
    assert procs.current(child.pid, argv)


def test_another_command_line_is_not_current(
    sleeper: tuple[subprocess.Popen[bytes], list[str]],
) -> None:
    child, argv = sleeper
    assert not procs.current(child.pid, [*argv[:-1], "61"])


def test_a_rebuilt_binary_leaves_the_running_process_stale(
    tools: Path, sleeper: tuple[subprocess.Popen[bytes], list[str]]
) -> None:
    child, argv = sleeper
    rebuild(tools / "multi")  # replaced behind the link, as a new kubernetes binary is
    assert not procs.current(child.pid, argv)


def test_an_exited_process_is_not_current(
    sleeper: tuple[subprocess.Popen[bytes], list[str]],
) -> None:
    child, argv = sleeper
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert not procs.current(child.pid, argv)


# procs.start leaves its child running on purpose (the cluster outlives `up`), and Popen's
# finalizer says so.
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_state_follows_a_process_through_a_rebuild_and_a_stop(tools: Path, tmp_path: Path) -> None:
    layout = Layout(state=tmp_path / "state", run=tmp_path / "run", bin=tools)
    component = Component("linked", lambda layout: [str(layout.tool("linked")), "60"])
    settled(procs.start(layout, component.name, component.argv(layout)))
    try:
        assert plan.state(layout, component) == "current"
        rebuild(tools / "multi")
        assert plan.state(layout, component) == "stale"
    finally:
        assert procs.stop(layout, component.name, grace_s=5)
    assert plan.state(layout, component) == "stopped"


@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_a_changed_config_file_leaves_the_process_stale(tools: Path, tmp_path: Path) -> None:
    layout = Layout(state=tmp_path / "state", run=tmp_path / "run", bin=tools)
    config = tmp_path / "state" / "config" / "linked.yaml"
    component = Component(
        "linked", lambda layout: [str(layout.tool("linked")), "60"], files=lambda _: {config: "a"}
    )
    configs.write(component.files(layout))
    settled(procs.start(layout, component.name, component.argv(layout)))
    try:
        assert plan.state(layout, component) == "current"
        config.write_text("b")  # what an edit of configs.py makes `up` write next
        assert plan.state(layout, component) == "stale"
        config.unlink()
        assert plan.state(layout, component) == "stale"
    finally:
        procs.stop(layout, component.name, grace_s=5)
