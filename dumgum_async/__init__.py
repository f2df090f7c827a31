"""Typed asyncio client for the DumGum content-creation suggestion API."""

from dumgum_async._version import __version__

__all__ = ["__version__"]
