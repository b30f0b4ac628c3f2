"""Alpaca DTOs, the alpaca-py source, the fake broker and server. Imports: ledger_store, errors."""
