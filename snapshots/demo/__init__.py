"""The end-to-end demo and the deterministic histories shared with tests and benchmarks.

A face: imports anything.
"""
