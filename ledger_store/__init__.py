"""Storage only: the table layout, its models and repositories. Imports nothing of ``snapshots``."""
