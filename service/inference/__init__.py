"""Models and the engine that runs them: one inference thread per worker, micro-batching."""
