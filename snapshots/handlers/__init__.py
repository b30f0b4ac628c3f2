"""The two Lambda entry points: the trading snapshot step and the report step.

May import the core and the wings, never ``cli`` or ``demo``.
"""
