"""An emulator engine alone, for the tests that call it without the HTTP side."""

from __future__ import annotations

from typing import Any

from dumgum_async.testing import FakeDumGumServer
from dumgum_async.testing._engine import Emulator


def make_emulator(**overrides: Any) -> Emulator:
    """An :class:`Emulator` with ``FakeDumGumServer``'s defaults, the one place they are
    written, except for ``overrides`` (the server's keywords).  Nothing is bound: the
    server is never started."""
    return FakeDumGumServer(**overrides)._emulator
