"""The routes: operations (probes, plan, metrics), `/v1/predict`, the Open Inference Protocol."""
