"""The Dockerfile: hadolint, checkov's Dockerfile checks, and the contract's structure."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from scripts.release.names import IMAGES

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
USER = "10001:10001"
START_COMMAND = ["gunicorn", "--config", "service/gunicorn_conf.py"]


def tool(name: str, *candidates: Path) -> str:
    """The tool's path; a missing tool fails under CI and skips on a developer's machine."""
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    found = shutil.which(name)
    if found:
        return found
    message = f"{name} not found (pip install -e '.[dev]'; checkov: .ci/run installs it)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


# --- a small Dockerfile reader -------------------------------------------------------------


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuations joined and comment lines dropped."""
    result: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        whole = (pending + line).strip()
        pending = ""
        if whole:
            keyword, _, args = whole.partition(" ")
            result.append((keyword.upper(), args.strip()))
    return result


def stages(text: str) -> dict[str, list[tuple[str, str]]]:
    """Stage name -> its instructions (FROM first), in file order."""
    found: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for keyword, args in instructions(text):
        if keyword == "FROM":
            name = re.search(r"\bAS\s+(\S+)", args, re.IGNORECASE)
            assert name, f"every stage is named: FROM {args}"
            current = found.setdefault(name.group(1), [])
        if current is not None:
            current.append((keyword, args))
    return found


def last(stage: list[tuple[str, str]], keyword: str) -> str | None:
    values = [args for kw, args in stage if kw == keyword]
    return values[-1] if values else None


def env_of(stage: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for kw, args in stage:
        if kw == "ENV":
            for pair in shlex.split(args):
                key, _, value = pair.partition("=")
                env[key] = value
    return env


def labels_of(stage: list[tuple[str, str]]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for kw, args in stage:
        if kw == "LABEL":
            for pair in shlex.split(args):
                key, _, value = pair.partition("=")
                labels[key] = value
    return labels


@pytest.fixture(scope="module")
def text() -> str:
    return DOCKERFILE.read_text()


@pytest.fixture(scope="module")
def by_stage(text: str) -> dict[str, list[tuple[str, str]]]:
    return stages(text)


# --- linters -------------------------------------------------------------------------------


def test_hadolint_is_clean() -> None:
    hadolint = tool(
        "hadolint", Path(sys.executable).parent / "hadolint", REPO / ".venv/bin/hadolint"
    )
    done = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == ""


def checkov(dockerfile: Path) -> dict[str, Any]:
    """checkov's JSON verdict on one Dockerfile."""
    binary = tool("checkov", REPO / ".tools" / "checkov" / "bin" / "checkov")
    done = subprocess.run(
        # --skip-download: no call home for guideline links (and no network needed).
        [binary, "--framework", "dockerfile", "--file", str(dockerfile), "--skip-download",
         "--output", "json"],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )  # fmt: skip
    assert done.stdout.strip(), done.stderr[-2000:]
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_checkov_dockerfile_checks_pass() -> None:
    result = checkov(DOCKERFILE)
    summary = result["summary"]
    failed = [c["check_id"] for c in result["results"].get("failed_checks", [])]
    assert summary["failed"] == 0, f"checkov failed {failed}"
    assert summary["parsing_errors"] == 0
    assert summary["passed"] >= 10
    # The one suppression: CKV_DOCKER_7 cannot see through `FROM ${BASE_IMAGE}`; the
    # default it would want pinned is pinned by digest (test below).
    skipped = {c["check_id"] for c in result["results"].get("skipped_checks", [])}
    assert skipped <= {"CKV_DOCKER_7"}


# --- structure (docs/CONTRACT.md "Image") ---------------------------------------------------


def test_base_image_is_a_build_arg_pinned_by_digest(text: str, by_stage: dict) -> None:
    default = re.search(r"^ARG BASE_IMAGE=(\S+)$", text, re.MULTILINE)
    assert default, "ARG BASE_IMAGE=<default> before the first FROM"
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm@sha256:[0-9a-f]{64}", default.group(1))
    external = [args.split()[0] for st in by_stage.values() for kw, args in st[:1]
                if args.split()[0] not in by_stage]  # fmt: skip
    assert external and set(external) == {"${BASE_IMAGE}"}


def test_every_released_target_exists_and_service_is_the_default(by_stage: dict) -> None:
    assert set(IMAGES) <= set(by_stage), "scripts/release builds each of names.IMAGES"
    assert list(by_stage)[-1] == "service", "a plain `docker build .` gives the service"


@pytest.mark.parametrize("target", ["service", "loadtest"])
def test_targets_run_as_numeric_non_root_user_from_app(by_stage: dict, target: str) -> None:
    stage = by_stage[target]
    assert last(stage, "USER") == USER
    assert last(stage, "WORKDIR") == "/app"
    assert env_of(stage)["PATH"].startswith("/opt/venv/bin:")
    # USER comes after every RUN, so nothing runs as root at run time.
    order = [kw for kw, _ in stage]
    assert (
        max(i for i, kw in enumerate(order) if kw == "RUN") < order.index("USER")
        if "RUN" in order
        else True
    )


@pytest.mark.parametrize("target", sorted(IMAGES))
def test_targets_carry_oci_labels(by_stage: dict, target: str) -> None:
    labels = labels_of(by_stage[target])
    for key in ("title", "description", "version", "licenses", "base.name"):
        assert labels.get(f"org.opencontainers.image.{key}"), key
    # The title is the repository the release pushes the target to.
    assert labels["org.opencontainers.image.title"] == IMAGES[target]


def test_service_starts_with_the_design_command_in_exec_form(by_stage: dict) -> None:
    stage = by_stage["service"]
    assert json.loads(last(stage, "CMD") or "null") == START_COMMAND
    assert last(stage, "ENTRYPOINT") is None
    env = env_of(stage)
    assert env["PROMETHEUS_MULTIPROC_DIR"] == "/run/prometheus"
    assert env["MODEL_DIR"] == "/app/models/default"
    assert "8000" in (last(stage, "EXPOSE") or "")


def test_loadtest_entrypoint_and_cmd_are_the_contracts() -> None:
    contract = (REPO / "docs" / "CONTRACT.md").read_text()
    image_section = contract[contract.index("## Image") :]
    entry = re.search(r"`ENTRYPOINT (\[.*?\])`", image_section, re.DOTALL)
    cmd = re.search(r"`CMD (\[.*?\])`", image_section, re.DOTALL)
    assert entry and cmd, "docs/CONTRACT.md names the loadtest ENTRYPOINT and CMD"
    stage = stages(DOCKERFILE.read_text())["loadtest"]
    assert json.loads(last(stage, "ENTRYPOINT") or "null") == json.loads(entry.group(1))
    assert json.loads(last(stage, "CMD") or "null") == json.loads(" ".join(cmd.group(1).split()))


def test_scikit_learn_stays_in_the_build(by_stage: dict) -> None:
    """Training has its own venv in the `model` stage; shipped stages copy only what they need."""
    using_train = [
        name
        for name, st in by_stage.items()
        if any("-r train.txt" in a for kw, a in st if kw == "RUN")
    ]
    assert using_train == ["model"]
    for target in ("service", "loadtest"):
        copied = [a for kw, a in by_stage[target] if kw == "COPY" and "--from=model" in a]
        assert all("/opt/train" not in a for a in copied)
    service_from = set(re.findall(r"--from=(\S+)", " ".join(
        a for kw, a in by_stage["service"] if kw == "COPY"
    )))  # fmt: skip
    assert service_from == {"runtime-env", "model"}


def test_dockerignore_lets_in_exactly_what_the_dockerfile_copies(by_stage: dict) -> None:
    lines = [ln.strip() for ln in (REPO / ".dockerignore").read_text().splitlines()]
    patterns = [ln for ln in lines if ln and not ln.startswith("#")]
    assert patterns[0] == "*", "default-deny"
    allowed = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    sources: set[str] = set()
    for stage in by_stage.values():
        for kw, args in stage:
            if kw == "COPY" and "--from=" not in args:
                sources.update(s.rstrip("/") for s in args.split()[:-1] if not s.startswith("--"))
    # Each source is let in (itself or its folder), and nothing is let in that no COPY uses.
    assert all(s in allowed or s.split("/")[0] in allowed for s in sources), sources - allowed
    assert allowed <= sources | {s.split("/")[0] for s in sources}


def test_both_images_ship_the_probe(by_stage: dict) -> None:
    """The chart's hook pods run `python -m service.probe` in the service and loadtest images."""
    for target in ("service", "loadtest"):
        copies = [a for kw, a in by_stage[target] if kw == "COPY" and "--from=" not in a]
        assert any("service/probe.py" in a or a.startswith("service/ ") for a in copies), target
