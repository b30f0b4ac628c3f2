"""The snapshot job's core: schema, canonical form, builder, integrity checks, payload, records.

The wings are the subpackages. Dependencies point one way: faces (``cli``, ``demo``,
``handlers``) -> core -> wings (``alpaca``, ``ledger``) -> ``ledger_store``; ``report`` renders
the core's schema and only faces import it. ``tests/test_layout.py`` enforces this.
"""
