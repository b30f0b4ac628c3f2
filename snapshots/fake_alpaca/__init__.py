"""The fake Alpaca: a test double that no Lambda package ships. Imports: ledger_store, itself."""
