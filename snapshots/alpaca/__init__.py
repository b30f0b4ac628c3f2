"""Alpaca: snapshot DTOs, the alpaca-py source, the fake broker and server.

May import ``ledger_store`` and ``snapshots.errors`` only.
"""
