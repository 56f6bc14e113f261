"""Run the load-test Job on a real cluster and prove the HPA: follow it, report, exit with it.

    python -m scripts.cluster_loadtest --release corebound --namespace default \
        [--job-manifest job.yaml | --job NAME] [--interval-s 5] [--timeout-s 1800]

Starts the Job from a manifest (`helm template ... -s templates/loadtest-job.yaml`, after
applying `-s templates/loadtest-configmap.yaml`, which holds its settings), or
finds the newest one the chart made (`--set loadtest.enabled=true`). Every interval it reads
the HPA, the service pods and the Job, and feeds them to cluster_timeline; when the Job
ends it writes reports/cluster-<job>.md and .png and exits 0 only if the Job succeeded
(Locust's exit code is the SLO verdict). Only this file talks to the API: keep it thin.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import yaml
from kubernetes import client, config

from scripts.cluster_loadtest.timeline import Timeline, write_report

REPO = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config(context=args.context)
    api = client.ApiClient()
    batch, core, scaling = (
        client.BatchV1Api(api),
        client.CoreV1Api(api),
        client.AutoscalingV2Api(api),
    )
    fullname = args.fullname or (
        args.release if "corebound" in args.release else f"{args.release}-corebound"
    )
    job_name = args.job or start_or_find_job(api, batch, args)
    print(f"following job/{job_name}, hpa/{fullname}, pods {pod_selector(args)}", flush=True)

    timeline, start = Timeline(), time.monotonic()
    seen_pods: set[str] = set()
    while True:
        t = time.monotonic() - start
        as_json = api.sanitize_for_serialization
        try:
            timeline.observe(
                t,
                "hpa",
                as_json(
                    scaling.read_namespaced_horizontal_pod_autoscaler(fullname, args.namespace)
                ),
            )
        except client.ApiException as e:
            if e.status != 404:
                raise
        listed = core.list_namespaced_pod(args.namespace, label_selector=pod_selector(args))
        pods = [as_json(p) for p in listed.items]
        names = {str(p["metadata"]["name"]) for p in pods}
        for pod in pods:
            timeline.observe(t, "pod", pod)
        for gone in seen_pods - names:
            timeline.observe(t, "pod_deleted", {"metadata": {"name": gone}})
        seen_pods = names
        timeline.observe(t, "job", as_json(batch.read_namespaced_job(job_name, args.namespace)))
        row = timeline.rows[-1]
        print(
            f"t={t:5.0f}s hpa {row.hpa_current}->{row.hpa_desired} cpu {row.cpu_percent}%"
            f" pods ready {row.pods_ready}/{row.pods_total} job {row.job}",
            flush=True,
        )
        if timeline.verdict.done or t > args.timeout_s:
            break
        time.sleep(args.interval_s)

    line = locust_verdict(api, core, args.namespace, job_name)
    if line:
        timeline.observe(time.monotonic() - start, "log", {"line": line})
    md, png = write_report(timeline, args.out, f"cluster-{job_name}")
    verdict = timeline.verdict
    print(
        f"{'PASS' if verdict.passed else 'FAIL'}: {verdict.reason}; report {md} {png}", flush=True
    )
    return verdict.exit_code if verdict.done else 2


def pod_selector(args: argparse.Namespace) -> str:
    # The chart's selector labels; the Locust pods carry a different name label.
    return f"app.kubernetes.io/name={args.name},app.kubernetes.io/instance={args.release}"


def start_or_find_job(
    api: client.ApiClient, batch: client.BatchV1Api, args: argparse.Namespace
) -> str:
    if args.job_manifest:
        manifest = yaml.safe_load(args.job_manifest.read_text())
        created = api.sanitize_for_serialization(
            batch.create_namespaced_job(args.namespace, manifest)
        )
        return str(created["metadata"]["name"])
    selector = f"app.kubernetes.io/instance={args.release},app.kubernetes.io/component=loadtest"
    listed = batch.list_namespaced_job(args.namespace, label_selector=selector)
    jobs = [api.sanitize_for_serialization(j) for j in listed.items]
    if not jobs:
        sys.exit(
            f"no load-test Job with labels {selector}: install with"
            " --set loadtest.enabled=true or pass --job-manifest"
        )
    # RFC 3339 timestamps in one zone sort as text.
    return str(max(jobs, key=lambda j: j["metadata"]["creationTimestamp"])["metadata"]["name"])


def locust_verdict(
    api: client.ApiClient, core: client.CoreV1Api, namespace: str, job_name: str
) -> str:
    listed = core.list_namespaced_pod(namespace, label_selector=f"job-name={job_name}")
    pods = [api.sanitize_for_serialization(p) for p in listed.items]
    for pod in sorted(pods, key=lambda p: p["metadata"]["creationTimestamp"], reverse=True):
        try:
            log = core.read_namespaced_pod_log(pod["metadata"]["name"], namespace, tail_lines=200)
        except client.ApiException:
            continue
        lines = [ln for ln in log.splitlines() if "SLO PASS" in ln or "SLO FAIL" in ln]
        if lines:
            return lines[-1].strip()
    return ""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--release", default="corebound", help="Helm release name")
    p.add_argument("--namespace", default="default")
    p.add_argument("--context", help="kubeconfig context (default: the current one)")
    p.add_argument("--name", default="corebound", help="chart name label (nameOverride)")
    p.add_argument("--fullname", help="the HPA's name when fullnameOverride is set")
    p.add_argument("--job", help="follow this Job instead of finding or creating one")
    p.add_argument("--job-manifest", type=Path, help="create the Job from this YAML first")
    p.add_argument("--interval-s", type=float, default=5)
    p.add_argument("--timeout-s", type=float, default=1800)
    p.add_argument("--out", type=Path, default=REPO / "reports")
    return p.parse_args(argv)
