"""corebound: CPU-bound model inference, sized to the container's cores."""

__version__ = "0.1.0"
