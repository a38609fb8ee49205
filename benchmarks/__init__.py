"""Benchmarks against the built-in simulator; see benchmarks/README.md."""
