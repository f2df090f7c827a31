"""pytest plugin: the ``dumgum_server`` fixture (filled in by the emulator work)."""
