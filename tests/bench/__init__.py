"""Benchmarks of the running suite (ingestion, profile, gateway as real processes) and of the
CLV fit. Plain scripts, not tests: ``make bench`` runs them (``python -m tests.bench``) and
writes ``tests/bench/results.json`` and ``tests/bench/RESULTS.md``."""
