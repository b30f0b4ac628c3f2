"""The ledger's maths: fill-file import, FIFO, per-strategy aggregation and its snapshot models.

May import ``ledger_store`` and ``snapshots.errors`` only.
"""
