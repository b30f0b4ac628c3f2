"""Adopting an Alpaca account and reconciling with it. Imports core and wings, never faces."""
