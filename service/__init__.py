"""corebound: CPU-bound model inference, sized to the container's cores."""

# The one place the version is written: pyproject reads it (setuptools `attr`), and a test
# holds Chart.yaml, the Dockerfile and CHANGELOG.md to it.
__version__ = "0.2.0"
