"""Benchmarks: `make bench` prints quality and speed figures (see README)."""
