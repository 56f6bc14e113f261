"""examples/custom-image/: the derived image README "Your own model" documents.

Its base by build arg, its numeric non-root user, its hashed extra packages, and the code
and weights it ships; the container end-to-end rig builds and runs it (scripts/e2e/custom.py).
"""

from __future__ import annotations

import ast
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_dockerfile import checkov, instructions, tool

from service import __version__

REPO = Path(__file__).resolve().parents[2]
CONTEXT = REPO / "examples" / "custom-image"
DOCKERFILE = CONTEXT / "Dockerfile"
USER = "10001:10001"


@pytest.fixture(scope="module")
def steps() -> list[tuple[str, str]]:
    return instructions(DOCKERFILE.read_text())


def env(steps: list[tuple[str, str]]) -> dict[str, str]:
    pairs = [p for kw, args in steps if kw == "ENV" for p in shlex.split(args)]
    return dict(p.split("=", 1) for p in pairs)


def test_hadolint_is_clean() -> None:
    hadolint = tool(
        "hadolint", Path(sys.executable).parent / "hadolint", REPO / ".venv/bin/hadolint"
    )
    done = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def test_checkov_passes_skipping_only_what_the_base_image_provides() -> None:
    result = checkov(DOCKERFILE)
    assert result["summary"]["failed"] == 0 and result["summary"]["parsing_errors"] == 0
    skipped = {c["check_id"] for c in result["results"].get("skipped_checks", [])}
    # The base by build arg (CKV_DOCKER_7) and its inherited HEALTHCHECK (CKV_DOCKER_2).
    assert skipped <= {"CKV_DOCKER_7", "CKV_DOCKER_2"}


def test_base_is_the_service_image_by_build_arg(steps: list[tuple[str, str]]) -> None:
    # The published release of this version (where scripts.release and the chart point).
    assert steps[0] == ("ARG", f"BASE_IMAGE=ghcr.io/corebound/corebound:{__version__}")
    assert [args for kw, args in steps if kw == "FROM"] == ["${BASE_IMAGE}"]


def test_runs_as_the_base_images_numeric_user(steps: list[tuple[str, str]]) -> None:
    users = [args for kw, args in steps if kw == "USER"]
    assert users[-1] == USER
    order = [kw for kw, _ in steps]
    last_user = len(order) - 1 - order[::-1].index("USER")
    assert all(i < last_user for i, kw in enumerate(order) if kw == "RUN")
    assert not {kw for kw in order[last_user:]} & {"CMD", "ENTRYPOINT"}, "the base's command"


def test_extra_packages_install_by_hash_into_the_service_venv(
    steps: list[tuple[str, str]],
) -> None:
    install = next(args for kw, args in steps if kw == "RUN" and "pip" in args)
    for flag in ("--require-hashes", "--no-deps", "-r /tmp/requirements.txt"):
        assert flag in install
    assert "--python /opt/venv/bin/python" in install  # the venv the main Dockerfile ships
    assert re.search(r"rm -rf /tmp/pip /tmp/requirements\.txt$", install), "no pip is left"
    assert ("COPY", "requirements.txt /tmp/requirements.txt") in steps


def test_requirements_are_pinned_with_hashes() -> None:
    text = (CONTEXT / "requirements.txt").read_text()
    joined = re.sub(r"\\\n", " ", text)
    requirements = [ln.split("#")[0].strip() for ln in joined.splitlines()]
    for req in filter(None, requirements):
        assert re.fullmatch(r"[A-Za-z0-9._-]+==\S+( +--hash=sha256:[0-9a-f]{64})+", req), req


def test_model_class_and_model_dir_name_what_the_image_copies(
    steps: list[tuple[str, str]],
) -> None:
    values = env(steps)
    module, _, factory = values["MODEL_CLASS"].partition(":")
    copies = dict(args.split() for kw, args in steps if kw == "COPY")
    assert copies[f"{module}/"] == f"/app/{module}/"  # /app is the image's PYTHONPATH
    assert copies["model/"].rstrip("/") == values["MODEL_DIR"]
    tree = ast.parse((CONTEXT / module / "__init__.py").read_text())
    assert factory in {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}


def test_the_package_is_the_example_apart_from_its_docstring() -> None:
    def code(path: Path) -> str:
        tree = ast.parse(path.read_text())
        assert ast.get_docstring(tree)
        return ast.dump(ast.Module(body=tree.body[1:], type_ignores=[]))

    copy = CONTEXT / "nearest_centroid" / "__init__.py"
    assert code(copy) == code(REPO / "examples" / "nearest_centroid.py")


def test_weights_are_the_class_means_of_the_digits_training_split() -> None:
    from scripts.modelgen.train import split

    x_train, _, y_train, _ = split()
    means = np.stack([x_train[y_train == k].mean(axis=0) for k in range(10)])
    centroids = np.load(CONTEXT / "model" / "centroids.npy")
    assert centroids.dtype == np.float32 and centroids.shape == (10, 64)
    np.testing.assert_allclose(centroids, means, rtol=1e-6)
