"""Run the Locust master, then keep the run's reports in a ConfigMap: they outlive the pods.

    python -m loadtests.publish --configmap corebound-loadtest-results -- \\
        locust -f loadtests/locustfile.py,loadtests/shapes/selected.py --headless \\
        --csv /tmp/locust --html /tmp/locust.html

Runs the command, then replaces the ConfigMap's data with this run's: `summary.json` (the
SLO verdict and totals, the run's Job and shape), Locust's stats, failures and exceptions
CSVs, and in binaryData the gzipped stats history and HTML report. Read it back with

    kubectl get configmap <release>-loadtest-results -o jsonpath='{.data.summary\\.json}'

Exits with the command's exit code, so the Job's status stays the SLO verdict; a run whose
results could not be kept exits 1 and says why (an unkept run cannot be read back).
"""

from __future__ import annotations

import argparse
import base64
import datetime
import gzip
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from service.probe import SERVICE_ACCOUNT, ApiServer

# A ConfigMap holds at most 1 MiB; leave room for its metadata.
MAX_BYTES = 1_000_000
# Kept as text (kubectl shows them as they are), then compressed, dropped last to first when
# the run's reports would not fit.
TEXT = ("stats.csv", "failures.csv", "exceptions.csv")
BINARY = ("report.html.gz", "stats_history.csv.gz")


def option(command: list[str], flag: str) -> str | None:
    """The value of `flag` in a Locust command line (`--csv X` or `--csv=X`)."""
    for i, word in enumerate(command):
        if word == flag and i + 1 < len(command):
            return command[i + 1]
        if word.startswith(flag + "="):
            return word.split("=", 1)[1]
    return None


def collect(command: list[str], summary_file: Path, exit_code: int) -> dict[str, bytes]:
    """This run's files by ConfigMap key; the summary says what was left out and why."""
    summary: dict[str, Any] = {"slo": "ERROR", "reason": "Locust ended before its verdict"}
    if summary_file.is_file():
        summary = json.loads(summary_file.read_text())
    summary.update(
        run=os.environ.get("RUN_NAME", ""),
        shape=os.environ.get("LOAD_SHAPE", "") or "step",
        exit_code=exit_code,
        finished=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    )
    sources: dict[str, str | None] = {}
    csv = option(command, "--csv")
    if csv:
        sources.update({key: f"{csv}_{key}" for key in TEXT})
        sources["stats_history.csv.gz"] = f"{csv}_stats_history.csv"
    sources["report.html.gz"] = option(command, "--html")
    files: dict[str, bytes] = {}
    for key, source in sources.items():
        if source and Path(source).is_file():
            data = Path(source).read_bytes()
            files[key] = gzip.compress(data) if key.endswith(".gz") else data
    omitted = []
    for key in BINARY:
        if sum(map(len, files.values())) <= MAX_BYTES:
            break
        if files.pop(key, None) is not None:
            omitted.append(key)
    if omitted:
        summary["omitted"] = {"keys": omitted, "why": "a ConfigMap holds at most 1 MiB"}
    files["summary.json"] = json.dumps(summary, sort_keys=True).encode()
    return files


def keep(api: ApiServer, namespace: str, name: str, files: dict[str, bytes]) -> None:
    """Replace the ConfigMap's data, keeping its metadata (Helm's labels, its owner)."""
    path = f"/api/v1/namespaces/{namespace}/configmaps/{name}"
    configmap = api.get(path)
    configmap["data"] = {k: v.decode() for k, v in files.items() if not k.endswith(".gz")}
    configmap["binaryData"] = {
        k: base64.b64encode(v).decode() for k, v in files.items() if k.endswith(".gz")
    }
    api.send("PUT", path, configmap)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m loadtests.publish",
        usage="%(prog)s --configmap NAME [--namespace NS] -- LOCUST COMMAND...",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--configmap", required=True, help="the ConfigMap the results replace")
    p.add_argument("--namespace", help="default: the pod's own namespace")
    words = list(sys.argv[1:] if argv is None else argv)
    if "--" not in words or words.index("--") == len(words) - 1:
        p.error("give the Locust command after --")
    split = words.index("--")
    args = p.parse_args(words[:split])
    args.command = words[split + 1 :]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    summary_file = Path(os.environ.get("SUMMARY_FILE", "/tmp/locust_summary.json"))
    summary_file.unlink(missing_ok=True)
    env = {**os.environ, "SUMMARY_FILE": str(summary_file)}
    exit_code = subprocess.call(args.command, env=env)
    files = collect(args.command, summary_file, exit_code)
    namespace = args.namespace or (SERVICE_ACCOUNT / "namespace").read_text().strip()
    try:
        keep(ApiServer.in_cluster(), namespace, args.configmap, files)
    except OSError as error:
        print(f"loadtest: results not kept in configmap/{args.configmap}: {error}", flush=True)
        return 1
    kept = ", ".join(sorted(files))
    print(f"loadtest: results kept in configmap/{args.configmap}: {kept}", flush=True)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
