"""Helpers the benchmark scripts share (kept out of ``benchmarks/*.py``, which ``make bench``
runs one by one)."""
