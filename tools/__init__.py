"""Developer tooling: local services and drivers for running the project on one machine (not product code)."""
