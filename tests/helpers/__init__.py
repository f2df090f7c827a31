"""Helpers shared by test modules, imported explicitly (``from tests.helpers.cli import ...``)."""
