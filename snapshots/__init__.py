"""The snapshot job's core; wings are subpackages. Imports: wings and ledger_store, never faces."""
