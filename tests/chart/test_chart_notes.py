"""NOTES.txt."""

from __future__ import annotations

import chart_tools as ct

# --- NOTES ----------------------------------------------------------------------------------


def test_notes_show_how_to_call_load_test_and_watch() -> None:
    notes = ct.render_files()[f"{ct.RELEASE}/templates/NOTES.txt"]

    assert f"port-forward svc/{ct.RELEASE} 8000:80" in notes
    assert "curl -s -X POST localhost:8000/v1/predict" in notes
    assert f"helm test {ct.RELEASE}" in notes
    assert "--set loadtest.enabled=true" in notes
    assert f"get hpa {ct.RELEASE} --watch" in notes
    assert "helm/corebound" not in notes  # review #11: no repository checkout assumed
    assert "loadtest.enabled=true" in notes.split("RUN=", 1)[0]  # first, when it is off
    with_run = ct.render_files(ct.values_file(ct.CHART_DIR / "ci" / "loadtest-values.yaml"))
    notes = with_run[f"{ct.RELEASE}/templates/NOTES.txt"]
    assert "--set loadtest.enabled=true" not in notes
    assert f"--filter name={ct.RELEASE}-test-predict --logs" in notes
    assert "--filter name=corebound-loadtest" not in notes  # no longer a `helm test` hook
    assert "logs -f job/" not in notes  # review #11: it failed while the init container ran


def test_notes_make_a_run_from_both_cronjobs() -> None:
    """Each run is a Job of each CronJob, workers first (they wait for the master's name)."""
    values = ct.values_file(ct.CHART_DIR / "ci" / "loadtest-values.yaml")
    notes = ct.render_files(values)[f"{ct.RELEASE}/templates/NOTES.txt"]
    docs = ct.render(values)
    cronjobs = [c["metadata"]["name"] for c in ct.kinds(docs, "CronJob")]
    workers = ct.loadtest_job(docs, "worker")["parallelism"]
    create = f"kubectl --namespace {ct.NAMESPACE} create job --from=cronjob/"

    assert notes.index(f"{create}{ct.RELEASE}-loadtest-workers $RUN-workers") < notes.index(
        f"{create}{ct.RELEASE}-loadtest $RUN\n"
    )
    assert sorted(cronjobs) == [f"{ct.RELEASE}-loadtest", f"{ct.RELEASE}-loadtest-workers"]
    # The master's Job is the verdict, its results ConfigMap the numbers.
    assert "wait --for=condition=complete job/$RUN" in notes
    results = f"{ct.RELEASE}-loadtest-results"
    assert results in {c["metadata"]["name"] for c in ct.kinds(docs, "ConfigMap")}
    assert f"get configmap {results} -o jsonpath='{{.data.summary\\.json}}'" in notes
    # 20 users x 6 steps x 9.5 req/s = 1140 req/s over 2100 a worker: 1 worker.
    assert workers == 1 and f"and {workers} worker pod(s) per run" in notes
    # Another shape for one run: a setting the ConfigMap gives, overridden on the Job.
    assert "kubectl set env --local -f - LOAD_SHAPE=spike" in notes
