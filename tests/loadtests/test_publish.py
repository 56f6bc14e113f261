"""What the master keeps of a run: its files by ConfigMap key, within a ConfigMap's 1 MiB."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest

from loadtests import profiles, publish

LOCUST = ["locust", "-f", "x.py", "--headless", "--csv", "{d}/locust", "--html={d}/locust.html"]


def command(tmp: Path) -> list[str]:
    return [word.format(d=tmp) for word in LOCUST]


def write_reports(tmp: Path, html_bytes: int) -> None:
    for name in ("stats", "failures", "exceptions", "stats_history"):
        (tmp / f"locust_{name}.csv").write_text(f"{name},1\n")
    # Incompressible, so its gzip stays as large as it is.
    (tmp / "locust.html").write_bytes(os.urandom(html_bytes))


def test_a_run_keeps_its_summary_csvs_and_gzipped_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUN_NAME", "run-7")
    monkeypatch.setenv("LOAD_SHAPE", "spike")
    write_reports(tmp_path, 1000)
    summary_file = tmp_path / "summary.json"
    summary_file.write_text(json.dumps({"slo": "PASS", "requests": 10}))

    files = publish.collect(command(tmp_path), summary_file, 0)

    assert sorted(files) == ["exceptions.csv", "failures.csv", "report.html.gz", "stats.csv",
                             "stats_history.csv.gz", "summary.json"]  # fmt: skip
    assert files["stats.csv"] == b"stats,1\n"
    assert gzip.decompress(files["stats_history.csv.gz"]) == b"stats_history,1\n"
    assert gzip.decompress(files["report.html.gz"]) == (tmp_path / "locust.html").read_bytes()
    summary = json.loads(files["summary.json"])
    assert summary["slo"] == "PASS" and summary["requests"] == 10
    assert (summary["run"], summary["shape"], summary["exit_code"]) == ("run-7", "spike", 0)
    assert "finished" in summary and "omitted" not in summary


def test_a_report_past_a_configmaps_limit_is_left_out_and_named(tmp_path: Path) -> None:
    write_reports(tmp_path, publish.MAX_BYTES + 1)
    files = publish.collect(command(tmp_path), tmp_path / "none.json", 1)

    assert "report.html.gz" not in files and "stats.csv" in files
    summary = json.loads(files["summary.json"])
    assert summary["omitted"]["keys"] == ["report.html.gz"]
    assert sum(map(len, files.values())) <= publish.MAX_BYTES + len(files["summary.json"])


def test_a_run_that_ended_before_its_verdict_says_so(tmp_path: Path) -> None:
    files = publish.collect(["locust", "--headless"], tmp_path / "missing.json", 1)

    assert list(files) == ["summary.json"]
    summary = json.loads(files["summary.json"])
    assert summary["slo"] == "ERROR" and summary["exit_code"] == 1
    assert summary["reason"] == "Locust ended before its verdict"


def test_the_locust_command_follows_the_double_dash() -> None:
    args = publish.parse_args(["--configmap", "r", "--", "locust", "--csv", "/tmp/l"])
    assert args.configmap == "r" and args.command == ["locust", "--csv", "/tmp/l"]
    assert publish.option(args.command, "--csv") == "/tmp/l"
    with pytest.raises(SystemExit):
        publish.parse_args(["--configmap", "r"])


def test_load_shape_picks_the_shape_and_names_a_bad_one() -> None:
    settings, profile = profiles.chosen("constant")
    assert profile(0, settings) == (settings.users, settings.spawn_rate)
    assert profiles.chosen("spike")[1] is profiles.spike
    with pytest.raises(ValueError, match="LOAD_SHAPE='ramp' must be one of step, spike, constant"):
        profiles.chosen("ramp")
