"""Runnable examples; see each module's docstring for the commands."""
