"""The error every benchmark reader raises, in a module of its own so `benchmarks` and `hub_archive`
both import it without importing each other."""

from __future__ import annotations


class BenchmarkError(ValueError):
    """A benchmark that cannot be read: one line saying what is wrong with it."""
