"""Aids for testing code that uses dumgum_async: a local DumGum emulator."""
