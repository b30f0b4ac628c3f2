"""The two Lambda entry points (trading, report). Import core and wings, never cli or demo."""
