"""Benchmarks: each figure against the stock alternative, measured in the same run."""
