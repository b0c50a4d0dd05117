"""Benchmarks of balance_lite (not timed tests): run ``python -m balance_lite.benchmarks.acquisition``.

Chapter: *Exact Batch-BALanCe at any batch size (beyond the paper)* (the stored benchmark run).
"""
