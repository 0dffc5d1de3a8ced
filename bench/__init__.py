"""Benchmarks: `python -m bench` (or `make bench`) prints one table. See bench/registry.py."""
