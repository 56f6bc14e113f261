"""The local-path provisioner's manifest: upstream's, with our images, the volumes under the
cluster's state directory and its StorageClass the default (the real run: tests/cluster)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts.localcluster import addons, images
from scripts.localcluster.layout import Layout

# The parts of v0.0.30's deploy/local-path-storage.yaml the transform touches, as upstream
# writes them.
UPSTREAM = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: local-path-provisioner, namespace: local-path-storage}
spec:
  template:
    spec:
      containers:
        - name: local-path-provisioner
          image: rancher/local-path-provisioner:v0.0.30
          imagePullPolicy: IfNotPresent
          command: [local-path-provisioner, --debug, start, --config, /etc/config/config.json]
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: local-path}
provisioner: rancher.io/local-path
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Delete
---
kind: ConfigMap
apiVersion: v1
metadata: {name: local-path-config, namespace: local-path-storage}
data:
  config.json: |-
    {"nodePathMap":[{"node":"DEFAULT_PATH_FOR_NON_LISTED_NODES",
                     "paths":["/opt/local-path-provisioner"]}]}
  setup: |-
    #!/bin/sh
    mkdir -m 0777 -p "$VOL_DIR"
  helperPod.yaml: |-
    apiVersion: v1
    kind: Pod
    metadata:
      name: helper-pod
    spec:
      containers:
      - name: helper-pod
        image: busybox
        imagePullPolicy: IfNotPresent
"""


@pytest.fixture
def docs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, dict[str, Any]]:
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "local-path-storage.yaml").write_text(UPSTREAM)
    monkeypatch.setattr(addons, "source_dir", lambda folder: tmp_path)
    rendered = addons.local_path_manifest(Path("/state/volumes"))
    return {doc["kind"]: doc for doc in yaml.safe_load_all(rendered)}


def test_the_provisioner_runs_our_image_never_pulled(docs: dict[str, dict[str, Any]]) -> None:
    container = docs["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == images.LOCAL_PATH_IMAGE
    assert container["imagePullPolicy"] == "Never"
    assert container["command"] == [
        "/local-path-provisioner", "--debug", "start", "--config", "/etc/config/config.json"
    ]  # fmt: skip


def test_its_storage_class_is_the_default(docs: dict[str, dict[str, Any]]) -> None:
    storage_class = docs["StorageClass"]
    assert storage_class["metadata"]["name"] == "local-path"
    annotations = storage_class["metadata"]["annotations"]
    assert annotations["storageclass.kubernetes.io/is-default-class"] == "true"
    assert storage_class["reclaimPolicy"] == "Delete"  # a deleted PVC's directory goes


def test_volumes_live_under_the_given_directory_made_by_our_helper(
    docs: dict[str, dict[str, Any]],
) -> None:
    data = docs["ConfigMap"]["data"]
    assert json.loads(data["config.json"])["nodePathMap"] == [
        {"node": "DEFAULT_PATH_FOR_NON_LISTED_NODES", "paths": ["/state/volumes"]}
    ]
    helper = yaml.safe_load(data["helperPod.yaml"])["spec"]["containers"][0]
    assert helper["image"] == images.LOCAL_PATH_HELPER_IMAGE
    assert helper["imagePullPolicy"] == "Never"
    assert data["setup"].endswith('mkdir -m 0777 -p "$VOL_DIR"')  # upstream's, unchanged


def test_the_volumes_are_inside_the_state_down_removes() -> None:
    layout = Layout.default()
    assert layout.volumes.parent == layout.state


def test_the_helper_image_is_built_from_the_release_base_with_sh_mkdir_rm() -> None:
    text = images.HELPER_CONTAINERFILE
    assert text.startswith("FROM {base} AS tools\n") and "\nFROM scratch\n" in text
    assert all(tool in text for tool in ("/bin/sh", "/bin/mkdir", "/bin/rm"))
    assert images.LOCAL_PATH_HELPER_IMAGE.rsplit(":", 1)[1] != "latest"


def test_an_unexpected_upstream_command_fails_loudly(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "local-path-storage.yaml").write_text(
        UPSTREAM.replace("command: [local-path-provisioner,", "command: [/bin/lpp,")
    )
    monkeypatch.setattr(addons, "source_dir", lambda folder: tmp_path)
    with pytest.raises(ValueError, match="upstream's command changed"):
        addons.local_path_manifest(Path("/state/volumes"))
