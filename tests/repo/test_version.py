"""One version, written once in service/__init__.py, and everything that repeats it agrees."""

from __future__ import annotations

import re
import tomllib

import yaml
from paths import REPO

from service import __version__


def test_pyproject_reads_the_version_from_the_package() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "version" in pyproject["project"]["dynamic"]
    assert "version" not in pyproject["project"]
    attr = pyproject["tool"]["setuptools"]["dynamic"]["version"]["attr"]
    assert attr == "service.__version__"


def test_chart_app_version_matches() -> None:
    # The chart's own `version` moves with the chart (tests/chart checks its bumps).
    chart = yaml.safe_load((REPO / "helm" / "corebound" / "Chart.yaml").read_text())
    assert chart["appVersion"] == __version__


def test_dockerfile_version_args_match() -> None:
    args = re.findall(r"^ARG VERSION=(\S+)$", (REPO / "Dockerfile").read_text(), re.MULTILINE)
    assert args and set(args) == {__version__}


def test_changelog_has_the_version_and_an_unreleased_section() -> None:
    changelog = (REPO / "CHANGELOG.md").read_text()
    assert "## [Unreleased]" in changelog
    assert re.search(
        rf"^## \[{re.escape(__version__)}\] - \d{{4}}-\d{{2}}-\d{{2}}$", changelog, re.M
    )
