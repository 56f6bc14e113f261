"""corebound against the usual ways of serving a CPU model (a benchmark, not a test)."""
