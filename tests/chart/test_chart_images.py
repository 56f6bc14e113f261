"""Where every pod's images come from: one helper (templates/_names.tpl `corebound.image`), the
project's published repository by default, a digest for one exact build, and the pull secrets
on every pod the chart makes."""

from __future__ import annotations

import re
from typing import Any

import chart_tools as ct
import helm_python
import pytest

PUBLISHED = "ghcr.io/corebound/corebound"
SERVICE_DIGEST = "sha256:" + "0123456789abcdef" * 4
LOADTEST_DIGEST = "sha256:" + "fedcba9876543210" * 4
V = ct.APP_VERSION


def images(docs: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Pod name -> the images of its containers and init containers."""
    return {
        name: {c["image"] for c in spec["containers"] + spec.get("initContainers", [])}
        for name, spec in ct.pod_specs(docs)
    }


def test_defaults_are_the_published_images_at_the_app_version(
    everything: list[dict[str, Any]],
) -> None:
    found = images(everything)

    assert found.pop(f"Deployment/{ct.RELEASE}") == {f"{PUBLISHED}:{V}"}
    assert found.pop(f"Deployment/{ct.RELEASE}-jobs") == {f"{PUBLISHED}:{V}"}  # same model
    assert found.pop(f"StatefulSet/{ct.RELEASE}-redis") == {f"{PUBLISHED}-redis:{V}"}
    assert found == {name: {f"{PUBLISHED}-loadtest:{V}"} for name in found}
    assert len(found) == 3  # both CronJobs and the helm test pod
    assert ct.default_values()["image"]["repository"] == PUBLISHED


def test_digests_pin_every_container_to_one_build() -> None:
    docs = ct.render(ct.values_file(ct.CHART_DIR / "ci" / "digests-values.yaml"))
    found = images(docs)

    assert found.pop(f"Deployment/{ct.RELEASE}") == {f"{PUBLISHED}@{SERVICE_DIGEST}"}
    assert found == {name: {f"{PUBLISHED}-loadtest@{LOADTEST_DIGEST}"} for name in found}
    assert len(found) == 3


@pytest.mark.parametrize(
    ("values", "service", "loadtest"),
    [
        # A digest wins over a tag; each image has its own.
        (
            {"image": {"tag": "9", "digest": SERVICE_DIGEST}},
            f"{PUBLISHED}@{SERVICE_DIGEST}",
            f"{PUBLISHED}-loadtest:{V}",
        ),
        (
            {"loadtest": {"image": {"tag": "9", "digest": LOADTEST_DIGEST}}},
            f"{PUBLISHED}:{V}",
            f"{PUBLISHED}-loadtest@{LOADTEST_DIGEST}",
        ),
        # The release command's build tag, and a registry of your own for both.
        (
            {"image": {"repository": "r.example/ml/corebound", "tag": f"{V}-0123abcd"}},
            f"r.example/ml/corebound:{V}-0123abcd",
            f"r.example/ml/corebound-loadtest:{V}",
        ),
        (
            {"loadtest": {"image": {"repository": "other/locust", "digest": LOADTEST_DIGEST}}},
            f"{PUBLISHED}:{V}",
            f"other/locust@{LOADTEST_DIGEST}",
        ),
    ],
)
def test_each_image_is_repository_at_digest_or_colon_tag(
    values: dict[str, Any], service: str, loadtest: str
) -> None:
    docs = ct.render({**values, "loadtest": {"enabled": True, **values.get("loadtest", {})}})
    found = images(docs)

    assert found.pop(f"Deployment/{ct.RELEASE}") == {service}
    assert found == {name: {loadtest} for name in found}


def test_every_template_image_goes_through_the_one_helper() -> None:
    """A new container written with its own `repository:tag` would miss the digest and the
    loadtest default: every `image:` line in templates/ calls the helper."""
    lines = [
        (path.name, line.strip())
        for path in (ct.CHART_DIR / "templates").rglob("*")
        if path.is_file()
        for line in path.read_text().splitlines()
        if re.match(r"\s*image:", line)
    ]
    helper = re.compile(
        r'image: \{\{ include "corebound\.image" \(list [.$] "(service|loadtest|redis)"\) \}\}'
    )

    assert len(lines) >= 6
    assert [(name, line) for name, line in lines if not helper.fullmatch(line)] == []


@pytest.mark.parametrize(
    "digest",
    ["sha256:" + "a" * 63, "sha256:" + "A" * 64, "sha512:" + "a" * 64, "a" * 64],
    ids=["short", "upper", "sha512", "no-algorithm"],
)
@pytest.mark.parametrize("where", ["image", "loadtest.image"])
def test_a_malformed_digest_is_refused(where: str, digest: str) -> None:
    values: dict[str, Any] = {"digest": digest}
    for key in reversed(where.split(".")):
        values = {key: values}
    with pytest.raises(helm_python.HelmError, match=f"/{where.replace('.', '/')}/digest"):
        ct.render(values)


def test_every_pod_pulls_with_the_secrets(everything: list[dict[str, Any]]) -> None:
    secrets = [{"name": "regcred"}, {"name": "mirror"}]
    docs = ct.render(
        {
            **ct.values_file(ct.CHART_DIR / "ci" / "everything-values.yaml"),
            "imagePullSecrets": secrets,
        }
    )
    pods = ct.pod_specs(docs)

    assert len(pods) == len(ct.pod_specs(everything)) == 6
    assert {name: spec.get("imagePullSecrets") for name, spec in pods} == {
        name: secrets for name, _ in pods
    }
    assert all("imagePullSecrets" not in spec for _, spec in ct.pod_specs(everything))
