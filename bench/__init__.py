"""`make bench`: benchmarks of the ingest loader, the analytics publish and the minute cycle.

How to run it: `python -m bench --help` (and the README); results are written to bench/results/<scale>.md and .json.
"""
