"""The ledger's maths: import, FIFO, strategy aggregation. Imports: ledger_store, errors."""
