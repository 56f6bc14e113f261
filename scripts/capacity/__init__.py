"""Capacity planning: measure one pod, fit its capacity, size a fleet, simulate the HPA."""
