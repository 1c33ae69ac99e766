"""`make bench`: benchmarks of the ingest loader, the analytics publish and the minute cycle (see bench/README.md)."""
