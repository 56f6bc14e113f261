"""NOTES.txt."""

from __future__ import annotations

from typing import Any

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


def notes(values: dict[str, Any] | str | None = None) -> str:
    """NOTES.txt for these values, or for a ci/ values file's name."""
    if isinstance(values, str):
        values = ct.values_file(ct.CHART_DIR / "ci" / f"{values}-values.yaml")
    return ct.render_files(values)[f"{ct.RELEASE}/templates/NOTES.txt"]


def test_notes_say_the_default_image_is_the_published_one() -> None:
    default = notes()
    published = ct.default_values()["image"]["repository"]

    assert f"Image {published}:{ct.APP_VERSION}: the project's published image" in default
    assert "python -m scripts.release --registry <registry>" in default
    assert "image.repository=<registry>/corebound" in default
    assert "imagePullSecrets for a private registry" in default
    own = notes("private-pool")
    assert f"Image registry.example/ml/corebound:{ct.APP_VERSION}.\n" in own
    assert "published" not in own and "scripts.release" not in own


def test_notes_explain_a_failing_pull_and_its_fix() -> None:
    default = notes()
    fix = default.split("ErrImagePull or ImagePullBackOff", 1)[1]

    assert "`kubectl get pods`" in default.split("ErrImagePull", 1)[0].rsplit("\n", 1)[1] + fix
    for said in ("kubectl describe pod", '"401 Unauthorized"', '"failed to authorize"'):
        assert said in fix
    assert f"kubectl --namespace {ct.NAMESPACE} create secret docker-registry regcred" in fix
    assert "--docker-server=ghcr.io" in fix  # the image's registry
    assert "--set imagePullSecrets[0].name=regcred" in fix
    assert "retry by\nthemselves" in fix or "retry by themselves" in fix.replace("\n", " ")
    # With secrets set, NOTES say which ones, and the registry is the image's.
    private = notes("private-pool").split("ErrImagePull or ImagePullBackOff", 1)[1]
    assert "(this release pulls with regcred)" in private
    assert "--docker-server=registry.example " in private
    # No registry host in the repository (a Docker Hub short name): a placeholder.
    hub = notes({"image": {"repository": "corebound"}})
    assert "--docker-server=<registry> " in hub


def test_notes_show_the_routes_from_outside() -> None:
    assert "From outside" not in notes()
    ingress = notes("ingress")
    assert "through the Ingress corebound (class nginx):" in ingress
    assert "  https://models.example.com/\n" in ingress  # TLS for this host
    assert "  http://infer.internal.example.com/v2\n" in ingress
    assert "  http://infer.internal.example.com/v1/predict\n" in ingress
    any_host = notes({"ingress": {"enabled": True}})
    assert "  http://<any host>/\n" in any_host
    route = notes("httproute")
    assert "through the HTTPRoute corebound for models.example.com, attached to\n" in route
    assert "Gateway gateway-system/public; whether they accepted it:" in route
    assert f"--namespace {ct.NAMESPACE} get httproute {ct.RELEASE} -o jsonpath=" in route


def test_notes_warn_when_the_policy_must_admit_the_controller() -> None:
    warning = "networkPolicy.ingressFrom admits only the peers it lists"

    assert warning in notes("networkpolicy")  # an Ingress behind a restricting policy
    assert warning not in notes("ingress")  # no policy
    only_policy = ct.values_file(ct.CHART_DIR / "ci" / "networkpolicy-values.yaml")
    assert warning not in notes({**only_policy, "ingress": {"enabled": False}})
