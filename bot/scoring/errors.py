"""Errors raised by scorers."""

from __future__ import annotations


class ScorerLoadError(RuntimeError):
    """A scorer's model could not be loaded. The message names what is missing and how to fix it."""
