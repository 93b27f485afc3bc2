"""Benchmarks: tce against a plain Polars reference on large synthetic exports.

Run everything with ``make bench`` (or ``.venv/bin/python -m benchmarks.run``); see
benchmarks/README.md.
"""
