"""The trade-ledger command line and its command groups; a face: imports anything."""
