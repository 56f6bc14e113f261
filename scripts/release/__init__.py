"""The release: every image (the service, the load test, Redis) built with podman, tagged
`<version>` and `<version>-<revision>`, pushed with the chart (an OCI artifact) to one
registry, digests printed.

    python -m scripts.release --registry ghcr.io/corebound --username USER   # REGISTRY_PASSWORD
"""
