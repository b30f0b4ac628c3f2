"""The DejaVu Sans Condensed fonts the report embeds (data only, Bitstream Vera licence)."""
