"""The plain manifests of k8s/base, rendered from the Helm chart (the source of truth)."""
