"""The demo and the deterministic histories tests and benchmarks share; a face: imports anything."""
