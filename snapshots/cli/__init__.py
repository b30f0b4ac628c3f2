"""The ``trade-ledger`` command line (``main``) and its command groups; a face: imports anything."""
