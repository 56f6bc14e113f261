"""Run the chart's on-demand Locust test on a cluster and prove the HPA: follow, report, exit.

    python -m scripts.cluster_loadtest --release corebound --namespace default \\
        [--helm helm] [--interval-s 5] [--timeout-s 1800] [--out reports] [--record events.json]

Starts `helm test <release> --filter name=<fullname>-loadtest` (the chart's load test is a
`helm test` hook Pod, run only on demand). Every interval it reads the HPA, the service pods,
the Locust pod and each service pod's /metrics (through the API server's pod proxy), and
feeds them to the timeline; when the test ends it writes <out>/cluster-<release>.md and .png
and exits with helm's verdict (Locust's exit code is the SLO). Only this file talks to the
API: keep it thin.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from kubernetes import client, config

from loadtests import slo
from scripts.cluster_loadtest import record
from scripts.cluster_loadtest.timeline import Timeline, write_report
from scripts.cluster_loadtest.traffic import snapshot

REPO = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    config.load_kube_config(context=args.context)
    api = client.ApiClient()
    fullname = args.fullname or (
        args.release if "corebound" in args.release else f"{args.release}-corebound"
    )
    locust = f"{fullname}-loadtest"
    # Its output (Locust's logs, tens of KiB) goes to a file: a pipe nobody reads would fill
    # and stop helm mid-run.
    with tempfile.TemporaryFile(mode="w+") as helm_log:
        helm = subprocess.Popen(
            [args.helm, "test", args.release, "--namespace", args.namespace, "--filter",
             f"name={locust}", "--timeout", f"{int(args.timeout_s)}s", "--logs"],
            stdout=helm_log, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        print(f"helm test {args.release} --filter name={locust}; hpa/{fullname}", flush=True)
        timeline, events, ended = follow(helm, api, fullname, locust, args)
        helm_log.seek(0)
        output = helm_log.read()
    summary = slo.summary_in(output)
    if summary is not None:
        events.observe(timeline, ended, "log", {"line": json.dumps(summary, sort_keys=True)})
    md, png = write_report(timeline, args.out, f"cluster-{args.release}")
    if args.record:
        events.write(args.record)
    verdict = timeline.verdict
    print(output[-3000:], flush=True)
    print(
        f"{'PASS' if verdict.passed else 'FAIL'}: {verdict.reason}; report {md} {png}", flush=True
    )
    if helm.returncode is None:
        helm.kill()
        return 2
    return 0 if helm.returncode == 0 and verdict.passed else 1


def follow(
    helm: subprocess.Popen[str],
    api: client.ApiClient,
    fullname: str,
    locust: str,
    args: argparse.Namespace,
) -> tuple[Timeline, record.Recorder, float]:
    """Polls the HPA, the pods, their traffic and the Locust pod until `helm test` ends."""
    core, scaling = client.CoreV1Api(api), client.AutoscalingV2Api(api)
    as_json = api.sanitize_for_serialization
    timeline, events, start = Timeline(), record.Recorder(), time.monotonic()
    seen: set[str] = set()
    while True:
        t = round(time.monotonic() - start, 1)
        try:
            hpa = scaling.read_namespaced_horizontal_pod_autoscaler(fullname, args.namespace)
            events.observe(timeline, t, "hpa", as_json(hpa))
        except client.ApiException as e:
            if e.status != 404:
                raise
        listed = core.list_namespaced_pod(args.namespace, label_selector=pod_selector(args))
        pods = [as_json(p) for p in listed.items]
        for pod in pods:
            events.observe(timeline, t, "pod", pod)
        names = {str(p["metadata"]["name"]) for p in pods}
        for gone in seen - names:
            events.observe(timeline, t, "pod_deleted", {"metadata": {"name": gone}})
        seen = names
        events.observe(timeline, t, "traffic", {"pods": scrape(core, args.namespace, pods)})
        try:
            pod = core.read_namespaced_pod(locust, args.namespace)
            events.observe(timeline, t, "loadtest", as_json(pod))
        except client.ApiException as e:
            if e.status != 404:
                raise
        row = timeline.rows[-1]
        print(
            f"t={t:5.0f}s hpa {row.hpa_current}->{row.hpa_desired} cpu {row.cpu_percent}%"
            f" pods ready {row.pods_ready}/{row.pods_total} req/s {row.rps} p99 {row.p99_ms}"
            f" locust {row.loadtest}",
            flush=True,
        )
        if helm.poll() is not None or t > args.timeout_s + 60:
            return timeline, events, round(time.monotonic() - start, 1)
        time.sleep(args.interval_s)


def scrape(core: client.CoreV1Api, namespace: str, pods: list[dict[str, Any]]) -> dict[str, Any]:
    """Each running pod's served-request snapshot from its /metrics (all workers merged)."""
    snaps: dict[str, Any] = {}
    for pod in pods:
        name = str(pod["metadata"]["name"])
        if (pod.get("status") or {}).get("phase") != "Running":
            continue
        try:
            text = core.connect_get_namespaced_pod_proxy_with_path(
                f"{name}:8000", namespace, "metrics"
            )
        except client.ApiException:
            continue  # not serving yet, or going away: it counts from its next snapshot
        snaps[name] = snapshot(str(text)).as_json()
    return snaps


def pod_selector(args: argparse.Namespace) -> str:
    # The chart's selector labels; the Locust pod carries a different name label.
    return f"app.kubernetes.io/name={args.name},app.kubernetes.io/instance={args.release}"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m scripts.cluster_loadtest",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--release", default="corebound", help="Helm release name")
    p.add_argument("--namespace", default="default")
    p.add_argument("--context", help="kubeconfig context (default: the current one)")
    p.add_argument("--helm", default="helm", help="the helm CLI to run `helm test` with")
    p.add_argument("--name", default="corebound", help="chart name label (nameOverride)")
    p.add_argument("--fullname", help="the HPA's name when fullnameOverride is set")
    p.add_argument("--interval-s", type=float, default=5)
    p.add_argument("--timeout-s", type=float, default=1800)
    p.add_argument("--out", type=Path, default=REPO / "reports")
    p.add_argument("--record", type=Path, help="also write the observed events (JSON) here")
    return p.parse_args(argv)
