"""Model making: the embedded default model (trained) and synthetic models of any size."""
