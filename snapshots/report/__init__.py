"""Report figures and PDF of a snapshot. Imports the schema; never alpaca-py, pandas, builder."""
