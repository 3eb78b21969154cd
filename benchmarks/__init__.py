"""Benchmarks: seeded instance generators per model and size, and a runner that times
every phase (load, build, hand-off, solve, extract, write) against HiGHS alone.

Run `python -m benchmarks --help`; see benchmarks/README.md.
"""
