"""Placeholder; written by training/train_forecast.py."""

BIAS = 0.0
WEIGHTS: dict[str, float] = {}
