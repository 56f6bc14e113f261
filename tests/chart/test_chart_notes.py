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
    with_run = ct.render_files(ct.values_file(ct.CHART_DIR / "ci" / "loadtest-values.yaml"))
    notes = with_run[f"{ct.RELEASE}/templates/NOTES.txt"]
    assert f"--filter name={ct.RELEASE}-loadtest --timeout 30m --logs" in notes
    assert "job/" not in notes  # review #11: `logs -f job/` failed while the init container ran
    assert f"--filter name={ct.RELEASE}-test-predict --logs" in notes
