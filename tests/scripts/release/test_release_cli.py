"""python -m scripts.release builds and pushes every image of names.IMAGES, Redis's too, and its
--output JSON lists each; podman and helm are stood in for (the real run: tests/cluster)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from scripts.release import chart, cli, images, names
from scripts.release.auth import Session

DIGESTS = {"service": "sha256:" + "1" * 64, "loadtest": "sha256:" + "2" * 64,
           "redis": "sha256:" + "3" * 64}  # fmt: skip
CHART_DIGEST = "sha256:" + "c" * 64


def test_redis_is_released_as_corebound_redis() -> None:
    assert names.IMAGES == {
        "service": "corebound",
        "loadtest": "corebound-loadtest",
        "redis": "corebound-redis",
    }
    release = names.Release("registry.example.org/ml", revision="abc123")
    assert release.repository("redis") == "registry.example.org/ml/corebound-redis"


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Any]]:
    """images.build/push and the chart's push recorded instead of run."""
    seen: dict[str, list[Any]] = {"build": [], "push": []}

    def build(release: names.Release, target: str, platforms: list[str], base: str | None,
              log: Path) -> str:  # fmt: skip
        seen["build"].append((target, list(platforms), base))
        return f"{release.repository(target)}:{release.tags()[1]}"

    def push(release: names.Release, target: str, name: str, session: Session) -> str:
        seen["push"].append((target, name))
        return DIGESTS[target]

    monkeypatch.setattr(images, "build", build)
    monkeypatch.setattr(images, "push", push)
    monkeypatch.setattr(chart, "package_and_push", lambda release, session: CHART_DIGEST)
    monkeypatch.setenv("REGISTRY_AUTH_FILE", "/nonexistent/auth.json")  # no login of ours
    return seen


def test_every_image_is_built_and_pushed_and_listed_in_the_output(
    calls: dict[str, list[Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "release.json"
    argv = ["--registry", "registry.example.org/ml", "--revision", "abc123", "--platform",
            "linux/amd64", "--base-image", "debian:bookworm", "--output", str(out)]  # fmt: skip
    assert cli.main(argv) == 0
    assert calls["build"] == [(t, ["linux/amd64"], "debian:bookworm") for t in names.IMAGES]
    assert [target for target, _ in calls["push"]] == list(names.IMAGES)
    result = json.loads(out.read_text())
    version = result["version"]
    assert result["tags"] == [version, f"{version}-abc123"]
    for target, repository in names.IMAGES.items():
        assert result[target] == {
            "repository": f"registry.example.org/ml/{repository}",
            "digest": DIGESTS[target],
        }
    assert result["chart"]["digest"] == CHART_DIGEST
    printed = capsys.readouterr().out
    assert f"registry.example.org/ml/corebound-redis:{{{version},{version}-abc123}}" in printed


def test_skip_chart_pushes_the_images_only(calls: dict[str, list[Any]], tmp_path: Path) -> None:
    out = tmp_path / "release.json"
    argv = ["--registry", "r.example/x", "--revision", "r1", "--skip-chart", "--output", str(out)]
    assert cli.main(argv) == 0
    result = json.loads(out.read_text())
    assert "chart" not in result
    assert {key for key, value in result.items() if isinstance(value, dict)} == set(names.IMAGES)
