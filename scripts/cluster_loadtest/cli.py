"""Run the chart's distributed load test on a cluster and prove the HPA: follow, report, exit.

    python -m scripts.cluster_loadtest --release corebound --namespace default \\
        [--run NAME] [--env LOAD_SHAPE=spike ...] [--interval-s 5] [--timeout-s 1800] \\
        [--out reports] [--record events.json]

Starts a run as a user does with kubectl: a worker Job and a master Job from the chart's
suspended CronJobs (`kubectl create job --from=cronjob/...`, each `--env` applied as
`kubectl set env` would). Every interval it reads the HPA, the service pods, the master
Job and each service pod's /metrics (through the API server's pod proxy), and feeds them to
the timeline; when the master Job ends it reads the run's summary from the results
ConfigMap, writes <out>/cluster-<release>.md and .png and exits 0 only when the Job
completed (the SLO held). Only this file talks to the API: keep it thin.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from kubernetes import client, config

from scripts.cluster_loadtest import record
from scripts.cluster_loadtest.jobs import active_masters, job_from_cronjob
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
    master = start_run(api, args, fullname)
    print(f"run {master}: job/{master} and job/{master}-workers; hpa/{fullname}", flush=True)
    timeline, events, ended = follow(api, fullname, master, args)
    summary = read_summary(api, args.namespace, f"{fullname}-loadtest-results", master)
    if summary is not None:
        events.observe(timeline, ended, "log", {"line": json.dumps(summary, sort_keys=True)})
    md, png = write_report(timeline, args.out, f"cluster-{args.release}")
    if args.record:
        events.write(args.record)
    verdict = timeline.verdict
    print(f"summary: {json.dumps(summary, sort_keys=True)}", flush=True)
    print(
        f"{'PASS' if verdict.passed else 'FAIL'}: {verdict.reason}; report {md} {png}", flush=True
    )
    if not verdict.done:
        return 2
    return 0 if verdict.passed else 1


def start_run(api: client.ApiClient, args: argparse.Namespace, fullname: str) -> str:
    """The worker Job, then the master Job, from the chart's CronJobs; the master's name."""
    batch = client.BatchV1Api(api)
    as_json = api.sanitize_for_serialization
    masters = batch.list_namespaced_job(
        args.namespace,
        label_selector=f"app.kubernetes.io/instance={args.release},"
        "app.kubernetes.io/component=loadtest-master",
    )
    running = active_masters([as_json(j) for j in masters.items])
    if running:
        raise SystemExit(f"a run is still going: job/{', job/'.join(running)} (one at a time)")
    name = args.run or f"{fullname}-loadtest-{int(time.time())}"
    env = dict(pair.split("=", 1) for pair in args.env)
    for suffix, cronjob in (("-workers", f"{fullname}-loadtest-workers"),
                            ("", f"{fullname}-loadtest")):  # fmt: skip
        template = as_json(batch.read_namespaced_cron_job(cronjob, args.namespace))
        job = job_from_cronjob(template, name + suffix, env)
        # The client sends a dict body as it is, as `kubectl create -f` would.
        batch.create_namespaced_job(args.namespace, job)  # type: ignore[arg-type]
    return name


def read_summary(
    api: client.ApiClient, namespace: str, configmap: str, run: str
) -> dict[str, Any] | None:
    """This run's summary.json from the results ConfigMap (None: the master kept none)."""
    data = client.CoreV1Api(api).read_namespaced_config_map(configmap, namespace).data or {}
    if "summary.json" not in data:
        return None
    summary: dict[str, Any] = json.loads(data["summary.json"])
    return summary if summary.get("run") == run else None


def follow(
    api: client.ApiClient, fullname: str, master: str, args: argparse.Namespace
) -> tuple[Timeline, record.Recorder, float]:
    """Polls the HPA, the pods, their traffic and the master Job until the Job ends."""
    core, scaling = client.CoreV1Api(api), client.AutoscalingV2Api(api)
    batch = client.BatchV1Api(api)
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
        job = as_json(batch.read_namespaced_job(master, args.namespace))
        events.observe(timeline, t, "loadtest", job)
        row = timeline.rows[-1]
        print(
            f"t={t:5.0f}s hpa {row.hpa_current}->{row.hpa_desired} cpu {row.cpu_percent}%"
            f" pods ready {row.pods_ready}/{row.pods_total} req/s {row.rps} p99 {row.p99_ms}"
            f" master {row.loadtest}",
            flush=True,
        )
        if timeline.verdict.done or t > args.timeout_s:
            return timeline, events, t
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
    # The chart's selector labels; the load test's pods carry a different name label.
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
    p.add_argument("--run", help="the master Job's name (default <fullname>-loadtest-<time>)")
    p.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for this run, on both Jobs (LOAD_SHAPE=spike, SLO_P99_MS=300)",
    )
    p.add_argument("--name", default="corebound", help="chart name label (nameOverride)")
    p.add_argument("--fullname", help="the HPA's name when fullnameOverride is set")
    p.add_argument("--interval-s", type=float, default=5)
    p.add_argument("--timeout-s", type=float, default=1800)
    p.add_argument("--out", type=Path, default=REPO / "reports")
    p.add_argument("--record", type=Path, help="also write the observed events (JSON) here")
    return p.parse_args(argv)
