"""Benchmarks of balance_lite (not timed tests): run ``python -m balance_lite.benchmarks.acquisition``."""
