"""End-to-end proof of the image: podman, real CPU and memory limits, real load.

Builds a local Debian base (debootstrap, cached; no registry needed), both Dockerfile
targets on it, then runs the `service` image read-only, as its own user, under `--cpus`
and `--memory` (the memory from the sizing formula the chart uses, service.sizing.formula.plan)
and checks, for each CPU limit: /info's plan, accuracy on held-out digits over HTTP, the
`loadtest` image's own entrypoint (exit 0 when the SLO holds, non-zero when it is set
impossibly tight), the container's cgroup figures during the load, no OOM kill and no
restart. A synthetic model (500 MiB by default) with 2 workers shows the weights are held
once, not once per worker. The image of examples/custom-image/, built on the service image,
serves a user's Python model (MODEL_CLASS) with the example's answers (--no-custom skips it).
Writes <out>/container-e2e.json and a summary table in <out>/container-e2e.md.

    python -m scripts.e2e [--cpus 1,2] [--synthetic-mib 500] [--out reports]

Exit 0 when every check holds, 1 when one fails, 2 when podman is not usable here.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

from scripts.e2e import podman
from scripts.e2e.checks import (
    build_images,
    check_images,
    check_throttle_reader,
    cpu_run,
    holdout_from_image,
)
from scripts.e2e.containers import REPO
from scripts.e2e.custom import custom_run
from scripts.e2e.report import Report, markdown
from scripts.e2e.synthetic import synthetic_run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpus", default="1,2", help="CPU limits to run, comma-separated")
    parser.add_argument(
        "--synthetic-mib", type=float, default=500, help="0 skips the synthetic run"
    )
    parser.add_argument("--out", type=Path, default=REPO / "reports")
    parser.add_argument(
        "--no-cache", action="store_true", help="build without podman's layer cache"
    )
    parser.add_argument("--refresh-base", action="store_true", help="debootstrap the base again")
    parser.add_argument(
        "--no-custom", action="store_true", help="skip the examples/custom-image build and run"
    )
    args = parser.parse_args(argv)

    reason = podman.unusable_reason()
    if reason:
        print(f"podman is not usable here: {reason}", file=sys.stderr)
        return 2
    cpus = [float(c) for c in args.cpus.split(",") if c.strip()]
    args.out.mkdir(parents=True, exist_ok=True)
    report = Report()
    started = time.monotonic()
    logs = args.out / "tmp" / "container-e2e"
    try:
        build_images(report, no_cache=args.no_cache, refresh_base=args.refresh_base, logs=logs)
        inside = check_images(report)
        report.data["throttle_sanity"] = check_throttle_reader(report)
        holdout = holdout_from_image()
        runs = []
        for i, c in enumerate(cpus):
            run = cpu_run(
                report, c, inside["model_mib"], holdout, tight=i == len(cpus) - 1, first=i == 0
            )
            run["model_mib"] = round(inside["model_mib"], 1)
            runs.append(run)
        report.data["runs"] = runs
        report.data["trained_accuracy"] = inside.get("trained_accuracy")
        if not args.no_custom:
            report.data["custom"] = custom_run(
                report, holdout, max(cpus), no_cache=args.no_cache, logs=logs
            )
        if args.synthetic_mib > 0:
            two = next(
                (r for r in runs if r.get("expected", {}).get("workers") == 2 and "cgroup" in r),
                None,
            )
            report.data["synthetic"] = synthetic_run(report, args.synthetic_mib, two)
    except (RuntimeError, subprocess.SubprocessError, OSError) as exc:
        report.check("e2e", False, f"{type(exc).__name__}: {exc}")
    report.data["total_s"] = round(time.monotonic() - started, 1)
    result = {"ok": report.ok, "checks": [asdict(c) for c in report.checks], **report.data}
    (args.out / "container-e2e.json").write_text(json.dumps(result, indent=2) + "\n")
    table = markdown(report)
    (args.out / "container-e2e.md").write_text(table)
    print(table)
    return 0 if report.ok else 1
