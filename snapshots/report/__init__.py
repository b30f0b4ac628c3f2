"""The report: figures and the PDF of a verified snapshot.

May import the schema (and what it is made of), never the builder, the integrity checks, the
Alpaca source, pandas or alpaca-py: the report Lambda must stay pure and lean.
"""
