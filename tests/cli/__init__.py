"""Tests of the ``dumgum-async`` command line, one module per module of ``dumgum_async._cli``."""
